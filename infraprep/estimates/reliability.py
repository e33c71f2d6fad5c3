"""Fault-tolerance estimates: checkpoint interval (Young, Daly), cluster MTBF.

Units: seconds (or any one time unit used consistently).
"""

from __future__ import annotations

import math

from ._validate import count, positive


def young_interval(checkpoint_cost: float, mtbf: float) -> float:
    """Young's optimal checkpoint interval √(2·δ·MTBF).

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
