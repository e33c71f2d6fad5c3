"""Fault-tolerance estimates: checkpoint interval (Young, Daly), MTBF, lost work, hot spares.

Units: any one time unit used consistently (seconds, minutes or hours), steps, counts.
"""

from __future__ import annotations

import math

from ._validate import count, fraction, non_negative, positive

__all__ = [
    "young_interval", "daly_interval", "cluster_mtbf", "mtbf_from_failures", "waste_fraction",
    "last_checkpoint_step", "steps_lost", "hot_spares_needed",
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
