"""Parallel autograding (infraprep.grading.coordinator, executors): the same scores as stock
`nbgrader autograde`, bad input reported and zeroed without stopping the cohort, a progress bar,
and an interrupted run that finishes on the next run without grading anything twice."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import pytest

import builders as b
from infraprep.grading import flags, sandbox

LESSON = "01-roles"
WRONG = {"q1": 'q1 = "A"', "q8": "q8 = 285", "q11": "q11 = 61_440_000",
         "q13": "def widest_total_comp(salaries):\n    return 'Junior'"}


def honest_submissions() -> dict:
    answers = b.answer_ids(b.source_nb(LESSON))
    return {
        "correct": b.submission(LESSON, "all"),
        "blank": b.submission(LESSON),
        "half": b.submission(LESSON, correct=answers[: len(answers) // 2]),
        "wrong": b.submission(LESSON, correct=[a for a in answers if a not in WRONG], replace=WRONG),
        "odd": b.submission(LESSON, correct=answers[1::2]),
    }


def make_course(tmp_path, students: dict):
    course = b.new_course(tmp_path, [LESSON])
    b.nbgrader(course, "generate_assignment", LESSON, "--force")
    for student, nb in students.items():
        b.submit(course, student, LESSON, nb)
    return course


@pytest.mark.roundtrip
def test_scores_identical_to_stock_nbgrader_autograde(tmp_path):
    stock = make_course(tmp_path / "stock", honest_submissions())
    ours = tmp_path / "ours" / "course"
    shutil.copytree(stock, ours, symlinks=True)
    b.nbgrader(stock, "autograde", LESSON)
    run = b.infraprep(ours, "autograde", LESSON, "--workers", "2")
    assert "autograded 5 notebook(s)" in run.stdout and "0 problem(s)" in run.stdout
    expected, got = b.scores(stock, LESSON), b.scores(ours, LESSON)
    assert set(got) == set(honest_submissions())
    assert got == expected, "infraprep must give exactly the scores stock nbgrader gives"
    # and every other grade and comment nbgrader saves (e.g. "No response." on an untouched answer)
    saved = b.gradebook_rows(ours, LESSON)
    assert saved == b.gradebook_rows(stock, LESSON)
    assert any(text == "No response." for text in saved["blank"].values())
    tests = b.test_cells(b.source_nb(LESSON))
    assert got["correct"] == tests and sum(got["blank"].values()) == 0
    assert 0 < sum(got["half"].values()) < sum(tests.values())
    # the autograded notebooks are where nbgrader puts them, read-only like nbgrader's
    path = ours / "autograded" / "correct" / LESSON / f"{LESSON}.ipynb"
    assert path.exists() and not path.stat().st_mode & 0o222
    # a second run grades nothing again
    again = b.infraprep(ours, "autograde", LESSON, "--workers", "2")
    assert "autograded 0 notebook(s)" in again.stdout and "5 already graded" in again.stdout


@pytest.mark.roundtrip
def test_bad_input_is_reported_zeroed_and_never_stops_the_cohort(tmp_path):
    kill_kernel = b.submission(LESSON, "all", replace={"q2": "import os\nos._exit(3)"})
    kill_worker = b.submission(LESSON, "all", replace={"q3": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"})
    course = make_course(tmp_path, {
        "a-notjson": "{ this is not a notebook",
        "b-empty": "",
        "c-killer": kill_kernel,
        "d-fine": b.submission(LESSON, "all"),
        "e-wrecker": kill_worker,
        "f-fine": b.submission(LESSON, "all"),
    })
    misnamed = course / "submitted" / "g-misnamed" / LESSON
    misnamed.mkdir(parents=True)
    b.submit(course, "g-misnamed", LESSON, b.submission(LESSON, "all")).rename(misnamed / "my-answers.ipynb")
    b.submit(course, "d-fine", "01-rolez", b.submission(LESSON, "all"))  # a stray folder, not an assignment

    run = b.infraprep(course, "autograde", "--workers", "2")
    out = run.stdout
    # In the sandbox the kernel has its own process tree, so it cannot reach the worker to kill it:
    # the wrecker is graded like anyone else (zero for the question it spoiled). Unsandboxed, it
    # takes its worker down and must be reported and zeroed.
    sandboxed = sandbox.available()
    broken = [("a-notjson", "not a notebook"), ("b-empty", "empty file"),
              ("g-misnamed", "wrong notebook name")] + ([] if sandboxed else [("e-wrecker", "kernel died")])
    for student, kind in broken:
        assert f"{student} / {LESSON} / {LESSON}: {kind}" in out, (student, out)
    assert "my-answers.ipynb" in out
    assert "d-fine / 01-rolez / -: unknown lesson" in out
    assert f"d-fine / {LESSON}" not in out and "f-fine" not in out
    assert f"{len(broken) + 1} problem(s)" in out and f"autograded {7 - len(broken)} notebook(s)" in out
    reported = {(f.student, f.kind) for f in flags.collect(course)}  # kept for the report
    assert all(item in reported for item in broken), reported

    tests = b.test_cells(b.source_nb(LESSON))
    got = b.scores(course, LESSON)
    assert got["d-fine"] == tests and got["f-fine"] == tests
    for student, _kind in broken:
        assert got[student] == {t: 0.0 for t in tests}, f"{student} must get zero, not nothing"
    if sandboxed:
        assert got["e-wrecker"] == {t: (0.0 if t == "q3_tests" else p) for t, p in tests.items()}
    # a kernel that kills itself is restarted: that question scores zero, the rest is graded, and it is flagged
    assert got["c-killer"] == {t: (0.0 if t == "q2_tests" else p) for t, p in tests.items()}
    assert any(f.student == "c-killer" and f.kind == flags.KERNEL_DIED and f.cell == "q2"
               for f in flags.collect(course)), flags.collect(course)
    # the progress bar: notebooks done of the total, and a rate
    assert "autograde" in run.stderr and "7/7" in run.stderr and "nb/s" in run.stderr


@pytest.mark.roundtrip
def test_interrupted_autograde_finishes_on_rerun_without_grading_twice(tmp_path):
    # every notebook takes at least a second (a slow answer), so the interrupt lands part-way through
    right = b.submission(LESSON, "all").cells
    q1 = next(c.source for c in right if b.grade_id(c) == "q1")
    students = {f"s{i:02d}": b.submission(LESSON, "all" if i % 2 else (), replace={
        "q1": "import time\ntime.sleep(1.5)\n" + (q1 if i % 2 else "")}) for i in range(8)}
    course = make_course(tmp_path, students)
    env = b.nbgrader_env(course)
    proc = subprocess.Popen([str(b.BIN / "infraprep"), "autograde", "--workers", "1", "--no-progress"], cwd=course,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    graded = lambda: sorted(course.glob(f"autograded/*/{LESSON}/{LESSON}.ipynb"))  # noqa: E731
    deadline = time.time() + 300
    while not graded() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    first = graded()
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err
    assert 1 <= len(first) < len(students), "the run must be stopped part-way for this test to mean anything"
    stamps = {p: p.stat().st_mtime_ns for p in first}
    partial = b.scores(course, LESSON)
    for p in first:  # what was written is fully graded
        student = p.parts[-3]
        assert all(v is not None for v in partial[student].values())

    rerun = b.infraprep(course, "autograde", "--workers", "2")
    left = len(students) - len(first)
    assert f"autograded {left} notebook(s)" in rerun.stdout
    assert f"{len(first)} already graded" in rerun.stdout
    assert {p: p.stat().st_mtime_ns for p in first} == stamps, "a graded notebook was graded again"
    tests = b.test_cells(b.source_nb(LESSON))
    got = b.scores(course, LESSON)
    assert set(got) == set(students)
    for i, student in enumerate(sorted(students)):
        assert got[student] == (tests if i % 2 else {t: 0.0 for t in tests}), student
