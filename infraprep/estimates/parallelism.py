"""Model-parallel estimates: pipeline bubble, 3D layouts, per-GPU model state, activation memory.

Units: bytes, counts and fractions.
"""

from __future__ import annotations

import math

from ._validate import count, fraction, positive
from .memory import transformer_activation_bytes, zero_bytes_per_gpu

__all__ = [
    "pipeline_bubble_fraction", "pipeline_bubble_ratio", "microbatches_for_bubble", "data_parallel_size",
    "model_state_bytes_per_gpu", "activation_bytes_per_layer", "PIPELINE_SCHEDULES", "schedule_bubble_fraction",
    "microbatches_in_flight", "pipeline_activation_bytes", "expert_load", "expert_capacity", "dropped_token_fraction",
    "moe_params_per_gpu",
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


# ---------------------------------------------------------------------------- pipeline schedules

#: Schedules known to :func:`schedule_bubble_fraction` and :func:`microbatches_in_flight`.
PIPELINE_SCHEDULES = ("gpipe", "1f1b", "interleaved", "zb-h1", "zb-h2")


def _schedule(name: str) -> str:
    key = str(name).lower()
    if key not in PIPELINE_SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; use one of {', '.join(PIPELINE_SCHEDULES)}")
    return key


def schedule_bubble_fraction(schedule: str, stages: int, microbatches: int, virtual_stages: int = 2) -> float:
    """Idle fraction of a step for a pipeline schedule, with forward, backward-for-inputs and
    backward-for-weights taking equal time (the zero-bubble paper's comparison).

    Bubble relative to the ideal compute time: GPipe and 1F1B (p−1)/m; interleaved 1F1B with
    v chunks a GPU (p−1)/(v·m); ZB-H1 (backward split into B and W, W moved into the bubble)
    (p−1)/(3m); ZB-H2 0 (at twice 1F1B's activation memory). The fraction of the step is
    ratio / (1 + ratio), so 1F1B gives (p−1)/(m+p−1). Sources: Narayanan et al. (2021),
    §2.2; Qi et al., "Zero Bubble Pipeline Parallelism" (ICLR 2024), Table and §3.
    """
    key = _schedule(schedule)
    p, m = count("stages", stages), count("microbatches", microbatches)
    if key in ("gpipe", "1f1b"):
        ratio = (p - 1) / m
    elif key == "interleaved":
        ratio = (p - 1) / (count("virtual_stages", virtual_stages) * m)
    elif key == "zb-h1":
        ratio = (p - 1) / (3 * m)
    else:
        ratio = 0.0
    return ratio / (1 + ratio)


def microbatches_in_flight(schedule: str, stages: int, microbatches: int, stage: int = 0) -> int:
    """Micro-batches whose activations a pipeline stage holds at its peak (stage 0 holds the most).

    GPipe runs every forward before any backward: m. 1F1B (and ZB-H1) starts backward as soon
    as the first micro-batch reaches the last stage: stage s holds min(m, p − s). ZB-H2 holds
    about twice 1F1B's: min(m, 2(p − s)). Interleaving is not modelled here (it holds somewhat
    more than 1F1B). Sources: Huang et al., "GPipe" (2019); Narayanan et al., "PipeDream-Flush"
    (2021) and (2021), §2.2.1; Qi et al. (2024).
    """
    key = _schedule(schedule)
    p, m = count("stages", stages), count("microbatches", microbatches)
    s = count("stage", stage, minimum=0)
    if s >= p:
        raise ValueError(f"stage must be below the number of stages ({p}), got {stage!r}")
    if key == "gpipe":
        return m
    if key in ("1f1b", "zb-h1"):
        return min(m, p - s)
    if key == "zb-h2":
        return min(m, 2 * (p - s))
    raise ValueError("interleaved schedules are not modelled by microbatches_in_flight")


def pipeline_activation_bytes(schedule: str, stages: int, microbatches: int, bytes_per_microbatch: float,
                              stage: int = 0) -> float:
    """Activation bytes a stage keeps at its peak: micro-batches in flight × one micro-batch's
    activations on that stage (``bytes_per_microbatch``, e.g. layers a stage × :func:`activation_bytes_per_layer`)."""
    return microbatches_in_flight(schedule, stages, microbatches, stage) * positive("bytes_per_microbatch", bytes_per_microbatch)


# ---------------------------------------------------------------------------- mixture of experts

def expert_load(tokens: int, experts: int, capacity_factor: float = 1.25, top_k: int = 1) -> float:
    """Tokens one expert must make room for, before rounding: top_k · tokens / experts · capacity factor."""
    t, e, k = count("tokens", tokens), count("experts", experts), count("top_k", top_k)
    return k * t / e * positive("capacity_factor", capacity_factor)


def expert_capacity(tokens: int, experts: int, capacity_factor: float = 1.25, top_k: int = 1) -> int:
    """Tokens one expert accepts in a batch: ⌈top_k · tokens / experts · capacity factor⌉.

    Tokens routed to an expert beyond its capacity are dropped (they skip the layer through
    the residual connection) or rerouted. A factor of 1 leaves no slack for uneven routing;
    larger factors waste compute and memory on padding. Source: Fedus, Zoph and Shazeer,
    "Switch Transformers" (JMLR 2022), §2.2 (top-1); Lepikhin et al., "GShard" (2020) (top-2).
    """
    return math.ceil(expert_load(tokens, experts, capacity_factor, top_k) - 1e-9)


def dropped_token_fraction(expert_loads, capacity: int) -> float:
    """Share of routed tokens dropped when each expert keeps at most ``capacity``: Σ max(0, load − C) / Σ load."""
    loads = [count("expert load", load, minimum=0) for load in expert_loads]
    if not loads or sum(loads) == 0:
        raise ValueError("give the number of tokens routed to each expert (at least one token)")
    c = count("capacity", capacity, minimum=0)
    return sum(max(0, load - c) for load in loads) / sum(loads)


def moe_params_per_gpu(shared_params: float, params_per_expert: float, experts: int, expert_parallel: int) -> float:
    """Parameters on one GPU when E experts are spread over ``expert_parallel`` GPUs and the rest
    (attention, embeddings, router) is replicated: shared + params_per_expert · E / EP."""
    e, ep = count("experts", experts), count("expert_parallel", expert_parallel)
    if e % ep:
        raise ValueError(f"{e} experts do not split evenly over {ep} GPUs")
    shared = float(shared_params)
    if shared < 0:
        raise ValueError(f"shared_params must be 0 or more, got {shared_params!r}")
    return shared + positive("params_per_expert", params_per_expert) * e / ep
