"""Communication estimates: collectives under the α-β model, ring vs tree AllReduce, nccl-tests bandwidths.

The α-β (latency-bandwidth, "Hockney") model prices one message of ``S`` bytes at
``α + S/B``: α is the fixed cost of a message (seconds) and ``B`` the bandwidth of
one link (bytes/s). Every function here uses bytes, bytes/s and seconds.

Sources: Thakur, Rabenseifner and Gropp, "Optimization of Collective Communication
Operations in MPICH" (IJHPCA 2005); Patarasuk and Yuan, "Bandwidth optimal
all-reduce algorithms" (JPDC 2009); NVIDIA nccl-tests ``doc/PERFORMANCE.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._validate import count, non_negative, positive

__all__ = [
    "COLLECTIVES", "ring_allreduce_bytes_per_gpu", "ring_allreduce_time_s", "tree_allreduce_time_s",
    "ring_tree_crossover_bytes", "collective_time_s", "busbw_factor", "allreduce_busbw", "busbw",
    "algbw", "transfer_time_s", "bucketed_allreduce_time_s", "fit_ring_alpha_beta",
]

#: Names accepted by :func:`busbw_factor` and :func:`collective_time_s` (lower case, no separators).
COLLECTIVES = ("broadcast", "reduce", "allreduce", "reducescatter", "allgather", "alltoall")


def _collective(name: str) -> str:
    key = str(name).lower().replace("_", "").replace("-", "").replace(" ", "")
    if key not in COLLECTIVES:
        raise ValueError(f"unknown collective {name!r}; expected one of {', '.join(COLLECTIVES)}")
    return key


def ring_allreduce_bytes_per_gpu(message_bytes: float, gpus: int) -> float:
    """Bytes each GPU sends in a ring AllReduce: 2(n−1)/n · S (reduce-scatter then all-gather).

    Each of the 2(n−1) steps moves one chunk of S/n bytes.
    Source: Patarasuk and Yuan (JPDC 2009); nccl-tests PERFORMANCE.md.
    """
    n = count("gpus", gpus)
    return 2.0 * (n - 1) / n * positive("message_bytes", message_bytes)


def ring_allreduce_time_s(message_bytes: float, gpus: int, alpha_s: float, bandwidth_bytes_s: float) -> float:
    """Ring AllReduce time ≈ 2(n−1)·α + 2(n−1)/n · S/B (seconds).

    ``bandwidth_bytes_s`` is one GPU's bandwidth in one direction (what nccl-tests'
    busbw measures). Source: Thakur et al. (2005), Section 4.
    """
    n = count("gpus", gpus)
    alpha = non_negative("alpha_s", alpha_s)
    bandwidth = positive("bandwidth_bytes_s", bandwidth_bytes_s)
    return 2 * (n - 1) * alpha + ring_allreduce_bytes_per_gpu(message_bytes, n) / bandwidth


def tree_allreduce_time_s(message_bytes: float, gpus: int, alpha_s: float, bandwidth_bytes_s: float) -> float:
    """Binomial-tree AllReduce (reduce to a root, then broadcast), not pipelined: 2·⌈log2 n⌉·(α + S/B).

    Latency grows with log n instead of n, but the whole message crosses every level,
    so it loses to the ring for large messages. (NCCL's pipelined double binary trees
    do better on bandwidth; this is the textbook model.) Source: Thakur et al. (2005).
    """
    n = count("gpus", gpus)
    size = positive("message_bytes", message_bytes)
    alpha = non_negative("alpha_s", alpha_s)
    bandwidth = positive("bandwidth_bytes_s", bandwidth_bytes_s)
    if n == 1:
        return 0.0
    return 2 * math.ceil(math.log2(n)) * (alpha + size / bandwidth)


def ring_tree_crossover_bytes(gpus: int, alpha_s: float, bandwidth_bytes_s: float) -> float:
    """Message size (bytes) above which the ring beats the unpipelined tree of :func:`tree_allreduce_time_s`.

    Solves 2(n−1)α + 2(n−1)/n·S/B = 2L(α + S/B) with L = ⌈log2 n⌉ for S. Returns 0
    when the ring is never slower (n ≤ 2, or α = 0).
    """
    n = count("gpus", gpus)
    alpha = non_negative("alpha_s", alpha_s)
    bandwidth = positive("bandwidth_bytes_s", bandwidth_bytes_s)
    if n <= 2:
        return 0.0
    levels = math.ceil(math.log2(n))
    extra_latency = 2 * (n - 1) * alpha - 2 * levels * alpha
    if extra_latency <= 0:
        return 0.0
    return extra_latency * bandwidth / (2 * levels - 2 * (n - 1) / n)


def busbw_factor(collective: str, gpus: int) -> float:
    """nccl-tests' factor busbw/algbw: AllReduce 2(n−1)/n; ReduceScatter, AllGather, AllToAll (n−1)/n; Broadcast, Reduce 1.

    Source: NVIDIA nccl-tests, doc/PERFORMANCE.md ("Summary").
    """
    n = count("gpus", gpus)
    key = _collective(collective)
    if key == "allreduce":
        return 2.0 * (n - 1) / n
    if key in ("reducescatter", "allgather", "alltoall"):
        return (n - 1) / n
    return 1.0


def busbw(algbw_bytes_s: float, collective: str, gpus: int) -> float:
    """Bus bandwidth = algbw × :func:`busbw_factor` (comparable with the link speed whatever n is)."""
    return positive("algbw_bytes_s", algbw_bytes_s) * busbw_factor(collective, gpus)


def allreduce_busbw(algbw_bytes_s: float, gpus: int) -> float:
    """nccl-tests bus bandwidth for AllReduce: busbw = algbw · 2(n−1)/n.

    Example: algbw 100 GB/s on 8 GPUs → busbw 175 GB/s. Source: nccl-tests PERFORMANCE.md.
    """
    return busbw(algbw_bytes_s, "allreduce", gpus)


def algbw(message_bytes: float, time_s: float) -> float:
    """nccl-tests algorithm bandwidth = S / t (bytes/s)."""
    return positive("message_bytes", message_bytes) / positive("time_s", time_s)


def collective_time_s(collective: str, message_bytes: float, gpus: int, alpha_s: float, bandwidth_bytes_s: float) -> float:
    """α-β time of a collective on a ring (``message_bytes`` = S, the full buffer as nccl-tests counts it).

    AllReduce 2(n−1)α + 2(n−1)/n·S/B; ReduceScatter, AllGather and AllToAll
    (n−1)α + (n−1)/n·S/B; Broadcast and Reduce, pipelined along a chain,
    (n−1)α + S/B (all data leaves or reaches the root). The bandwidth terms are
    the lower bounds of nccl-tests PERFORMANCE.md; the latency terms count ring steps.
    """
    n = count("gpus", gpus)
    size = positive("message_bytes", message_bytes)
    alpha = non_negative("alpha_s", alpha_s)
    bandwidth = positive("bandwidth_bytes_s", bandwidth_bytes_s)
    key = _collective(collective)
    if n == 1:
        return 0.0
    steps = 2 * (n - 1) if key == "allreduce" else n - 1
    return steps * alpha + size * busbw_factor(key, n) / bandwidth


def transfer_time_s(size_bytes: float, bandwidth_bytes_s: float, latency_s: float = 0.0) -> float:
    """Time to move ``size_bytes`` over one link: latency + size ÷ bandwidth."""
    return non_negative("latency_s", latency_s) + non_negative("size_bytes", size_bytes) / positive(
        "bandwidth_bytes_s", bandwidth_bytes_s
    )


def bucketed_allreduce_time_s(
    gradient_bytes: float, gpus: int, alpha_s: float, bandwidth_bytes_s: float, bucket_bytes: float = 25 * 2**20
) -> float:
    """Total ring-AllReduce time of DDP's gradient buckets (not counting the overlap with backward).

    DDP groups gradients into buckets (``bucket_cap_mb``, 25 MB by default) and
    AllReduces each bucket as soon as its gradients are ready. With k = ⌈G / bucket⌉
    buckets the bandwidth term is unchanged and the latency term is paid k times:
    k·2(n−1)·α + 2(n−1)/n · G/B. Small buckets overlap better but pay more latency.
    Source: Li et al., "PyTorch Distributed" (VLDB 2020), Section 3.2.
    """
    n = count("gpus", gpus)
    grads = positive("gradient_bytes", gradient_bytes)
    bucket = positive("bucket_bytes", bucket_bytes)
    alpha = non_negative("alpha_s", alpha_s)
    bandwidth = positive("bandwidth_bytes_s", bandwidth_bytes_s)
    buckets = math.ceil(grads / bucket)
    return buckets * 2 * (n - 1) * alpha + ring_allreduce_bytes_per_gpu(grads, n) / bandwidth


def fit_ring_alpha_beta(
    sizes_bytes: Sequence[float], times_s: Sequence[float], gpus: int, relative: bool = False
) -> dict[str, float]:
    """Fit the ring model t = 2(n−1)·α + 2(n−1)/n · S/B to measured (size, time) points by least squares.

    The model is a straight line t = a + b·S, so ordinary least squares gives a and b;
    then α = a / (2(n−1)) and B = 2(n−1)/n / b. Returns ``alpha_s``, ``bandwidth_bytes_s``,
    ``intercept_s``, ``slope_s_per_byte`` and ``r2``. Needs at least two distinct sizes
    and n ≥ 2. A negative fitted intercept (noise) is reported as α = 0.

    ``relative=True`` weights each point by 1/t² (minimises relative errors), so when
    sizes span several orders of magnitude the small messages still pin down α.
    """
    n = count("gpus", gpus, minimum=2)
    xs = [positive("size", s) for s in sizes_bytes]
    ys = [non_negative("time", t) for t in times_s]
    if len(xs) != len(ys):
        raise ValueError(f"got {len(xs)} sizes but {len(ys)} times")
    if len(set(xs)) < 2:
        raise ValueError("need measurements at two or more different sizes to fit a line")
    if relative and min(ys) <= 0:
        raise ValueError("relative weighting needs every time to be greater than 0")
    ws = [1 / y**2 for y in ys] if relative else [1.0] * len(ys)
    total_w = sum(ws)
    mean_x = sum(w * x for w, x in zip(ws, xs)) / total_w
    mean_y = sum(w * y for w, y in zip(ws, ys)) / total_w
    sxx = sum(w * (x - mean_x) ** 2 for w, x in zip(ws, xs))
    sxy = sum(w * (x - mean_x) * (y - mean_y) for w, x, y in zip(ws, xs, ys))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    if slope <= 0:
        raise ValueError("time does not grow with message size in these measurements; cannot fit a bandwidth")
    total = sum(w * (y - mean_y) ** 2 for w, y in zip(ws, ys))
    residual = sum(w * (y - intercept - slope * x) ** 2 for w, x, y in zip(ws, xs, ys))
    return {
        "alpha_s": max(intercept, 0.0) / (2 * (n - 1)),
        "bandwidth_bytes_s": 2 * (n - 1) / n / slope,
        "intercept_s": intercept,
        "slope_s_per_byte": slope,
        "r2": 1 - residual / total if total > 0 else 1.0,
    }
