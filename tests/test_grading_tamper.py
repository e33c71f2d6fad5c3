"""Tampered graded cells are restored and flagged; runaway cells are contained and the rest graded.

One small cohort, graded once by each grader: every student answers everything correctly and then
tampers with one thing. What was restored must score as the original would; what the student broke
in their own answer scores zero; every change is a flag in the report data (infraprep.grading.flags).
"""

from __future__ import annotations

import copy

import pytest

import builders as b
from infraprep.grading import flags

ASSIGNMENT = "01-roles"


def _index(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if b.grade_id(c) == grade_id)


def deleted_test(nb):
    del nb.cells[_index(nb, "q2_tests")]
    return nb


def deleted_answer(nb):
    del nb.cells[_index(nb, "q4")]
    return nb


def stripped_test_metadata(nb):
    cell = nb.cells[_index(nb, "q5_tests")]
    del cell.metadata["nbgrader"]
    cell.source = "pass"
    return nb


def stripped_answer_metadata(nb):
    del nb.cells[_index(nb, "q6")].metadata["nbgrader"]
    return nb


def duplicated_test(nb):
    i = _index(nb, "q7_tests")
    for n in range(3):  # the same test three times: three times the points?
        copy_cell = copy.deepcopy(nb.cells[i])
        copy_cell["id"] = f"copy-{n}"
        nb.cells.insert(i + 1, copy_cell)
    return nb


def changed_points(nb):
    nb.cells[_index(nb, "q8_tests")].metadata["nbgrader"]["points"] = 50
    return nb


def edited_test(nb):
    nb.cells[_index(nb, "q9_tests")].source = "print('all good')"
    return nb


def retyped_test(nb):
    cell = nb.cells[_index(nb, "q10_tests")]
    cell.cell_type = "markdown"
    cell.pop("outputs", None)
    cell.pop("execution_count", None)
    return nb


def fake_grade_cell(nb):
    fake = copy.deepcopy(nb.cells[_index(nb, "q1_tests")])
    fake["id"] = "bonus"
    fake.metadata["nbgrader"]["grade_id"] = "bonus_tests"
    fake.metadata["nbgrader"]["points"] = 100
    fake.source = "pass"
    nb.cells.append(fake)
    return nb


def dies_in_q3(nb):
    nb.cells[_index(nb, "q3")].source = "import os\nos._exit(1)"
    return nb


def exits_in_q11(nb):
    nb.cells[_index(nb, "q11")].source = "exit()"
    return nb


def huge_output_in_q12(nb):
    cell = nb.cells[_index(nb, "q12")]
    cell.source = "for _ in range(300):\n    print('x' * 10_000)\n" + cell.source
    return nb


# student -> (what they do, questions that must score zero, flag kinds on the notebook {kind: cell})
CASES = {
    "deleted_test": (deleted_test, [], {flags.DELETED_CELL: "q2_tests"}),
    "deleted_answer": (deleted_answer, ["q4"], {flags.DELETED_CELL: "q4"}),
    "stripped_test": (stripped_test_metadata, [], {flags.STRIPPED_METADATA: "q5_tests"}),
    "stripped_answer": (stripped_answer_metadata, [], {flags.STRIPPED_METADATA: "q6"}),
    "duplicated": (duplicated_test, [], {flags.DUPLICATE_ID: "q7_tests"}),
    "points": (changed_points, [], {flags.CHANGED_POINTS: "q8_tests"}),
    "edited_test": (edited_test, [], {flags.EDITED_LOCKED: "q9_tests"}),
    "retyped_test": (retyped_test, [], {flags.CHANGED_TYPE: "q10_tests"}),
    "fake_grade": (fake_grade_cell, [], {flags.UNKNOWN_ID: "bonus_tests"}),
    "dies": (dies_in_q3, ["q3"], {flags.KERNEL_DIED: "q3"}),
    "exits": (exits_in_q11, ["q11"], {flags.KERNEL_DIED: "q11"}),
    "loud": (huge_output_in_q12, [], {flags.OUTPUT_TRUNCATED: "q12"}),
}


# Stock nbgrader here (the course's sanitizing and Execute are the same in infraprep autograde, whose
# run over the same kinds of tampering, and its report, is tests/integrity/test_catalogue.py).
@pytest.mark.roundtrip
@pytest.mark.parametrize("grader", ["nbgrader"])
def test_tampering_is_restored_and_flagged_and_dead_kernels_restarted(tmp_path, grader):
    course = b.new_course(tmp_path, [ASSIGNMENT])
    b.nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    tests = b.test_cells(b.source_nb(ASSIGNMENT))
    for student, (tamper, _, _) in CASES.items():
        b.submit(course, student, ASSIGNMENT, tamper(b.submission(ASSIGNMENT, "all")))
    if grader == "nbgrader":
        done = b.nbgrader(course, "autograde", ASSIGNMENT, check=False)
    else:
        done = b.infraprep(course, "autograde", ASSIGNMENT, "--workers", "2", "--no-progress", check=False)
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
    if grader == "infraprep":  # the instructor's report names each student with what was found
        b.infraprep(course, "report", "-o", str(tmp_path / "report"))
        page = (tmp_path / "report" / "report.html").read_text()
        for student, (_, _, expected_flags) in CASES.items():
            for kind in expected_flags:
                assert f"<td>{student}</td><td>{ASSIGNMENT}</td><td>{kind}</td>" in page, (student, kind)
