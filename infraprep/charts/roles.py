"""Charts for lesson 1 (AI infrastructure roles): pay ranges by level and the interview loop."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from .style import PALETTE, dollar_axis, new_figure, range_bars, usd


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
    ax.set_title(f"AI infrastructure pay by level, {year} ranges (USD)")
    ax.set_xlabel("US dollars a year")
    ax.legend(loc="upper right", frameon=False)
    return fig


def interview_loop(rounds: pd.DataFrame) -> Figure:
    """Minutes per interview round as min–max bars, with the whole loop's total in the title."""
    ordered = rounds.sort_values("order")
    fig, ax = new_figure(8, 3.8)
    range_bars(ax, list(ordered["round"]), ordered["duration_min_min"], ordered["duration_max_min"],
               height=0.5, color=PALETTE[2], annotate=lambda v: f"{v:.0f} min")
    low, high = int(ordered["duration_min_min"].sum()), int(ordered["duration_max_min"].sum())
    ax.set_xlim(0, float(ordered["duration_max_min"].max()) * 1.25)
    ax.set_xlabel("minutes")
    ax.set_title(f"The interview loop: {low}–{high} minutes across {len(ordered)} rounds "
                 f"({low / 60:.1f}–{high / 60:.1f} h)")
    return fig


def plan_timeline(plan: pd.DataFrame) -> Figure:
    """The three-week plan as a grid: one row a task, one column a week."""
    fig, ax = new_figure(8, 0.35 * len(plan) + 1.2)
    weeks = sorted(plan["week"].unique())
    labels = list(plan["task"])
    for row, (week, theme) in enumerate(zip(plan["week"], plan["theme"])):
        y = len(plan) - 1 - row
        ax.barh(y, 1, left=int(week) - 0.5, height=0.6, color=PALETTE[weeks.index(week) % len(PALETTE)])
    ax.set_yticks(range(len(plan)), [t if len(t) <= 60 else t[:57] + "..." for t in reversed(labels)], fontsize=8)
    themes = plan.drop_duplicates("week").set_index("week")["theme"]
    ax.set_xticks(weeks, [f"Week {w}\n{themes[w]}" for w in weeks], fontsize=8)
    ax.set_xlim(min(weeks) - 0.6, max(weeks) + 0.6)
    ax.set_title("Three-week preparation plan")
    ax.grid(False)
    return fig
