"""Charts for lesson 7: the bank's coverage, flashcard progress and mock-interview scores."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from .style import PALETTE, new_figure

__all__ = ["bank_coverage", "cards_per_box", "progress_over_days", "flashcard_dashboard", "mock_scores"]


def bank_coverage(table: pd.DataFrame, title: str = "Question bank: questions per lesson and round") -> Figure:
    """Stacked horizontal bars: one bar a lesson, one colour per round (``bank.coverage(...)``)."""
    fig, ax = new_figure(8, 4)
    left = pd.Series(0, index=table.index, dtype=float)
    labels = list(reversed(list(table.index)))
    for colour, column in zip(PALETTE, table.columns):
        values = table[column].reindex(labels)
        ax.barh(labels, values, left=left.reindex(labels), color=colour, label=str(column))
        left = left.add(table[column], fill_value=0)
    ax.set_xlabel("questions")
    ax.set_title(title)
    ax.legend(ncols=min(5, len(table.columns)), loc="lower center", bbox_to_anchor=(0.5, 1.08), frameon=False, fontsize=8)
    return fig


def _style(ax) -> None:
    ax.set_axisbelow(True)
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


def _draw_boxes(ax, counts: pd.Series) -> None:
    colours = ["#999999"] + [PALETTE[i % len(PALETTE)] for i in range(len(counts) - 1)]
    bars = ax.bar([str(i) for i in counts.index], counts.values, color=colours)
    ax.bar_label(bars, fontsize=8)
    ax.set_ylabel("cards")


def _draw_days(ax, daily: pd.DataFrame) -> None:
    if daily.empty:
        ax.text(0.5, 0.5, "no reviews yet: answer a few flashcards first", ha="center", va="center", transform=ax.transAxes)
        return
    days = pd.to_datetime(daily["date"])
    ax.bar(days, daily["known"], color=PALETTE[2], label="known")
    ax.bar(days, daily["missed"], bottom=daily["known"], color=PALETTE[1], label="missed")
    ax.set_ylabel("reviews that day")
    twin = ax.twinx()
    twin.plot(days, daily["learned"], color=PALETTE[0], marker="o", label="cards in box 4 or 5")
    twin.set_ylabel("cards learned (box 4+)")
    twin.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=8)
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")


def cards_per_box(counts: pd.Series, title: str = "Flashcards per Leitner box") -> Figure:
    """Bars of how many cards are new and in each box (``FlashcardProgress.box_counts``)."""
    fig, ax = new_figure(6.5, 3.5)
    _draw_boxes(ax, counts)
    ax.set_title(title)
    ax.set_xlabel("new cards wait in 'new'; a known card moves right, a missed one back to box 1")
    return fig


def progress_over_days(daily: pd.DataFrame, title: str = "Study progress by day") -> Figure:
    """Reviews per day (known vs missed, stacked bars) and cards learned (box 4+, line)."""
    fig, ax = new_figure(8, 3.8)
    _draw_days(ax, daily)
    ax.set_title(title)
    return fig


def flashcard_dashboard(counts: pd.Series, daily: pd.DataFrame, title: str = "Your flashcards") -> Figure:
    """Both flashcard views side by side: cards per box (left) and study days (right)."""
    fig = Figure(figsize=(9.5, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.6])
    for ax in (left, right):
        _style(ax)
    _draw_boxes(left, counts)
    left.set_title("cards per box")
    _draw_days(right, daily)
    right.set_title("reviews a day and cards learned")
    fig.suptitle(title)
    return fig


def mock_scores(results: pd.DataFrame, title: str = "Mock interviews: rubric score over time") -> Figure:
    """Score (% of rubric items met) of each saved session, one line per round."""
    fig, ax = new_figure(8, 3.8)
    if results.empty:
        ax.text(0.5, 0.5, "no mock interviews saved yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        return fig
    for colour, (round_, group) in zip(PALETTE, results.groupby("round", sort=True)):
        ax.plot(pd.to_datetime(group["when"]), group["percent"], marker="o", color=colour, label=str(round_))
    ax.axhline(75, color="#666666", linestyle="--", linewidth=1)
    ax.annotate("aim: 75% of the rubric", (0, 75), xycoords=("axes fraction", "data"), xytext=(4, 3),
                textcoords="offset points", fontsize=8, color="#666666")
    ax.set_ylim(0, 105)
    ax.set_ylabel("rubric items met (%)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title)
    fig.autofmt_xdate()
    return fig
