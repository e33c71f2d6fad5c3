"""Charts for lesson 9 (system design): architecture diagrams and the charts behind each design's numbers.

:func:`architecture` draws any of the lesson's diagrams from a small layout description (boxes on
a grid, optional dashed groups, labelled arrows), so the four worked designs share one helper. The
other functions chart a design's trade-offs: failures and goodput against cluster size, power by
system and PUE, fabric size by switch radix, memory per GPU by layout, ring vs in-network AllReduce,
the serving batch, the data pipeline's stages and which constraint binds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle
from matplotlib.ticker import FuncFormatter, NullLocator

from .. import estimates
from .style import PALETTE, new_figure

__all__ = [
    "KINDS", "architecture", "failures_at_scale", "interruption_causes", "power_by_system", "fabric_scaling",
    "layout_memory", "allreduce_in_network", "serving_batch", "pipeline_stages", "constraint_bars",
]

#: Box kinds of an architecture layout and their colours.
KINDS = {"compute": PALETTE[0], "network": PALETTE[1], "storage": PALETTE[2], "control": PALETTE[4],
         "data": PALETTE[6], "user": PALETTE[7], "external": PALETTE[5]}
_BOX_W, _BOX_H = 2.4, 0.9


def _two_panels(width: float = 9.6, height: float = 4.4) -> tuple[Figure, list]:
    """Two panels side by side, 9.6 inches wide: 960 px at the lesson's 100 dpi, inside the notebook's column."""
    fig = Figure(figsize=(width, height))  # fixed margins: constrained layout would double the drawing time
    axes = list(fig.subplots(1, 2))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.92, wspace=0.3)
    for ax in axes:
        ax.set_axisbelow(True)
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes


def _log(ax, which: str = "xy") -> None:
    """Log scale on the named axes, thousands-formatted, without minor ticks (they cost more to lay
    out than they help read here)."""
    for name in which:
        axis = ax.xaxis if name == "x" else ax.yaxis
        (ax.set_xscale if name == "x" else ax.set_yscale)("log")
        axis.set_major_formatter(FuncFormatter(_thousands))
        axis.set_minor_locator(NullLocator())


def _fixed_figure(width: float, height: float):
    """Like :func:`infraprep.charts.style.new_figure` but without a layout engine (margins set by the caller)."""
    fig = Figure(figsize=(width, height))
    ax = fig.subplots()
    ax.set_axisbelow(True)
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _thousands(value: float, _pos=None) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


# ---------------------------------------------------------------------------------------- diagrams

def _check_layout(layout: Mapping) -> tuple[dict, list, list]:
    boxes = {}
    for box in layout.get("boxes", []):
        missing = [k for k in ("id", "label", "x", "y") if k not in box]
        if missing:
            raise ValueError(f"a box needs {', '.join(missing)}: {box!r}")
        if box["id"] in boxes:
            raise ValueError(f"box id {box['id']!r} is used twice")
        kind = box.get("kind", "compute")
        if kind not in KINDS:
            raise ValueError(f"box {box['id']!r}: unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        boxes[box["id"]] = {"w": _BOX_W, "h": _BOX_H, "kind": kind, **box}
    if not boxes:
        raise ValueError("a layout needs at least one box")
    arrows = list(layout.get("arrows", []))
    for arrow in arrows:
        for end in ("from", "to"):
            if arrow.get(end) not in boxes:
                raise ValueError(f"arrow {arrow!r}: no box {arrow.get(end)!r}")
    groups = list(layout.get("groups", []))
    for group in groups:
        unknown = [m for m in group.get("members", []) if m not in boxes]
        if unknown or not group.get("members"):
            raise ValueError(f"group {group.get('label')!r}: unknown or missing members {unknown}")
    return boxes, arrows, groups


def _filled(layout: Mapping, values: Mapping) -> dict:
    def fill(text):
        try:
            return str(text).format(**values)
        except (KeyError, IndexError) as exc:
            raise ValueError(f"layout text {text!r} needs a value for {exc}") from None

    out = dict(layout)
    if "title" in out:
        out["title"] = fill(out["title"])
    out["boxes"] = [{**b, "label": fill(b.get("label", ""))} for b in layout.get("boxes", [])]
    out["arrows"] = [{**a, "label": fill(a["label"])} if a.get("label") else dict(a) for a in layout.get("arrows", [])]
    out["groups"] = [{**g, "label": fill(g.get("label", ""))} for g in layout.get("groups", [])]
    return out


def _edge(box: Mapping, towards: tuple[float, float]) -> tuple[float, float]:
    """Where the line from the box's centre towards a point leaves the box."""
    dx, dy = towards[0] - box["x"], towards[1] - box["y"]
    if dx == 0 and dy == 0:
        return box["x"], box["y"]
    t = min((box["w"] / 2) / abs(dx) if dx else math.inf, (box["h"] / 2) / abs(dy) if dy else math.inf)
    return box["x"] + t * dx, box["y"] + t * dy


def architecture(layout: Mapping, values: Mapping | None = None) -> Figure:
    """Draw an architecture diagram from a layout description (boxes and arrows).

    ``layout`` is a mapping (the lesson keeps its four in ``architectures.yaml``)::

        title: "..."
        size: [9.6, 6]                      # inches, optional (9.6 fits the notebook's column)
        boxes:  [{id, label, x, y, kind, w, h}]   # centre on a grid; kind colours the box
        groups: [{label, members: [ids], kind}]   # dashed frame around boxes, optional
        arrows: [{from, to, label, both, dashed}]  # both: arrowheads at both ends

    Kinds: compute, network, storage, control, data, user, external (:data:`KINDS`). Labels and the
    title may hold ``{name}`` fields (``"{nodes:,} x DGX H100"``) filled from ``values``, so a diagram
    shows the numbers the package computed rather than numbers typed into the layout.
    """
    layout = _filled(layout, values or {})
    boxes, arrows, groups = _check_layout(layout)
    width, height = layout.get("size", (9.6, 6))
    fig = Figure(figsize=(float(width), float(height)))  # no ticks to lay out: fixed margins draw faster
    ax = fig.subplots()
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.93)
    ax.set_axis_off()
    xs = [b["x"] - b["w"] / 2 for b in boxes.values()] + [b["x"] + b["w"] / 2 for b in boxes.values()]
    ys = [b["y"] - b["h"] / 2 for b in boxes.values()] + [b["y"] + b["h"] / 2 for b in boxes.values()]
    pad = 0.6
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    ax.set_ylim(min(ys) - pad, max(ys) + pad + 0.3)
    ax.set_aspect("auto")
    for group in groups:
        members = [boxes[m] for m in group["members"]]
        left = min(b["x"] - b["w"] / 2 for b in members) - 0.25
        right = max(b["x"] + b["w"] / 2 for b in members) + 0.25
        bottom = min(b["y"] - b["h"] / 2 for b in members) - 0.25
        top = max(b["y"] + b["h"] / 2 for b in members) + 0.4
        colour = KINDS.get(group.get("kind", "compute"), PALETTE[7])
        ax.add_patch(Rectangle((left, bottom), right - left, top - bottom, fill=False, ls="--", lw=1.1,
                               ec=colour, zorder=1))
        ax.text(left + 0.08, top - 0.06, group.get("label", ""), ha="left", va="top", fontsize=8,
                color=colour, style="italic", zorder=2)
    for box in boxes.values():
        colour = KINDS[box["kind"]]
        ax.add_patch(FancyBboxPatch((box["x"] - box["w"] / 2, box["y"] - box["h"] / 2), box["w"], box["h"],
                                    boxstyle="round,pad=0.02,rounding_size=0.12", fc=to_rgba(colour, 0.16),
                                    ec=colour, lw=1.4, zorder=3))
        ax.text(box["x"], box["y"], box["label"], ha="center", va="center", fontsize=8.5, zorder=4)
    for arrow in arrows:
        a, b = boxes[arrow["from"]], boxes[arrow["to"]]
        start, end = _edge(a, (b["x"], b["y"])), _edge(b, (a["x"], a["y"]))
        style = "<|-|>" if arrow.get("both") else "-|>"
        ax.annotate("", xy=end, xytext=start, zorder=5,
                    arrowprops={"arrowstyle": style, "color": "#444444", "lw": 1.2, "shrinkA": 2, "shrinkB": 2,
                                "linestyle": "--" if arrow.get("dashed") else "-", "mutation_scale": 11})
        if arrow.get("label"):
            ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, arrow["label"], ha="center", va="center",
                    fontsize=7.5, color="#333333", zorder=6,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9})
    if layout.get("title"):
        ax.set_title(layout["title"], fontsize=11, loc="left")
    return fig


# ---------------------------------------------------------------------------------------- training

def failures_at_scale(rate_per_gpu_day: float, stalls_s: Mapping[str, float], restart_s: float,
                      gpus: Sequence[int] | None = None, mark: Sequence[int] = (16_384, 100_000)) -> Figure:
    """Left: the job's MTBF against GPUs at a fixed per-GPU failure rate. Right: the goodput left at
    Young's interval for each checkpoint stall (blocking write vs asynchronous copy).

    Teaches that MTBF falls as 1/GPUs, so at 100k GPUs a checkpoint must stall seconds, not minutes,
    and a restart must take minutes. ``stalls_s`` maps a label to the stall in seconds.
    """
    counts = np.unique(np.geomspace(1_024, 131_072, 40).astype(int)) if gpus is None else np.asarray(gpus)
    fig, (left, right) = _two_panels()
    mtbf_h = [estimates.job_mtbf_hours(int(n), rate_per_gpu_day) for n in counts]
    left.plot(counts, mtbf_h, color=PALETTE[0], lw=2)
    for n in mark:
        h = estimates.job_mtbf_hours(int(n), rate_per_gpu_day)
        left.scatter([n], [h], color=PALETTE[3], zorder=3)
        text = f"{n:,} GPUs: {h:.1f} h" if h >= 1 else f"{n:,} GPUs: {h * 60:.0f} min"
        left.annotate(text, (n, h), xytext=(-6, -6), textcoords="offset points", fontsize=8, ha="right", va="top")
    _log(left, "xy")
    left.set_xlabel("GPUs in one synchronous job")
    left.set_ylabel("mean time between interruptions (h)")
    left.set_title(f"MTBF at {rate_per_gpu_day * 1000:.2f} interruptions per 1,000 GPU-days", fontsize=10)
    for i, (label, stall) in enumerate(stalls_s.items()):
        values = []
        for n in counts:
            m = estimates.job_mtbf_hours(int(n), rate_per_gpu_day) * 3600
            tau = estimates.young_interval(stall, m)
            try:
                values.append(100 * estimates.goodput(tau, stall, m, restart_s)["goodput"])
            except ValueError:
                values.append(np.nan)
        right.plot(counts, values, color=PALETTE[(i + 1) % len(PALETTE)], lw=2, label=label)
    _log(right, "x")
    right.set_ylim(0, 100)
    right.set_xlabel("GPUs in one synchronous job")
    right.set_ylabel("goodput at Young's interval (%)")
    right.set_title(f"Goodput with a {restart_s / 60:g}-minute restart", fontsize=10)
    right.legend(frameon=False, fontsize=8, loc="lower left")
    return fig


def interruption_causes(causes: pd.DataFrame) -> Figure:
    """Horizontal bars of interruptions by root cause, coloured by category (Llama 3's table of 419)."""
    frame = causes.sort_values("interruptions")
    categories = list(dict.fromkeys(causes.sort_values("interruptions", ascending=False)["category"].astype(str)))
    colours = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(categories)}
    fig, ax = _fixed_figure(9, 5.2)  # fixed margins: 18 labels are costly to lay out on every draw
    positions = range(len(frame))  # numeric positions: a categorical axis costs more to draw
    ax.barh(positions, frame["interruptions"], color=[colours[c] for c in frame["category"].astype(str)])
    ax.set_yticks(positions, list(frame["component"].astype(str)))
    total = int(causes["interruptions"].sum())
    for y, value in enumerate(frame["interruptions"]):
        ax.annotate(f"{value} ({100 * value / total:.1f} %)", (value, y), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=7.5)
    handles = [Rectangle((0, 0), 1, 1, color=colours[c]) for c in categories]
    ax.legend(handles, categories, frameon=False, fontsize=8, loc="lower right")
    ax.set_xlabel("unexpected interruptions in 54 days on 16,384 H100 GPUs")
    ax.set_title(f"What stopped the Llama 3 405B run ({total} unexpected interruptions)")
    ax.grid(axis="y", visible=False)
    ax.set_xlim(0, frame["interruptions"].max() * 1.18)
    fig.subplots_adjust(left=0.3, right=0.98, top=0.93, bottom=0.1)
    return fig


def power_by_system(systems: pd.DataFrame, target_bf16_pflops: float, pues: Sequence[float] = (1.1, 1.56)) -> Figure:
    """Facility power (MW) to reach the same dense BF16 compute with each system, at each PUE.

    ``systems`` needs ``system, gpus_per_system, system_power_kw, bf16_dense_tflops``. Bars are
    stacked: IT load, then the cooling and distribution overhead a PUE adds. Teaches that newer
    GPUs buy FLOP/s per MW and that PUE is a multiplier on everything.
    """
    fig, ax = new_figure(9, 4.6)
    names = list(systems["system"].astype(str))
    width = 0.8 / len(pues)
    for j, p in enumerate(pues):
        its, overheads = [], []
        for row in systems.itertuples(index=False):
            gpus = math.ceil(target_bf16_pflops * 1e3 / row.bf16_dense_tflops)
            it = estimates.it_power_w(gpus, row.system_power_kw * 1e3, int(row.gpus_per_system))
            its.append(it / 1e6)
            overheads.append((estimates.facility_power_w(it, p) - it) / 1e6)
        xs = np.arange(len(names)) + (j - (len(pues) - 1) / 2) * width
        ax.bar(xs, its, width * 0.95, color=PALETTE[0], alpha=0.55 + 0.45 * (j == 0), label="IT load" if j == 0 else None)
        ax.bar(xs, overheads, width * 0.95, bottom=its, color=PALETTE[1 + j], label=f"overhead at PUE {p:g}")
        for x, a, b in zip(xs, its, overheads):
            ax.annotate(f"{a + b:.1f}", (x, a + b), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=8)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("facility power (MW)")
    ax.set_title(f"Power for {target_bf16_pflops / 1000:,.1f} EFLOP/s of dense BF16, by system and PUE")
    ax.legend(frameon=False, fontsize=8)
    return fig


def fabric_scaling(radices: Mapping[str, int], endpoints: Sequence[int] | None = None,
                   mark: Sequence[int] = (16_384, 100_000)) -> Figure:
    """Switches of the smallest non-blocking fabric against endpoints, one line per switch radix.

    Each line steps up where a tier is added (k²/2 endpoints for two tiers, k³/4 for three). Teaches
    why a 100k-GPU cluster needs a high-radix switch or more tiers, hops and optics.
    """
    counts = np.unique(np.geomspace(64, 200_000, 90).astype(int)) if endpoints is None else np.asarray(endpoints)
    fig, ax = new_figure(9, 4.6)
    for i, (label, k) in enumerate(radices.items()):
        xs, ys, tiers = [], [], []
        for n in counts:
            try:
                fabric = estimates.fabric_for_endpoints(int(n), k)
            except ValueError:
                continue
            xs.append(n)
            ys.append(fabric["switches"])
            tiers.append(fabric["tiers"])
        colour = PALETTE[i % len(PALETTE)]
        ax.plot(xs, ys, color=colour, lw=2, label=f"{label} (radix {k})")
        for limit, name in ((k * k // 2, "2 → 3 tiers"),):
            if xs and limit < xs[-1]:
                ax.axvline(limit, color=colour, ls=":", lw=1)
                ax.annotate(f"{name} at {limit:,}", (limit, 0.92), xycoords=("data", "axes fraction"), rotation=90,
                            ha="right", va="top", fontsize=7.5, color=colour)
        if xs and xs[-1] < counts[-1]:  # beyond k³/4 a fourth tier would be needed
            ax.annotate(f"three tiers end at {k ** 3 // 4:,}", (xs[-1], ys[-1]), xytext=(4, -10),
                        textcoords="offset points", fontsize=7.5, color=colour)
    for n in mark:
        ax.axvline(n, color="#999999", lw=0.8)
        ax.annotate(f"{n:,}", (n, 0.02), xycoords=("data", "axes fraction"), ha="left", fontsize=7.5, color="#555555")
    _log(ax, "xy")
    ax.set_xlabel("endpoints (one NIC a GPU)")
    ax.set_ylabel("switches")
    ax.set_title("Switches of a non-blocking fat tree, by switch radix")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return fig


def layout_memory(rows: Sequence[Mapping], usable_gb: float) -> Figure:
    """Stacked bars of model state and activations per GPU for each (tensor × pipeline) layout,
    with the usable HBM as a line. ``rows`` come from :func:`infraprep.estimates.candidate_layouts`."""
    if not rows:
        raise ValueError("no layouts to draw")
    labels = [f"t{r['tensor']}·p{r['pipeline']}" for r in rows]
    state = [r["model_state_gb"] for r in rows]
    acts = [r["activations_gb"] for r in rows]
    fig, ax = new_figure(max(7.0, 0.55 * len(rows) + 3), 4.4)
    xs = range(len(rows))
    ax.bar(xs, state, color=PALETTE[0], label="model state (weights, gradients, Adam)")
    ax.bar(xs, acts, bottom=state, color=PALETTE[1], label="stored activations")
    ax.set_xticks(xs, labels)
    ax.axhline(usable_gb, color=PALETTE[3], ls="--", lw=1.5, label=f"usable HBM ({usable_gb:g} GB)")
    top = max(s + a for s, a in zip(state, acts))
    ax.set_ylim(0, min(top * 1.05, usable_gb * 4))
    ax.set_ylabel("GB per GPU")
    ax.set_xlabel("layout: tensor parallel · pipeline stages (cheapest first)")
    ax.set_title("Memory per GPU by parallel layout")
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.legend(frameon=False, fontsize=8)
    return fig


def allreduce_in_network(gpus: int, link_bytes_s: float, alpha_s: float, sizes_bytes: Sequence[float] | None = None) -> Figure:
    """Ring AllReduce against in-network reduction (SHARP/NVLS) time for message sizes (log-log)."""
    sizes = np.geomspace(1e5, 1e10, 40) if sizes_bytes is None else np.asarray(sizes_bytes, dtype=float)
    ring = [estimates.ring_allreduce_time_s(s, gpus, alpha_s, link_bytes_s) for s in sizes]
    sharp = [estimates.in_network_allreduce_time_s(s, link_bytes_s, 2 * math.ceil(math.log2(max(gpus, 2))) * alpha_s)
             for s in sizes]
    fig, ax = new_figure(8.5, 4.4)
    ax.plot(sizes, ring, color=PALETTE[0], lw=2, label=f"ring over {gpus:,} GPUs")
    ax.plot(sizes, sharp, color=PALETTE[2], lw=2, label="in-network reduction (switch tree)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("time (s)")
    ax.set_title(f"AllReduce at {link_bytes_s / 1e9:g} GB/s a GPU: the switch halves the bytes, and latency stops growing with n")
    ax.title.set_fontsize(10)
    ax.legend(frameon=False, fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------- serving and data

def serving_batch(params: float, weight_bytes: float, peak_flop_s: float, bandwidth_bytes_s: float,
                  context_tokens: float, kv_bytes_token: float, tpot_slo_s: float, kv_limit: int,
                  usd_per_hour: float, mbu: float = 1.0, mfu: float = 1.0, max_batch: int = 512) -> Figure:
    """Left: the decode step time (TPOT) against batch, with the SLO and the KV-cache limit. Right: the
    cost per million output tokens against batch. Teaches that batching makes tokens cheap until the
    SLO or the KV cache stops it."""
    batches = np.unique(np.geomspace(1, max_batch, 48).astype(int))
    steps = [estimates.decode_step_time_s(params, weight_bytes, int(b), peak_flop_s, bandwidth_bytes_s, context_tokens,
                                          kv_bytes_token, mfu, mbu) for b in batches]
    costs = [estimates.cost_per_million_tokens(usd_per_hour, int(b) / s) for b, s in zip(batches, steps)]
    fig, (left, right) = _two_panels()
    left.plot(batches, [1000 * s for s in steps], color=PALETTE[0], lw=2)
    left.axhline(1000 * tpot_slo_s, color=PALETTE[3], ls="--", lw=1.5, label=f"TPOT SLO {1000 * tpot_slo_s:g} ms")
    left.axvline(kv_limit, color=PALETTE[2], ls=":", lw=1.5, label=f"KV cache holds {kv_limit} sequences")
    _log(left, "x")
    left.set_xlabel("decode batch (sequences)")
    left.set_ylabel("time per output token (ms)")
    left.set_title("Bigger batches share each weight read", fontsize=10)
    left.legend(frameon=False, fontsize=8)
    right.plot(batches, costs, color=PALETTE[1], lw=2)
    right.axvline(kv_limit, color=PALETTE[2], ls=":", lw=1.5)
    _log(right, "xy")
    right.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"${v:,.2f}" if v < 10 else f"${v:,.0f}"))
    right.set_xlabel("decode batch (sequences)")
    right.set_ylabel("USD per million output tokens (one replica)")
    right.set_title("...so each token costs less", fontsize=10)
    return fig


def pipeline_stages(capacity_gb_s: Mapping[str, float], need_gb_s: float) -> Figure:
    """What each stage of a data pipeline can deliver (GB/s) against what the GPUs need: the shortest bar binds."""
    if not capacity_gb_s:
        raise ValueError("give at least one stage")
    names, values = list(capacity_gb_s), list(capacity_gb_s.values())
    fig, ax = new_figure(8.5, 0.5 * len(names) + 2.2)
    colours = [PALETTE[3] if v < need_gb_s else PALETTE[2] for v in values]
    ax.barh(range(len(names)), values[::-1], color=colours[::-1])
    ax.set_yticks(range(len(names)), names[::-1])
    ax.axvline(need_gb_s, color="#333333", ls="--", lw=1.5)
    ax.annotate(f"GPUs need {need_gb_s:,.0f} GB/s", (need_gb_s, 1.0), xycoords=("data", "axes fraction"),
                xytext=(4, -4), textcoords="offset points", va="top", fontsize=8)
    _log(ax, "x")
    ax.set_xlabel("GB/s the stage can deliver (log scale; red: below the need)")
    ax.set_title("Data pipeline: every stage must keep up with the GPUs")
    ax.grid(axis="y", visible=False)
    return fig


def constraint_bars(ratios: Mapping[str, float], binding: str | None = None) -> Figure:
    """Need ÷ limit for each constraint, the binding one highlighted; above the line at 1 it does not fit."""
    if not ratios:
        raise ValueError("give at least one constraint")
    names = list(ratios)
    values = [float(ratios[n]) for n in names]
    fig, ax = new_figure(7.5, 3.4)
    colours = [PALETTE[3] if n == binding else (PALETTE[1] if v > 1 else PALETTE[0]) for n, v in zip(names, values)]
    ax.barh(range(len(names)), values[::-1], color=colours[::-1])
    ax.set_yticks(range(len(names)), names[::-1])
    ax.axvline(1.0, color="#333333", ls="--", lw=1.2)
    for y, v in enumerate(values[::-1]):
        ax.annotate(f"{v:.2f}", (v, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xlim(0, max(1.3, max(values) * 1.15))
    ax.set_xlabel("need ÷ limit (above 1: does not fit)")
    ax.set_title(f"Binding constraint: {binding}" if binding else "Constraints")
    ax.grid(axis="y", visible=False)
    return fig
