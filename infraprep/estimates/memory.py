"""Memory estimates: weights, training state per parameter, ZeRO stages, KV cache, capacities.

Units: bytes. Capacities are decimal gigabytes (1 GB = 10⁹ bytes) unless a function's ``unit``
argument says otherwise: datasheets print "80 GB", ``nvidia-smi`` prints MiB (2²⁰ bytes) and
PyTorch's out-of-memory messages print GiB (2³⁰ bytes). See :func:`capacity_bytes`.
"""

from __future__ import annotations

import math

from ._validate import count, positive

#: Mixed-precision Adam: fp16/bf16 weights (2) + gradients (2) + fp32 master
#: weights, momentum and variance (4+4+4 = 12). Source: Rajbhandari et al., "ZeRO" (2020), §3.1.
ADAM_MIXED_BYTES_PER_PARAM = 16
WEIGHT_BYTES = 2
GRADIENT_BYTES = 2
OPTIMIZER_BYTES = 12
#: A full mixed-precision Adam checkpoint: BF16 weights (2) + FP32 master weights, momentum and
#: variance (12) = 14 bytes a parameter. Gradients are not saved: the first step after a restart
#: computes new ones. The one definition the course uses (lessons 3, 6 and 7).
CHECKPOINT_BYTES_PER_PARAM = WEIGHT_BYTES + OPTIMIZER_BYTES

#: Bytes in one unit of :func:`capacity_bytes`.
CAPACITY_UNITS = {"B": 1, "MB": 10**6, "GB": 10**9, "TB": 10**12, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def capacity_bytes(value: float, unit: str = "GB") -> float:
    """A capacity in bytes: ``value`` in ``unit`` (decimal GB/MB/TB, binary GiB/MiB/TiB, or B).

    The same H100 reads two ways: "80 GB" on the datasheet and ``81559MiB`` in ``nvidia-smi``
    (85.52 × 10⁹ bytes, 79.6 GiB; PyTorch's messages count in GiB too, and a process gets
    less than the total once the CUDA context is made). Taking the datasheet's 80 GB as 80 × 10⁹ bytes is
    about 6.5 % below what ``nvidia-smi`` reports, so a budget checked against it errs on the
    safe side; a budget checked against 80 GiB (85.9 × 10⁹) would not.
    """
    if unit not in CAPACITY_UNITS:
        raise ValueError(f"unit must be one of {', '.join(CAPACITY_UNITS)}, got {unit!r}")
    return positive("value", value) * CAPACITY_UNITS[unit]


def weights_bytes(params: float, bytes_per_param: float = 2) -> float:
    """Bytes to hold the weights alone (2 for fp16/bf16, 1 for int8/fp8, 0.5 for 4-bit)."""
    return positive("params", params) * positive("bytes_per_param", bytes_per_param)


def zero_bytes_per_gpu(params: float, gpus: int, stage: int) -> float:
    """Model-state bytes per GPU for mixed-precision Adam under ZeRO stage 0–3 (Ψ = params, N = gpus).

    stage 0 (plain DDP): 16Ψ; stage 1: 4Ψ + 12Ψ/N; stage 2: 2Ψ + 14Ψ/N; stage 3: 16Ψ/N.
    Activations and buffers are not included. Source: ZeRO paper, §5 and Figure 1
    (7.5B parameters on 64 GPUs: 120 GB, 31.4 GB, 16.6 GB, 1.9 GB).
    """
    psi = positive("params", params)
    n = count("gpus", gpus)
    if stage == 0:
        return 16 * psi
    if stage == 1:
        return 4 * psi + 12 * psi / n
    if stage == 2:
        return 2 * psi + 14 * psi / n
    if stage == 3:
        return 16 * psi / n
    raise ValueError(f"ZeRO stage must be 0, 1, 2 or 3, got {stage!r}")


def kv_cache_bytes_per_token(layers: int, kv_heads: int, head_dim: int, bytes_per_value: float = 2) -> float:
    """KV cache per token = 2 (K and V) · layers · kv_heads · head_dim · bytes."""
    return 2.0 * count("layers", layers) * count("kv_heads", kv_heads) * count("head_dim", head_dim) * positive(
        "bytes_per_value", bytes_per_value
    )


def kv_cache_bytes(layers: int, kv_heads: int, head_dim: int, tokens: int, batch: int = 1, bytes_per_value: float = 2) -> float:
    """Whole KV cache for ``batch`` sequences of ``tokens`` tokens each."""
    return kv_cache_bytes_per_token(layers, kv_heads, head_dim, bytes_per_value) * count("tokens", tokens) * count("batch", batch)


def transformer_activation_bytes(
    layers: int, seq_len: int, batch: int, hidden: int, heads: int, recompute: str = "none"
) -> float:
    """Activation memory of a transformer's layers during training (16-bit activations, one GPU).

    ``recompute="none"``: s·b·h·(34 + 5·a·s/h) bytes a layer; ``"full"`` (activation
    checkpointing of every layer): only each layer's input, 2·s·b·h bytes a layer.
    s = sequence length, b = micro-batch, h = hidden size, a = attention heads.
    Source: Korthikanti et al., "Reducing Activation Recomputation in Large
    Transformer Models" (2022), §4.1, eq. (1) and §5.
    """
    n_layers, s, b = count("layers", layers), count("seq_len", seq_len), count("batch", batch)
    h, a = count("hidden", hidden), count("heads", heads)
    if recompute == "none":
        per_layer = s * b * h * (34 + 5 * a * s / h)
    elif recompute == "full":
        per_layer = 2 * s * b * h
    else:
        raise ValueError(f"recompute must be 'none' or 'full', got {recompute!r}")
    return float(n_layers * per_layer)


def serving_memory(
    params: float,
    bytes_per_param: float,
    layers: int,
    kv_heads: int,
    head_dim: int,
    context_tokens: int,
    batch: int = 1,
    kv_bytes_per_value: float = 2,
    overhead_fraction: float = 0.0,
) -> dict[str, float]:
    """Memory to serve a decoder-only model: weights + KV cache (+ an optional overhead share).

    Returns bytes: ``weights``, ``kv_cache``, ``overhead`` and ``total``. ``overhead_fraction``
    is your own allowance on top of weights + KV cache for activations, the CUDA
    context and allocator fragmentation (0 by default: the formula has no
    published constant for it). KV cache per token = 2 · layers · kv_heads · head_dim · bytes.
    """
    weights = weights_bytes(params, bytes_per_param)
    kv = kv_cache_bytes(layers, kv_heads, head_dim, context_tokens, batch, kv_bytes_per_value)
    share = _non_negative_fraction("overhead_fraction", overhead_fraction)
    overhead = share * (weights + kv)
    return {"weights": weights, "kv_cache": kv, "overhead": overhead, "total": weights + kv + overhead}


def training_memory(
    params: float, gpus: int = 1, zero_stage: int = 0, activation_bytes: float = 0.0
) -> dict[str, float]:
    """Per-GPU memory to train with mixed-precision Adam: model state (ZeRO stage 0–3) + activations.

    Returns bytes: ``weights``, ``gradients``, ``optimizer`` (their sum is the
    ZeRO model state per GPU), ``activations`` and ``total``. Source: ZeRO paper
    (Rajbhandari et al., 2020), §3.1 and §5.
    """
    psi, n = positive("params", params), count("gpus", gpus)
    split = {0: (1, 1, 1), 1: (1, 1, n), 2: (1, n, n), 3: (n, n, n)}
    if zero_stage not in split:
        raise ValueError(f"ZeRO stage must be 0, 1, 2 or 3, got {zero_stage!r}")
    w_div, g_div, o_div = split[zero_stage]
    parts = {
        "weights": WEIGHT_BYTES * psi / w_div,
        "gradients": GRADIENT_BYTES * psi / g_div,
        "optimizer": OPTIMIZER_BYTES * psi / o_div,
    }
    if activation_bytes < 0:
        raise ValueError(f"activation_bytes must be 0 or more, got {activation_bytes!r}")
    parts["activations"] = float(activation_bytes)
    parts["total"] = sum(parts.values())
    return parts


def fits(total_bytes: float, memory_gb: float, usable_fraction: float = 1.0, unit: str = "GB") -> bool:
    """Whether ``total_bytes`` fits in one GPU's memory times ``usable_fraction``.

    ``memory_gb`` is read in ``unit``: decimal GB by default, which is how datasheets print
    capacity (an "80 GB" H100 is 80 × 10⁹ bytes here). Pass ``unit="MiB"`` to check against
    what ``nvidia-smi`` shows (``fits(x, 81559, unit="MiB")``: 85.52 × 10⁹ bytes) or
    ``unit="GiB"`` for PyTorch's figures. Neither reading leaves room for the CUDA context,
    NCCL buffers or allocator fragmentation: that is what ``usable_fraction`` is for.
    """
    share = _non_negative_fraction("usable_fraction", usable_fraction)
    if share == 0:
        raise ValueError("usable_fraction must be greater than 0")
    return positive("total_bytes", total_bytes) <= capacity_bytes(memory_gb, unit) * share


def gpus_needed(total_bytes: float, memory_gb: float, usable_fraction: float = 1.0, unit: str = "GB") -> int:
    """Smallest number of GPUs whose memory holds ``total_bytes`` if it splits evenly
    (capacity read in ``unit`` as in :func:`fits`)."""
    share = _non_negative_fraction("usable_fraction", usable_fraction)
    if share == 0:
        raise ValueError("usable_fraction must be greater than 0")
    per_gpu = capacity_bytes(memory_gb, unit) * share
    return max(1, math.ceil(positive("total_bytes", total_bytes) / per_gpu - 1e-12))


def _non_negative_fraction(name: str, value: float) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not (0 <= number <= 1):
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return number
