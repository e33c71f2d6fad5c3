"""Tampered graded cells are restored and flagged; runaway cells are contained and the rest graded.

One small cohort, graded once by each grader: every student answers everything correctly and then
tampers with one thing. What was restored must score as the original would; what the student broke
in their own answer scores zero; every change is a flag in the report data (infraprep.grading.flags).
"""

from __future__ import annotations

import copy

import pytest

import builders as b
import nbedit as e
from infraprep.grading import flags

ASSIGNMENT = "01-roles"


def fake_grade_cell(nb):
    fake = copy.deepcopy(nb.cells[e.index(nb, "q1_tests")])
    fake["id"] = "bonus"
    fake.metadata["nbgrader"]["grade_id"] = "bonus_tests"
    fake.metadata["nbgrader"]["points"] = 100
    fake.source = "pass"
    nb.cells.append(fake)


def huge_output_in_q12(nb):
    cell = nb.cells[e.index(nb, "q12")]
    cell.source = "for _ in range(300):\n    print('x' * 10_000)\n" + cell.source


# student -> (what they do, questions that must score zero, flag kinds on the notebook {kind: cell})
CASES = {
    "deleted_test": (e.delete("q2_tests"), [], {flags.DELETED_CELL: "q2_tests"}),
    "deleted_answer": (e.delete("q4"), ["q4"], {flags.DELETED_CELL: "q4"}),
    "stripped_test": (e.chain(e.set_source("q5_tests", "pass"), e.strip("q5_tests")), [],
                      {flags.STRIPPED_METADATA: "q5_tests"}),
    "stripped_answer": (e.strip("q6"), [], {flags.STRIPPED_METADATA: "q6"}),
    "duplicated": (e.chain(*[e.duplicate("q7_tests")] * 3),  # three times the points?
                   [], {flags.DUPLICATE_ID: "q7_tests"}),
    "points": (e.set_meta("q8_tests", points=50), [], {flags.CHANGED_POINTS: "q8_tests"}),
    "edited_test": (e.set_source("q9_tests", "print('all good')"), [], {flags.EDITED_LOCKED: "q9_tests"}),
    "retyped_test": (e.retype("q10_tests"), [], {flags.CHANGED_TYPE: "q10_tests"}),
    "fake_grade": (fake_grade_cell, [], {flags.UNKNOWN_ID: "bonus_tests"}),
    "dies": (e.set_source("q3", "import os\nos._exit(1)"), ["q3"], {flags.KERNEL_DIED: "q3"}),
    "exits": (e.set_source("q11", "exit()"), ["q11"], {flags.KERNEL_DIED: "q11"}),
    "loud": (huge_output_in_q12, [], {flags.OUTPUT_TRUNCATED: "q12"}),
}


# Stock nbgrader here (the course's sanitizing and Execute are the same in infraprep autograde, whose
# run over the same kinds of tampering, and its report, is tests/integrity/test_catalogue.py).
@pytest.mark.roundtrip
def test_tampering_is_restored_and_flagged_and_dead_kernels_restarted(tmp_path):
    course = b.new_course(tmp_path, [ASSIGNMENT])
    b.nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    tests = b.test_cells(b.source_nb(ASSIGNMENT))
    for student, (tamper, _, _) in CASES.items():
        nb = b.submission(ASSIGNMENT, "all")
        tamper(nb)
        b.submit(course, student, ASSIGNMENT, nb)
    done = b.nbgrader(course, "autograde", ASSIGNMENT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    got = b.scores(course, ASSIGNMENT)
    found = {}
    for flag in flags.collect(course):
        found.setdefault(flag.student, {})[flag.kind] = flag.cell
    failures = []
    for student, (_, zero, expected_flags) in CASES.items():
        want = {t: (0.0 if t.removesuffix("_tests") in zero else p) for t, p in tests.items()}
        if got.get(student) != want:
            failures.append(f"{student}: scores {got.get(student)} != {want}")
        for kind, cell in expected_flags.items():
            if found.get(student, {}).get(kind) != cell:
                failures.append(f"{student}: expected flag {kind!r} on {cell}, found {found.get(student)}")
    assert not failures, "\n".join(failures)
    loud = b.read(course / "autograded" / "loud" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    kept = sum(len(o.get("text", "")) for c in loud.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert kept < 1_500_000, f"{kept} characters of output kept"
