"""Lesson 7 charts draw the data they are given."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from matplotlib.figure import Figure

from infraprep.charts import practice as charts
from infraprep.practice import bank
from infraprep.practice.flashcards import FlashcardProgress


def test_bank_coverage_bars_add_up_to_the_bank():
    questions = bank.load_bank()
    fig = charts.bank_coverage(bank.coverage(questions))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    widths = sum(patch.get_width() for patch in ax.patches)
    assert widths == len(questions)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(bank.ROUNDS)


def test_cards_per_box_draws_each_count(tmp_path):
    progress = FlashcardProgress(tmp_path / "p.json", today=date(2026, 11, 24))
    progress.review("a", True)
    progress.review("b", False)
    counts = progress.box_counts(["a", "b", "c", "d"])
    fig = charts.cards_per_box(counts)
    heights = [patch.get_height() for patch in fig.axes[0].patches]
    assert heights == counts.tolist() == [2, 1, 1, 0, 0, 0]


def test_progress_over_days_stacks_known_and_missed(tmp_path):
    progress = FlashcardProgress(tmp_path / "p.json")
    for day, known in ((date(2026, 11, 20), [True, True, False]), (date(2026, 11, 22), [True])):
        for i, k in enumerate(known):
            progress.review(f"c{i}", k, today=day)
    daily = progress.daily()
    fig = charts.progress_over_days(daily)
    bars = fig.axes[0].patches
    assert [b.get_height() for b in bars] == [2, 1, 1, 0]  # known per day, then missed per day
    assert len(fig.axes) == 2  # the learned-cards line has its own axis
    empty = charts.progress_over_days(daily.iloc[0:0])
    assert "no reviews yet" in empty.axes[0].texts[0].get_text()


def test_mock_scores_draws_one_line_per_round():
    results = pd.DataFrame({
        "when": [datetime(2026, 11, 20), datetime(2026, 11, 21), datetime(2026, 11, 22)],
        "round": ["system-design", "behavioural", "system-design"],
        "percent": [50.0, 80.0, 75.0],
    })
    fig = charts.mock_scores(results)
    lines = [line for line in fig.axes[0].get_lines() if line.get_label() in {"system-design", "behavioural"}]
    assert sorted(line.get_label() for line in lines) == ["behavioural", "system-design"]
    design = next(line for line in lines if line.get_label() == "system-design")
    assert list(design.get_ydata()) == [50.0, 75.0]
    assert "no mock interviews" in charts.mock_scores(results.iloc[0:0]).axes[0].texts[0].get_text()


def test_dashboard_has_both_panels(tmp_path):
    progress = FlashcardProgress(tmp_path / "p.json", today=date(2026, 11, 24))
    progress.review("a", True)
    fig = charts.flashcard_dashboard(progress.box_counts(["a", "b"]), progress.daily())
    boxes, days = fig.axes[0], fig.axes[1]
    assert [p.get_height() for p in boxes.patches] == [1, 0, 1, 0, 0, 0]
    assert [p.get_height() for p in days.patches] == [1, 0]
    empty = charts.flashcard_dashboard(progress.box_counts(["x"]), progress.daily().iloc[0:0])
    assert "no reviews yet" in empty.axes[1].texts[0].get_text()
