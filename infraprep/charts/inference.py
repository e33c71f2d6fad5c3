"""Charts for lesson 08-inference: decode on the roofline, KV capacity, speculation, cost, the lab, incidents.

Every function takes numbers or DataFrames (from ``tables.load("08-inference", ...)``, the lab's
results, :func:`infraprep.labs.serving.engine_stats`) and returns a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

from .. import estimates
from .style import PALETTE, new_figure

__all__ = ["decode_batching", "kv_capacity", "speculative_speedups", "serving_cost", "lab_decode_curve",
           "lab_serving_comparison", "incident_timeline", "roofline_point"]

TERA = 1e12


def _style(ax) -> None:
    ax.set_axisbelow(True)
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


def _panels(count: int, width: float, height: float, **kwargs) -> tuple[Figure, list]:
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(1, count, **kwargs)))
    for ax in axes:
        _style(ax)
    return fig, axes


def _thousands(value, _pos=None) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def _log(ax, axis: str = "x", base: float = 10, minor: bool = False) -> None:
    """A log axis with readable major labels and no minor labels (minor ones cost much drawing time)."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=base)
    target.set_major_formatter(FuncFormatter(_thousands))
    target.set_minor_formatter(NullFormatter())
    if not minor:
        target.set_minor_locator(NullLocator())
    else:
        target.set_minor_locator(LogLocator(base=base, subs="auto", numticks=12))


def decode_batching(datasheets: pd.DataFrame, params: float, weight_bytes: float, kv_bytes_token: float,
                    context_tokens: int, gpus: Sequence[str] = ("H100 SXM", "H200 SXM", "B200 (HGX)", "MI300X"),
                    batches: Sequence[int] = tuple(2 ** i for i in range(11)), title: str = "") -> Figure:
    """Tokens/s each sequence sees (left) and tokens/s the GPU makes (right) against the decode batch,
    on each GPU's roofline (dense BF16 peak, datasheet bandwidth). The dot marks the first batch
    whose step is compute-bound: up to there a bigger batch costs each user almost nothing."""
    fig, (left, right) = _panels(2, 9.5, 4.6)  # 9.5 in at 100 dpi fits the notebook's column
    sheet = datasheets.set_index("gpu")
    b = np.asarray(batches)
    for colour, gpu in zip(PALETTE, gpus):
        row = sheet.loc[gpu]
        peak, bw = float(row["bf16_dense_tflops"]) * TERA, float(row["bandwidth_tb_s"]) * TERA
        steps = np.array([estimates.decode_step_time_s(params, weight_bytes, int(n), peak, bw, context_tokens,
                                                       kv_bytes_token) for n in b])
        left.plot(b, 1 / steps, marker="o", markersize=3, color=colour, label=gpu)
        right.plot(b, b / steps, marker="o", markersize=3, color=colour, label=gpu)
        compute = np.array([estimates.decode_flops_per_step(params, int(n)) / peak for n in b])
        bound = np.nonzero(compute >= steps - 1e-15)[0]
        if len(bound):
            i = bound[0]
            left.plot([b[i]], [1 / steps[i]], "o", color=colour, markersize=9, markerfacecolor="none")
            right.plot([b[i]], [b[i] / steps[i]], "o", color=colour, markersize=9, markerfacecolor="none")
    for ax in (left, right):
        _log(ax, "x", 2)
        ax.set_xlabel("decode batch (sequences)")
    _log(right, "y", 10, minor=True)
    left.set_ylabel("tokens/s each sequence sees (1 / TPOT)")
    right.set_ylabel("tokens/s the GPU makes")
    left.set_title("per sequence:\nflat while memory-bound")
    right.set_title("per GPU: grows with the batch\nuntil compute-bound (circles)")
    left.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def kv_capacity(free_bytes: float, variants: Mapping[str, float], contexts: Sequence[int] = (), title: str = "") -> Figure:
    """Concurrent sequences whose KV cache fits in ``free_bytes``, against the context length, for each
    KV layout (``variants``: label → bytes a token), log-log."""
    fig, ax = new_figure(8, 4.4)
    x = np.asarray(contexts or [2 ** i for i in range(9, 18)])
    for colour, (label, per_token) in zip(PALETTE, variants.items()):
        y = [estimates.kv_capacity_sequences(free_bytes, int(n), per_token) for n in x]
        ax.plot(x, np.maximum(y, 0.5), marker="o", markersize=3, color=colour,
                label=f"{label} ({per_token / 1024:,.0f} KiB a token)")
    _log(ax, "x", 2)
    _log(ax, "y", 10, minor=True)
    ax.set_xlabel("tokens a sequence holds (prompt + output)")
    ax.set_ylabel("sequences that fit at once")
    ax.axhline(1, color="#999999", linewidth=0.8)
    ax.legend(fontsize=8)
    ax.set_title(title or f"KV capacity of {free_bytes / 1e9:,.0f} GB of free HBM")
    return fig


def speculative_speedups(acceptance_rates: Sequence[float] = (0.6, 0.7, 0.8, 0.9), draft_cost_ratio: float = 0.05,
                         max_draft_tokens: int = 12) -> Figure:
    """Walltime speed-up of speculative decoding against the number of drafted tokens k, for several
    acceptance rates α (Leviathan et al.); the best k of each is marked, and 1× is where it stops paying."""
    fig, ax = new_figure(8, 4.2)
    ks = np.arange(1, max_draft_tokens + 1)
    for colour, alpha in zip(PALETTE, acceptance_rates):
        gains = [estimates.speculative_speedup(alpha, int(k), draft_cost_ratio) for k in ks]
        ax.plot(ks, gains, marker="o", markersize=3, color=colour, label=f"α = {alpha:g}")
        best, gain = estimates.speculative_best_draft_tokens(alpha, draft_cost_ratio, max_draft_tokens)
        if best:
            ax.plot([best], [gain], "*", color=colour, markersize=12)
    ax.axhline(1, color="#666666", linestyle="--", linewidth=1)
    ax.set_xlabel("draft tokens a target pass checks (k)")
    ax.set_ylabel("speed-up over plain decoding (×)")
    ax.set_title(f"Speculative decoding with a draft costing {draft_cost_ratio:.0%} of a target step (★ = best k)")
    ax.legend(fontsize=8, title="acceptance rate", title_fontsize=8)
    return fig


def serving_cost(costs: pd.DataFrame, value: str = "usd_per_million_output_tokens", label: str = "label",
                 group: str = "cloud", title: str = "") -> Figure:
    """Horizontal bars of $ per million tokens, one per row of ``costs`` (coloured by ``group``), labelled
    with the value."""
    fig, ax = new_figure(8.5, 0.5 * len(costs) + 1.4)
    groups = list(dict.fromkeys(costs[group]))
    colours = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
    y = np.arange(len(costs))[::-1]
    ax.barh(y, costs[value], color=[colours[g] for g in costs[group]])
    for yi, v in zip(y, costs[value]):
        ax.annotate(f"${v:,.2f}", (v, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(y, list(costs[label]))
    ax.set_xlabel("US dollars per million output tokens")
    ax.set_xlim(0, float(costs[value].max()) * 1.25)
    handles = [ax.barh([0], [0], color=colours[g], label=str(g)) for g in groups]
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    ax.set_title(title or "Cost per million output tokens")
    return fig


def lab_decode_curve(curve) -> Figure:
    """The lab's measured decode step time against batch (left, with this machine's roofline) and the
    time each token costs (right): flat while the weights dominate, rising once compute does."""
    table = curve.table
    fig, (left, right) = _panels(2, 9.5, 4.4)
    left.plot(table["batch"], table["step_ms"], marker="o", color=PALETTE[0], label="measured (NumPy, this CPU)")
    if "roofline_ms" in table:
        left.plot(table["batch"], table["roofline_ms"], linestyle="--", color=PALETTE[1],
                  label="this machine's roofline: max(bytes ÷ BW, FLOPs ÷ peak)")
        if curve.peak_flop_s is not None:
            left.axvline(curve.knee_batch, color="#999999", linewidth=0.8)
            left.annotate(f"ridge reached at batch {curve.knee_batch}", (curve.knee_batch, float(table["step_ms"].min())),
                          xytext=(4, 0), textcoords="offset points", fontsize=8, color="#666666")
    right.plot(table["batch"], table["ms_per_token"], marker="o", color=PALETTE[2])
    for ax in (left, right):
        _log(ax, "x", 2)
        _log(ax, "y", 10, minor=True)
        ax.set_xlabel("decode batch (sequences)")
    left.set_ylabel("step time (ms)")
    right.set_ylabel("ms per generated token (step ÷ batch)")
    left.set_title(f"decode step of a {curve.config.weight_bytes / 1e6:,.0f} MB model")
    right.set_title("each token gets cheaper\nuntil compute takes over")
    left.legend(fontsize=8)
    return fig


def lab_serving_comparison(continuous, static) -> Figure:
    """The lab's two policies on the same trace: throughput (top left), TTFT distribution (top right),
    and KV slots allocated against slots holding tokens over time (below, the whole width)."""
    fig = Figure(figsize=(9.5, 7.6), layout="constrained")  # two rows: 9.5 in fits the notebook's column
    grid = fig.add_gridspec(2, 2, width_ratios=[0.7, 1.3])
    bars, cdf, memory = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])
    for ax in (bars, cdf, memory):
        _style(ax)
    results = [continuous, static]
    colours = [PALETTE[0], PALETTE[1]]
    values = [r.throughput_tokens_s for r in results]
    bars.bar([r.policy for r in results], values, color=colours)
    for i, v in enumerate(values):
        bars.annotate(f"{v:,.0f}", (i, v), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
    bars.set_ylabel("output tokens/s (measured)")
    bars.set_title("throughput")
    for colour, r in zip(colours, results):
        ttft = np.sort(r.requests["ttft_s"].to_numpy() * 1e3)
        cdf.step(ttft, np.arange(1, len(ttft) + 1) / len(ttft), where="post", color=colour, label=r.policy)
        p99 = estimates.latency_percentile(ttft, 99)
        cdf.axvline(p99, color=colour, linestyle=":", linewidth=1)
    _log(cdf, "x", 10, minor=True)
    cdf.set_xlabel("time to first token (ms); dotted: p99")
    cdf.set_ylabel("share of requests")
    cdf.set_title("TTFT distribution")
    cdf.legend(fontsize=8)
    for colour, r in zip(colours, results):
        kv = r.kv
        memory.step(kv["time_s"] * 1e3, kv["allocated_slots"], where="post", color=colour, label=f"{r.policy}: allocated")
        memory.step(kv["time_s"] * 1e3, kv["used_slots"], where="post", color=colour, linestyle=":",
                    label=f"{r.policy}: holding tokens")
    memory.set_xlabel("serving time (ms)")
    memory.set_ylabel("KV slots (tokens)")
    memory.set_title("KV cache: reserved vs used")
    memory.legend(fontsize=8, ncols=2)
    return fig


def incident_timeline(stats: pd.DataFrame, title: str = "") -> Figure:
    """A vLLM incident from its periodic stats lines (:func:`infraprep.labs.serving.engine_stats`):
    running and waiting requests and preemptions (left axis), KV-cache usage (right axis)."""
    fig, ax = new_figure(9, 4.2)
    x = np.arange(len(stats))
    ax.plot(x, stats["running"], marker="o", markersize=3, color=PALETTE[0], label="running requests")
    ax.plot(x, stats["waiting"], marker="o", markersize=3, color=PALETTE[1], label="waiting requests")
    ax.bar(x, stats["preemptions"], color=PALETTE[3], alpha=0.5, label="preemptions in the interval")
    ax.set_ylabel("requests / preemptions")
    ax.set_xticks(x, [t.split()[-1] for t in stats["time"]], rotation=45, fontsize=7)
    ax.set_xlabel("log time")
    kv = ax.twinx()
    kv.plot(x, stats["kv_cache_usage_pct"], color=PALETTE[2], linestyle="--", label="KV-cache usage (%)")
    kv.set_ylim(0, 105)
    kv.set_ylabel("KV-cache usage (%)")
    kv.spines[["top"]].set_visible(False)
    lines = ax.get_legend_handles_labels()
    more = kv.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper left")
    ax.set_title(title or "Engine stats from the log")
    return fig


def roofline_point(peak_flop_s: float, bandwidth_bytes_s: float, points: Mapping[str, float], title: str = "") -> Figure:
    """One roofline (attainable TFLOP/s against FLOP/byte) with named operating points on it, e.g. the
    decode step at the chosen batch and the prefill of a prompt."""
    fig, ax = new_figure(5.5, 3.6)
    x = np.logspace(-1, 4.5, 300)
    ax.plot(x, np.minimum(peak_flop_s, x * bandwidth_bytes_s) / TERA, color=PALETTE[0], linewidth=2)
    ridge = estimates.ridge_point(peak_flop_s, bandwidth_bytes_s)
    ax.axvline(ridge, color="#999999", linewidth=0.8)
    ax.annotate(f"ridge {ridge:,.0f}", (ridge, peak_flop_s / TERA / 30), xytext=(4, 0), textcoords="offset points",
                fontsize=8, color="#666666")
    for colour, (name, intensity) in zip(PALETTE[1:], points.items()):
        y = estimates.attainable_flop_s(intensity, peak_flop_s, bandwidth_bytes_s) / TERA
        ax.plot([intensity], [y], "o", color=colour, markersize=8, label=f"{name}: {intensity:,.0f} FLOP/B")
    _log(ax, "x", 10)
    _log(ax, "y", 10)
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("attainable TFLOP/s")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title or "where the replica runs on its roofline", fontsize=10)
    return fig
