"""Charts for lesson 6 (storage and networking): checkpoint write time, fat-tree sizing, nccl-tests curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .. import estimates
from .style import PALETTE, new_figure


def _duration(seconds: float, _pos=None) -> str:
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


def checkpoint_write_times(
    write_gb_s: Mapping[str, float],
    sizes_tb: Sequence[float] | None = None,
    models: Mapping[str, float] | None = None,
) -> Figure:
    """Time to write a checkpoint against its size, one line per storage tier (log-log).

    ``write_gb_s`` maps a tier label to the aggregate write bandwidth the job gets (GB/s).
    ``models`` maps a label to a parameter count; each is marked at its checkpoint size
    (14 bytes a parameter, :func:`infraprep.estimates.checkpoint_bytes`).
    """
    if not write_gb_s:
        raise ValueError("give at least one storage tier")
    sizes = np.geomspace(0.01, 20, 24) if sizes_tb is None else np.asarray(sizes_tb, dtype=float)
    fig, ax = new_figure(8.5, 4.8)
    for i, (label, gb_s) in enumerate(write_gb_s.items()):
        times = [estimates.checkpoint_write_time_s(s * 1e12, gb_s * 1e9) for s in sizes]
        ax.plot(sizes, times, color=PALETTE[i % len(PALETTE)], lw=2, label=f"{label} ({gb_s:g} GB/s)")
    for label, params in (models or {}).items():
        size_tb = estimates.checkpoint_bytes(params) / 1e12
        ax.axvline(size_tb, color="#999999", ls=":", lw=1)
        ax.annotate(label, (size_tb, 0.97), xycoords=("data", "axes fraction"), ha="left", va="top",
                    xytext=(3, 0), textcoords="offset points", fontsize=8, color="#555555")
    ax.set_xscale("log")
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    ticks = [t for t in (0.01, 0.1, 1, 10, 60, 600, 3600, 36000) if low <= t <= high]
    ax.set_yticks(ticks)
    ax.yaxis.set_major_formatter(FuncFormatter(_duration))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    ax.set_xlabel("checkpoint size (TB, weights + Adam state)")
    ax.set_ylabel("time to write")
    ax.set_title("Checkpoint write time by storage tier")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return fig


def fat_tree_scaling(radix: int = 64, link_gbit_s: float = 400, oversubscriptions: Sequence[float] = (1, 3),
                     hosts: Sequence[int] | None = None) -> Figure:
    """Switch count (left) and bisection bandwidth (right) of a leaf-spine fat tree against host count.

    One line per oversubscription ratio; each stops at that design's two-level limit
    (k²/2 hosts when non-blocking), beyond which a third switch level is needed.
    """
    k = int(radix)
    limit = max(estimates.two_level_fat_tree(k, r)["hosts"] for r in oversubscriptions)
    counts = np.unique(np.linspace(k // 2, limit, 64).astype(int)) if hosts is None else np.asarray(hosts, dtype=int)
    fig, ax = new_figure(8.5, 4.8)
    right = ax.twinx()
    right.spines[["top"]].set_visible(False)
    for i, ratio in enumerate(oversubscriptions):
        cap = estimates.two_level_fat_tree(k, ratio)["hosts"]
        xs = [int(n) for n in counts if n <= cap]
        switches = [estimates.leaf_spine_for_hosts(n, k, ratio)["switches"] for n in xs]
        bisection = [estimates.bisection_bandwidth_bytes_s(n, estimates.gbit_to_bytes_s(link_gbit_s), ratio) * 8 / 1e12 for n in xs]
        color = PALETTE[i % len(PALETTE)]
        ax.step(xs, switches, where="post", color=color, lw=2, label=f"switches, {ratio:g}:1")
        right.plot(xs, bisection, color=color, lw=1.5, ls="--", label=f"bisection, {ratio:g}:1")
        ax.axvline(cap, color=color, ls=":", lw=1)
        ax.annotate(f"{ratio:g}:1 limit\n{cap:,} hosts", (cap, 0.02), xycoords=("data", "axes fraction"),
                    ha="right", fontsize=8, color=color)
    ax.set_xlabel(f"hosts (NIC ports at {link_gbit_s:g} Gb/s)")
    ax.set_ylabel(f"switches of radix {k}")
    right.set_ylabel("bisection bandwidth (Tb/s, one way)")
    ax.set_title(f"Two-level fat tree of {k}-port switches: size and bisection bandwidth")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], frameon=False, fontsize=8, loc="upper left")
    return fig


def nccl_busbw_curves(runs: Mapping[str, pd.DataFrame], reference_gb_s: float | None = None,
                      reference_label: str = "link bandwidth") -> Figure:
    """busbw against message size for parsed nccl-tests runs (:func:`infraprep.parsers.parse_nccl_tests`)."""
    if not runs:
        raise ValueError("give at least one parsed nccl-tests run")
    fig, ax = new_figure(8.5, 4.5)
    for i, (label, table) in enumerate(runs.items()):
        ax.plot(table["size_bytes"], table["oop_busbw_gb_s"], marker="o", ms=3, lw=1.8,
                color=PALETTE[i % len(PALETTE)], label=label)
    if reference_gb_s:
        ax.axhline(reference_gb_s, color="#666666", ls="--", lw=1, label=f"{reference_label} ({reference_gb_s:g} GB/s)")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(_bytes_label))
    ax.set_xlabel("message size")
    ax.set_ylabel("busbw (GB/s, out-of-place)")
    ax.set_title("nccl-tests AllReduce: bus bandwidth against message size")
    ax.legend(frameon=False, fontsize=8)
    return fig


def _bytes_label(value: float, _pos=None) -> str:
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if value >= size:
            return f"{value / size:g} {unit}"
    return f"{value:g} B"
