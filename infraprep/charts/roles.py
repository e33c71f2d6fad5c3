"""Charts for lesson 1 (AI infrastructure roles): pay by level, dated public pay figures, the
interview loop as time per round, loops by employer type, study hours against interview weight,
and an offer year by year."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .style import PALETTE, dollar_axis, new_figure, range_bars, usd

__all__ = ["compensation_ranges", "public_pay", "interview_loop", "loop_styles", "plan_vs_interviews",
           "offer_years", "hours_text"]


def hours_text(hours: float) -> str:
    """Hours as people write them, exact to the minute's hundredth: 3.5, 4.75, 5 (never 4.8 for 4.75)."""
    return f"{hours:.2f}".rstrip("0").rstrip(".")


def compensation_ranges(salaries: pd.DataFrame) -> Figure:
    """Floating bars of base salary and total compensation (USD) by level.

    Expects the ``01-roles/salaries`` table. An open-ended top (``Staff+``) is
    marked with a '+' after its label.
    """
    fig, ax = new_figure(9, 4.8)
    labels = list(salaries["level"])
    range_bars(ax, labels, salaries["base_low_usd"], salaries["base_high_usd"], offset=0.2, height=0.36,
               color=PALETTE[0], label="Base salary", annotate=usd)
    totals = range_bars(ax, labels, salaries["total_low_usd"], salaries["total_high_usd"], offset=-0.2, height=0.36,
                        color=PALETTE[1], label="Total compensation (incl. equity)", annotate=usd)
    for bar, open_ended in zip(totals, salaries["total_open_ended"].astype(bool)):
        if open_ended:
            ax.annotate("+", (bar.get_x() + bar.get_width(), bar.get_y() + bar.get_height() / 2),
                        xytext=(36, 0), textcoords="offset points", va="center", fontsize=10, weight="bold")
    dollar_axis(ax, "x")
    ax.set_xlim(0, float(salaries["total_high_usd"].max()) * 1.15)
    year = int(salaries["year"].iloc[0])
    ax.set_title(f"AI infrastructure pay by level, {year} ranges (USD a year)")
    ax.set_xlabel("US dollars a year")
    ax.legend(loc="upper right", frameon=False)
    return fig


def public_pay(figures: pd.DataFrame, salaries: pd.DataFrame | None = None) -> Figure:
    """Dated public pay figures: posted base ranges as bars, self-reported totals as dots.

    Expects ``01-roles/public_pay``. With ``salaries`` (the seed's ranges) the seed's Senior base
    and total ranges are shaded behind, for comparison.
    """
    ordered = figures.reset_index(drop=True)
    labels = [f"{r.company} · {r.level} · {r.as_of}" for r in ordered.itertuples()]
    fig, ax = new_figure(9.5, 0.42 * len(ordered) + 1.6)
    y = [len(ordered) - 1 - i for i in range(len(ordered))]
    posted = ordered["kind"].str.startswith("posted")
    if salaries is not None:
        senior = salaries.set_index("level").loc["Senior"]
        ax.axvspan(senior.base_low_usd, senior.base_high_usd, color=PALETTE[0], alpha=0.08,
                   label="Seed 2025: Senior base")
        ax.axvspan(senior.total_low_usd, senior.total_high_usd, color=PALETTE[1], alpha=0.08,
                   label="Seed 2025: Senior total")
    for yi, row, is_posted in zip(y, ordered.itertuples(), posted):
        if is_posted:
            ax.barh(yi, row.high_usd - row.low_usd, left=row.low_usd, height=0.55, color=PALETTE[0])
            ax.annotate(f"{usd(row.low_usd)}–{usd(row.high_usd)}".replace("$", r"\$"), (row.high_usd, yi), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=8)
        else:
            ax.plot([row.high_usd], [yi], "o", color=PALETTE[1], markersize=7)
            ax.annotate(usd(row.high_usd), (row.high_usd, yi), xytext=(6, 0), textcoords="offset points",
                        va="center", fontsize=8)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color=PALETTE[0], label="Posted base range"),
                Line2D([], [], marker="o", linestyle="", color=PALETTE[1], label="Self-reported total compensation")]
    ax.set_yticks(y, labels, fontsize=8)
    dollar_axis(ax, "x")
    ax.set_xlim(0, float(ordered["high_usd"].max()) * 1.25)
    ax.set_xlabel("US dollars a year")
    ax.set_title("Public pay figures with their dates (US roles)")
    ax.legend(handles=handles, loc="upper right", frameon=False, fontsize=8)
    return fig


def interview_loop(rounds: pd.DataFrame) -> Figure:
    """Minutes per interview round as min–max bars, with the whole loop's total in the title
    (hours written exactly: 4.75 h, not 4.8 h)."""
    ordered = rounds.sort_values("order")
    fig, ax = new_figure(8, 3.8)
    range_bars(ax, list(ordered["round"]), ordered["duration_min_min"], ordered["duration_max_min"],
               height=0.5, color=PALETTE[2], annotate=lambda v: f"{v:.0f} min")
    low, high = int(ordered["duration_min_min"].sum()), int(ordered["duration_max_min"].sum())
    ax.set_xlim(0, float(ordered["duration_max_min"].max()) * 1.25)
    ax.set_xlabel("minutes")
    ax.set_title(f"The interview loop: {low}–{high} minutes across {len(ordered)} rounds "
                 f"({hours_text(low / 60)}–{hours_text(high / 60)} h)")
    return fig


KIND_ORDER = ["screen", "hiring manager", "coding", "debugging", "design", "deep dive", "values and behaviour"]


def loop_styles(loops: pd.DataFrame) -> Figure:
    """One bar an employer type: its stages laid end to end at their longest length, coloured by
    kind of round, with the loop's total (shortest–longest) at the end of the bar."""
    types = list(dict.fromkeys(loops["employer_type"]))
    kinds = [k for k in KIND_ORDER if k in set(loops["kind"])] + sorted(set(loops["kind"]) - set(KIND_ORDER))
    colours = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kinds)}
    fig, ax = new_figure(9.5, 0.8 * len(types) + 1.4)
    for i, kind_type in enumerate(types):
        y = len(types) - 1 - i
        stages = loops[loops["employer_type"] == kind_type].sort_values("order")
        left = 0.0
        for row in stages.itertuples():
            width = float(row.minutes_high)
            ax.barh(y, width, left=left, height=0.6, color=colours[row.kind], edgecolor="white", linewidth=1)
            if width >= 40:
                ax.text(left + width / 2, y, f"{width:.0f}", ha="center", va="center", fontsize=7, color="white")
            left += width
        low, high = stages["minutes_low"].sum() / 60, stages["minutes_high"].sum() / 60
        ax.annotate(f"{hours_text(low)}–{hours_text(high)} h, {len(stages)} stages", (left, y), xytext=(6, 0),
                    textcoords="offset points", va="center", fontsize=8)
    handles = [Patch(color=colours[kind], label=kind) for kind in kinds]
    ax.set_yticks(range(len(types)), list(reversed(types)))
    ax.set_xlim(0, float(loops.groupby("employer_type")["minutes_high"].sum().max()) * 1.3)
    ax.set_xlabel("minutes of interviews, every stage at its longest")
    ax.set_title("How loops differ by employer (stages end to end; minutes in the bars)")
    fig.legend(handles=handles, loc="outside lower center", ncol=len(kinds), frameon=False, fontsize=8)
    return fig


def plan_vs_interviews(frame: pd.DataFrame) -> Figure:
    """Share of study hours against share of interview minutes, lesson by lesson.

    Expects :func:`infraprep.estimates.career.plan_against_interviews`.
    """
    ordered = frame.sort_values("lesson").reset_index(drop=True)
    fig, ax = new_figure(9, 4.6)
    x = np.arange(len(ordered))
    ax.bar(x - 0.2, ordered["hours_share"] * 100, width=0.4, color=PALETTE[0], label="share of study hours")
    ax.bar(x + 0.2, ordered["interview_share"] * 100, width=0.4, color=PALETTE[1], label="share of interview minutes")
    for xi, row in zip(x, ordered.itertuples()):
        ax.annotate(f"{row.hours:.0f} h", (xi - 0.2, row.hours_share * 100), xytext=(0, 2),
                    textcoords="offset points", ha="center", fontsize=7)
    ax.set_xticks(x, list(ordered["lesson"]), rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("% of the total")
    total = ordered["hours"].sum()
    ax.set_title(f"Where the plan's {total:.0f} hours go, against where the interview's minutes go")
    ax.legend(frameon=False)
    return fig


PARTS = [("base_usd", "base"), ("bonus_usd", "target bonus"), ("equity_usd", "equity vesting"),
         ("sign_on_usd", "sign-on")]


def offer_years(offers: Mapping[str, pd.DataFrame]) -> Figure:
    """Stacked bars of what each offer pays in each year (base, bonus, equity, sign-on).

    ``offers`` maps a name to :func:`infraprep.estimates.career.offer_by_year` output.
    """
    names = list(offers)
    years = sorted({int(y) for frame in offers.values() for y in frame["year"]})
    fig, ax = new_figure(9, 4.6)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        frame = offers[name].set_index("year")
        x = np.array(years, dtype=float) - 0.4 + width * (i + 0.5)
        bottom = np.zeros(len(years))
        for j, (column, label) in enumerate(PARTS):
            values = np.array([float(frame.loc[y, column]) if y in frame.index else 0.0 for y in years])
            ax.bar(x, values, width=width * 0.92, bottom=bottom, color=PALETTE[j], alpha=1.0 if i == 0 else 0.6,
                   label=label if i == 0 else None)
            bottom += values
        for xi, total in zip(x, bottom):
            ax.annotate(usd(total), (xi, total), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=7)
        ax.annotate(name, (x[0], bottom[0]), xytext=(0, 12), textcoords="offset points", ha="center", fontsize=8,
                    weight="bold")
    ax.set_xticks(years, [f"year {y}" for y in years])
    dollar_axis(ax, "y")
    ax.set_ylim(0, max(float(f["total_usd"].max()) for f in offers.values()) * 1.25)
    ax.set_ylabel("US dollars (equity at grant value)")
    ax.set_title("What each offer pays, year by year (pale bars: the second offer)")
    ax.legend(frameon=False, ncol=4, fontsize=8, loc="upper left")
    return fig
