"""Lesson 7 widgets driven through their plain methods: flashcards, mock interview, incident drill."""

from __future__ import annotations

import html
import json
from datetime import date, datetime, timedelta

import pytest

from infraprep.practice import bank
from infraprep.widgets.practice import FlashcardWidget, IncidentDrill, MockInterviewWidget

TODAY = date(2026, 11, 24)


@pytest.fixture
def subset():
    return bank.filter_bank(lesson=2).head(4)


def test_flashcard_round_trip(tmp_path, subset):
    path = tmp_path / "cards.json"
    cards = FlashcardWidget(subset, path=path, today=TODAY)
    first = cards.current()
    assert first == subset["id"].iloc[0]
    assert cards._knew.disabled and not cards._show.disabled  # answer buttons wait for the reveal
    answer = cards.reveal()
    assert answer == subset.set_index("id").loc[first, "answer"]
    assert not cards._knew.disabled and html.escape(answer) in cards._answer.value
    state = cards.mark(True)
    assert state.box == 2 and cards.current() == subset["id"].iloc[1]
    cards.reveal()
    assert cards.mark(False).box == 1
    saved = json.loads(path.read_text())
    assert saved["cards"][first]["box"] == 2 and len(saved["history"]) == 2
    assert cards.box_counts().to_dict()["new"] == 2


def test_a_restarted_widget_remembers(tmp_path, subset):
    path = tmp_path / "cards.json"
    cards = FlashcardWidget(subset, path=path, today=TODAY)
    for _ in range(len(subset)):
        cards.reveal()
        cards.mark(True)
    assert cards.current() is None and cards._show.disabled
    assert "Nothing due" in cards._question.value
    same_day = FlashcardWidget(subset, path=path, today=TODAY)
    assert same_day.current() is None
    later = FlashcardWidget(subset, path=path, today=TODAY + timedelta(days=2))
    assert later.current() == subset["id"].iloc[0]


def test_new_cards_are_limited_per_session(tmp_path):
    cards = FlashcardWidget(bank.filter_bank(lesson=3), path=tmp_path / "c.json", today=TODAY, new_per_session=5)
    assert len(cards.queue) == 5


def test_widgets_display_themselves(tmp_path, subset):
    for shown in (FlashcardWidget(subset, path=tmp_path / "c.json", today=TODAY),
                  MockInterviewWidget(path=tmp_path / "m.json"), IncidentDrill()):
        bundle = shown._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle


def test_mock_interview_widget_times_and_saves(tmp_path):
    clock = {"t": 0.0}
    widget = MockInterviewWidget(path=tmp_path / "m.json", clock=lambda: clock["t"],
                                 now=lambda: datetime(2026, 11, 24, 20, 0))
    ids = widget.choose_round("deep-dive")
    assert "dd-stalled-job" in ids and widget.session.prompt_id == ids[0]
    widget.choose_prompt("dd-stalled-job")
    assert widget.tick() == "30:00"
    widget.start()
    clock["t"] = 26 * 60
    assert widget.tick() == "04:00"
    widget.toggle("mechanism", True)
    widget.toggle("tools", True)
    clock["t"] = 31 * 60
    assert widget.tick() == "+01:00"
    record = widget.save()
    assert (record["score"], record["minutes_used"], record["prompt_id"]) == (2, 31, "dd-stalled-job")
    assert json.loads((tmp_path / "m.json").read_text())["sessions"][0]["checked"] == ["mechanism", "tools"]
    assert len(widget._rubric.children) == len(widget.session.rubric)


def test_incident_drill_reveals_after_a_pick():
    drill = IncidentDrill()
    steps = drill.steps
    right = str(steps.loc[0, "answer"])
    wrong = next(letter for letter in "ABCD" if letter != right)
    assert "Pick a letter first" in drill.reveal(1) and 1 not in drill.results
    assert "Pick a letter first" in drill.answer(1, "")
    drill.pick(1, right.lower())
    assert drill.reveal(1).startswith("Right.")
    drill.pick(2, wrong if wrong != steps.loc[1, "answer"] else "A")
    text = drill.reveal(2)
    assert text.startswith("Not quite") and f"the answer is {steps.loc[1, 'answer']}" in text
    assert drill.score == (1, len(steps))
    assert drill.results == {1: True, 2: False}
    assert "Step 3." in drill.question(3)
    assert drill.answer(3, str(steps.loc[2, "answer"])).startswith("Right.")
    with pytest.raises(ValueError):
        drill.pick(1, "E")
    with pytest.raises(ValueError):
        drill.reveal(99)


def test_model_answer_opens_only_after_the_timer_ends(tmp_path):
    clock = {"t": 0.0}
    widget = MockInterviewWidget(path=tmp_path / "m.json", clock=lambda: clock["t"],
                                 now=lambda: datetime(2026, 12, 1, 20, 0))
    widget.choose_round("system-design")
    widget.choose_prompt("sd-70b-cluster")
    hidden_marker = "589,821"  # a number only the model answer shows
    assert widget._reveal.disabled and widget.show_model_answer() is None
    assert "opens when the timer ends" in widget._answer.value and hidden_marker not in widget.widget.children[2].value
    widget.start()
    clock["t"] = 44 * 60
    widget.tick()
    assert widget._reveal.disabled and not widget.answer_available
    assert widget.show_model_answer() is None and hidden_marker not in widget._answer.value
    clock["t"] = 45 * 60 + 1
    assert widget.tick().startswith("+") and not widget._reveal.disabled
    shown = widget.show_model_answer()
    assert shown is not None and shown.prompt_id == "sd-70b-cluster"
    assert hidden_marker in widget._answer.value and "Requirements" in widget._answer.value
    widget.choose_prompt("sd-serving")  # a new prompt hides it again
    assert widget._answer.value == "" and widget._reveal.disabled and widget.show_model_answer() is None


def test_ending_or_saving_early_opens_the_model_answer(tmp_path):
    clock = {"t": 0.0}
    widget = MockInterviewWidget(path=tmp_path / "m.json", clock=lambda: clock["t"])
    widget.choose_round("deep-dive")
    widget.choose_prompt("dd-memory")
    widget.start()
    clock["t"] = 12 * 60
    widget.end()
    assert widget.answer_available and not widget._reveal.disabled and widget._end.disabled
    assert "208" in widget.show_model_answer().markdown()
    clock["t"] = 20 * 60
    assert widget.session.countdown.elapsed() == pytest.approx(12 * 60)  # the clock stopped at the end
    widget.choose_prompt("dd-allreduce")
    widget.start()
    clock["t"] = 25 * 60
    widget.save()
    assert widget.answer_available and widget.show_model_answer() is not None
