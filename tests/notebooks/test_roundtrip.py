"""The full nbgrader round trip, in a temporary course directory, for every assignment.

generate_assignment -> submissions built from the release -> ``nbgrader autograde`` with the course's
configuration -> exact scores -> generate_feedback -> no hidden-test line anywhere in the feedback.

Every assignment is graded with these students:

- ``correct`` (the instructor's solutions) gets every autograded point, ``blank`` gets none;
- ``student-a`` hands in its own correct answers written out as literal values, and three
  classmates hand in the very same notebook (the copy test): the values are right for student-a
  only, so the copiers score on average at most a quarter of the points of those questions;
- ``wrong`` and ``near`` come from ``tests/notebooks/cases/<assignment>.py``: answers that must
  score zero for every student, and the typical mistakes (each computed from that student's own
  inputs) that each question's tolerance must reject;
- ``delegator`` answers every coding task by handing the job to the course package's own function
  for it (the one its hidden test forbids), through ``importlib`` and ``getattr``: each scores zero
  and its feedback says why.
"""

from __future__ import annotations

import statistics

import nbformat
import pytest

import builders as b

ORIGINAL = "student-a"
COPIERS = ("copier-b", "copier-c", "copier-d")
COPY_SHARE = 0.25


def run_round_trip(tmp_path, assignment: str, students: dict) -> tuple:
    course = b.new_course(tmp_path, [assignment])
    b.nbgrader(course, "generate_assignment", assignment, "--force")
    for student, nb in students.items():
        b.submit(course, student, assignment, nb)
    graded = b.nbgrader(course, "autograde", assignment, check=False)
    return course, graded


@pytest.mark.roundtrip
@pytest.mark.parametrize("assignment", b.assignments())
def test_round_trip(tmp_path, assignment):
    tests = b.test_cells(b.source_nb(assignment))
    case = b.cases(assignment)
    literals = b.literal_answers(assignment, ORIGINAL)
    copied = b.submission(assignment, "all", replace=literals)
    students = {"correct": b.submission(assignment, "all"), "blank": b.submission(assignment), ORIGINAL: copied}
    students.update({copier: copied for copier in COPIERS})
    wrong = dict(getattr(case, "WRONG", {}) or {})
    near = dict(getattr(case, "NEAR_MISSES", {}) or {})
    if wrong:
        students["wrong"] = b.submission(assignment, replace=wrong)
    if near:
        students["near"] = b.submission(assignment, "all", replace=near)
    delegating = b.delegations(assignment)
    if delegating:
        students["delegator"] = b.submission(assignment, "all", replace=delegating)
    course, graded = run_round_trip(tmp_path, assignment, students)
    assert graded.returncode == 0, graded.stderr[-3000:]
    got = b.scores(course, assignment)

    assert got["correct"] == tests, "a correct submission must get every autograded point"
    assert sum(got["correct"].values()) == sum(tests.values()) > 0
    assert set(got["blank"]) == set(tests) and sum(got["blank"].values()) == 0

    copied_tests = [f"{q}_tests" for q in literals]
    assert copied_tests, f"{assignment} has no question answered by a value"
    assert {t: got[ORIGINAL][t] for t in copied_tests} == {t: tests[t] for t in copied_tests}, \
        "a student's own answers, written as literal values, must get full marks"
    at_stake = sum(tests[t] for t in copied_tests)
    shares = [sum(got[c][t] for t in copied_tests) / at_stake for c in COPIERS]
    assert statistics.mean(shares) <= COPY_SHARE, (
        f"copied answers scored {statistics.mean(shares):.0%} on average ({shares}); questions that "
        f"still pass for a copier: {sorted({t for c in COPIERS for t in copied_tests if got[c][t]})}")

    if wrong:
        assert {f"{q}_tests": got["wrong"][f"{q}_tests"] for q in wrong} == {f"{q}_tests": 0 for q in wrong}
    if near:
        missed = {q: got["near"][f"{q}_tests"] for q in near if got["near"][f"{q}_tests"]}
        assert not missed, f"these near-misses were accepted: {missed}"
        kept = {t: p for t, p in got["near"].items() if t.removesuffix("_tests") not in near}
        assert kept == {t: p for t, p in tests.items() if t.removesuffix("_tests") not in near}

    if delegating:
        zeroed = {q: got["delegator"][f"{q}_tests"] for q in delegating}
        assert not any(zeroed.values()), f"handing the job to the course's own function scored: {zeroed}"
        graded = nbformat.read(str(course / "autograded" / "delegator" / assignment / f"{assignment}.ipynb"), as_version=4)
        said = {b.grade_id(c): [(o.get("ename"), o.get("evalue", "")) for o in c.get("outputs", [])] for c in graded.cells}
        for q in delegating:  # unless the course's function does not even give the answer's form, it says why
            wrong = [text for ename, text in said[f"{q}_tests"] if ename != "WrongForm"]
            assert all("course's own" in text for text in wrong), f"{q}: the feedback must say why it scored zero: {wrong}"

    b.nbgrader(course, "generate_feedback", assignment)
    secrets = b.hidden_lines(assignment)
    assert secrets, f"{assignment} has no hidden tests"
    for student in ("correct", "blank", COPIERS[0]):
        page = course / "feedback" / student / assignment / f"{assignment}.html"
        text = b.visible_text(page)
        leaked = [line for line in secrets if line in text]
        assert not leaked, f"feedback for {student} shows hidden-test lines: {leaked[:3]}"
        assert "BEGIN HIDDEN TESTS" not in text


@pytest.mark.roundtrip
def test_lesson1_half_right_and_broken_submissions(tmp_path):
    assignment = "01-roles"
    source = b.source_nb(assignment)
    tests = b.test_cells(source)
    answers = b.answer_ids(source)
    half = answers[: len(answers) // 2]
    course, graded = run_round_trip(tmp_path, assignment, {
        "half": b.submission(assignment, correct=half),
        "broken": "{ this is not a notebook",
        "fine": b.submission(assignment, "all"),
    })
    # the broken submission is reported by name; the others are still graded
    assert graded.returncode != 0
    assert "broken" in graded.stderr and "NotJSONError" in graded.stderr
    got = b.scores(course, assignment)
    assert got["half"] == {t: (p if t.removesuffix("_tests") in half else 0.0) for t, p in tests.items()}
    assert sum(got["half"].values()) == sum(tests[f"{q}_tests"] for q in half)
    assert got["fine"] == tests
    assert all(v is None for v in got.get("broken", {}).values())


def test_every_assignment_has_cases_for_every_question():
    for assignment in b.assignments():
        case = b.cases(assignment)
        assert case is not None, f"tests/notebooks/cases/{assignment.replace('-', '_')}.py is missing"
        answers = set(b.answer_ids(b.source_nb(assignment)))
        assert set(case.WRONG) == answers, f"{assignment}: WRONG must give a wrong answer to every question"
        quantitative = set(getattr(case, "QUANTITATIVE", ()))
        assert quantitative <= set(case.NEAR_MISSES), \
            f"{assignment}: every quantitative question needs its near-miss: {sorted(quantitative - set(case.NEAR_MISSES))}"
