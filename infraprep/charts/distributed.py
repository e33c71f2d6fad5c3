"""Charts of lesson 3 (distributed training): ZeRO memory, AllReduce cost, pipeline bubble, lab fit, stall trace."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from .. import estimates
from .gpu import readable_number
from .style import PALETTE, new_figure

__all__ = ["zero_memory_chart", "allreduce_time_chart", "bubble_chart", "lab_fit_chart", "step_time_chart",
           "schedule_chart", "format_ranges_chart"]

def _log_axes(ax, x_base: float = 10) -> None:
    """Log-log axes with major ticks only (minor log ticks add nothing here and double the drawing time)."""
    ax.set_xscale("log", base=x_base)
    ax.set_yscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())


_STAGE_LABELS = {0: "DDP (no sharding): 16Ψ", 1: "ZeRO-1: 4Ψ + 12Ψ/N", 2: "ZeRO-2: 2Ψ + 14Ψ/N", 3: "ZeRO-3 / FSDP: 16Ψ/N"}


def zero_memory_chart(
    params: float,
    gpu_counts: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
    gpu_memory_gb: float | None = 80.0,
    stages: Sequence[int] = (0, 1, 2, 3),
) -> Figure:
    """Model-state memory per GPU (GB, decimal) for each ZeRO stage against the number of GPUs.

    Stages 1 and 2 flatten out at 4Ψ and 2Ψ (the unsharded parts); only stage 3 keeps
    falling as 1/N. A dashed line marks one GPU's memory.
    """
    counts = [int(n) for n in gpu_counts]
    if not counts:
        raise ValueError("give at least one GPU count")
    fig, ax = new_figure()
    for colour, stage in zip(PALETTE, stages):
        values = [estimates.zero_bytes_per_gpu(params, n, stage) / 1e9 for n in counts]
        ax.plot(counts, values, marker="o", color=colour, label=_STAGE_LABELS[stage])
    if gpu_memory_gb:
        ax.axhline(gpu_memory_gb, color="black", linestyle="--", linewidth=1)
        ax.annotate(f"one GPU: {gpu_memory_gb:g} GB", (counts[0], gpu_memory_gb), xytext=(2, 4),
                    textcoords="offset points", fontsize=8)
    _log_axes(ax, x_base=2)
    ax.set_xlabel("GPUs in the data-parallel group (N)")
    ax.set_ylabel("weights + gradients + Adam state per GPU (GB)")
    ax.set_title(f"Per-GPU model state for {params / 1e9:g}B parameters (activations not included)")
    ax.legend(fontsize=8)
    return fig


def allreduce_time_chart(
    gpus: int,
    alpha_s: float,
    bandwidth_bytes_s: float,
    sizes_bytes: Sequence[float] | None = None,
) -> Figure:
    """Ring vs (unpipelined binomial) tree AllReduce time against message size, α-β model, log-log.

    The tree wins on small, latency-bound messages (2⌈log2 n⌉ steps instead of 2(n−1));
    the ring wins on large ones (it sends 2(n−1)/n·S instead of 2⌈log2 n⌉·S). The
    crossover size is marked.
    """
    sizes = np.asarray(sizes_bytes if sizes_bytes is not None else np.logspace(2, 10, 60), dtype=float)
    ring = [estimates.ring_allreduce_time_s(s, gpus, alpha_s, bandwidth_bytes_s) for s in sizes]
    tree = [estimates.tree_allreduce_time_s(s, gpus, alpha_s, bandwidth_bytes_s) for s in sizes]
    fig, ax = new_figure()
    ax.plot(sizes, ring, color=PALETTE[0], label="ring: 2(n−1)α + 2(n−1)/n·S/B")
    ax.plot(sizes, tree, color=PALETTE[1], label="tree: 2⌈log₂n⌉(α + S/B)")
    cross = estimates.ring_tree_crossover_bytes(gpus, alpha_s, bandwidth_bytes_s)
    if sizes.min() < cross < sizes.max():
        ax.axvline(cross, color="grey", linestyle=":", linewidth=1)
        ax.annotate(f"crossover ≈ {cross / 1e6:.2g} MB", (cross, min(ring)), xytext=(4, 4),
                    textcoords="offset points", fontsize=8)
    _log_axes(ax)
    ax.set_xlabel("message size S (bytes)")
    ax.set_ylabel("AllReduce time (s)")
    ax.set_title(f"AllReduce on {gpus} GPUs: α = {alpha_s * 1e6:g} µs, B = {bandwidth_bytes_s / 1e9:g} GB/s")
    ax.legend(fontsize=8)
    return fig


def bubble_chart(stages: Sequence[int] = (2, 4, 8, 16), max_microbatches: int = 64) -> Figure:
    """Pipeline bubble fraction (p−1)/(m+p−1) against the number of micro-batches m, one line per p."""
    m = np.arange(1, int(max_microbatches) + 1)
    fig, ax = new_figure()
    for colour, p in zip(PALETTE, stages):
        ax.plot(m, [estimates.pipeline_bubble_fraction(p, int(k)) for k in m], color=colour, label=f"p = {p} stages")
    ax.set_xlabel("micro-batches per step (m)")
    ax.set_ylabel("bubble: idle fraction of the step")
    ax.set_ylim(0, 1)
    ax.set_title("Pipeline bubble (p−1)/(m+p−1): more micro-batches hide it")
    ax.legend(fontsize=8)
    return fig


def lab_fit_chart(result) -> Figure:
    """The lab's measured AllReduce times (median and best) with the α-β line fitted to the best times, log-log."""
    frame = result.measurements
    fig, ax = new_figure()
    ax.scatter(frame["size_bytes"], frame["median_s"], color=PALETTE[0], label="measured (median)", zorder=3)
    ax.scatter(frame["size_bytes"], frame["best_s"], color=PALETTE[0], marker="x", alpha=0.6, label="measured (best)")
    xs = np.logspace(np.log10(frame["size_bytes"].min()), np.log10(frame["size_bytes"].max()), 50)
    ax.plot(xs, [result.predicted_s(x) for x in xs], color=PALETTE[1],
            label=f"fit: α = {result.fit['alpha_s'] * 1e6:.0f} µs, B = {result.fit['bandwidth_bytes_s'] / 1e9:.2f} GB/s")
    _log_axes(ax)
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("ring AllReduce time (s)")
    ax.set_title(f"Ring AllReduce between {result.workers} processes on this machine")
    ax.legend(fontsize=8)
    return fig


def step_time_chart(trace: pd.DataFrame, collapse_step: int | None = None) -> Figure:
    """Throughput (tokens/s) and data-loader wait per step; marks the step where throughput collapsed."""
    for column in ("step", "tokens_per_s", "data_wait_s"):
        if column not in trace.columns:
            raise ValueError(f"the trace needs a {column!r} column")
    fig, ax = new_figure()
    ax.plot(trace["step"], trace["tokens_per_s"] / 1e6, color=PALETTE[0], label="throughput (M tokens/s)")
    ax.set_xlabel("training step")
    ax.set_ylabel("throughput (million tokens/s)", color=PALETTE[0])
    twin = ax.twinx()
    twin.plot(trace["step"], trace["data_wait_s"], color=PALETTE[1], label="data-loader wait (s)")
    twin.set_ylabel("data-loader wait per step (s)", color=PALETTE[1])
    if collapse_step is not None:
        ax.axvline(collapse_step, color="grey", linestyle=":")
        ax.annotate(f"collapse at step {collapse_step}", (collapse_step, ax.get_ylim()[1]), xytext=(4, -12),
                    textcoords="offset points", fontsize=8)
    ax.set_title("A data-pipeline stall: compute is fine, the GPUs wait for input")
    return fig


_SCHEDULE_LABELS = {"1f1b": "GPipe and 1F1B", "interleaved": "interleaved 1F1B, v = {v} chunks a GPU",
                    "zb-h1": "ZB-H1 zero bubble (1F1B's memory)", "zb-h2": "ZB-H2 zero bubble (2× activations)"}


def schedule_chart(stages: int = 8, max_microbatches: int = 64, virtual_stages: int = 2,
                   schedules: Sequence[str] = ("1f1b", "interleaved", "zb-h1", "zb-h2")) -> Figure:
    """Idle fraction of a step against micro-batches for several pipeline schedules at one depth p.

    Fractions come from :func:`estimates.schedule_bubble_fraction` (forward, backward-for-inputs
    and backward-for-weights of equal length).
    """
    m = np.arange(1, int(max_microbatches) + 1)
    fig, ax = new_figure()
    for colour, name in zip(PALETTE, schedules):
        values = [estimates.schedule_bubble_fraction(name, stages, int(k), virtual_stages) for k in m]
        ax.plot(m, values, color=colour, label=_SCHEDULE_LABELS.get(name, name).format(v=virtual_stages))
    ax.set_xlabel("micro-batches per step (m)")
    ax.set_ylabel("idle fraction of the step")
    ax.set_ylim(-0.02, 1)
    ax.set_title(f"Pipeline schedules at p = {stages} stages: what each buys against 1F1B")
    ax.legend(fontsize=8)
    return fig


def format_ranges_chart(formats: Sequence[str] = ("fp32", "bf16", "fp16", "fp8_e5m2", "fp8_e4m3"),
                        values=None, value_label: str = "values to store") -> Figure:
    """Each format's representable magnitudes on a log axis: normal range (solid) and subnormals (light).

    ``values`` (optional, array-like) draws the spread of a tensor's magnitudes (5th to 95th
    percentile of the non-zero ones) as a shaded band, to show which formats need scaling.
    """
    fig, ax = new_figure(8, 3.8)
    names = list(formats)
    for i, name in enumerate(names):
        spec = estimates.float_format(name)
        y = len(names) - 1 - i
        low, normal, high = (np.log10(spec["min_subnormal"]), np.log10(spec["min_normal"]), np.log10(spec["max_normal"]))
        ax.barh(y, normal - low, left=low, color=PALETTE[i % len(PALETTE)], alpha=0.35, height=0.6)
        ax.barh(y, high - normal, left=normal, color=PALETTE[i % len(PALETTE)], height=0.6)
        ax.annotate(f"max {readable_number(spec['max_normal'], 3)}", (high, y), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8)
    if values is not None:
        mags = np.abs(np.asarray(values, dtype=float))
        mags = mags[mags > 0]
        if mags.size:
            lo, hi = np.log10(np.percentile(mags, [5, 95]))
            ax.axvspan(lo, hi, color="grey", alpha=0.2, label=f"{value_label} (5th to 95th percentile)")
            ax.legend(fontsize=8, loc="lower left")
    ax.set_yticks(range(len(names)), [n.replace("fp8_", "fp8 ") for n in reversed(names)])
    ax.set_xlabel("log₁₀ of the magnitude (solid: normal numbers, light: subnormals)")
    ax.set_xlim(-48, 48)
    ax.set_title("Range of each format: FP8 covers a few powers of ten, so tensors are scaled into it")
    return fig
