"""Fault-tolerance estimates: checkpoint interval (Young, Daly), MTBF, lost work, hot spares.

Units: any one time unit used consistently (seconds, minutes or hours), steps, counts.
"""

from __future__ import annotations

import math

from collections.abc import Iterable

from ._validate import count, fraction, non_negative, positive
from .memory import CHECKPOINT_BYTES_PER_PARAM

__all__ = [
    "young_interval", "daly_interval", "cluster_mtbf", "mtbf_from_failures", "waste_fraction",
    "last_checkpoint_step", "steps_lost", "hot_spares_needed", "straggler_probability", "expected_step_time",
    "synchronous_step_time", "checkpoint_shard_bytes", "async_checkpoint_blocking_s", "async_checkpoint_fits",
    "events_per_gpu_hour", "expected_events",
]


def young_interval(checkpoint_cost: float, mtbf: float) -> float:
    """Young's optimal checkpoint interval √(2·δ·MTBF) (same unit as the inputs).

    Example: δ = 2 min, MTBF = 8 h = 480 min → √1920 ≈ 43.8 min.
    Source: J. W. Young, "A first order approximation to the optimum checkpoint
    interval", CACM 17(9), 1974.
    """
    return math.sqrt(2 * positive("checkpoint_cost", checkpoint_cost) * positive("mtbf", mtbf))


def daly_interval(checkpoint_cost: float, mtbf: float) -> float:
    """Daly's first-order refinement √(2·δ·MTBF) − δ (valid for δ < MTBF/2).

    Source: J. T. Daly, "A higher order estimate of the optimum checkpoint interval
    for restart dumps", FGCS 22(3), 2006.
    """
    delta, m = positive("checkpoint_cost", checkpoint_cost), positive("mtbf", mtbf)
    if delta >= m / 2:
        raise ValueError("Daly's formula needs the checkpoint cost below half the MTBF; checkpoint continuously")
    return math.sqrt(2 * delta * m) - delta


def cluster_mtbf(node_mtbf: float, nodes: int) -> float:
    """MTBF of a job that fails when any one of ``nodes`` independent nodes fails: node MTBF ÷ nodes."""
    return positive("node_mtbf", node_mtbf) / count("nodes", nodes)


def mtbf_from_failures(period: float, failures: int) -> float:
    """Observed mean time between failures = period ÷ number of failures.

    Llama 3 405B: 419 unexpected interruptions in 54 days → 54·24/419 ≈ 3.1 hours.
    Source: "The Llama 3 Herd of Models" (2024), Section 3.3.4.
    """
    return positive("period", period) / count("failures", failures)


def waste_fraction(interval: float, checkpoint_cost: float, mtbf: float, restart_cost: float = 0.0) -> float:
    """First-order fraction of time lost: δ/τ (writing checkpoints) + (τ/2 + R)/MTBF (redoing work, restarting).

    Young's interval is the τ that minimises δ/τ + τ/(2·MTBF). A blocking checkpoint
    is assumed; an asynchronous one makes δ the blocking part only.
    """
    tau = positive("interval", interval)
    delta, m = positive("checkpoint_cost", checkpoint_cost), positive("mtbf", mtbf)
    restart = non_negative("restart_cost", restart_cost)
    return delta / tau + (tau / 2 + restart) / m


def last_checkpoint_step(failure_step: int, checkpoint_every: int) -> int:
    """The newest checkpoint at or before ``failure_step`` when saving every ``checkpoint_every`` steps (0 = start)."""
    step = count("failure_step", failure_step, minimum=0)
    return (step // count("checkpoint_every", checkpoint_every)) * checkpoint_every


def steps_lost(failure_step: int, checkpoint_every: int) -> int:
    """Steps to redo after resuming from the newest checkpoint (not from step 0)."""
    return count("failure_step", failure_step, minimum=0) - last_checkpoint_step(failure_step, checkpoint_every)


def hot_spares_needed(nodes: int, node_mtbf: float, repair_time: float, confidence: float = 0.99) -> int:
    """Fewest spare nodes k so that, with probability ≥ ``confidence``, no more than k of ``nodes``
    are broken at once while each waits ``repair_time`` to be fixed.

    Failures arrive as a Poisson process: the number of nodes in repair at a moment is
    Poisson with mean λ = nodes · repair_time / node_mtbf (same time unit).
    """
    n = count("nodes", nodes)
    lam = n * non_negative("repair_time", repair_time) / positive("node_mtbf", node_mtbf)
    target = fraction("confidence", confidence)
    if target >= 1:
        raise ValueError("confidence must be below 1 (no finite number of spares is certain)")
    k, total = 0, 0.0
    while True:  # Poisson CDF summed in log space so a large λ cannot underflow
        total += math.exp(-lam + k * math.log(lam) - math.lgamma(k + 1)) if lam > 0 else float(k == 0)
        if total >= target:
            return k
        k += 1


# ---------------------------------------------------------------------------- stragglers

def synchronous_step_time(rank_times: Iterable[float]) -> float:
    """A synchronous step ends when its slowest rank does: the step time is the maximum over ranks."""
    times = [positive("rank time", t) for t in rank_times]
    if not times:
        raise ValueError("give at least one rank's time")
    return max(times)


def straggler_probability(gpus: int, slow_probability: float) -> float:
    """Chance that at least one of ``gpus`` ranks is slow in a step, each slow independently with
    probability p: 1 − (1 − p)^n. With p = 0.1 % and 4,096 GPUs that is 98 %: at scale some
    rank is nearly always slow, so the job runs at the pace of its stragglers."""
    p = fraction("slow_probability", slow_probability, allow_zero=True)
    return 1 - (1 - p) ** count("gpus", gpus)


def expected_step_time(base_step_s: float, gpus: int, slow_probability: float, slowdown: float) -> float:
    """Mean synchronous step time when each rank is, independently, ``slowdown`` times slower with
    probability p in a step: t · (1 + (slowdown − 1) · (1 − (1 − p)^n)). First-order model: one slow
    rank sets the pace and how slow does not depend on how many are slow.
    Sources: the max-of-ranks argument of Dean and Barroso, "The Tail at Scale" (CACM 2013);
    "The Llama 3 Herd of Models" (2024), §3.3.4 on finding slow ranks."""
    factor = positive("slowdown", slowdown)
    if factor < 1:
        raise ValueError(f"slowdown must be 1 or more (a factor, e.g. 1.3), got {slowdown!r}")
    return positive("base_step_s", base_step_s) * (1 + (factor - 1) * straggler_probability(gpus, slow_probability))


# ---------------------------------------------------------------------------- failure rates

def events_per_gpu_hour(events: int, gpus: int, hours: float) -> float:
    """Observed rate of an event (a kind of failure, a silent data corruption...) per GPU-hour.

    Llama 3 405B: 6 interruptions attributed to silent data corruption in 54 days on 16,384
    H100s → 6 / (16,384 · 1,296 h) ≈ 2.8 × 10⁻⁷ per GPU-hour. Source: Llama 3 (2024), Table 5."""
    return count("events", events, minimum=0) / (count("gpus", gpus) * positive("hours", hours))


def expected_events(rate_per_gpu_hour: float, gpus: int, hours: float) -> float:
    """Expected number of events in a run: rate per GPU-hour × GPUs × hours (a Poisson mean)."""
    return non_negative("rate_per_gpu_hour", rate_per_gpu_hour) * count("gpus", gpus) * positive("hours", hours)


# ---------------------------------------------------------------------------- sharded and asynchronous checkpoints

def checkpoint_shard_bytes(params: float, ranks: int, bytes_per_param: float = CHECKPOINT_BYTES_PER_PARAM) -> float:
    """Bytes each rank writes (or reads) of a sharded checkpoint: Ψ · 14 / ranks.

    14 bytes a parameter is a full mixed-precision Adam checkpoint (2 BF16 weights + 12 FP32
    master weights, momentum and variance; gradients are not saved). With PyTorch DCP every
    rank saves only its own shards; on load, each rank of a job of any size reads only the
    pieces it now owns (load-time resharding), so ``ranks`` is the saving job's size for the
    write and the loading job's for the read. Source: torch.distributed.checkpoint documentation.
    """
    return positive("params", params) * positive("bytes_per_param", bytes_per_param) / count("ranks", ranks)


def async_checkpoint_blocking_s(shard_bytes: float, device_to_host_bytes_s: float) -> float:
    """Seconds training pauses for an asynchronous checkpoint: only the copy of the rank's shard from
    GPU to host memory (``dcp.async_save``'s staging); the write to storage then runs in the
    background. Source: PyTorch recipe "Asynchronous Saving with Distributed Checkpoint (DCP)"."""
    return positive("shard_bytes", shard_bytes) / positive("device_to_host_bytes_s", device_to_host_bytes_s)


def async_checkpoint_fits(write_time_s: float, interval_s: float) -> bool:
    """Whether background writes keep up: each write must finish before the next checkpoint starts
    (write time ≤ interval), or checkpoints queue up and host memory fills."""
    return positive("write_time_s", write_time_s) <= positive("interval_s", interval_s)
