"""Charts for lesson 6 (storage and networking): checkpoint write time, fat-tree sizing, nccl-tests curves,
InfiniBand generations, ECMP collisions and fabrics of 16k-100k GPUs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .. import estimates
from .style import PALETTE, new_figure

__all__ = ["checkpoint_write_times", "fat_tree_scaling", "nccl_busbw_curves", "infiniband_generations",
           "ecmp_efficiency", "fabric_size"]


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


def infiniband_generations(generations: pd.DataFrame) -> Figure:
    """Rate of a 4x InfiniBand port by generation (log scale): the rate it is sold as, each step marked
    with its factor over the last, and the data rate it carries after encoding.

    Takes the lesson's ``infiniband_generations`` table. Teaches: the port rate doubled
    SDR→DDR→QDR and from EDR on, but QDR→FDR→EDR grew 1.4× and 1.8× (the new 64b/66b
    encoding made the data-rate step QDR→FDR 1.7×).
    """
    if generations.empty:
        raise ValueError("give at least one generation")
    names = list(generations["generation"])
    sold = [float(v) for v in generations["port_4x_gbit_s"]]
    data = [float(v) * 4 for v in generations["lane_data_gbit_s"]]
    fig, ax = new_figure(8.5, 4.2)
    ax.bar(range(len(names)), sold, color=PALETTE[0], label="port rate it is sold as (4 lanes)")
    ax.plot(range(len(names)), data, "o", color=PALETTE[1], label="data it carries after encoding")
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), names)
    for i in range(1, len(names)):
        factor = sold[i] / sold[i - 1]
        ax.annotate(f"×{factor:.2g}", (i, sold[i]), xytext=(0, 4), textcoords="offset points", ha="center",
                    fontsize=9, color=PALETTE[3] if abs(factor - 2) > 0.05 else "#333333",
                    fontweight="bold" if abs(factor - 2) > 0.05 else "normal")
    ax.set_ylim(min(data) / 1.5, max(sold) * 2.2)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.set_ylabel("Gb/s (log scale)")
    ax.set_title("InfiniBand generations: not every step doubles", fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return fig


def ecmp_efficiency(paths: Sequence[int] = (8, 64), flows_per_path: Sequence[int] = (1, 2, 3, 4, 6, 8)) -> Figure:
    """Expected speed of a synchronous collective whose equal elephant flows ECMP hashes onto ``paths``
    links, as a share of an even spread, against flows per path (one line per path count).

    Teaches: with one flow a path, hashing collides almost surely and the collective runs
    at about 40% (8 paths) or 26% (64 paths) of its speed; many more, smaller flows (QP
    scaling) help slowly; adaptive routing or packet spraying spread the load evenly.
    """
    fig, ax = new_figure(8.5, 4.2)
    for i, m in enumerate(int(p) for p in paths):
        xs = [int(x) for x in flows_per_path]
        eff = [estimates.ecmp_collective_efficiency(x * m, m) for x in xs]
        ax.plot(xs, eff, "o-", ms=4, color=PALETTE[i % len(PALETTE)], lw=1.8, label=f"ECMP hashing, {m} paths")
        ax.annotate(f"{eff[0]:.0%}", (xs[0], eff[0]), xytext=(6, -4), textcoords="offset points", fontsize=8,
                    color=PALETTE[i % len(PALETTE)])
    ax.axhline(1.0, color="#666666", ls="--", lw=1, label="even spread (adaptive routing, packet spraying)")
    ax.set_ylim(0, 1.08)
    ax.set_xticks(list(flows_per_path))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0%}"))
    ax.set_xlabel("flows per path")
    ax.set_ylabel("collective speed ÷ even spread")
    ax.set_title("Elephant flows on ECMP: one collision slows the whole collective", fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return fig


def fabric_size(gpu_counts: Sequence[int] = (1024, 2048, 4096, 8192, 16384, 32768, 65536),
                radix: int = 64, rails: int = 8) -> Figure:
    """Switches for a non-blocking fabric of one NIC a GPU against GPUs: a full fat tree (2 or 3 levels)
    and a rail-only fabric (one fat tree a rail), log-log, with the level changes marked.

    Teaches: a radix-64 two-level tree stops at 2,048 ports; 16k-64k GPUs need three
    levels (5k²/4 switches at the k³/4 limit); rail-only fabrics stay a level lower.
    """
    counts = [int(g) for g in gpu_counts]
    full = [estimates.fat_tree_for_hosts(g, radix) for g in counts]
    rail = [estimates.rail_only_fabric(g // rails, rails, radix) for g in counts]
    fig, ax = new_figure(8.5, 4.5)
    ax.plot(counts, [d["switches"] for d in full], "o-", color=PALETTE[0], lw=2, label="full fat tree")
    ax.plot(counts, [d["switches"] for d in rail], "s--", color=PALETTE[2], lw=2, label=f"rail-only ({rails} rails)")
    for g, d in zip(counts, full):
        ax.annotate(f"{d['levels']}", (g, d["switches"]), xytext=(0, 7), textcoords="offset points",
                    ha="center", fontsize=8, color=PALETTE[0])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(counts, [f"{c:,}" for c in counts], fontsize=8)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.set_xlabel("GPUs (one NIC port each)")
    ax.set_ylabel(f"switches of radix {radix}")
    ax.set_title(f"How many {radix}-port switches a GPU fabric needs (numbers: switch levels)", fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return fig
