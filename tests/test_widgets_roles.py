import json
import subprocess
import sys

import pytest

from infraprep.widgets import PracticeQuiz
from infraprep.widgets.roles import PrepTracker, RoleMatcher, SalaryExplorer


def test_salary_explorer_updates_when_a_level_is_picked():
    explorer = SalaryExplorer()
    explorer.select("Senior")
    assert "$250K–$350K" in explorer.output.value and "$500K–$800K" in explorer.output.value
    facts = explorer.summary()
    assert facts["base_mid_usd"] == 300_000 and facts["total_mid_usd"] == 650_000
    assert facts["non_base_share"] == pytest.approx(1 - 300 / 650)
    explorer.select("Staff+")
    assert "$1.5M+" in explorer.output.value
    with pytest.raises(ValueError, match="unknown level"):
        explorer.select("Intern")


def test_role_matcher_ranks_the_variant_that_shares_most_interests_first():
    matcher = RoleMatcher()
    ranked = matcher.match(["slurm", "cuda kernels", "nvlink topology"])
    assert ranked.iloc[0]["variant"] == "GPU/HPC Infrastructure Engineer"
    assert ranked.iloc[0]["matches"] == 3
    matcher.pick(["terraform", "cost optimisation", "multi-cloud"])
    assert "Best fit: AI Cloud Infrastructure Engineer" in matcher.output.value
    with pytest.raises(ValueError, match="unknown interest"):
        matcher.match(["knitting"])


def test_prep_tracker_saves_ticks_that_survive_a_new_process(tmp_path):
    path = tmp_path / "plan.json"
    tracker = PrepTracker(path=path)
    tracker.mark("w1-lesson1")
    tracker.boxes["w2-deploy"].value = True  # as if clicked
    progress = tracker.progress().set_index("week")
    assert progress.loc[1, "done"] == 1 and progress.loc[2, "done"] == 1
    code = (f"from infraprep.widgets.roles import PrepTracker; t = PrepTracker(path={str(path)!r}); "
            "import json; print(json.dumps(sorted(k for k, v in t.done.items() if v)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["w1-lesson1", "w2-deploy"]


def test_prep_tracker_sets_a_corrupt_file_aside(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text("{broken")
    with pytest.warns(UserWarning, match="moved to"):
        tracker = PrepTracker(path=path)
    assert tracker.done == {}
    assert list(tmp_path.glob("plan.json.corrupt-*"))


def test_practice_quiz_gives_feedback_after_an_attempt():
    quiz = PracticeQuiz.for_lesson("01-roles")
    assert len(quiz.questions) >= 6
    first = quiz.questions[0]
    assert quiz.check(0) is None and "Pick an option" in quiz.feedback(0)
    wrong = next(k for k in first.options if k != first.answer)
    quiz.choose(0, wrong)
    assert quiz.check(0) is False and f"the answer is {first.answer}" in quiz.feedback(0)
    quiz.choose(0, first.answer)
    assert quiz.check(0) is True and "Correct" in quiz.feedback(0)
    assert quiz.score == (1, len(quiz.questions))
