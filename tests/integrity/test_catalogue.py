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
from . import redteam


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
        assert set(expected) == set(cat.lesson(entry.lesson).tests)
        assert set(entry.zero + entry.maybe) <= set(cat.lesson(entry.lesson).answers), entry.name
        if entry.category == "cheat":
            assert entry.zero or entry.flags or entry.check, f"{entry.name}: a cheat must target something"
    # the first red team's fourteen answer-only cheats are graded by stock nbgrader autograde too
    legacy = [e for e in cat.ENTRIES if e.name in cat.LEGACY]
    assert len(legacy) == 14 and all(e.stock and e.category == "cheat" and e.zero for e in legacy)


def test_the_red_team_tries_every_class_of_issue_14_three_ways_and_names_what_got_through():
    by_class: dict[str, int] = {}
    for entry in cat.REDTEAM:
        by_class[entry.klass.split()[0]] = by_class.get(entry.klass.split()[0], 0) + 1
    # classes 3 and 4 (state between notebooks, host files) are tried in test_redteam_isolation.py
    thin = {k: n for k, n in by_class.items() if k.isdigit() and n < 3}
    missing = [str(k) for k in range(1, 12) if k not in (3, 4) and str(k) not in by_class]
    assert not thin and not missing, (thin, missing)
    names = {e.name for e in cat.ENTRIES}
    assert set(redteam.KNOWN_HOLES) <= names and set(redteam.STOCK_TESTED) <= names
    assert all(e.stock for e in cat.ENTRIES if e.name in redteam.STOCK_TESTED)


@pytest.mark.roundtrip
@pytest.mark.parametrize("grader", ["infraprep", "nbgrader"])
def test_every_entry_gets_its_expected_outcome(tmp_path, grader):
    # stock nbgrader: the first red team's answer-only cheats, and one or two attempts a class of the later red
    # team's (benchmarks/integrity.py --stock runs every stock entry)
    entries = cat.ENTRIES if grader == "infraprep" else [
        e for e in cat.ENTRIES if e.stock and (e.name in cat.LEGACY or e.name in redteam.STOCK_TESTED)]
    run = cat.run(tmp_path, entries, grader)
    print(f"{grader}: {len(run.results)} submissions graded in {run.seconds:.1f} s")
    assert run.returncode == 0, run.stderr[-3000:]
    problems = [_report(run)] if run.failures() else []
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
        if missing:
            problems.append(f"the report misses flags: {missing[:5]}")
        # what students wrote reaches the report through flags (their cells' grade ids, file names) and ids
        script = redteam.script_in(page, set())
        if script:
            problems.append(f"the report holds script from a submission: {script[:5]}")
    assert not problems, "\n".join(problems)
