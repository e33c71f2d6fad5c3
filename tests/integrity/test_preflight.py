"""A broken grading environment stops grading loudly; it never zeroes a cohort in silence.

Before grading an assignment, both graders grade the instructor's own solutions the same way (the
preflight); if they do not get full marks, nobody is graded and the error names the cells and why.
The case that once zeroed everyone - a course graded from a copy with its own ``infraprep/`` beside
``nbgrader_config.py``, while the venv's package is another checkout - now grades correctly: the
kernel imports exactly the package the grader runs.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

import builders as b

LESSON = "01-roles"


def course_with_own_package(tmp_path, broken: bool):
    course = b.new_course(tmp_path, [LESSON])
    shutil.copytree(b.ROOT / "infraprep", course / "infraprep", ignore=shutil.ignore_patterns("__pycache__"))
    if broken:  # a data file the set-up cells load is missing from the package the grader runs
        (course / "infraprep" / "data" / LESSON / "salaries.csv").unlink()
    b.nbgrader(course, "generate_assignment", LESSON, "--force")
    b.submit(course, "correct", LESSON, b.submission(LESSON, "all"))
    b.submit(course, "blank", LESSON, b.submission(LESSON))
    return course


def infraprep_in(course, *args) -> subprocess.CompletedProcess:
    """The course's own command, run from the course folder so that it imports the course's copy."""
    return subprocess.run([str(b.BIN / "python"), "-m", "infraprep.cli", *args], cwd=course,
                          env=b.nbgrader_env(course), capture_output=True, text=True, timeout=900)


def autograde(course, grader: str) -> subprocess.CompletedProcess:
    """The lesson graded by stock ``nbgrader autograde`` (with the course's config) or by ``infraprep autograde``."""
    if grader == "nbgrader":
        return b.nbgrader(course, "autograde", LESSON, check=False)
    return infraprep_in(course, "autograde", LESSON, "--workers", "1", "--no-progress")


@pytest.mark.roundtrip
@pytest.mark.parametrize("grader", ["infraprep", "nbgrader"])
def test_a_broken_environment_stops_grading_and_says_why(tmp_path, grader):
    course = course_with_own_package(tmp_path, broken=True)
    done = autograde(course, grader)
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "instructor's solutions" in said and "no student was graded" in said, said[-3000:]
    assert "salaries" in said or "FileNotFoundError" in said or "TableNotFound" in said, \
        "the error says why (the missing table)"
    scores = b.scores(course, LESSON)
    assert all(v in (None, 0) for s in scores.values() for v in s.values()), scores
    assert not list((course / "autograded").glob(f"*/{LESSON}/{LESSON}.ipynb")), "nobody was graded"


@pytest.mark.roundtrip
@pytest.mark.parametrize("grader", ["infraprep", "nbgrader"])
def test_a_course_copy_with_its_own_package_grades_correctly(tmp_path, grader):
    course = course_with_own_package(tmp_path, broken=False)
    done = autograde(course, grader)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    tests = b.test_cells(b.source_nb(LESSON))
    got = b.scores(course, LESSON)
    assert got["correct"] == tests and sum(got["blank"].values()) == 0
