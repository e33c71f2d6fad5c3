"""Red team: cheating attempts earn nothing for the questions they target, and honest answers still count."""

from __future__ import annotations

import pytest

import builders as b

from .cheats import CHEATS

ASSIGNMENT = "01-roles"


@pytest.mark.roundtrip
@pytest.mark.parametrize("grader", ["nbgrader", "infraprep"])
def test_every_cheat_scores_zero_on_its_targets_and_honest_answers_elsewhere_still_count(tmp_path, grader):
    source = b.source_nb(ASSIGNMENT)
    tests = b.test_cells(source)
    answers = b.answer_ids(source)
    course = b.new_course(tmp_path, [ASSIGNMENT])
    b.nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    expected = {}
    for number, cheat in enumerate(CHEATS):
        student = f"cheat{number:02d}"
        honest = [q for q in answers if q not in cheat.replace]
        b.submit(course, student, ASSIGNMENT, b.submission(ASSIGNMENT, correct=honest, replace=cheat.replace))
        expected[student] = {t: (0.0 if t.removesuffix("_tests") in cheat.targets else p) for t, p in tests.items()}
    if grader == "nbgrader":
        graded = b.nbgrader(course, "autograde", ASSIGNMENT, check=False)
    else:
        graded = b.infraprep(course, "autograde", ASSIGNMENT, "--workers", "2", "--no-progress", check=False)
    assert graded.returncode == 0, graded.stderr[-3000:]
    got = b.scores(course, ASSIGNMENT)
    failures = {CHEATS[int(s[5:])].name: {k: v for k, v in got[s].items() if v != want[k]}
                for s, want in expected.items() if got[s] != want}
    assert not failures, f"cheats that changed a score: {failures}"
