"""Lesson 3 widgets: the planner and the AllReduce explorer compute what the formulas say."""

import pytest

from infraprep import estimates
from infraprep.widgets import PracticeQuiz
from infraprep.widgets.distributed import AllReduceExplorer, ParallelismPlanner


def test_planner_reproduces_the_zero_paper_example():
    planner = ParallelismPlanner()
    for stage, gb in {0: 120, 1: 31.4, 2: 16.6, 3: 1.9}.items():
        plan = planner.plan(params_b=7.5, gpus=64, zero_stage=stage, tensor_parallel=1, pipeline_parallel=1)
        assert round(plan["model_state_gb"], 1) == gb
        assert plan["data_parallel"] == 64
    assert not planner.plan(params_b=7.5, gpus=64, zero_stage=0, tensor_parallel=1, pipeline_parallel=1)["fits"]


def test_planner_bubble_layout_and_warnings():
    planner = ParallelismPlanner()
    plan = planner.plan(params_b=175, gpus=1024, zero_stage=1, tensor_parallel=8, pipeline_parallel=16, microbatches=32)
    assert plan["data_parallel"] == 8
    assert plan["bubble_fraction"] == pytest.approx(estimates.pipeline_bubble_fraction(16, 32))
    assert plan["model_state_gb"] == pytest.approx(estimates.model_state_bytes_per_gpu(175e9, 1024, 8, 16, 1) / 1e9)
    assert any("bubble is large" in w for w in plan["warnings"])  # 32 < 4·16
    assert planner.plan(tensor_parallel=16, pipeline_parallel=1, gpus=64)["warnings"]
    with pytest.raises(ValueError):
        planner.plan(gpus=64, tensor_parallel=8, pipeline_parallel=16)


def test_planner_sliders_update_the_report():
    planner = ParallelismPlanner(params_b=7.5, gpus=64, zero_stage=0, tensor_parallel=1, pipeline_parallel=1)
    assert "does not fit" in planner._out.value
    planner._stage.value = 3
    assert "1.9 GB" in planner._out.value and "fits" in planner._out.value
    planner._gpus.value = 2
    planner._tp.value = 4
    assert "cannot be split" in planner._out.value
    assert "application/vnd.jupyter.widget-view+json" in planner._repr_mimebundle_()


def test_explorer_matches_the_formulas_and_switches_winner_at_the_crossover():
    explorer = AllReduceExplorer(gpus=64, alpha_us=5, bandwidth_gb_s=25, size_mb=100)
    c = explorer.compare()
    assert c["ring_s"] == pytest.approx(estimates.ring_allreduce_time_s(100e6, 64, 5e-6, 25e9))
    assert c["faster"] == "ring"
    cross_mb = c["crossover_bytes"] / 1e6
    assert explorer.compare(size_mb=cross_mb / 4)["faster"] == "tree"
    assert explorer.compare(size_mb=cross_mb * 4)["faster"] == "ring"
    # the ring's busbw can never exceed the link bandwidth
    assert explorer.compare(size_mb=1e4)["ring_busbw_bytes_s"] < 25e9
    assert explorer.compare(size_mb=1e4)["ring_busbw_bytes_s"] == pytest.approx(25e9, rel=0.01)
    explorer._gpus.value = 2
    assert "ring" in explorer._out.value


def test_practice_quiz_has_enough_questions_and_all_answers_check():
    quiz = PracticeQuiz.for_lesson("03-distributed")
    assert len(quiz.questions) >= 6
    for i, question in enumerate(quiz.questions):
        wrong = next(letter for letter in question.options if letter != question.answer)
        quiz.choose(i, wrong)
        assert quiz.check(i) is False
        quiz.choose(i, question.answer)
        assert quiz.check(i) is True
    assert quiz.score == (len(quiz.questions), len(quiz.questions))


def test_sliders_start_and_stay_on_round_values():
    from infraprep.widgets.distributed import MODEL_SIZES_B, CheckpointPlanner

    planner = ParallelismPlanner()
    assert planner._params.value == 70 and set(MODEL_SIZES_B) <= set(planner._params.options)
    explorer = AllReduceExplorer()
    assert (explorer._alpha.value, explorer._bw.value, explorer._size.value) == (10, 50, 25)
    for control in (planner._params, explorer._alpha, explorer._bw, explorer._size, CheckpointPlanner()._params):
        assert all(float(option) == round(float(option), 3) for option in control.options)


def test_checkpoint_planner_uses_14_bytes_a_parameter_and_async_pauses_less():
    from infraprep.widgets.distributed import CheckpointPlanner

    planner = CheckpointPlanner()
    sync = planner.plan(params_b=70, gpus=1024, write_gb_s=100, mtbf_h=6, device_to_host_gb_s=25, asynchronous=False)
    assert sync["checkpoint_gb"] == pytest.approx(70 * 14)
    assert sync["shard_gb"] == pytest.approx(980 / 1024)
    assert sync["pause_s"] == pytest.approx(9.8) == sync["write_s"]
    assert sync["interval_min"] == pytest.approx(estimates.young_interval(9.8, 6 * 3600) / 60)
    done = planner.plan(params_b=70, gpus=1024, write_gb_s=100, mtbf_h=6, device_to_host_gb_s=25, asynchronous=True)
    assert done["pause_s"] == pytest.approx(980e9 / 1024 / 25e9)
    assert done["waste_fraction"] < sync["waste_fraction"]
    slow = planner.plan(params_b=1000, gpus=64, write_gb_s=10, mtbf_h=1, asynchronous=True)
    assert not slow["keeps_up"]
    planner._async.value = True
    planner._params.value = 1000
    planner._gpus.value = 64
    planner._write.value = 10
    planner._mtbf.value = 1
    assert "queue up" in planner._out.value and "14,000 GB" in planner._out.value
