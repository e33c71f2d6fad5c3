"""Charts for lesson 4 (Kubernetes and orchestration): scheduler simulation results and the
Topology Manager's admission rule.

Each function returns a matplotlib Figure made with :func:`infraprep.charts.style.new_figure`;
the simulation charts take :class:`infraprep.labs.scheduler.SimResult` objects.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from ..labs.scheduler import TOPOLOGY_POLICIES, SimResult, numa_admits
from .style import PALETTE, new_figure

__all__ = ["utilisation_timeline", "fragmentation_timeline", "cluster_map", "numa_admission_map", "NUMA_VERDICTS"]

#: Categories of :func:`numa_admission_map`, loosest to strictest policy that still admits.
NUMA_VERDICTS = ("not enough free GPUs", "only none and best-effort admit", "restricted admits too",
                 "every policy admits (single-numa-node too)")


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


def numa_admission_map(devices_per_numa: tuple[int, int] = (4, 4), max_request: int = 8,
                       title: str | None = None) -> Figure:
    """For each GPU request (columns) and each pair of free GPUs per NUMA node (rows), the strictest
    Topology Manager policy that still admits the pod (:func:`infraprep.labs.scheduler.numa_admits`).

    The pattern to see: ``restricted`` refuses a small request whose free GPUs are split across
    sockets, but admits a request larger than one socket as soon as the GPUs are free;
    ``single-numa-node`` refuses everything larger than one socket.
    """
    if len(devices_per_numa) != 2 or min(devices_per_numa) < 1:
        raise ValueError("give the GPUs installed on each of two NUMA nodes, e.g. (4, 4)")
    a, b = devices_per_numa
    rows = [(f0, f1) for f0 in range(a, -1, -1) for f1 in range(min(b, f0) if a == b else b, -1, -1)
            if f0 + f1 > 0]
    requests = list(range(1, max_request + 1))
    grid = []
    for f0, f1 in rows:
        line = []
        for r in requests:
            admitted = [numa_admits(p, r, [a, b], [f0, f1]) for p in TOPOLOGY_POLICIES]
            line.append(0 if not admitted[1] else 1 + admitted[2] + admitted[3])
        grid.append(line)
    colors = ["#d9d9d9", "#e07b39", "#2f6db3", "#3a9e6f"]
    fig, ax = new_figure(2.4 + 0.62 * len(requests), 2.2 + 0.3 * len(rows))
    ax.grid(False)
    ax.imshow(grid, cmap=ListedColormap(colors), vmin=0, vmax=3, aspect="auto")
    ax.set_xticks(range(len(requests)), [str(r) for r in requests])
    ax.set_yticks(range(len(rows)), [f"{f0} + {f1}" for f0, f1 in rows])
    ax.set_xticks([x - 0.5 for x in range(1, len(requests))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, len(rows))], minor=True)
    ax.grid(True, which="minor", color="#ffffff", lw=1.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("GPUs the pod requests")
    ax.set_ylabel("free GPUs on NUMA node 0 + node 1")
    fig.legend(handles=[Patch(color=c, label=t) for c, t in zip(colors, NUMA_VERDICTS)], fontsize=8,
               loc="outside lower center", ncols=2)
    ax.set_title(title or f"Strictest Topology Manager policy that admits a GPU pod\n(2 NUMA nodes, {a} + {b} GPUs)")
    return fig
