"""Network estimates: link units, nccl-tests bus bandwidth, fat trees, oversubscription, bisection.

Units: bits/s for link rates (as vendors quote them), bytes/s for data, counts for switches.
"""

from __future__ import annotations

import math

from ._validate import count, positive
from .communication import busbw_factor

__all__ = [
    "gbit_to_bytes_s", "algbw_from_busbw",
    "oversubscription_ratio", "two_level_fat_tree", "leaf_spine_for_hosts",
    "three_level_fat_tree_hosts", "three_level_fat_tree_switches", "bisection_bandwidth_bytes_s",
]


def gbit_to_bytes_s(gbit_s: float) -> float:
    """A link rate in Gb/s (decimal) as bytes/s: × 1e9 ÷ 8. NDR 400 Gb/s → 50e9 bytes/s."""
    return positive("gbit_s", gbit_s) * 1e9 / 8


def algbw_from_busbw(busbw_value: float, ranks: int, collective: str = "allreduce") -> float:
    """Algorithm bandwidth from nccl-tests bus bandwidth: busbw ÷ :func:`busbw_factor` (same unit in and out).

    The forward direction is :func:`infraprep.estimates.communication.allreduce_busbw`
    (or ``busbw`` for other collectives). Needs ranks ≥ 2. Source: nccl-tests PERFORMANCE.md.
    """
    n = count("ranks", ranks, minimum=2)
    return positive("busbw", busbw_value) / busbw_factor(collective, n)


def oversubscription_ratio(down_ports: int, up_ports: int, down_gbit_s: float = 1.0, up_gbit_s: float = 1.0) -> float:
    """Leaf oversubscription = bandwidth towards hosts ÷ bandwidth towards spines (1.0 = non-blocking).

    A leaf with 48 host ports and 16 uplinks of the same speed is 3:1 oversubscribed.
    """
    return count("down_ports", down_ports) * positive("down_gbit_s", down_gbit_s) / (
        count("up_ports", up_ports) * positive("up_gbit_s", up_gbit_s)
    )


def two_level_fat_tree(radix: int, oversubscription: float = 1.0) -> dict[str, float]:
    """Largest leaf-spine (two-level folded Clos) built from ``radix``-port switches.

    Each leaf splits its k ports into d host ports and u uplinks (d/u = oversubscription),
    one uplink to each of u spines; each spine has k ports, one per leaf, so there are at
    most k leaves. Non-blocking (d = u = k/2): k leaves, k/2 spines, k²/2 hosts, 3k/2
    switches. Al-Fares et al. (2008) build the same pod from k-port switches and add a core
    layer to reach k³/4 hosts (:func:`three_level_fat_tree_hosts`).

    Returns ``hosts, leaves, spines, switches, down_per_leaf, up_per_leaf``.
    """
    k = count("radix", radix, minimum=2)
    down, up = _split(k, oversubscription)
    leaves, spines = k, up
    return {"hosts": leaves * down, "leaves": leaves, "spines": spines, "switches": leaves + spines,
            "down_per_leaf": down, "up_per_leaf": up}


def _split(radix: int, oversubscription: float) -> tuple[int, int]:
    """Host ports and uplinks of a radix-k leaf with down/up = oversubscription (whole numbers)."""
    k = count("radix", radix, minimum=2)
    ratio = positive("oversubscription", oversubscription)
    up = k / (ratio + 1)
    if abs(up - round(up)) > 1e-9 or round(up) < 1 or k - round(up) < 1:
        raise ValueError(f"a radix-{k} leaf cannot split its ports {ratio:g}:1 into whole numbers")
    return k - int(round(up)), int(round(up))


def leaf_spine_for_hosts(hosts: int, radix: int, oversubscription: float = 1.0) -> dict[str, int]:
    """Smallest leaf-spine network for ``hosts`` host ports with ``radix``-port switches.

    Each leaf has d host ports and u uplinks (d/u = oversubscription, d + u = k). Leaves =
    ⌈hosts ÷ d⌉; the leaves' uplinks all land on spines of k ports, so spines =
    ⌈leaves · u ÷ k⌉. Non-blocking (d = u = k/2): spines = ⌈leaves ÷ 2⌉. Raises ValueError
    above k·d hosts (k²/2 non-blocking), where a third level is needed.
    """
    n = count("hosts", hosts)
    k = count("radix", radix, minimum=2)
    down, up = _split(k, oversubscription)
    if n > k * down:
        raise ValueError(f"{n} hosts exceed a two-level fat tree of radix {k} (at most {k * down}); add a third level")
    leaves = math.ceil(n / down)
    spines = math.ceil(leaves * up / k)
    return {"hosts": n, "leaves": leaves, "spines": spines, "switches": leaves + spines}


def three_level_fat_tree_hosts(radix: int) -> int:
    """Hosts of a three-level k-ary fat tree of k-port switches: k³/4 (Al-Fares et al., SIGCOMM 2008).

    It uses 5k²/4 switches: k pods of k/2 edge and k/2 aggregation switches, plus (k/2)² core.
    """
    k = count("radix", radix, minimum=2)
    if k % 2:
        raise ValueError("radix must be even")
    return k ** 3 // 4


def three_level_fat_tree_switches(radix: int) -> int:
    """Switches of a three-level k-ary fat tree: k pods × k switches + (k/2)² core = 5k²/4 (Al-Fares et al.)."""
    k = count("radix", radix, minimum=2)
    if k % 2:
        raise ValueError("radix must be even")
    return k * k + (k // 2) ** 2


def bisection_bandwidth_bytes_s(hosts: int, link_bytes_s: float, oversubscription: float = 1.0) -> float:
    """Bisection bandwidth (one direction) across a cut that splits the hosts in two halves.

    Non-blocking: hosts/2 × link rate; an oversubscribed fabric divides that by the ratio.
    """
    return count("hosts", hosts, minimum=2) / 2 * positive("link_bytes_s", link_bytes_s) / positive(
        "oversubscription", oversubscription
    )
