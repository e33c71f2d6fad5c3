"""Charts for lesson 4 (Kubernetes and orchestration): scheduler simulation results.

Each function takes :class:`infraprep.labs.scheduler.SimResult` objects and
returns a matplotlib Figure made with :func:`infraprep.charts.style.new_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ..labs.scheduler import SimResult
from .style import PALETTE, new_figure

__all__ = ["utilisation_timeline", "fragmentation_timeline", "cluster_map"]


def _label(result: SimResult) -> str:
    return f"{result.policy}, {result.placement}"


def utilisation_timeline(results: Sequence[SimResult], title: str | None = None) -> Figure:
    """GPUs doing useful work (solid) and GPUs merely allocated (dashed), as a share of the cluster, over time.

    A gap between the two lines is GPUs held by pods whose job cannot start yet;
    a deadlock shows as 100% allocated and 0% busy for good.
    """
    if not results:
        raise ValueError("give at least one simulation result")
    fig, ax = new_figure(8.0, 4.2)
    for i, result in enumerate(results):
        color = PALETTE[i % len(PALETTE)]
        tl, total = result.timeline, result.total_gpus
        ax.step(tl["t"], tl["busy_gpus"] / total, where="post", color=color, lw=2.2,
                label=f"{_label(result)}: busy")
        ax.step(tl["t"], tl["allocated_gpus"] / total, where="post", color=color, lw=1.2, ls="--",
                label=f"{_label(result)}: allocated")
        if result.deadlocked:
            ax.axvline(result.deadlock_time, color=color, lw=1, ls=":")
            ax.annotate(f"deadlock: {', '.join(result.deadlocked_jobs)}", (result.deadlock_time, 0.5),
                        xytext=(6, 0), textcoords="offset points", color=color, fontsize=9, va="center")
    ax.set_ylim(-0.02, 1.05)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("time step")
    ax.set_ylabel("share of cluster GPUs")
    ax.set_title(title or "Busy vs allocated GPUs: per-pod placement can hold GPUs that do no work")
    ax.legend(fontsize=8, loc="center right")
    return fig


def fragmentation_timeline(results: Sequence[SimResult], title: str | None = None) -> Figure:
    """Free GPUs that cannot host a whole watched-size pod (stranded) over time, one line a result."""
    if not results:
        raise ValueError("give at least one simulation result")
    fig, ax = new_figure(8.0, 4.2)
    for i, result in enumerate(results):
        tl = result.timeline
        mean = tl["fragmentation"].mean()
        ax.step(tl["t"], tl["stranded_gpus"], where="post", color=PALETTE[i % len(PALETTE)], lw=2,
                label=f"{_label(result)} (mean fragmentation {mean:.0%}, mean wait "
                      f"{result.summary()['mean_wait']:.1f} steps)")
    ax.set_xlabel("time step")
    ax.set_ylabel("stranded free GPUs")
    ax.set_title(title or "Fragmentation: free GPUs on nodes too full for a whole-node pod")
    ax.legend(fontsize=8, loc="upper right")
    return fig


def cluster_map(result: SimResult, t: int, title: str | None = None) -> Figure:
    """Which job holds each GPU at step ``t``: one row a node, one square a GPU (white = free)."""
    if t not in result.holders:
        raise ValueError(f"step {t} is not in the simulation (steps 0 to {max(result.holders)})")
    holders = result.holders[t]
    names = sorted({name for node in holders for name in node})
    index = {name: k + 1 for k, name in enumerate(names)}
    grid = []
    for node in holders:
        row = [index[name] for name in node] + [0] * (result.gpus_per_node - len(node))
        grid.append(row)
    colors = ["#ffffff"] + [PALETTE[k % len(PALETTE)] for k in range(len(names))]
    fig, ax = new_figure(min(1.0 + 0.6 * result.gpus_per_node, 9.0), 1.0 + 0.45 * result.nodes)
    ax.grid(False)
    ax.imshow(grid, cmap=ListedColormap(colors), vmin=0, vmax=len(colors) - 1, aspect="equal")
    ax.set_xticks(range(result.gpus_per_node), [str(g) for g in range(result.gpus_per_node)])
    ax.set_yticks(range(result.nodes), [f"node {n}" for n in range(result.nodes)])
    ax.set_xticks([x - 0.5 for x in range(1, result.gpus_per_node)], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, result.nodes)], minor=True)
    ax.grid(True, which="minor", color="#999999", lw=0.8)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("GPU")
    for name, k in index.items():
        ax.bar(0, 0, color=colors[k], label=name)
    if names:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title or f"GPU holders at step {t} ({result.policy}, {result.placement})")
    return fig
