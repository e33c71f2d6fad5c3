"""Shared chart helpers: consistent look, readable money and unit axes, floating range bars."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

PALETTE = ["#2f6db3", "#e07b39", "#3a9e6f", "#b5446e", "#7d5ba6", "#8c8c3a", "#4aa3c2", "#666666"]


def new_figure(width: float = 8.0, height: float = 4.5) -> tuple[Figure, Axes]:
    """A figure with one axes and the course's defaults (grid behind, no top/right spines).

    The Figure is made without pyplot, so a notebook shows it exactly once (as the
    cell's value) and nothing accumulates in pyplot's global state.
    """
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.subplots()
    ax.set_axisbelow(True)
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def usd(value: float, _pos: int | None = None) -> str:
    """Format dollars compactly: 140000 -> '$140K', 1500000 -> '$1.5M'."""
    if abs(value) >= 1e6:
        text = f"{value / 1e6:.2f}".rstrip("0").rstrip(".")
        return f"${text}M"
    if abs(value) >= 1e3:
        return f"${value / 1e3:.0f}K"
    return f"${value:,.0f}"


def dollar_axis(ax: Axes, axis: str = "x") -> None:
    """Format an axis in dollars ($140K, $1.5M)."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(FuncFormatter(usd))


def range_bars(
    ax: Axes,
    labels: Sequence[str],
    lows: Sequence[float],
    highs: Sequence[float],
    *,
    offset: float = 0.0,
    height: float = 0.35,
    color: str = PALETTE[0],
    label: str | None = None,
    annotate=None,
):
    """Horizontal floating bars from ``low`` to ``high`` for each label (first label on top).

    ``annotate`` is an optional function of a value that gives the end labels' text.
    Returns the BarContainer.
    """
    positions = [len(labels) - 1 - i + offset for i in range(len(labels))]
    widths = [h - lo for lo, h in zip(lows, highs)]
    bars = ax.barh(positions, widths, left=list(lows), height=height, color=color, label=label)
    if annotate is not None:
        for y, lo, hi in zip(positions, lows, highs):
            ax.annotate(annotate(lo), (lo, y), xytext=(-4, 0), textcoords="offset points", ha="right", va="center", fontsize=8)
            ax.annotate(annotate(hi), (hi, y), xytext=(4, 0), textcoords="offset points", ha="left", va="center", fontsize=8)
    ax.set_yticks(range(len(labels)), list(reversed(list(labels))))
    return bars
