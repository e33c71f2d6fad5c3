"""Lesson 6 widgets: the calculator and the sizer compute what the estimates say, and react to input."""

import pytest

from infraprep import estimates
from infraprep.widgets import PracticeQuiz
from infraprep.widgets.storage_networking import CheckpointLoaderCalculator, FatTreeSizer


def test_calculator_numbers():
    calc = CheckpointLoaderCalculator()
    calc.set(params_billion=405, write_gb_s=50, checkpoint_every_steps=500, step_time_s=10,
             samples_per_s_per_gpu=4, mb_per_sample=2, gpus=2048)
    r = calc.results()
    assert r["checkpoint_gb"] == pytest.approx(405 * 14)
    assert r["write_time_s"] == pytest.approx(405 * 14 / 50)
    assert r["added_s_per_step"] == pytest.approx(405 * 14 / 50 / 500)
    assert r["overhead_fraction"] == pytest.approx(113.4 / (5000 + 113.4))
    assert r["loader_gb_s_per_gpu"] == pytest.approx(0.008)
    assert r["loader_gb_s_cluster"] == pytest.approx(16.384)
    assert "5,670 GB" in calc.output.value and "14 bytes a parameter" in calc.output.value


def test_calculator_rejects_unknown_settings():
    with pytest.raises(ValueError):
        CheckpointLoaderCalculator(colour="blue")
    with pytest.raises(ValueError):
        CheckpointLoaderCalculator().set(speed=3)


def test_sizer_and_three_level_message():
    sizer = FatTreeSizer()
    sizer.set(hosts=2048, radix=64, link_gbit_s=400, oversubscription=1)
    r = sizer.results()
    assert (r["leaves"], r["spines"], r["switches"], r["two_level_limit"]) == (64, 32, 96, 2048)
    assert r["bisection_tbit_s"] == pytest.approx(1024 * 0.4)
    sizer.set(hosts=3000)
    assert sizer.results()["levels"] == 3 and "aggregation" in sizer.output.value
    assert sizer.results()["switches"] == estimates.three_level_fat_tree_for_hosts(3000, 64)["switches"]
    sizer.set(oversubscription=3)
    assert sizer.results()["switches"] == estimates.leaf_spine_for_hosts(3000, 64, 3)["switches"]
    sizer.set(hosts=4000)
    assert "third level" in sizer.output.value  # oversubscribed designs are two-level only


def test_sizer_three_levels_and_rail_only():
    sizer = FatTreeSizer(hosts=16384, radix=64)
    assert sizer.results()["switches"] == 1280 and "1,280" in sizer.output.value
    sizer.set(rail_only=True, rails=8)
    assert sizer.results()["switches"] == 768 and "8 rails" in sizer.output.value
    sizer.set(hosts=16383)
    assert "rails" in sizer.output.value and "cf222e" in sizer.output.value


def test_widgets_display_themselves():
    for thing in (CheckpointLoaderCalculator(), FatTreeSizer()):
        bundle = thing._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle


def test_practice_quiz_has_six_or_more_valid_questions():
    quiz = PracticeQuiz.for_lesson("06-storage-networking")
    assert len(quiz.questions) >= 6
    quiz.choose(0, quiz.questions[0].answer)
    assert quiz.check(0) is True
    wrong = next(letter for letter in quiz.questions[1].options if letter != quiz.questions[1].answer)
    quiz.choose(1, wrong)
    assert quiz.check(1) is False
