"""Leitner scheduling and saved flashcard progress: the rule, persistence, corruption, atomic writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest

from infraprep import userdata
from infraprep.practice import flashcards
from infraprep.practice.flashcards import INTERVALS_DAYS, CardState, FlashcardProgress, next_state

TODAY = date(2026, 11, 24)


def test_intervals_double_from_one_day():
    assert INTERVALS_DAYS == (1, 2, 4, 8, 16)


@pytest.mark.parametrize("box", [1, 2, 3, 4])
def test_a_known_card_moves_up_one_box(box):
    after = next_state(CardState(box=box, reviews=3), known=True, today=TODAY)
    assert after.box == box + 1
    assert after.due == TODAY + timedelta(days=INTERVALS_DAYS[box])
    assert (after.reviews, after.known, after.last) == (4, 1, TODAY)


def test_the_top_box_keeps_a_known_card():
    after = next_state(CardState(box=5, reviews=9), known=True, today=TODAY)
    assert after.box == 5 and after.due == TODAY + timedelta(days=16)


@pytest.mark.parametrize("box", [1, 2, 3, 4, 5])
def test_a_missed_card_goes_back_to_the_first_box(box):
    after = next_state(CardState(box=box, reviews=2, known=2), known=False, today=TODAY)
    assert after.box == 1
    assert after.due == TODAY + timedelta(days=1)
    assert after.known == 2


def test_due_dates_follow_the_rule_over_a_run_of_answers(tmp_path):
    progress = FlashcardProgress(tmp_path / "p.json", today=TODAY)
    day = TODAY
    expected_boxes = [2, 3, 4, 5, 5]
    for expected in expected_boxes:
        state = progress.review("c1", True, today=day)
        assert state.box == expected
        assert state.due - day == timedelta(days=INTERVALS_DAYS[expected - 1])
        assert not progress.is_due("c1", today=state.due - timedelta(days=1))
        assert progress.is_due("c1", today=state.due)
        day = state.due
    state = progress.review("c1", False, today=day)
    assert state.box == 1 and state.due == day + timedelta(days=1)


def test_injected_today_is_used_when_no_date_is_given(tmp_path):
    clock = {"day": TODAY}
    progress = FlashcardProgress(tmp_path / "p.json", today=lambda: clock["day"])
    assert progress.review("c1", True).last == TODAY
    clock["day"] = TODAY + timedelta(days=2)
    assert progress.is_due("c1")
    assert progress.review("c1", True).last == TODAY + timedelta(days=2)


def test_due_orders_overdue_first_then_new_cards_with_a_limit(tmp_path):
    progress = FlashcardProgress(tmp_path / "p.json", today=TODAY)
    progress.review("a", False, today=TODAY - timedelta(days=5))  # due 4 days ago
    progress.review("b", False, today=TODAY - timedelta(days=1))  # due today
    progress.review("c", True, today=TODAY)  # box 2, not due
    cards = ["n1", "a", "b", "c", "n2", "n3"]
    assert progress.due(cards) == ["a", "b", "n1", "n2", "n3"]
    assert progress.due(cards, new_limit=1) == ["a", "b", "n1"]


def test_box_counts_and_daily_progress(tmp_path):
    progress = FlashcardProgress(tmp_path / "p.json", today=TODAY)
    day1, day2 = TODAY, TODAY + timedelta(days=1)
    for card in ("a", "b", "c"):
        progress.review(card, card != "c", today=day1)
    progress.review("c", True, today=day2)
    counts = progress.box_counts(["a", "b", "c", "d"])
    assert counts.to_dict() == {"new": 1, "box 1": 0, "box 2": 3, "box 3": 0, "box 4": 0, "box 5": 0}
    daily = progress.daily(learned_box=2)
    assert daily["date"].tolist() == [day1, day2]
    assert daily[["reviews", "known", "missed", "learned"]].values.tolist() == [[3, 2, 1, 2], [1, 1, 0, 3]]


def test_progress_survives_a_new_object(tmp_path):
    path = tmp_path / "p.json"
    first = FlashcardProgress(path, today=TODAY)
    first.review("gpu-001", True)
    first.review("gpu-002", False)
    second = FlashcardProgress(path, today=TODAY)
    assert second.state("gpu-001") == first.state("gpu-001")
    assert second.state("gpu-002").box == 1
    assert len(second.history) == 2


def test_progress_survives_a_new_process(tmp_path):
    path = tmp_path / "progress.json"
    progress = FlashcardProgress(path, today=TODAY)
    progress.review("k8s-001", True)
    progress.review("k8s-001", True, today=TODAY + timedelta(days=2))
    code = (
        "import json, sys\n"
        "from datetime import date\n"
        "from infraprep.practice.flashcards import FlashcardProgress\n"
        "p = FlashcardProgress(sys.argv[1], today=date(2026, 12, 1))\n"
        "s = p.state('k8s-001')\n"
        "print(json.dumps({'box': s.box, 'due': s.due.isoformat(), 'due_now': p.is_due('k8s-001')}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"box": 3, "due": "2026-11-30", "due_now": True}


@pytest.mark.parametrize("content", ["{not json", "[1, 2, 3]", '{"version": 1, "cards": {"x": {"box": "five"}}, "history": []}',
                                     '{"version": 1, "cards": {"x": {"box": 2, "due": "yesterday"}}, "history": []}'])
def test_a_corrupted_file_is_set_aside_and_a_fresh_one_started(tmp_path, content):
    path = tmp_path / "progress.json"
    path.write_text(content, encoding="utf-8")
    with pytest.warns(userdata.CorruptFileWarning, match="progress.json.corrupt-"):
        progress = FlashcardProgress(path, today=TODAY)
    assert progress.cards == {} and progress.history == []
    aside = list(tmp_path.glob("progress.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text(encoding="utf-8") == content
    assert not path.exists()
    progress.review("a", True)
    assert json.loads(path.read_text(encoding="utf-8"))["cards"]["a"]["box"] == 2


def test_two_corruptions_in_the_same_second_keep_both_copies(tmp_path):
    path = tmp_path / "progress.json"
    for text in ("garbage one", "garbage two"):
        path.write_text(text, encoding="utf-8")
        with pytest.warns(userdata.CorruptFileWarning):
            userdata.read_json(path, default=dict, now=__import__("datetime").datetime(2026, 11, 24, 3, 0, 0))
    assert sorted(p.read_text() for p in tmp_path.glob("progress.json.corrupt-*")) == ["garbage one", "garbage two"]


def test_writes_go_through_a_temp_file_and_os_replace(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    progress = FlashcardProgress(path, today=TODAY)
    progress.review("a", True)
    before = path.read_text(encoding="utf-8")
    calls = []

    def failing_replace(src, dst):
        calls.append((os.path.dirname(src), os.fspath(dst)))
        raise OSError("disk full")

    monkeypatch.setattr(userdata.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        progress.review("b", False)
    assert calls and calls[0] == (str(tmp_path), str(path))
    assert path.read_text(encoding="utf-8") == before  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]  # no temp file left behind


def test_default_path_is_under_infraprep_home(tmp_path, monkeypatch):
    monkeypatch.setenv("INFRAPREP_HOME", str(tmp_path / "home"))
    progress = FlashcardProgress(today=TODAY)
    assert progress.path == tmp_path / "home" / flashcards.FILE_NAME
    progress.review("a", True)
    assert progress.path.exists()


def test_default_home_without_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("INFRAPREP_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert userdata.home(create=False) == tmp_path / ".infraprep"


def test_bad_intervals_are_refused(tmp_path):
    with pytest.raises(ValueError):
        FlashcardProgress(tmp_path / "p.json", intervals=(1, 0, 4))


def test_simulated_study_fills_the_higher_boxes(tmp_path):
    cards = [f"c{i}" for i in range(60)]
    progress = flashcards.simulate(FlashcardProgress(tmp_path / "p.json"), cards, start=TODAY, days=21, new_per_day=10)
    counts = progress.box_counts(cards)
    assert counts["new"] == 0 and counts.sum() == 60
    assert counts["box 3"] + counts["box 4"] + counts["box 5"] > counts["box 1"]
    daily = progress.daily()
    assert len(daily) == 21 and daily["learned"].iloc[-1] > daily["learned"].iloc[6] > 0
    assert FlashcardProgress(tmp_path / "p.json").box_counts(cards).equals(counts)  # saved once at the end
    # every review obeyed the schedule: no card was studied before its due date
    seen: dict[str, date] = {}
    for event in progress.history:
        day = date.fromisoformat(event["date"])
        if event["id"] in seen:
            assert day >= seen[event["id"]]
        seen[event["id"]] = day + timedelta(days=INTERVALS_DAYS[event["box"] - 1])


def test_schedule_table_lists_each_box_interval():
    table = flashcards.schedule_table()
    assert table["box"].tolist() == [1, 2, 3, 4, 5]
    assert table["interval_days"].tolist() == [1, 2, 4, 8, 16]


def test_two_widgets_on_one_file_do_not_overwrite_each_other(tmp_path):
    path = tmp_path / "p.json"
    first = FlashcardProgress(path, today=TODAY)
    second = FlashcardProgress(path, today=TODAY)  # e.g. the widget cell was run twice
    first.review("a", True)
    second.review("b", False)  # must not drop "a"
    first.review("c", True)  # must not drop "b"
    final = FlashcardProgress(path, today=TODAY)
    assert set(final.cards) == {"a", "b", "c"}
    assert [event["id"] for event in final.history] == ["a", "b", "c"]
