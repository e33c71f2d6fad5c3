"""Lesson 4 widgets, driven without a browser."""

import pytest

from infraprep import tables
from infraprep.widgets import PracticeQuiz

from infraprep.widgets.kubernetes import SchedulerExplorer, TolerationMatcher, TopologyPolicyExplorer


def test_explorer_shows_deadlock_then_gang_fixes_it():
    ex = SchedulerExplorer()
    assert ex.scenario.value == "random mix" and "Deadlock" in ex.summary_box.value
    ex.policy.value = "gang"
    assert "No deadlock" in ex.summary_box.value and "20 of 20 jobs finished" in ex.summary_box.value
    ex.scenario.value = SchedulerExplorer.LAB
    assert ex.seed.disabled and "4 of 4 jobs finished" in ex.summary_box.value
    ex.policy.value = "per-pod"
    assert "Deadlock" in ex.summary_box.value and ex.last.nodes == 4


def test_explorer_seed_slider_changes_the_result():
    ex = SchedulerExplorer()
    before = ex.summary_box.value
    figure = ex.figure
    ex.seed.value = 16
    assert ex.summary_box.value != before and not ex.seed.disabled
    assert ex.figure is not figure and len(ex.figure.axes[0].get_lines()) >= 2


def test_explorer_random_mix_uses_controls():
    ex = SchedulerExplorer()
    a = ex.run(policy="gang", scenario="random mix", seed=1, window=10, gang_share=0.5)
    b = ex.run(policy="gang", scenario="random mix", seed=1, window=10, gang_share=0.5)
    c = ex.run(policy="gang", scenario="random mix", seed=2, window=10, gang_share=0.5)
    assert a.summary() == b.summary() and len(a.jobs) == 20
    assert list(a.jobs["job"]) != list(c.jobs["job"]) or a.summary() != c.summary()
    with pytest.raises(ValueError):
        ex.jobs(scenario="nope")
    assert "data" in ex._repr_mimebundle_() or ex._repr_mimebundle_()


def test_toleration_matcher_explains():
    tm = TolerationMatcher()
    assert "Tolerated" in tm.verdict.value
    tm.preset.value = "Wrong effect"
    assert "Not tolerated" in tm.verdict.value and "NoExecute" in tm.verdict.value
    tm.preset.value = "Empty key with Exists (tolerates everything)"
    assert "Tolerated" in tm.verdict.value
    tm.preset.value = "No tolerations"
    assert "no tolerations given" in tm.verdict.value
    ok, reasons = tm.match("nvidia.com/gpu=present:NoSchedule", "- key: nvidia.com/gpu\n  operator: Equal\n  value: absent\n")
    assert not ok and "value" in reasons[0]
    ok, reasons = tm.match("nvidia.com/gpu=present:NoSchedule", "- key: other\n  operator: Exists\n- operator: Exists\n")
    assert ok and "differs" in reasons[0] and "every taint" in reasons[1]
    ok, reasons = tm.match("dedicated=ml:NoExecute", "- key: dedicated\n  operator: Exists\n  effect: NoSchedule\n")
    assert not ok and "effect" in reasons[0]
    tm.tolerations.value = "- key: [\n"
    assert "YAML syntax error on line" in tm.verdict.value
    laughs = "a: &a [x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + chr(ord(c) - 1)] * 8)}]\n" for c in "bcdefghi")
    tm.tolerations.value = laughs  # refused before its aliases are expanded
    assert "aliases" in tm.verdict.value
    tm.taint.value = "no-effect"
    assert "not a taint" in tm.verdict.value
    with pytest.raises(ValueError):
        tm.match("a=b:NoSchedule", "key: a\n")


def test_practice_quiz_has_at_least_six_valid_questions():
    quiz = PracticeQuiz.for_lesson("04-kubernetes")
    assert len(quiz.questions) >= 6
    for i, q in enumerate(quiz.questions):
        quiz.choose(i, q.answer)
        assert quiz.check(i) is True
    assert quiz.score == (len(quiz.questions), len(quiz.questions))
    assert len(tables.load("04-kubernetes", "practice")) == len(quiz.questions)


def test_topology_policy_explorer_shows_restricted_refusing_a_split_request():
    ex = TopologyPolicyExplorer()
    assert (ex.request.value, ex.free0.value, ex.free1.value) == (2, 1, 1)
    assert "rejects" in ex.table.value and "admits" in ex.table.value
    verdicts = ex.verdicts(2, 1, 1)
    assert [verdicts[p][0] for p in ("none", "best-effort", "restricted", "single-numa-node")] == [True, True, False, False]
    ex.request.value = 8
    ex.free0.value = ex.free1.value = 4
    assert ex.verdicts(8, 4, 4)["restricted"][0] and not ex.verdicts(8, 4, 4)["single-numa-node"][0]
    assert ex.table.value.count("<b>admits</b>") == 3
    ex.free1.value = 0
    assert ex.table.value.count("<b>rejects</b>") == 4 and "only 4 GPUs are free" in ex.table.value
