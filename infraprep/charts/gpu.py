"""Charts for lesson 02-gpu: rooflines of several GPUs with named operations, and
memory bandwidth against capacity across the datasheet table.

Every function takes DataFrames from ``tables.load("02-gpu", ...)`` (or plain
numbers) and returns a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from .. import estimates
from .style import PALETTE, new_figure

__all__ = ["operation_intensities", "roofline", "bandwidth_vs_capacity", "machine_roofline", "readable_number",
           "number_table", "peer_bandwidth_chart"]

TERA = 1e12


def _log_log(ax) -> None:
    """Log-log axes with major ticks only (minor log ticks add nothing here and double the drawing time)."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def readable_number(value, digits: int = 4) -> str:
    """A number as people write it in a table: ``16,384``, ``2.039``, ``295.2``, ``0.0136``,
    ``1.18 × 10⁻³⁸``; blank for a missing value; other values as text.

    Whole numbers get thousands separators; other numbers keep ``digits`` significant
    figures with trailing zeros dropped; magnitudes below 0.001 or from 10¹⁵ up are written
    with a power of ten (3 significant figures) instead of ``e-38``.
    """
    import math
    import numbers

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Number):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return str(value)
    if number != 0 and (abs(number) < 1e-3 or abs(number) >= 1e15):
        exponent = int(math.floor(math.log10(abs(number))))
        mantissa = f"{number / 10**exponent:.2f}".rstrip("0").rstrip(".")
        return f"{mantissa} × 10{str(exponent).translate(_SUPERSCRIPT)}"
    if number == int(number):
        return f"{int(number):,}"
    from decimal import ROUND_HALF_UP, Decimal

    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(number)))))
    rounded = Decimal(repr(number)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return f"{rounded:,.{decimals}f}".rstrip("0").rstrip(".")


def number_table(frame: pd.DataFrame, hide: Sequence[str] = ("source",), digits: int = 4):
    """``frame`` ready to show: bookkeeping columns (``source`` and any ``*_source``) dropped,
    index hidden, every number formatted by :func:`readable_number` (a pandas Styler)."""
    dropped = [c for c in frame.columns if c in hide or str(c).endswith("_source")]
    shown = frame.drop(columns=dropped)
    return shown.style.hide(axis="index").format(lambda v: readable_number(v, digits))


def operation_intensities(operations: pd.DataFrame) -> pd.DataFrame:
    """The operations table with an ``intensity_flop_per_byte`` column.

    GEMM rows use :func:`estimates.gemm_intensity` (m, n, k, dtype_bytes); elementwise and
    softmax rows use :func:`estimates.elementwise_intensity` (FLOPs and bytes per element).
    """
    values = []
    for row in operations.itertuples(index=False):
        if row.kind == "gemm":
            values.append(estimates.gemm_intensity(int(row.m), int(row.n), int(row.k), float(row.dtype_bytes)))
        else:
            values.append(estimates.elementwise_intensity(float(row.flops_per_element), float(row.bytes_moved_per_element)))
    out = operations.copy()
    out["intensity_flop_per_byte"] = values
    return out


def _roof(ax, intensities: np.ndarray, peak_flop_s: float, bandwidth_bytes_s: float, color: str, label: str,
          linestyle: str = "-") -> None:
    attainable = np.minimum(peak_flop_s, intensities * bandwidth_bytes_s) / TERA
    ax.plot(intensities, attainable, color=color, label=label, linestyle=linestyle, linewidth=2)
    ridge = estimates.ridge_point(peak_flop_s, bandwidth_bytes_s)
    ax.plot([ridge], [peak_flop_s / TERA], marker="o", color=color, markersize=5)


def roofline(
    datasheets: pd.DataFrame,
    operations: pd.DataFrame | None = None,
    gpus: Sequence[str] | None = None,
    place_on: str = "H100 SXM",
) -> Figure:
    """Rooflines (dense BF16 TFLOP/s against FLOP/byte, log-log) for ``gpus``, ridge points marked.

    Named ``operations`` are drawn as points on the roofline of ``place_on``, so you can
    read which are memory-bound (on the slope) and which compute-bound (on the flat roof).
    """
    frame = datasheets if gpus is None else datasheets[datasheets["gpu"].isin(list(gpus))]
    if frame.empty:
        raise ValueError("no GPU of the datasheet table matches the names given")
    fig, ax = new_figure(9, 5.5)
    x = np.logspace(-1, 4, 400)
    for index, row in enumerate(frame.itertuples(index=False)):
        peak, bw = row.bf16_dense_tflops * TERA, row.bandwidth_tb_s * TERA
        ridge = estimates.ridge_point(peak, bw)
        _roof(ax, x, peak, bw, PALETTE[index % len(PALETTE)], f"{row.gpu} (ridge {ridge:.0f} FLOP/B)")
    if operations is not None:
        target = datasheets[datasheets["gpu"] == place_on]
        if target.empty:
            raise ValueError(f"place_on={place_on!r} is not a GPU of the datasheet table")
        peak, bw = float(target["bf16_dense_tflops"].iloc[0]) * TERA, float(target["bandwidth_tb_s"].iloc[0]) * TERA
        ops = operation_intensities(operations)
        for i, op in enumerate(ops.itertuples(index=False)):
            y = estimates.attainable_flop_s(op.intensity_flop_per_byte, peak, bw) / TERA
            ax.plot([op.intensity_flop_per_byte], [y], marker="s", color="black", markersize=5, zorder=5)
            below = i % 2 == 0
            ax.annotate(op.operation, (op.intensity_flop_per_byte, y), xytext=(6, -12) if below else (-6, 8),
                        textcoords="offset points", fontsize=7, ha="left" if below else "right")
    _log_log(ax)
    ax.set_xlabel("arithmetic intensity (FLOP per byte of memory traffic)")
    ax.set_ylabel("attainable dense BF16 TFLOP/s")
    title = "Roofline: the slope is memory bandwidth, the flat roof is peak compute"
    if operations is not None:
        title += f"\n(squares: operations placed on the {place_on})"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def bandwidth_vs_capacity(datasheets: pd.DataFrame) -> Figure:
    """Memory capacity (GB) against bandwidth (TB/s) for every GPU, HBM and GDDR in two colours."""
    fig, ax = new_figure(8, 5)
    is_hbm = datasheets["memory_type"].str.startswith("HBM")
    for mask, color, label in ((is_hbm, PALETTE[0], "HBM"), (~is_hbm, PALETTE[1], "GDDR")):
        part = datasheets[mask]
        if part.empty:
            continue
        ax.scatter(part["memory_gb"], part["bandwidth_tb_s"], s=part["max_power_w"] / 4, color=color,
                   alpha=0.8, label=f"{label} (marker area ∝ power)")
        seen: list[tuple[float, float]] = []
        for row in part.itertuples(index=False):
            crowded = sum(abs(row.memory_gb - x) < 10 and abs(row.bandwidth_tb_s - y) < 0.4 for x, y in seen)
            seen.append((row.memory_gb, row.bandwidth_tb_s))
            ax.annotate(f"{row.gpu} ({row.memory_type})", (row.memory_gb, row.bandwidth_tb_s),
                        xytext=(8, 2 - 12 * crowded), textcoords="offset points", fontsize=7)
    ax.set_xlabel("memory capacity (GB)")
    ax.set_ylabel("memory bandwidth (TB/s)")
    ax.set_xlim(0, float(datasheets["memory_gb"].max()) * 1.25)
    ax.set_ylim(0, float(datasheets["bandwidth_tb_s"].max()) * 1.15)
    ax.set_title("Capacity decides what fits; bandwidth decides how fast it can be read", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def machine_roofline(
    machine_peak_flop_s: float,
    machine_bandwidth_bytes_s: float,
    reference_peak_flop_s: float,
    reference_bandwidth_bytes_s: float,
    machine_label: str = "this machine (measured, FP32 NumPy)",
    reference_label: str = "H100 SXM (datasheet, dense BF16)",
    reference_fp32_flop_s: float | None = None,
) -> Figure:
    """Rooflines on one log-log chart: a measured machine beside a reference GPU.

    With ``reference_fp32_flop_s`` the GPU's FP32 roof (CUDA cores) is drawn dashed too, the
    like-for-like comparison with a CPU measured in FP32; the title gives both ratios.
    """
    fig, ax = new_figure(8, 5)
    x = np.logspace(-2, 4, 400)
    _roof(ax, x, reference_peak_flop_s, reference_bandwidth_bytes_s, PALETTE[0], reference_label)
    if reference_fp32_flop_s:
        _roof(ax, x, reference_fp32_flop_s, reference_bandwidth_bytes_s, PALETTE[0],
              reference_label.split(" (")[0] + " (datasheet, FP32 without tensor cores)", linestyle="--")
    _roof(ax, x, machine_peak_flop_s, machine_bandwidth_bytes_s, PALETTE[1], machine_label)
    for peak, bw, color in ((reference_peak_flop_s, reference_bandwidth_bytes_s, PALETTE[0]),
                            (machine_peak_flop_s, machine_bandwidth_bytes_s, PALETTE[1])):
        ridge = estimates.ridge_point(peak, bw)
        ax.annotate(f"ridge {ridge:,.1f} FLOP/B", (ridge, peak / TERA), xytext=(-10, 8), textcoords="offset points",
                    fontsize=8, color=color, ha="right")
    _log_log(ax)
    ax.set_xlabel("arithmetic intensity (FLOP per byte)")
    ax.set_ylabel("attainable TFLOP/s")
    name = reference_label.split(" (")[0]
    if reference_fp32_flop_s:
        title = (f"Your machine beside an {name}: {reference_fp32_flop_s / machine_peak_flop_s:,.0f}× the peak at FP32, "
                 f"{reference_peak_flop_s / machine_peak_flop_s:,.0f}× with BF16 tensor cores")
    else:
        title = f"Your machine beside an {name}: {reference_peak_flop_s / machine_peak_flop_s:,.0f}× the peak (BF16 vs FP32)"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def peer_bandwidth_chart(datasheets: pd.DataFrame, gpus: Sequence[str] = ("H100 SXM", "B200 (HGX)", "MI300X"),
                         peers: int = 7) -> Figure:
    """One GPU's one-direction bandwidth to a single peer and to all ``peers`` peers at once.

    Through NVSwitch one peer can take the whole link bandwidth; in the MI300X's direct mesh
    each peer has one link of the seven, so a single transfer gets a seventh of the total.
    Uses :func:`estimates.peer_bandwidth_bytes_s` with the datasheet's bidirectional figures halved.
    """
    frame = datasheets.set_index("gpu")
    missing = [g for g in gpus if g not in frame.index]
    if missing:
        raise ValueError(f"not in the datasheet table: {', '.join(missing)}")
    fig, ax = new_figure(8, 4.5)
    x = np.arange(len(gpus))
    width = 0.38
    for offset, (label, n, color) in enumerate((("to one peer", 1, PALETTE[0]),
                                                (f"to each of {peers} peers at once (total)", peers, PALETTE[1]))):
        heights = []
        for gpu in gpus:
            row = frame.loc[gpu]
            one_way = float(row["link_bidirectional_gb_s"]) / 2 * 1e9
            mesh = float(row["peer_bidirectional_gb_s"]) < float(row["link_bidirectional_gb_s"])
            links = round(float(row["link_bidirectional_gb_s"]) / float(row["peer_bidirectional_gb_s"])) if mesh else peers
            got = estimates.peer_bandwidth_bytes_s("mesh" if mesh else "switch", one_way, n, links)
            heights.append(got["aggregate_bytes_s"] / 1e9)
        bars = ax.bar(x + (offset - 0.5) * width, heights, width, color=color, label=label)
        ax.bar_label(bars, labels=[f"{h:,.0f}" for h in heights], fontsize=8, padding=2)
    ax.set_xticks(x, list(gpus))
    ax.set_ylabel("GB/s, one direction")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.12)
    ax.set_title("A switch gives one peer everything; a mesh gives each peer one link", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return fig
