"""Red team: every cheating attempt and every bad submission of the catalogue gets the
outcome it must, in one cohort graded once.

``infraprep autograde`` is checked on everything (scores, the gradebook's totals, flags by cell,
whole-notebook problems, nothing lost). Stock ``nbgrader autograde`` (with the course's config, so
with the judge and the sandbox) is checked on the cheats that only replace answers: no cheat may earn
a point there either. Bad input is not expected of stock nbgrader.
"""

from __future__ import annotations

import html

import pytest

from . import catalogue as cat


def _report(run: cat.Run) -> str:
    lines = [f"{name}\n      {'; '.join(failures)}" for name, failures in run.failures().items()]
    observed = {f"{sid} {e.category}: {e.name}": o.describe() for sid, e, o, f in run.results if f}
    detail = "\n".join(f"  {line}\n      observed: {observed[line.split(chr(10))[0]]}" for line in lines)
    return (f"{len(lines)} of {len(run.results)} entries missed their expectation under {run.grader} "
            f"(graded in {run.seconds:.0f} s):\n{detail}")


def test_the_catalogue_is_big_enough_and_covers_the_issue():
    cheats = [e for e in cat.ENTRIES if e.category == "cheat"]
    bad = [e for e in cat.ENTRIES if e.category == "bad input"]
    assert len(cheats) >= 20 and len(bad) >= 30
    covered = {e.covers for e in cat.ENTRIES}
    assert not [c for c in cat.COVERAGE if c not in covered]
    names = [e.name for e in cat.ENTRIES]
    assert len(names) == len(set(names)), "entry names must be unique"
    for entry in cat.ENTRIES:
        expected = entry.expected_scores()
        assert set(expected) == set(cat.TESTS)
        assert set(entry.zero + entry.maybe) <= set(cat.ANSWERS), entry.name
        if entry.category == "cheat":
            assert entry.zero or entry.flags, f"{entry.name}: a cheat must target something"


@pytest.mark.roundtrip
@pytest.mark.parametrize("grader", ["infraprep", "nbgrader"])
def test_every_entry_gets_its_expected_outcome(tmp_path, grader):
    # stock nbgrader: the first red team's answer-only cheats (benchmarks/integrity.py --stock runs them all)
    entries = cat.ENTRIES if grader == "infraprep" else [e for e in cat.ENTRIES if e.stock and e.name in cat.LEGACY]
    run = cat.run(tmp_path, entries, grader)
    print(f"{grader}: {len(run.results)} submissions graded in {run.seconds:.1f} s")
    assert run.returncode == 0, run.stderr[-3000:]
    assert not run.failures(), _report(run)
    if grader == "infraprep":  # the instructor's report names every flagged student with the flag
        from infraprep.grading import flags

        course = tmp_path / "course"
        cat.b.infraprep(course, "report", "-o", str(tmp_path / "report"))
        page = (tmp_path / "report" / "report.html").read_text()
        raised = flags.collect(course)
        assert raised
        from infraprep.grading.report import CELL

        def row(f):  # the flag's row in the table under its kind's heading
            cells = (f.student, f.lesson, f.cell or "-", f.message)
            return "<tr>" + "".join(f"<td {CELL}>{html.escape(c)}</td>" for c in cells) + "</tr>"

        missing = [f for f in raised if f"<b>{html.escape(f.kind)}</b>" not in page or row(f) not in page]
        assert not missing, missing[:5]
