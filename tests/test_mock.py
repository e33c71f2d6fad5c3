"""Mock interviews: prompts and rubrics as data, a countdown on an injected clock, saved scores."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest

from infraprep import manifests, tables, userdata
from infraprep.practice import bank, mock


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_every_round_has_a_prompt_and_a_rubric():
    prompts = mock.load_prompts()
    assert set(prompts["round"]) == set(bank.ROUNDS)
    assert prompts["prompt_id"].is_unique
    for pid in prompts["prompt_id"]:
        assert len(mock.rubric_for(pid)) >= 3


def test_the_issue_prompts_are_present():
    prompts = mock.load_prompts()
    text = " ".join(prompts["prompt"].astype(str))
    assert "GPU cluster for a 70B-parameter training run" in text
    assert "model-serving platform" in text
    behavioural = mock.load_prompts("behavioural")
    assert len(behavioural) >= 2 and behavioural["prompt"].str.contains("STAR").all()


def test_a_rubric_joins_round_and_prompt_criteria():
    general = mock.rubric_for("sd-serving")
    other = mock.rubric_for("sd-70b-cluster")
    assert {"requirements", "cost", "kv-cache"} <= set(general["item"])
    assert "kv-cache" not in set(other["item"]) and "parallelism" in set(other["item"])
    with pytest.raises(ValueError):
        mock.rubric_for("no-such-prompt")
    with pytest.raises(ValueError):
        mock.load_prompts("lunch")


def test_countdown_runs_on_the_injected_clock():
    clock = FakeClock()
    countdown = mock.Countdown(45 * 60, clock=clock)
    assert countdown.display() == "45:00" and not countdown.running
    countdown.start()
    clock.t += 0.4
    assert countdown.display() == "45:00"
    clock.t += 0.6
    assert countdown.display() == "44:59"
    clock.t += 30 * 60 - 1
    assert countdown.remaining() == pytest.approx(15 * 60)
    assert not countdown.expired
    clock.t += 15 * 60 + 5
    assert countdown.expired and countdown.remaining() == 0 and countdown.display() == "+00:05"
    countdown.stop()
    clock.t += 100
    assert countdown.elapsed() == pytest.approx(45 * 60 + 5)


def test_countdown_rejects_zero():
    with pytest.raises(ValueError):
        mock.Countdown(0)


def test_session_scores_the_ticked_rubric_items():
    clock = FakeClock()
    session = mock.MockSession("bh-incident", clock=clock, now=lambda: datetime(2026, 11, 24, 9, 30))
    assert session.round == "behavioural" and session.minutes == 10
    session.start()
    clock.t += 7.5 * 60
    session.check("situation")
    session.check("action")
    session.check("result")
    session.check("result", False)
    with pytest.raises(ValueError):
        session.check("kv-cache")
    record = session.result()
    assert record["checked"] == ["action", "situation"]
    assert (record["score"], record["max_score"]) == (2, len(mock.rubric_for("bh-incident")))
    assert record["minutes_used"] == pytest.approx(7.5)
    assert record["when"] == "2026-11-24T09:30:00"


def test_results_are_saved_and_reloaded(tmp_path):
    path = tmp_path / "mock.json"
    results = mock.MockResults(path)
    day = datetime(2026, 11, 20, 20, 0)
    for offset, ticks in ((0, 2), (1, 5)):
        clock = FakeClock()
        session = mock.MockSession("sd-70b-cluster", clock=clock, now=lambda d=day + timedelta(days=offset): d)
        session.start()
        for item in list(session.rubric["item"])[:ticks]:
            session.check(item)
        clock.t += 40 * 60
        results.add(session)
    again = mock.MockResults(path)
    frame = again.frame()
    assert len(frame) == 2
    assert frame["percent"].round(1).tolist() == [round(100 * 2 / 8, 1), round(100 * 5 / 8, 1)]
    assert json.loads(path.read_text())["sessions"][1]["minutes_used"] == 40


def test_a_corrupt_results_file_is_set_aside(tmp_path):
    path = tmp_path / "mock.json"
    path.write_text('{"version": 1, "sessions": [{"oops": 1}]}')
    with pytest.warns(userdata.CorruptFileWarning):
        results = mock.MockResults(path)
    assert results.sessions == [] and results.frame().empty
    assert len(list(tmp_path.glob("mock.json.corrupt-*"))) == 1


def test_two_result_objects_on_one_file_keep_every_session(tmp_path):
    path = tmp_path / "mock.json"
    first, second = mock.MockResults(path), mock.MockResults(path)
    first.add({"when": "2026-11-24T10:00:00", "prompt_id": "bh-cost", "round": "behavioural", "score": 3, "max_score": 5})
    second.add({"when": "2026-11-24T11:00:00", "prompt_id": "bh-conflict", "round": "behavioural", "score": 4, "max_score": 5})
    assert [s["prompt_id"] for s in mock.MockResults(path).sessions] == ["bh-cost", "bh-conflict"]


# --------------------------------------------------------------------------- model answers


DESIGN_PARTS = ("Requirements", "Numbers", "Architecture", "Deep dive", "Trade-offs")


def test_every_prompt_has_a_complete_model_answer():
    refs = set(tables.references(bank.LESSON)["key"].astype(str))
    texts = tables.load(bank.LESSON, "model_answers")
    inputs = tables.load(bank.LESSON, "mock_inputs")
    assert set(texts["source"].astype(str)) <= refs and set(inputs["source"].astype(str)) <= refs
    for pid in mock.load_prompts()["prompt_id"]:
        answer = mock.model_answer(pid)
        text = answer.markdown()
        assert len(answer.sections) >= 3 and len(text.split()) >= 120, pid
        assert not re.search(r"\{[a-z_]+\}", text), f"{pid}: an unfilled number slot"
        assert len(answer.numbers) >= 2 and (answer.numbers["value"].str.len() > 0).all()
        assert not answer.numbers["value"].str.contains(r"e\+|\.\d{5,}", regex=True).any(), "numbers as people write them"
        if answer.round == "system-design":
            headings = [h for h, _ in answer.sections]
            assert all(any(h.startswith(part) for h in headings) for part in DESIGN_PARTS), (pid, headings)
    with pytest.raises(ValueError):
        mock.model_answer("no-such-prompt")


def test_cluster_design_numbers_match_a_hand_calculation():
    answer = mock.model_answer("sd-70b-cluster")
    shown = dict(zip(answer.numbers["quantity"], answer.numbers["value"]))
    gpu_hours = 6 * 70e9 * 2e12 / (989e12 * 0.40) / 3600
    assert shown["H100-hours at the assumed MFU"] == f"{gpu_hours:,.0f}" == "589,821"
    assert shown["GPUs needed to finish within the deadline"] == f"{gpu_hours / (30 * 24):,.0f}"
    assert shown["GPUs chosen (whole nodes, a power of two)"] == "1,024"
    assert shown["training time on those GPUs"] == f"{gpu_hours / 1024 / 24:.1f}"
    assert shown["checkpoint, 14 bytes a parameter"] == "980"
    assert shown["model state per GPU, TP 8 × ZeRO-1"] == f"{(4 * 70e9 / 8 + 12 * 70e9 / 8 / 128) / 1e9:.1f}"
    job_mtbf = 54 * 24 / 419 * 16384 / 1024
    assert shown["expected time between interruptions for this job"] == f"{job_mtbf:.0f}"
    assert shown["Young's interval with blocking checkpoints"] == f"{(2 * 4.9 * job_mtbf * 3600) ** 0.5 / 60:.0f}"
    assert shown["GPU cost at the neocloud price"] == f"{1024 * gpu_hours / 1024 * 2.5 / 1e6:.2f}"
    assert shown["facility power at the PUE"] == f"{128 * 10.2 * 1.56 / 1000:.2f}"
    text = answer.markdown()
    assert "8.4 × 10²³" in text and "14 bytes a parameter" in text and "no gradients" in text


def test_serving_and_memory_answers_match_a_hand_calculation():
    serving = dict(zip(*[mock.model_answer("sd-serving").numbers[c] for c in ("quantity", "value")]))
    kv = 2 * 80 * 8 * 128 * 2
    free = 4 * 80e9 * 0.9 - 140e9
    assert serving["conversations whose KV cache fits"] == f"{int(free // (2500 * kv)):,}"
    assert serving["KV cache per token (80 layers, 8 KV heads of 128)"] == f"{kv / 1e6:.2f}"
    memory = dict(zip(*[mock.model_answer("dd-memory").numbers[c] for c in ("quantity", "value")]))
    assert memory["plain DDP: 16 bytes a parameter on every GPU"] == "208"
    assert memory["ZeRO-1 per GPU"] == f"{(4 * 13e9 + 12 * 13e9 / 8) / 1e9:.1f}"
    assert memory["ZeRO-3 / FSDP per GPU"] == f"{16 * 13e9 / 8 / 1e9:.1f}"
    ring = dict(zip(*[mock.model_answer("dd-allreduce").numbers[c] for c in ("quantity", "value")]))
    assert ring["ring AllReduce time"] == f"{(2 * 63 * 10e-6 + 2 * 63 / 64 * 256e6 / 50e9) * 1e3:.1f}"
    assert ring["busbw of the measured run"] == f"{256e6 / 0.025 * 2 * 63 / 64 / 1e9:.1f}"


def test_inputs_agree_with_the_prompts():
    prompts = mock.load_prompts().set_index("prompt_id")["prompt"].astype(str)
    cluster = mock.inputs_for("sd-70b-cluster")
    assert "70B" in prompts["sd-70b-cluster"] and "2 trillion" in prompts["sd-70b-cluster"]
    assert (cluster["params"], cluster["tokens"]) == (70e9, 2e12)
    pipeline = mock.inputs_for("sd-data-pipeline")
    assert "1,024-GPU" in prompts["sd-data-pipeline"] and "5 PB" in prompts["sd-data-pipeline"]
    assert (pipeline["gpus"], pipeline["raw_pb"]) == (1024, 5)
    memory = mock.inputs_for("dd-memory")
    assert "13B" in prompts["dd-memory"] and "8 × 80 GB" in prompts["dd-memory"]
    assert (memory["params"], memory["gpus"], memory["gpu_gb"]) == (13e9, 8, 80)
    job = mock.inputs_for("cd-k8s-job")
    assert "2-node, 16-GPU" in prompts["cd-k8s-job"] and job["nodes"] * job["gpus_per_node"] == 16


def test_the_coding_model_answer_is_a_valid_manifest():
    text = tables.artefact(bank.LESSON, "model_answers/cd-k8s-job.yaml")
    summary = manifests.check_gpu_workload(text, gpus_per_pod=8, pods=2)
    assert summary["total_gpus"] == 16
    spec = manifests.parse(text)["spec"]
    for role in spec["pytorchReplicaSpecs"].values():
        pod = role["template"]["spec"]
        container = pod["containers"][0]
        assert container["command"] == ["torchrun"] and "--nproc-per-node=8" in container["args"]
        assert any(v.get("emptyDir", {}).get("medium") == "Memory" for v in pod["volumes"])
        assert pod["priorityClassName"]
    assert "torchrun" in mock.model_answer("cd-k8s-job").markdown()


def test_markdown_html_renders_the_subset_and_escapes():
    out = mock.markdown_html("## Title\nSome **bold** and `code <x>`.\n\n- one\n- two\n\n```yaml\na: <b>\n```")
    assert "<h4>Title</h4>" in out and "<b>bold</b>" in out and "<code>code &lt;x&gt;</code>" in out
    assert out.count("<li>") == 2 and "<pre" in out and "a: &lt;b&gt;" in out


def test_countdown_ended():
    clock = FakeClock()
    countdown = mock.Countdown(60, clock=clock)
    assert not countdown.ended
    countdown.start()
    clock.t += 30
    assert not countdown.ended
    countdown.stop()
    assert countdown.ended
