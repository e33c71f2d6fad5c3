"""The full nbgrader round trip, in a temporary course directory, for every assignment.

generate_assignment -> submissions built from the release (correct, blank, and for
lesson 1 also all-wrong, half-right and not-JSON) -> autograde -> exact scores ->
generate_feedback -> no hidden-test line anywhere in the feedback HTML.
"""

from __future__ import annotations

import pytest

import builders as b

WRONG_01 = {
    "q1": 'q1 = "A"', "q2": 'q2 = "A"', "q3": 'q3 = "ABD"', "q4": 'q4 = "B"', "q5": 'q5 = "A"',
    "q6": 'q6 = "D"', "q7": 'q7 = "C"', "q8": "q8 = 285", "q9": "q9 = 215", "q10": "q10 = 350 / 800",
    "q11": "q11 = 61_440_000", "q12": "q12 = 4800 / 256",
    "q13": "def widest_total_comp(salaries):\n    return 'Junior'",
    "q14": "def loop_hours(rounds):\n    return (rounds['duration_min_min'].sum(), rounds['duration_max_min'].sum())",
}


def run_round_trip(tmp_path, assignment: str, students: dict) -> tuple:
    course = b.new_course(tmp_path, [assignment])
    b.nbgrader(course, "generate_assignment", assignment, "--force")
    for student, nb in students.items():
        b.submit(course, student, assignment, nb)
    graded = b.nbgrader(course, "autograde", assignment, check=False)
    return course, graded


@pytest.mark.roundtrip
@pytest.mark.parametrize("assignment", b.assignments())
def test_correct_full_marks_blank_zero_and_feedback_hides_tests(tmp_path, assignment):
    tests = b.test_cells(b.source_nb(assignment))
    course, graded = run_round_trip(tmp_path, assignment, {
        "correct": b.submission(assignment, "all"),
        "blank": b.submission(assignment),
    })
    assert graded.returncode == 0, graded.stderr[-3000:]
    got = b.scores(course, assignment)
    assert got["correct"] == tests, "a correct submission must get every autograded point"
    assert sum(got["correct"].values()) == sum(tests.values()) > 0
    assert set(got["blank"]) == set(tests) and sum(got["blank"].values()) == 0

    b.nbgrader(course, "generate_feedback", assignment)
    secrets = b.hidden_lines(assignment)
    assert secrets, f"{assignment} has no hidden tests"
    for student in ("correct", "blank"):
        page = course / "feedback" / student / assignment / f"{assignment}.html"
        text = b.visible_text(page)
        leaked = [line for line in secrets if line in text]
        assert not leaked, f"feedback for {student} shows hidden-test lines: {leaked[:3]}"
        assert "BEGIN HIDDEN TESTS" not in text


@pytest.mark.roundtrip
def test_lesson1_wrong_half_and_broken_submissions(tmp_path):
    assignment = "01-roles"
    source = b.source_nb(assignment)
    tests = b.test_cells(source)
    answers = b.answer_ids(source)
    assert set(WRONG_01) == set(answers), "the wrong-answer set must cover every question"
    half = answers[: len(answers) // 2]
    course, graded = run_round_trip(tmp_path, assignment, {
        "wrong": b.submission(assignment, replace=WRONG_01),
        "half": b.submission(assignment, correct=half),
        "broken": "{ this is not a notebook",
        "fine": b.submission(assignment, "all"),
    })
    # the broken submission is reported by name; the others are still graded
    assert graded.returncode != 0
    assert "broken" in graded.stderr and "NotJSONError" in graded.stderr
    got = b.scores(course, assignment)
    assert sum(got["wrong"].values()) == 0
    assert got["half"] == {t: (p if t.removesuffix("_tests") in half else 0.0) for t, p in tests.items()}
    assert sum(got["half"].values()) == sum(tests[f"{q}_tests"] for q in half)
    assert got["fine"] == tests
    assert all(v is None for v in got.get("broken", {}).values())
