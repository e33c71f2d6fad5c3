"""Model-parallel estimates: pipeline bubble, 3D layouts, per-GPU model state, activation memory.

Units: bytes, counts and fractions.
"""

from __future__ import annotations

import math

from ._validate import count, fraction, positive
from .memory import transformer_activation_bytes, zero_bytes_per_gpu

__all__ = [
    "pipeline_bubble_fraction", "pipeline_bubble_ratio", "microbatches_for_bubble", "data_parallel_size",
    "model_state_bytes_per_gpu", "activation_bytes_per_layer",
]


def pipeline_bubble_fraction(stages: int, microbatches: int, virtual_stages: int = 1) -> float:
    """Fraction of a training step a pipeline stage sits idle: (p−1)/(v·m + p−1).

    With v = 1 (GPipe, 1F1B) this is (p−1)/(m+p−1). Megatron-LM's interleaved schedule
    gives each GPU v model chunks and divides the bubble by v. Source: Huang et al.,
    "GPipe" (2019), Section 2.3; Narayanan et al., "Efficient Large-Scale Language Model
    Training on GPU Clusters Using Megatron-LM" (2021), Sections 2.2.1-2.2.2.
    """
    p, m = count("stages", stages), count("microbatches", microbatches)
    v = count("virtual_stages", virtual_stages)
    return (p - 1) / (v * m + p - 1)


def pipeline_bubble_ratio(stages: int, microbatches: int, virtual_stages: int = 1) -> float:
    """Megatron-LM's "bubble time fraction": bubble time ÷ ideal compute time = (p−1)/(v·m).

    This is relative to the ideal time, not to the total, so it is larger than
    :func:`pipeline_bubble_fraction` (8 stages, 32 micro-batches: 0.219 vs 0.179).
    Source: Narayanan et al. (2021), Section 2.2.1.
    """
    p, m = count("stages", stages), count("microbatches", microbatches)
    return (p - 1) / (count("virtual_stages", virtual_stages) * m)


def microbatches_for_bubble(stages: int, max_bubble_fraction: float) -> int:
    """Fewest micro-batches m with (p−1)/(m+p−1) ≤ the target fraction: m ≥ (p−1)(1−f)/f."""
    p = count("stages", stages)
    f = fraction("max_bubble_fraction", max_bubble_fraction)
    if p == 1:
        return 1
    m = max(1, math.ceil((p - 1) * (1 - f) / f - 1e-9))
    return m


def data_parallel_size(gpus: int, tensor_parallel: int = 1, pipeline_parallel: int = 1) -> int:
    """Data-parallel degree d of a 3D layout: GPUs = d · t · p, so d = GPUs ÷ (t·p) (must divide exactly)."""
    n = count("gpus", gpus)
    t, p = count("tensor_parallel", tensor_parallel), count("pipeline_parallel", pipeline_parallel)
    if n % (t * p):
        raise ValueError(f"{n} GPUs cannot be split into tensor {t} x pipeline {p} groups ({t * p} does not divide {n})")
    return n // (t * p)


def model_state_bytes_per_gpu(
    params: float, gpus: int, tensor_parallel: int = 1, pipeline_parallel: int = 1, zero_stage: int = 0
) -> float:
    """Weights + gradients + Adam state per GPU (mixed precision, 16 bytes a parameter before sharding).

    Tensor and pipeline parallelism split the model t·p ways; ZeRO then shards each
    piece's state over the d = GPUs/(t·p) data-parallel replicas, using
    :func:`infraprep.estimates.memory.zero_bytes_per_gpu` with Ψ/(t·p) parameters.
    Activations are not included (see :func:`activation_bytes_per_layer`).
    """
    d = data_parallel_size(gpus, tensor_parallel, pipeline_parallel)
    share = positive("params", params) / (tensor_parallel * pipeline_parallel)
    return zero_bytes_per_gpu(share, d, zero_stage)


def activation_bytes_per_layer(
    seq_len: int,
    micro_batch: int,
    hidden: int,
    heads: int,
    tensor_parallel: int = 1,
    recompute: str = "none",
) -> float:
    """Activation bytes one transformer layer keeps for backward (16-bit activations).

    ``recompute="none"``: s·b·h·(34 + 5·a·s/h) without tensor parallelism, and
    s·b·h·(10 + 24/t + 5·a·s/(h·t)) with tensor parallelism t (no sequence parallelism).
    ``recompute="full"`` (activation checkpointing of whole layers): only the layer
    input is kept, 2·s·b·h (with t > 1 that input is still replicated on every GPU of the
    group, as Table 2 of the paper has it). The t = 1 and full-recompute cases come from
    :func:`infraprep.estimates.memory.transformer_activation_bytes`. Source: Korthikanti et al., "Reducing Activation
    Recomputation in Large Transformer Models" (2022), Section 4 and Table 2.
    """
    t = count("tensor_parallel", tensor_parallel)
    if t == 1 or recompute != "none":  # one GPU's layer, or only the layer input kept (full recompute)
        return transformer_activation_bytes(1, seq_len, micro_batch, hidden, heads, recompute=recompute)
    s, b = count("seq_len", seq_len), count("micro_batch", micro_batch)
    h, a = count("hidden", hidden), count("heads", heads)
    return s * b * h * (10 + 24 / t + 5 * a * s / (h * t))
