"""Lab: measure this machine's matrix-multiply FLOP/s and memory bandwidth with NumPy,
then draw its roofline beside an H100's.

Method
------
- **Compute**: time ``A @ B`` for square float32 matrices of a few sizes; each
  product costs 2·n³ FLOPs (:func:`infraprep.estimates.gemm_flops`). The peak is
  the best of the per-size medians (big matrices reach the BLAS library's best rate).
- **Bandwidth**: time ``np.copyto(dst, src)`` on large float32 arrays; a copy reads
  and writes every byte, so it moves 2 × the array size (the STREAM "copy" count).
  Arrays smaller than the CPU's last-level cache measure the cache, not DRAM, so
  the full mode uses arrays of hundreds of MB.
- Every measurement is repeated and the **median** kept, after one warm-up call.

``measure(quick=True)`` uses small sizes and finishes in well under a second or two,
for notebooks and CI; ``quick=False`` takes tens of seconds and gives truer numbers.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import estimates
from ..estimates._validate import count, positive

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from matplotlib.figure import Figure

__all__ = ["median_seconds", "measure_matmul", "measure_bandwidth", "measure", "RooflineResult", "QUICK", "FULL"]

QUICK = {"matmul_sizes": (64, 128, 256), "copy_mb": (16, 32), "repeats": 5}
FULL = {"matmul_sizes": (512, 1024, 2048), "copy_mb": (256, 512), "repeats": 7}


def median_seconds(func: Callable[[], object], repeats: int = 5, warmup: int = 1,
                   clock: Callable[[], float] = time.perf_counter) -> float:
    """Median wall-clock seconds of ``func()`` over ``repeats`` calls, after ``warmup`` untimed calls."""
    repeats = count("repeats", repeats)
    for _ in range(max(0, int(warmup))):
        func()
    times = []
    for _ in range(repeats):
        start = clock()
        func()
        times.append(clock() - start)
    return float(statistics.median(times))


def measure_matmul(sizes: Sequence[int] = QUICK["matmul_sizes"], repeats: int = QUICK["repeats"],
                   seed: int = 0) -> pd.DataFrame:
    """FLOP/s of float32 ``A @ B`` for square matrices of each size: columns ``n, flops, median_s, flop_s``."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        out = np.empty((n, n), dtype=np.float32)
        seconds = median_seconds(lambda: np.matmul(a, b, out=out), repeats)
        flops = estimates.gemm_flops(n, n, n)
        rows.append({"n": int(n), "flops": flops, "median_s": seconds, "flop_s": flops / seconds})
    return pd.DataFrame(rows)


def measure_bandwidth(sizes_mb: Sequence[float] = QUICK["copy_mb"], repeats: int = QUICK["repeats"]) -> pd.DataFrame:
    """Memory bandwidth from array copies: columns ``array_mb, bytes_moved, median_s, bytes_s``."""
    rows = []
    for size_mb in sizes_mb:
        elements = int(positive("size_mb", size_mb) * 1e6 // 4)
        src = np.ones(elements, dtype=np.float32)
        dst = np.empty_like(src)
        seconds = median_seconds(lambda: np.copyto(dst, src), repeats)
        moved = 2.0 * src.nbytes
        rows.append({"array_mb": src.nbytes / 1e6, "bytes_moved": moved, "median_s": seconds, "bytes_s": moved / seconds})
    return pd.DataFrame(rows)


@dataclass
class RooflineResult:
    """What the lab measured: the two roofline parameters and the raw tables."""

    peak_flop_s: float
    bandwidth_bytes_s: float
    matmul: pd.DataFrame
    bandwidth: pd.DataFrame

    @property
    def ridge_flop_per_byte(self) -> float:
        return estimates.ridge_point(self.peak_flop_s, self.bandwidth_bytes_s)

    def summary(self) -> pd.DataFrame:
        """One-row table with units in the column names."""
        return pd.DataFrame([{
            "peak_gflop_s": self.peak_flop_s / 1e9,
            "bandwidth_gb_s": self.bandwidth_bytes_s / 1e9,
            "ridge_flop_per_byte": self.ridge_flop_per_byte,
        }])

    def compare(self, datasheets: pd.DataFrame, gpu: str = "H100 SXM") -> pd.DataFrame:
        """This machine beside a GPU of the datasheet table: peak, bandwidth, ridge and the GPU's lead.

        The lab measures FP32 on CPU cores, so the like-for-like GPU row is its FP32 peak on
        CUDA cores (no tensor cores); the dense BF16 tensor-core row is what training uses and
        is the larger gap. Comparing this machine's FP32 with the GPU's BF16 mixes a change of
        precision (and of units: tensor cores) with a change of hardware.
        """
        row = datasheets[datasheets["gpu"] == gpu]
        if row.empty:
            raise ValueError(f"{gpu!r} is not in the datasheet table")
        bw = float(row["bandwidth_tb_s"].iloc[0]) * 1e12
        rows = [{"system": "this machine (FP32, NumPy on the CPU)", "peak_tflop_s": self.peak_flop_s / 1e12,
                 "bandwidth_tb_s": self.bandwidth_bytes_s / 1e12, "ridge_flop_per_byte": self.ridge_flop_per_byte,
                 "peak_vs_this_machine": 1.0}]
        fp32 = row["fp32_tflops"].iloc[0] if "fp32_tflops" in row.columns else float("nan")
        peaks = [(f"{gpu} (FP32, CUDA cores: like for like)", fp32), (f"{gpu} (dense BF16, tensor cores)",
                                                                       row["bf16_dense_tflops"].iloc[0])]
        for label, tflops in peaks:
            if pd.isna(tflops):
                continue
            peak = float(tflops) * 1e12
            rows.append({"system": label, "peak_tflop_s": peak / 1e12, "bandwidth_tb_s": bw / 1e12,
                         "ridge_flop_per_byte": estimates.ridge_point(peak, bw),
                         "peak_vs_this_machine": peak / self.peak_flop_s})
        return pd.DataFrame(rows)

    def plot(self, datasheets: pd.DataFrame, gpu: str = "H100 SXM") -> Figure:
        """The measured roofline beside ``gpu``'s."""
        from ..charts.gpu import machine_roofline

        row = datasheets[datasheets["gpu"] == gpu]
        if row.empty:
            raise ValueError(f"{gpu!r} is not in the datasheet table")
        fp32 = row["fp32_tflops"].iloc[0] if "fp32_tflops" in row.columns else float("nan")
        return machine_roofline(self.peak_flop_s, self.bandwidth_bytes_s,
                                float(row["bf16_dense_tflops"].iloc[0]) * 1e12,
                                float(row["bandwidth_tb_s"].iloc[0]) * 1e12,
                                reference_label=f"{gpu} (datasheet, dense BF16)",
                                reference_fp32_flop_s=None if pd.isna(fp32) else float(fp32) * 1e12)


def measure(quick: bool = True, **overrides) -> RooflineResult:
    """Run both measurements (``quick`` sizes by default) and return a :class:`RooflineResult`.

    ``overrides`` may replace ``matmul_sizes``, ``copy_mb`` or ``repeats``.
    """
    settings = dict(QUICK if quick else FULL)
    unknown = set(overrides) - set(settings)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; use {sorted(settings)}")
    settings.update(overrides)
    matmul = measure_matmul(settings["matmul_sizes"], settings["repeats"])
    bandwidth = measure_bandwidth(settings["copy_mb"], settings["repeats"])
    return RooflineResult(float(matmul["flop_s"].max()), float(bandwidth["bytes_s"].max()), matmul, bandwidth)
