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
    "peer_bandwidth_bytes_s", "moe_alltoall_bytes", "moe_alltoall_time_s", "ulysses_alltoall_bytes_per_gpu",
    "ring_attention_kv_bytes_per_step", "ring_attention_min_chunk_tokens", "fsdp_bytes_per_gpu",
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


# ---------------------------------------------------------------------------- scale-up topologies

def peer_bandwidth_bytes_s(topology: str, gpu_bandwidth_bytes_s: float, peers: int = 1, links: int = 7) -> dict[str, float]:
    """One-direction bandwidth a GPU gets to each of ``peers`` peers it sends to at once, and in total.

    ``"switch"`` (NVSwitch): the GPU's whole link bandwidth can go to any one peer, and is
    shared when it sends to several: per peer = total / peers. An H100 has 450 GB/s each
    way, all of it to one peer, 64 GB/s to each of seven.
    ``"mesh"`` (MI300X Infinity Fabric, no switch): each peer has its own direct link of
    total / ``links``, so one peer never gets more than one link. An MI300X's 448 GB/s
    each way are 7 links of 64 GB/s: 64 GB/s to one peer, 448 GB/s only when all seven
    peers are used at once.
    Returns ``per_peer_bytes_s`` and ``aggregate_bytes_s``. Sources: NVIDIA NVLink and
    NVSwitch pages; AMD Instinct MI300X data sheet (7 links, 128 GB/s bidirectional each).
    """
    total = positive("gpu_bandwidth_bytes_s", gpu_bandwidth_bytes_s)
    n = count("peers", peers)
    kind = str(topology).lower()
    if kind == "switch":
        per_peer = total / n
    elif kind == "mesh":
        k = count("links", links)
        if n > k:
            raise ValueError(f"a full mesh with {k} links reaches at most {k} peers directly, not {n}")
        per_peer = total / k
    else:
        raise ValueError(f"topology must be 'switch' or 'mesh', got {topology!r}")
    return {"per_peer_bytes_s": per_peer, "aggregate_bytes_s": per_peer * n}


# ---------------------------------------------------------------------------- expert parallelism

def moe_alltoall_bytes(tokens: int, hidden: int, top_k: int = 1, bytes_per_value: float = 2) -> float:
    """Buffer of one MoE dispatch (or combine) AllToAll on one GPU: tokens · top_k · hidden · bytes.

    Every token this GPU holds is sent to each of its top-k experts as a hidden-size vector
    (dispatch), and the experts' outputs come back the same way (combine). This is the
    ``S`` that :func:`collective_time_s` takes for ``"alltoall"``; with experts spread
    evenly over n GPUs, (n−1)/n of it leaves the GPU. A training step does four such
    AllToAlls per MoE layer: dispatch and combine in forward, and both again in backward.
    Source: Lepikhin et al., "GShard" (2020), §2; Fedus et al., "Switch Transformers" (2021), §2.
    """
    return float(count("tokens", tokens) * count("top_k", top_k) * count("hidden", hidden)) * positive(
        "bytes_per_value", bytes_per_value)


def moe_alltoall_time_s(tokens: int, hidden: int, gpus: int, alpha_s: float, bandwidth_bytes_s: float,
                        top_k: int = 1, bytes_per_value: float = 2, alltoalls: int = 4) -> float:
    """α-β time of the AllToAlls of one MoE layer in one training step (``alltoalls`` of them, 4 by default).

    Each is (n−1)·α + (n−1)/n · S/B with S from :func:`moe_alltoall_bytes`.
    """
    size = moe_alltoall_bytes(tokens, hidden, top_k, bytes_per_value)
    return count("alltoalls", alltoalls) * collective_time_s("alltoall", size, gpus, alpha_s, bandwidth_bytes_s)


# ---------------------------------------------------------------------------- context parallelism

def ulysses_alltoall_bytes_per_gpu(seq_len: int, cp: int, hidden: int, kv_hidden: int | None = None,
                                   bytes_per_value: float = 2) -> float:
    """Bytes one GPU sends in the AllToAlls of one attention layer's forward pass under DeepSpeed-Ulysses.

    Each GPU holds s/cp tokens. Before attention, AllToAlls turn "my tokens, all heads" into
    "all tokens, my heads" for Q, K and V; after it, one more AllToAll turns the output back.
    Each moves (cp−1)/cp of a local s/cp × width tensor: width h for Q and the output,
    ``kv_hidden`` (= kv_heads · head_dim, h without GQA) for K and V. Total
    (s/cp) · (2h + 2·kv_hidden) · bytes · (cp−1)/cp — it shrinks as cp grows, so the per-GPU
    traffic stays flat when sequence and GPUs grow together. The degree cp cannot exceed
    the number of (KV) heads. Source: Jacobs et al., "DeepSpeed Ulysses" (2023), §3.
    """
    s, p, h = count("seq_len", seq_len), count("cp", cp), count("hidden", hidden)
    kv = h if kv_hidden is None else count("kv_hidden", kv_hidden)
    if s % p:
        raise ValueError(f"a sequence of {s} tokens does not split evenly over {p} GPUs")
    return (s / p) * (2 * h + 2 * kv) * positive("bytes_per_value", bytes_per_value) * (p - 1) / p


def ring_attention_kv_bytes_per_step(seq_len: int, cp: int, kv_hidden: int, bytes_per_value: float = 2) -> float:
    """Bytes a GPU passes to its ring neighbour at each of the cp−1 steps of ring attention:
    its current K and V blocks, 2 · (s/cp) · kv_hidden · bytes.

    Each GPU keeps its Q block and computes attention against one K/V block at a time while
    the next block arrives. Source: Liu, Zaharia and Abbeel, "Ring Attention with Blockwise
    Transformers for Near-Infinite Context" (2023), §3.
    """
    s, p = count("seq_len", seq_len), count("cp", cp)
    if s % p:
        raise ValueError(f"a sequence of {s} tokens does not split evenly over {p} GPUs")
    return 2.0 * (s / p) * count("kv_hidden", kv_hidden) * positive("bytes_per_value", bytes_per_value)


def ring_attention_min_chunk_tokens(peak_flop_s: float, bandwidth_bytes_s: float, heads: int, kv_heads: int,
                                    bytes_per_value: float = 2) -> float:
    """Smallest tokens-per-GPU chunk c for which ring attention hides its transfers behind compute.

    One step computes Q·Kᵀ and the weighted sum of V for a c × c block: 4·c²·heads·head_dim
    FLOPs, while 2·c·kv_heads·head_dim·bytes of K and V travel to the neighbour. The transfer
    hides when 4c²·H·d/F ≥ 2c·H_kv·d·b/B, i.e. c ≥ H_kv·b·F / (2·H·B) (head_dim cancels;
    with H_kv = H and 2-byte values it is the paper's c ≥ F/B). On H100s (989 TFLOP/s) over
    one 400 Gb/s NIC a GPU (50 GB/s) with full multi-head attention that is about 19,800
    tokens; with 8 KV heads of 64, about 2,470. Forward pass only (backward has more FLOPs
    per byte, so it hides more easily).
    Source: Liu, Zaharia and Abbeel (2023), §3 (block size against FLOPs and bandwidth).
    """
    f = positive("peak_flop_s", peak_flop_s)
    bw = positive("bandwidth_bytes_s", bandwidth_bytes_s)
    h, kv = count("heads", heads), count("kv_heads", kv_heads)
    if kv > h:
        raise ValueError(f"kv_heads ({kv}) cannot exceed heads ({h})")
    return kv * positive("bytes_per_value", bytes_per_value) * f / (2 * h * bw)


# ---------------------------------------------------------------------------- sharded data parallelism

def fsdp_bytes_per_gpu(params: float, shard_gpus: int, replicas: int = 1, reshard_after_forward: bool = True,
                       bytes_per_value: float = 2) -> dict[str, float]:
    """Bytes one GPU sends in one training step of FSDP (FSDP2 ``fully_shard``) or HSDP.

    Within the shard group of n = ``shard_gpus``: an AllGather of the parameters before
    forward, another before backward (skipped with ``reshard_after_forward=False``, which
    keeps the gathered weights like ZeRO-2), and a ReduceScatter of the gradients, each
    moving (n−1)/n · Ψ · bytes. With ``replicas`` > 1 (HSDP: a 2-D DeviceMesh, replicate ×
    shard) the gradient shard of Ψ/n is also AllReduced across the r replicas:
    2(r−1)/r · Ψ/n · bytes, usually over the slower inter-node network.
    Returns ``shard_group`` and ``replica_group`` bytes and their ``total``. Plain DDP
    (n = 1, r GPUs) is 2(r−1)/r · Ψ · bytes. Sources: ZeRO paper §7; PyTorch
    ``fully_shard`` documentation; Zhao et al., "PyTorch FSDP" (VLDB 2023), §3.
    """
    psi = positive("params", params)
    n, r = count("shard_gpus", shard_gpus), count("replicas", replicas)
    b = positive("bytes_per_value", bytes_per_value)
    gathers = 2 if reshard_after_forward else 1
    shard = (gathers + 1) * (n - 1) / n * psi * b
    replica = 2 * (r - 1) / r * psi / n * b
    return {"shard_group": shard, "replica_group": replica, "total": shard + replica}
