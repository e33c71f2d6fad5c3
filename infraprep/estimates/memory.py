"""Memory estimates: weights, training state per parameter, ZeRO stages, KV cache.

Units: bytes.
"""

from __future__ import annotations

from ._validate import count, positive

#: Mixed-precision Adam: fp16/bf16 weights (2) + gradients (2) + fp32 master
#: weights, momentum and variance (4+4+4 = 12). Source: Rajbhandari et al., "ZeRO" (2020), §3.1.
ADAM_MIXED_BYTES_PER_PARAM = 16
WEIGHT_BYTES = 2
GRADIENT_BYTES = 2
OPTIMIZER_BYTES = 12


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
