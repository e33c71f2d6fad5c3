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

from .. import estimates
from .style import PALETTE, new_figure

__all__ = ["operation_intensities", "roofline", "bandwidth_vs_capacity", "machine_roofline"]

TERA = 1e12


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
    ax.set_xscale("log")
    ax.set_yscale("log")
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
) -> Figure:
    """Two rooflines on one log-log chart: a measured machine beside a reference GPU."""
    fig, ax = new_figure(8, 5)
    x = np.logspace(-2, 4, 400)
    _roof(ax, x, reference_peak_flop_s, reference_bandwidth_bytes_s, PALETTE[0], reference_label)
    _roof(ax, x, machine_peak_flop_s, machine_bandwidth_bytes_s, PALETTE[1], machine_label)
    for peak, bw, color in ((reference_peak_flop_s, reference_bandwidth_bytes_s, PALETTE[0]),
                            (machine_peak_flop_s, machine_bandwidth_bytes_s, PALETTE[1])):
        ridge = estimates.ridge_point(peak, bw)
        ax.annotate(f"ridge {ridge:.1f} FLOP/B", (ridge, peak / TERA), xytext=(-10, 8), textcoords="offset points",
                    fontsize=8, color=color, ha="right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte)")
    ax.set_ylabel("attainable TFLOP/s")
    ratio = reference_peak_flop_s / machine_peak_flop_s
    ax.set_title(f"Your machine beside an H100: about {ratio:,.0f}× less peak compute", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return fig
