"""Communication estimates: ring/tree AllReduce (α-β model), nccl-tests bus bandwidth, link transfers.

Units: bytes, bytes/s, seconds. α is per-message latency (s), β the link bandwidth (bytes/s).
"""

from __future__ import annotations

import math

from ._validate import count, non_negative, positive


def ring_allreduce_bytes_per_gpu(message_bytes: float, gpus: int) -> float:
    """Bytes each GPU sends in a ring AllReduce: 2(n−1)/n · S (reduce-scatter then all-gather).

    Source: Patarasuk and Yuan, "Bandwidth optimal all-reduce algorithms for clusters
    of workstations" (JPDC 2009); NCCL tests documentation, PERFORMANCE.md.
    """
    n = count("gpus", gpus)
    return 2.0 * (n - 1) / n * positive("message_bytes", message_bytes)


def ring_allreduce_time_s(message_bytes: float, gpus: int, alpha_s: float, bandwidth_bytes_s: float) -> float:
    """Ring AllReduce time ≈ 2(n−1)·α + 2(n−1)/n · S/B."""
    n = count("gpus", gpus)
    return 2 * (n - 1) * non_negative("alpha_s", alpha_s) + ring_allreduce_bytes_per_gpu(
        message_bytes, n
    ) / positive("bandwidth_bytes_s", bandwidth_bytes_s)


def tree_allreduce_time_s(message_bytes: float, gpus: int, alpha_s: float, bandwidth_bytes_s: float) -> float:
    """Binary-tree AllReduce (reduce up, broadcast down), unpipelined: 2·log2(n)·(α + S/B).

    Latency grows with log n instead of n, but the whole message crosses each level.
    Source: Thakur, Rabenseifner and Gropp, "Optimization of Collective Communication
    Operations in MPICH" (IJHPCA 2005).
    """
    n = count("gpus", gpus)
    if n == 1:
        return 0.0
    steps = 2 * math.ceil(math.log2(n))
    return steps * (non_negative("alpha_s", alpha_s) + positive("message_bytes", message_bytes) / positive("bandwidth_bytes_s", bandwidth_bytes_s))


def allreduce_busbw(algbw_bytes_s: float, gpus: int) -> float:
    """nccl-tests bus bandwidth for AllReduce: busbw = algbw · 2(n−1)/n.

    Source: NVIDIA nccl-tests, doc/PERFORMANCE.md.
    """
    n = count("gpus", gpus)
    return positive("algbw_bytes_s", algbw_bytes_s) * 2.0 * (n - 1) / n


def transfer_time_s(size_bytes: float, bandwidth_bytes_s: float, latency_s: float = 0.0) -> float:
    """Time to move ``size_bytes`` over one link: latency + size ÷ bandwidth."""
    return non_negative("latency_s", latency_s) + non_negative("size_bytes", size_bytes) / positive(
        "bandwidth_bytes_s", bandwidth_bytes_s
    )
