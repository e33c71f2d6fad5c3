"""Compute estimates: training FLOPs, MFU, training time, roofline.

Units: FLOPs (floating-point operations), FLOP/s, bytes, bytes/s, seconds.
"""

from __future__ import annotations

import math

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


def shared_memory_bandwidth_bytes_s(sms: int, clock_hz: float, bytes_per_clock_per_sm: float = 128) -> float:
    """Theoretical aggregate shared-memory bandwidth: SMs × bytes an SM's shared memory serves a clock × clock.

    Shared memory has 32 banks, each serving 32 bits a clock (CUDA C++ Programming Guide,
    "Shared Memory" of compute capability 5.x and later), so 128 bytes a clock an SM. An H100
    SXM (132 SMs, 1.98 GHz boost) gives about 33 TB/s. A peak, not a measurement.
    """
    return count("sms", sms) * positive("clock_hz", clock_hz) * positive("bytes_per_clock_per_sm", bytes_per_clock_per_sm)


# ---------------------------------------------------------------------------- number formats

#: Bit layouts (exponent bits, mantissa bits, IEEE-like) of the formats the lessons use.
#: E4M3 is not IEEE-like: it has no infinities and uses the top exponent for numbers, so its
#: largest value is 448 rather than 240. Sources: IEEE 754-2019; Micikevicius et al., "FP8
#: Formats for Deep Learning" (2022), Table 1; the OCP 8-bit floating point specification.
FLOAT_FORMATS = {
    "fp32": (8, 23, True), "bf16": (8, 7, True), "fp16": (5, 10, True),
    "fp8_e5m2": (5, 2, True), "fp8_e4m3": (4, 3, False),
}


def float_format(name: str) -> dict[str, float]:
    """Range and precision of a binary floating-point format from its bit layout.

    Returns ``exponent_bits``, ``mantissa_bits``, ``max_normal``, ``min_normal``,
    ``min_subnormal`` and ``epsilon`` (the gap between 1 and the next number). For an
    IEEE-like format with e exponent bits and m mantissa bits, bias = 2^(e−1) − 1,
    max = (2 − 2^−m)·2^bias, min normal = 2^(1−bias); FP8 E4M3 keeps the all-ones exponent for
    numbers (only S.1111.111 is NaN), so its max is (2 − 2·2^−m)·2^(bias+1) = 448.
    """
    if name not in FLOAT_FORMATS:
        raise ValueError(f"unknown format {name!r}; use one of {', '.join(FLOAT_FORMATS)}")
    e, m, ieee = FLOAT_FORMATS[name]
    bias = 2 ** (e - 1) - 1
    top = (2 - 2.0**-m) * 2.0**bias if ieee else (2 - 2 * 2.0**-m) * 2.0 ** (bias + 1)
    return {"exponent_bits": e, "mantissa_bits": m, "max_normal": top, "min_normal": 2.0 ** (1 - bias),
            "min_subnormal": 2.0 ** (1 - bias - m), "epsilon": 2.0**-m}


def round_to_format(values, name: str):
    """``values`` (array-like) rounded to the nearest number of format ``name``, as NumPy float64.

    Round-to-nearest-even on the format's grid, subnormals included; magnitudes above the
    largest number saturate to ±max (what FP8 casts in Transformer Engine do; an IEEE cast
    would give inf), and magnitudes below half the smallest subnormal flush to 0. Lets a
    notebook show underflow and rounding error without FP8 hardware.
    """
    import numpy as np

    spec = float_format(name)
    x = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("values must be finite")
    mag = np.abs(x)
    # the exponent of each value, floored at the smallest normal exponent (subnormals share its spacing)
    emin = math.log2(spec["min_normal"])
    with np.errstate(divide="ignore"):
        exponent = np.floor(np.log2(np.where(mag > 0, mag, 1.0)))
    exponent = np.maximum(exponent, emin)
    step = 2.0 ** (exponent - spec["mantissa_bits"])
    rounded = np.round(mag / step) * step  # numpy rounds half to even
    rounded = np.minimum(rounded, spec["max_normal"])
    return np.sign(x) * rounded


def fp8_scale(amax: float, name: str = "fp8_e4m3", margin: int = 0) -> float:
    """Per-tensor scaling factor that maps a tensor's largest magnitude ``amax`` onto the format's
    maximum, less a safety margin of ``margin`` powers of two: max / amax / 2^margin.

    The tensor is multiplied by this factor before the cast and the product divided by it
    afterwards. Transformer Engine's delayed scaling takes ``amax`` as the largest value over
    a history of recent steps (1,024 by default); current scaling takes this step's.
    Source: Transformer Engine documentation (recipe.DelayedScaling); Micikevicius et al. (2022), §4.
    """
    if isinstance(margin, bool) or int(margin) != margin or margin < 0:
        raise ValueError(f"margin must be a whole number 0 or more, got {margin!r}")
    return float_format(name)["max_normal"] / positive("amax", amax) / 2.0 ** int(margin)


def compute_bound_batch(n: int, k: int, peak_flop_s: float, bandwidth_bytes_s: float, bytes_per_element: float = 2) -> int:
    """Smallest batch m at which C[m,n] = A[m,k]·B[k,n] reaches the roofline's ridge (becomes compute-bound).

    With every operand read once and the output written once (:func:`gemm_intensity`), the
    intensity 2mnk / (b·(mk + kn + mn)) reaches the ridge R = peak ÷ bandwidth when
    m ≥ R·b·k·n / (2nk − R·b·(k + n)). For a square d × d weight in BF16 that is
    m ≥ R·d / (d − 2R): a bit more than R, because the activations' traffic grows with m
    too. Raises ValueError when no batch gets there (the weight is too small for the ridge).
    Source: Williams et al., "Roofline" (2009); "How to Scale Your Model", chapter 1.
    """
    n, k = count("n", n), count("k", k)
    b = positive("bytes_per_element", bytes_per_element)
    ridge = ridge_point(peak_flop_s, bandwidth_bytes_s)
    denominator = 2 * n * k - ridge * b * (k + n)
    if denominator <= 0:
        raise ValueError(f"a {k} x {n} weight never reaches a ridge of {ridge:.0f} FLOP/byte, whatever the batch")
    return max(1, math.ceil(ridge * b * k * n / denominator - 1e-9))


#: Per-SM limits of compute capability 9.0 (Hopper: H100, H200). Source: CUDA C++ Programming
#: Guide, "Technical Specifications per Compute Capability".
HOPPER_SM_LIMITS = {"registers": 65536, "max_warps": 64, "max_blocks": 32, "shared_memory_bytes": 228 * 1024,
                    "max_shared_memory_per_block_bytes": 227 * 1024, "max_threads_per_block": 1024}


def resident_warps(threads_per_block: int, registers_per_thread: int, shared_memory_per_block: float = 0,
                   limits: dict | None = None) -> dict[str, float]:
    """How many warps of a kernel fit on one SM at once, and which resource stops it (occupancy).

    Whole blocks are placed on an SM, so the block count is the smallest of: registers
    (65,536 a SM ÷ (registers a thread × threads a block)), shared memory (228 KB ÷ the
    block's), warps (64 ÷ warps a block) and the 32-block cap. Warps = blocks × warps a
    block; occupancy = warps ÷ 64. Ignores the allocation granularity of registers and
    shared memory and the 1 KB of shared memory the system reserves a block (a few percent). Returns ``blocks``, ``warps``, ``occupancy`` and ``limited_by``.
    Source: CUDA C++ Programming Guide (occupancy; per-compute-capability limits, 9.0).
    """
    spec = dict(HOPPER_SM_LIMITS if limits is None else limits)
    threads = count("threads_per_block", threads_per_block)
    if threads > spec["max_threads_per_block"] or threads % 32:
        raise ValueError(f"threads_per_block must be a multiple of 32 up to {spec['max_threads_per_block']}, got {threads}")
    regs = count("registers_per_thread", registers_per_thread)
    if regs > 255:
        raise ValueError(f"a thread can use at most 255 registers, got {regs}")
    smem = float(shared_memory_per_block)
    if smem < 0 or smem > spec["max_shared_memory_per_block_bytes"]:
        raise ValueError(f"shared_memory_per_block must be 0 to {spec['max_shared_memory_per_block_bytes']:,} bytes, got {shared_memory_per_block!r}")
    warps_per_block = threads // 32
    caps = {
        "registers": spec["registers"] // (regs * threads),
        "warps": spec["max_warps"] // warps_per_block,
        "blocks": spec["max_blocks"],
        "shared memory": int(spec["shared_memory_bytes"] // smem) if smem else spec["max_blocks"],
    }
    limited_by = min(caps, key=lambda name: (caps[name], name != "registers"))
    blocks = caps[limited_by]
    warps = blocks * warps_per_block
    return {"blocks": blocks, "warps": warps, "occupancy": warps / spec["max_warps"], "limited_by": limited_by}
