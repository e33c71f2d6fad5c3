"""Mock interviews: prompts and rubrics as data, a countdown on an injected clock, saved scores."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from infraprep import userdata
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
