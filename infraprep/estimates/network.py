"""Network estimates: link units, nccl-tests bus bandwidth and its ceilings, NVSwitch sharing,
ECMP collisions, fat trees of two and three levels, rail-only fabrics, oversubscription, bisection.

Units: bits/s for link rates (as vendors quote them), bytes/s for data, counts for switches.
"""

from __future__ import annotations

import math

from ._validate import count, positive
from .communication import busbw_factor

__all__ = [
    "gbit_to_bytes_s", "algbw_from_busbw", "port_rate_gbit_s",
    "ring_allreduce_busbw_ceiling_bytes_s", "allreduce_network_algbw_ceiling_bytes_s",
    "nvswitch_peer_bandwidth_bytes_s",
    "ecmp_max_load_probabilities", "ecmp_expected_max_load", "ecmp_collision_probability",
    "ecmp_collective_efficiency",
    "oversubscription_ratio", "two_level_fat_tree", "leaf_spine_for_hosts",
    "three_level_fat_tree_hosts", "three_level_fat_tree_switches", "three_level_fat_tree_for_hosts",
    "fat_tree_for_hosts", "rail_only_fabric", "bisection_bandwidth_bytes_s",
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


# ---------------------------------------------------------------- link generations

def port_rate_gbit_s(lane_gbit_s: float, lanes: int = 4) -> float:
    """Data rate of a port of ``lanes`` lanes at ``lane_gbit_s`` each (Gb/s). InfiniBand ports are 4x:
    NDR lanes carry 100 Gb/s, so an NDR port is 400 Gb/s. Source: IBTA roadmap."""
    return positive("lane_gbit_s", lane_gbit_s) * count("lanes", lanes)


# ---------------------------------------------------------------- what busbw can reach

def ring_allreduce_busbw_ceiling_bytes_s(nics_per_node: int, nic_bytes_s: float,
                                         nvlink_bytes_s: float = math.inf) -> float:
    """Highest busbw a ring AllReduce can show across nodes: the node's NICs together, or one GPU's NVLink.

    In a ring over several nodes every channel crosses each node boundary once in each
    direction; NCCL spreads the channels over the node's NICs, so all the bytes a rank's
    ring share sends out of the node, 2(n−1)/n · S in total, leave through ``nics_per_node``
    NICs. Hence busbw = algbw · 2(n−1)/n ≤ NICs × NIC rate, and also ≤ the NVLink rate of
    one GPU for the hops inside the node. A DGX H100 (8 NDR NICs, 50 GB/s each; 450 GB/s of
    NVLink a GPU each way) tops out at 400 GB/s; NCCL reaches about 46-48 GB/s a NIC
    (NVIDIA/nccl-tests#290), i.e. 370-385 GB/s. Source: nccl-tests doc/PERFORMANCE.md.
    """
    network = count("nics_per_node", nics_per_node) * positive("nic_bytes_s", nic_bytes_s)
    return min(network, positive("nvlink_bytes_s", nvlink_bytes_s))


def allreduce_network_algbw_ceiling_bytes_s(ranks: int, node_network_bytes_s: float,
                                            in_network_reduction: bool = False) -> float:
    """Highest AllReduce algbw the network allows: ring-like (point-to-point) or with in-network reduction.

    Point-to-point algorithms (ring, tree) must move 2(n−1)/n · S through each node's NICs,
    so algbw ≤ B · n / (2(n−1)) (about B/2). With in-network reduction (InfiniBand SHARP,
    NCCL's CollNet) each node sends its S once to the switches and receives the result
    once: algbw ≤ B, about twice as much. nccl-tests' busbw formula assumes point-to-point
    transfers (PERFORMANCE.md), so with SHARP or NVLink SHARP the busbw it prints can
    exceed the link rate. Sources: nccl-tests PERFORMANCE.md; NVIDIA SHARP documentation.
    """
    n = count("ranks", ranks, minimum=2)
    b = positive("node_network_bytes_s", node_network_bytes_s)
    return b if in_network_reduction else b * n / (2.0 * (n - 1))


def nvswitch_peer_bandwidth_bytes_s(per_gpu_bytes_s: float, active_peers: int) -> float:
    """Bandwidth one GPU gets to each peer when it talks to ``active_peers`` peers at once through NVSwitch.

    NVSwitch lets any GPU reach any other at its full NVLink rate, but that rate (450 GB/s
    each way on an H100: 18 NVLink 4 links) is the GPU's total: sending to all 7 peers at
    once gives each about 64 GB/s. Source: NVIDIA H100 / NVLink documentation.
    """
    return positive("per_gpu_bytes_s", per_gpu_bytes_s) / count("active_peers", active_peers)


# ---------------------------------------------------------------- ECMP: flows hashed onto paths

def _log_poly_power(log_coeffs, power: int, degree: int):
    """Coefficients (as logs, -inf for zero) of p(x)**power truncated to ``degree``."""
    import numpy as np

    def mul(a, b):
        shift_a, shift_b = np.max(a), np.max(b)
        prod = np.convolve(np.exp(a - shift_a), np.exp(b - shift_b))[: degree + 1]
        with np.errstate(divide="ignore"):
            return np.log(prod) + shift_a + shift_b

    result = np.full(degree + 1, -np.inf)
    result[0] = 0.0
    base = np.asarray(log_coeffs, dtype=float)
    while power:
        if power & 1:
            result = mul(result, base)
        power >>= 1
        if power:
            base = mul(base, base)
    return result


def ecmp_max_load_probabilities(flows: int, paths: int) -> list[float]:
    """P(the busiest path carries exactly k flows), k = 0..flows, when ``flows`` flows are hashed
    independently and uniformly onto ``paths`` equal-cost paths (ECMP with per-flow hashing).

    Balls into bins: P(max ≤ k) = flows! / paths^flows · [x^flows] (Σ_{j≤k} x^j / j!)^paths.
    Exact (computed in log space); flows and paths up to a few thousand. Source: Raab and
    Steger, "Balls into Bins: A Simple and Tight Analysis" (RANDOM 1998).
    """
    import numpy as np

    n = count("flows", flows)
    m = count("paths", paths)
    if n > 4096 or m > 65536:
        raise ValueError("flows above 4,096 or paths above 65,536 are out of this exact method's range")
    log_scale = math.lgamma(n + 1) - n * math.log(m)
    cdf = []
    for k in range(n + 1):
        if k * m < n:
            cdf.append(0.0)
            continue
        terms = np.array([-math.lgamma(j + 1) for j in range(min(k, n) + 1)] + [-np.inf] * (n - min(k, n)))
        coeff = _log_poly_power(terms, m, n)[n]
        cdf.append(min(1.0, math.exp(coeff + log_scale)) if np.isfinite(coeff) else 0.0)
        if cdf[-1] > 1 - 1e-15:
            cdf[-1] = 1.0
            cdf.extend([1.0] * (n - k))
            break
    probs = [cdf[0]] + [max(0.0, cdf[k] - cdf[k - 1]) for k in range(1, n + 1)]
    return probs


def ecmp_expected_max_load(flows: int, paths: int) -> float:
    """Expected number of flows on the busiest path (balls into bins; see :func:`ecmp_max_load_probabilities`)."""
    return sum(k * p for k, p in enumerate(ecmp_max_load_probabilities(flows, paths)))


def ecmp_collision_probability(flows: int, paths: int) -> float:
    """Probability that at least two of ``flows`` flows hash onto the same path: 1 − Π (1 − i/paths).

    The birthday problem: 8 flows on 8 paths collide with probability 1 − 8!/8⁸ ≈ 99.8%.
    """
    n, m = count("flows", flows), count("paths", paths)
    if n > m:
        return 1.0
    none = 1.0
    for i in range(n):
        none *= 1 - i / m
    return 1 - none


def ecmp_collective_efficiency(flows: int, paths: int) -> float:
    """Expected fraction of the ideal speed a synchronous collective gets when its ``flows`` equal
    elephant flows are placed by ECMP hashing onto ``paths`` equal links.

    The collective ends with its slowest flow; a path carrying k flows gives each 1/k of
    the link, so the step takes max-load ÷ ideal-load times longer, with ideal load
    ⌈flows / paths⌉ (what adaptive routing or per-packet spraying approaches). Meta saw up to
    40% more AllReduce bandwidth once it raised flow entropy (SIGCOMM 2024).
    """
    ideal = math.ceil(count("flows", flows) / count("paths", paths))
    return sum(p * ideal / k for k, p in enumerate(ecmp_max_load_probabilities(flows, paths)) if k and p)


# ---------------------------------------------------------------- sizing at 16k-100k GPUs

def three_level_fat_tree_for_hosts(hosts: int, radix: int) -> dict[str, int]:
    """Smallest non-blocking three-level fat tree (leaf, aggregation, core) for ``hosts`` host ports.

    Built from radix-k switches as Al-Fares et al. do: a pod has k/2 leaves and k/2
    aggregation switches and serves k²/4 hosts; each leaf sends one uplink to every
    aggregation switch of its pod, each aggregation switch k/2 uplinks to the core. So
    leaves = ⌈hosts ÷ (k/2)⌉, pods = ⌈leaves ÷ (k/2)⌉, aggregation = pods · k/2,
    core = ⌈aggregation · (k/2) ÷ k⌉. Also returns the switch-to-switch ``links`` (each
    needs two transceivers when optical). At most k³/4 hosts (65,536 with 64-port switches).
    Source: Al-Fares, Loukissas and Vahdat, SIGCOMM 2008.
    """
    n = count("hosts", hosts)
    k = count("radix", radix, minimum=4)
    if k % 2:
        raise ValueError("radix must be even")
    half = k // 2
    if n > three_level_fat_tree_hosts(k):
        raise ValueError(f"{n:,} hosts exceed a three-level fat tree of radix {k} (at most {k ** 3 // 4:,})")
    leaves = math.ceil(n / half)
    pods = math.ceil(leaves / half)
    aggregation = pods * half
    core = math.ceil(aggregation * half / k)
    links = leaves * half + aggregation * half
    return {"hosts": n, "levels": 3, "leaves": leaves, "pods": pods, "aggregation": aggregation, "core": core,
            "switches": leaves + aggregation + core, "links": links}


def fat_tree_for_hosts(hosts: int, radix: int) -> dict[str, int]:
    """Smallest non-blocking fat tree for ``hosts`` ports: one switch, two levels or three levels.

    Returns ``levels`` and ``switches`` (plus the parts of the design); raises above k³/4.
    """
    n, k = count("hosts", hosts), count("radix", radix, minimum=4)
    if n <= k:
        return {"hosts": n, "levels": 1, "leaves": 1, "switches": 1, "links": 0}
    if n <= k * (k // 2):
        design = leaf_spine_for_hosts(n, k)
        return {**design, "levels": 2, "links": design["leaves"] * (k // 2)}
    return three_level_fat_tree_for_hosts(n, k)


def rail_only_fabric(nodes: int, rails: int, radix: int) -> dict[str, int]:
    """A rail-only fabric: one separate fat tree per rail (NIC index), no spine joining the rails.

    Each of the ``rails`` networks connects the same-index NIC of all ``nodes`` nodes; traffic
    between rails crosses NVLink inside a node instead. Wang et al. report 38-77% lower
    network cost for LLM training at the same speed. Returns ``per_rail`` (a
    :func:`fat_tree_for_hosts` design), ``switches`` and ``levels``.
    Source: Wang, Ghobadi et al., "Rail-only" (arXiv:2307.12169).
    """
    per_rail = fat_tree_for_hosts(nodes, radix)
    r = count("rails", rails)
    return {"nodes": count("nodes", nodes), "rails": r, "levels": per_rail["levels"],
            "switches": r * per_rail["switches"], "per_rail": per_rail}
