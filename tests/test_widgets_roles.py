import json
import subprocess
import sys

import pytest

from infraprep import tables
from infraprep.estimates import career
from infraprep.widgets import PracticeQuiz
from infraprep.widgets.roles import OfferReader, PrepTracker, RoleMatcher, SalaryExplorer


def test_salary_explorer_starts_on_senior_and_updates_when_a_level_is_picked():
    explorer = SalaryExplorer()
    assert explorer.picker.value == "Senior"
    assert "$250K–$350K" in explorer.output.value and "$500K–$800K" in explorer.output.value
    facts = explorer.summary()
    assert facts["base_mid_usd"] == 300_000 and facts["total_mid_usd"] == 650_000
    assert facts["non_base_share"] == pytest.approx(1 - 300 / 650)
    assert facts["google"] == "L5" and facts["nvidia_medians_usd"] == {"IC3": 287_000, "IC4": 388_000}
    explorer.select("Staff+")
    assert "$1.5M+" in explorer.output.value and "IC6 $596K" in explorer.output.value
    with pytest.raises(ValueError, match="unknown level"):
        explorer.select("Intern")


@pytest.mark.parametrize("interests, best", [
    (["slurm", "nvlink topology", "infiniband"], "GPU/HPC infrastructure engineer"),
    (["kv cache", "request routing", "latency slo"], "Inference and serving infrastructure engineer"),
    (["profiling", "roofline", "compilers"], "Performance engineer"),
])
def test_role_matcher_ranks_the_variant_that_shares_most_interests_first(interests, best):
    matcher = RoleMatcher()
    ranked = matcher.match(interests)
    assert ranked.iloc[0]["variant"] == best and ranked.iloc[0]["matches"] == 3
    assert len(ranked) == 6


def test_role_matcher_widget_follows_the_ticks():
    matcher = RoleMatcher()
    assert "Tick a few" in matcher.output.value
    matcher.pick(["terraform", "cost optimisation", "multi-cloud"])
    assert "Best fit: AI cloud infrastructure engineer" in matcher.output.value
    with pytest.raises(ValueError, match="unknown interest"):
        matcher.match(["knitting"])


def test_offer_reader_starts_on_round_values_and_agrees_with_the_package():
    reader = OfferReader()
    assert (reader.base.value, reader.bonus.value, reader.grant.value, reader.sign_on.value, reader.months.value) == \
        (200_000, 15, 400_000, 50_000, 18)
    assert reader.schedule.value == "Even with a one-year cliff"
    facts = reader.summary()
    assert facts["year1_usd"] == 200_000 + 30_000 + 100_000 + 50_000
    assert facts["headline_usd"] == 330_000 and facts["kept_if_leaving_usd"] == 150_000
    reader.set(schedule="Back-loaded 5/15/40/40", months=11)
    facts = reader.summary()
    assert facts["kept_if_leaving_usd"] == 0 and "you keep <b>$0</b>" in reader.output.value
    frame = reader.table()
    assert list(frame["equity_usd"]) == [20_000, 60_000, 160_000, 160_000]
    assert frame.equals(career.offer_by_year(200_000, 15, 400_000, (5, 15, 40, 40), [50_000]))
    with pytest.raises(ValueError, match="unknown control"):
        reader.set(salary=1)


def test_prep_tracker_saves_ticks_that_survive_a_new_process(tmp_path):
    path = tmp_path / "plan.json"
    tracker = PrepTracker(path=path)
    assert len(tracker.boxes) == len(tables.load("01-roles", "prep_plan"))
    tracker.mark("w1-lesson1")
    tracker.boxes["w3-lesson9"].value = True  # as if clicked
    progress = tracker.progress().set_index("week")
    assert progress.loc[1, "done"] == 1 and progress.loc[3, "done"] == 1
    assert progress.loc[1, "hours_done"] == 3 and progress.loc[3, "hours_done"] == 7
    assert "2 of 14 tasks, 10 of 70 hours done" in tracker.label.value
    code = (f"from infraprep.widgets.roles import PrepTracker; t = PrepTracker(path={str(path)!r}); "
            "import json; print(json.dumps(sorted(k for k, v in t.done.items() if v)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["w1-lesson1", "w3-lesson9"]


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
