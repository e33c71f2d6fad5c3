"""``infraprep check``: a learner grades their own notebook with the hidden tests on this machine."""

from __future__ import annotations

import json
import shutil
import subprocess

import nbformat
import pytest

import builders as b

LESSON = "01-roles"


def check(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    import os

    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([str(b.BIN / "infraprep"), "check", *args], capture_output=True, text=True,
                          timeout=600, env=full, cwd=cwd)


@pytest.fixture
def home(tmp_path):
    folder = tmp_path / "learner-home"
    folder.mkdir()
    return {"INFRAPREP_HOME": str(folder)}


def test_the_solutions_get_full_marks_and_a_blank_notebook_none(tmp_path, home):
    solved = check(LESSON, str(b.SOURCE / LESSON / f"{LESSON}.ipynb"), "--json", env=home)
    assert solved.returncode == 0, solved.stderr[-2000:]
    result = json.loads(solved.stdout)
    assert not list((b.SOURCE / LESSON).glob("*-feedback.html")), "nothing is written into source/"
    assert result["feedback"].startswith(home["INFRAPREP_HOME"])
    tests = b.test_cells(b.source_nb(LESSON))
    assert result["score"] == result["max_score"] == sum(tests.values()) > 0
    assert {q["question"] for q in result["questions"]} >= {t.removesuffix("_tests").upper() for t in tests}

    blank = tmp_path / f"{LESSON}.ipynb"
    shutil.copy(b.RELEASE / LESSON / f"{LESSON}.ipynb", blank)
    done = check(LESSON, str(blank), env=home)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "total" in done.stdout and " 0 " in done.stdout.splitlines()[-2] + " "
    feedback = tmp_path / f"{LESSON}-feedback.html"
    assert feedback.is_file(), "the feedback page is written beside the notebook"
    shown = done.stdout + done.stderr + b.visible_text(feedback)
    leaked = [line for line in b.hidden_lines(LESSON) if line in shown]
    assert not leaked and "BEGIN HIDDEN TESTS" not in shown, f"hidden tests shown: {leaked[:3]}"


def test_one_right_and_one_wrong_answer_are_two_rows(tmp_path, home):
    case = b.cases(LESSON)
    answers = b.answer_ids(b.source_nb(LESSON))
    right, wrong = answers[0], answers[1]
    nb = b.submission(LESSON, correct=[right], replace={wrong: case.WRONG[wrong]})
    path = tmp_path / f"{LESSON}.ipynb"
    nbformat.write(nb, str(path))
    result = json.loads(check(LESSON, str(path), "--json", env=home).stdout)
    rows = {q["question"]: q for q in result["questions"]}
    first, second = rows[right.upper()], rows[wrong.upper()]
    assert first["points"] == first["max_points"] > 0 and first["reason"] == "correct"
    assert second["points"] == 0 and second["reason"] and "not answered" not in second["reason"]
    assert result["score"] == first["max_points"]


def test_bad_input_is_one_line_and_exits_non_zero(tmp_path, home):
    not_json = tmp_path / "notes.ipynb"
    not_json.write_text("{ not a notebook")
    for args in ((LESSON, str(not_json)), ("99-nowhere",), (LESSON, str(tmp_path / "missing.ipynb"))):
        done = check(*args, env=home)
        assert done.returncode != 0 and done.stdout == ""
        assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1, done.stderr
    course = tmp_path / "course"
    shutil.copytree(b.ROOT / "source", course / "source", ignore=shutil.ignore_patterns(LESSON))
    shutil.copy(b.ROOT / "nbgrader_config.py", course)
    done = check(LESSON, str(b.RELEASE / LESSON / f"{LESSON}.ipynb"), env=dict(home, INFRAPREP_COURSE=str(course)))
    assert done.returncode != 0 and "hidden tests of 01-roles are not on this machine" in done.stderr


def test_a_new_variant_changes_the_inputs_and_keeps_the_old_answers(tmp_path, home):
    from infraprep.assessment import variants

    path = tmp_path / f"{LESSON}.ipynb"
    answered = b.submission(LESSON, "all")
    nbformat.write(answered, str(path))
    import os

    os.environ["INFRAPREP_HOME"] = home["INFRAPREP_HOME"]
    try:
        before = variants.identity().key
        done = check(LESSON, str(path), "--new-variant", env=home)
        assert done.returncode == 0, done.stderr
        after = variants.identity().key
    finally:
        del os.environ["INFRAPREP_HOME"]
    assert before != after, "a new practice round draws new inputs"
    kept = tmp_path / f"{LESSON}.round-0.ipynb"
    sources = lambda nb: [c.source for c in nb.cells]  # noqa: E731
    assert sources(nbformat.read(str(kept), as_version=4)) == sources(answered), "the old answers are kept"
    assert sources(nbformat.read(str(path), as_version=4)) == sources(b.release_nb(LESSON)), "the working copy starts again"
    draws = [variants.Assignment(LESSON, variants.Identity("s", k)).rng("q5").random() for k in (before, after)]
    assert draws[0] != draws[1]
