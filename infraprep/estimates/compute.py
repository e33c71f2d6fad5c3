"""Compute estimates: training FLOPs, MFU, training time, roofline.

Units: FLOPs (floating-point operations), FLOP/s, bytes, bytes/s, seconds.
"""

from __future__ import annotations

from ._validate import count, fraction, positive


def training_flops(params: float, tokens: float) -> float:
    """Total training compute ≈ 6·N·D FLOPs (N parameters, D tokens).

    Source: Kaplan et al., "Scaling Laws for Neural Language Models" (2020), §2.1;
    Hoffmann et al., "Training Compute-Optimal Large Language Models" (2022).
    """
    return 6.0 * positive("params", params) * positive("tokens", tokens)


def mfu(achieved_flop_s: float, peak_flop_s: float) -> float:
    """Model FLOPs utilisation = achieved model FLOP/s ÷ peak FLOP/s (a fraction).

    Source: Chowdhery et al., "PaLM" (2022), Appendix B.
    """
    value = positive("achieved_flop_s", achieved_flop_s) / positive("peak_flop_s", peak_flop_s)
    if value > 1:
        raise ValueError(f"achieved FLOP/s exceeds the peak ({value:.2f}× peak): check the units")
    return value


def training_time_s(params: float, tokens: float, gpus: int, peak_flop_s_per_gpu: float, mfu: float) -> float:
    """Wall-clock seconds to train: 6·N·D ÷ (gpus · peak · MFU)."""
    flops = training_flops(params, tokens)
    rate = count("gpus", gpus) * positive("peak_flop_s_per_gpu", peak_flop_s_per_gpu) * fraction("mfu", mfu)
    return flops / rate


def gpu_hours(params: float, tokens: float, peak_flop_s_per_gpu: float, mfu: float) -> float:
    """GPU-hours to train: 6·N·D ÷ (peak · MFU) ÷ 3600 (independent of GPU count)."""
    return training_time_s(params, tokens, 1, peak_flop_s_per_gpu, mfu) / 3600.0


def ridge_point(peak_flop_s: float, bandwidth_bytes_s: float) -> float:
    """Roofline ridge point in FLOP/byte = peak FLOP/s ÷ memory bandwidth (bytes/s).

    H100 SXM: 989e12 / 3.35e12 ≈ 295 FLOP/byte. Source: Williams, Waterman and
    Patterson, "Roofline" (CACM 2009); NVIDIA H100 datasheet.
    """
    return positive("peak_flop_s", peak_flop_s) / positive("bandwidth_bytes_s", bandwidth_bytes_s)


def attainable_flop_s(intensity_flop_per_byte: float, peak_flop_s: float, bandwidth_bytes_s: float) -> float:
    """Roofline: attainable FLOP/s = min(peak, intensity × bandwidth)."""
    intensity = positive("intensity_flop_per_byte", intensity_flop_per_byte)
    return min(positive("peak_flop_s", peak_flop_s), intensity * positive("bandwidth_bytes_s", bandwidth_bytes_s))


def gemm_intensity(m: int, n: int, k: int, bytes_per_element: float = 2) -> float:
    """Arithmetic intensity (FLOP/byte) of C[m,n] = A[m,k]·B[k,n]: 2mnk ÷ bytes moved (A, B read once, C written once)."""
    m, n, k = count("m", m), count("n", n), count("k", k)
    moved = positive("bytes_per_element", bytes_per_element) * (m * k + k * n + m * n)
    return 2.0 * m * n * k / moved


def gemm_flops(m: int, n: int, k: int) -> float:
    """FLOPs of C[m,n] = A[m,k]·B[k,n]: 2·m·n·k (one multiply and one add per term)."""
    return 2.0 * count("m", m) * count("n", n) * count("k", k)


def elementwise_intensity(flops_per_element: float, bytes_per_element: float) -> float:
    """Arithmetic intensity (FLOP/byte) of an elementwise or fused row operation.

    ``bytes_per_element`` counts every byte read and written per output element:
    a bf16 ``x + y`` reads 2 + 2 bytes and writes 2, so 1 FLOP / 6 bytes ≈ 0.17.
    Source: Williams, Waterman and Patterson, "Roofline" (CACM 2009).
    """
    return positive("flops_per_element", flops_per_element) / positive("bytes_per_element", bytes_per_element)


def bound_by(intensity_flop_per_byte: float, peak_flop_s: float, bandwidth_bytes_s: float) -> str:
    """``"memory-bound"`` below the ridge point, ``"compute-bound"`` at or above it."""
    ridge = ridge_point(peak_flop_s, bandwidth_bytes_s)
    return "compute-bound" if positive("intensity_flop_per_byte", intensity_flop_per_byte) >= ridge else "memory-bound"


def roofline_time_s(flops: float, bytes_moved: float, peak_flop_s: float, bandwidth_bytes_s: float) -> float:
    """Lower bound on a kernel's run time: max(FLOPs ÷ peak, bytes ÷ bandwidth) (compute and traffic overlap).

    Source: "How to Scale Your Model", chapter 1 (rooflines); Williams et al. (2009).
    """
    return max(
        positive("flops", flops) / positive("peak_flop_s", peak_flop_s),
        positive("bytes_moved", bytes_moved) / positive("bandwidth_bytes_s", bandwidth_bytes_s),
    )
