"""System-design estimates: the numbers a design needs that the other modules do not give.

Power (IT load, PUE, racks), failures at scale (interruptions and MTBF from a per-GPU-day rate),
goodput with checkpoints, restarts and stragglers, sharded and asynchronous checkpoints and the
reads of a restore, fabrics of one to three switch tiers, the memory of a parallel layout per GPU,
in-network reduction, the data a training run reads, and the constraint that binds a design.

Everything else is reused, never retyped: 6·N·D and training time (:mod:`.compute`), model state
under ZeRO and 3D layouts (:mod:`.parallelism`), checkpoint size (:mod:`.storage`), ring AllReduce
(:mod:`.communication`), leaf-spine fabrics (:mod:`.network`), Young/Daly and cluster MTBF
(:mod:`.reliability`), cloud prices and the expected time of an interrupted run (:mod:`.cost`).

Units: watts (W), bytes, bytes/s, seconds unless a name says ``_hours``/``_days``, US dollars.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from . import communication, compute, cost, inference, memory, network, parallelism, reliability, storage
from ._validate import count, fraction, non_negative, positive

__all__ = [
    "CONSTRAINTS", "systems_needed", "it_power_w", "facility_power_w", "pue", "systems_per_rack", "racks_needed",
    "interruption_rate_per_gpu_day", "expected_interruptions_per_day", "job_mtbf_hours", "goodput",
    "sharded_write_bandwidth_bytes_s", "sharded_checkpoint_write_time_s", "async_checkpoint_stall_s",
    "restore_read_bytes", "fabric_tiers", "three_tier_fabric", "fabric_for_endpoints",
    "in_network_allreduce_time_s", "layout_memory_per_gpu", "candidate_layouts", "cheapest_layout",
    "training_tokens_per_s", "loader_workers_needed", "prefixes_needed", "origin_read_bytes_s",
    "cohort_allocation", "serving_design", "constraint_ratios", "binding_constraint", "training_design",
]

#: The five constraints a training-cluster design is checked against, in the order ties are broken.
CONSTRAINTS = ("memory", "network", "power", "budget", "time")


# ---------------------------------------------------------------------------------------- power

def systems_needed(gpus: int, gpus_per_system: int) -> int:
    """Servers (or racks, for a rack-scale system such as GB200 NVL72) that hold ``gpus`` GPUs: ⌈gpus ÷ per system⌉."""
    return math.ceil(count("gpus", gpus) / count("gpus_per_system", gpus_per_system))


def it_power_w(gpus: int, system_power_w: float, gpus_per_system: int, extra_fraction: float = 0.0) -> float:
    """IT load in watts: systems × each system's maximum power × (1 + an allowance for the rest).

    Count whole systems at their rated maximum (a DGX H100 is rated 10.2 kW for 8 GPUs, 1.275 kW a
    GPU, not the GPU's 700 W). ``extra_fraction`` is your allowance for switches, storage and
    management that the system rating leaves out (0 by default: no published constant fits every site).
    Source: NVIDIA DGX H100/H200 and DGX B200 user guides, power specifications.
    """
    extra = non_negative("extra_fraction", extra_fraction)
    return systems_needed(gpus, gpus_per_system) * positive("system_power_w", system_power_w) * (1.0 + extra)


def facility_power_w(it_power: float, pue_ratio: float) -> float:
    """Power the site draws from the grid: IT load × PUE (power usage effectiveness, ≥ 1).

    PUE = total facility power ÷ IT power (The Green Grid). Uptime Institute's 2024 survey put the
    industry average at 1.56; Google reports about 1.1 across its fleet.
    """
    ratio = positive("pue", pue_ratio)
    if ratio < 1:
        raise ValueError(f"PUE is total ÷ IT power and cannot be below 1, got {pue_ratio!r}")
    return positive("it_power", it_power) * ratio


def pue(facility_w: float, it_w: float) -> float:
    """Power usage effectiveness = total facility power ÷ IT power (both in the same unit)."""
    value = positive("facility_w", facility_w) / positive("it_w", it_w)
    if value < 1:
        raise ValueError(f"the facility cannot draw less than its IT load (PUE {value:.2f})")
    return value


def systems_per_rack(rack_power_limit_w: float, system_power_w: float, max_per_rack: int | None = None) -> int:
    """Systems one rack can hold within its power (and, optionally, space) limit: ⌊limit ÷ system power⌋.

    Raises ValueError when not even one system fits (a 120 kW NVL72 rack in a 40 kW row)."""
    fits = math.floor(positive("rack_power_limit_w", rack_power_limit_w) / positive("system_power_w", system_power_w))
    if max_per_rack is not None:
        fits = min(fits, count("max_per_rack", max_per_rack))
    if fits < 1:
        raise ValueError(f"one system of {system_power_w / 1e3:g} kW does not fit a rack limited to "
                         f"{rack_power_limit_w / 1e3:g} kW")
    return fits


def racks_needed(systems: int, rack_power_limit_w: float, system_power_w: float, max_per_rack: int | None = None) -> int:
    """Racks for ``systems`` servers when each rack holds :func:`systems_per_rack` of them."""
    return math.ceil(count("systems", systems) / systems_per_rack(rack_power_limit_w, system_power_w, max_per_rack))


# ---------------------------------------------------------------------------------------- failures

def interruption_rate_per_gpu_day(interruptions: int, gpus: int, days: float) -> float:
    """Interruptions a GPU-day observed on a fleet: interruptions ÷ (GPUs × days).

    Llama 3 405B: 419 unexpected interruptions on 16,384 GPUs in 54 days → 4.7e-4 a GPU-day
    (0.47 per 1,000 GPU-days). Source: "The Llama 3 Herd of Models" (2024), §3.3.4.
    """
    return count("interruptions", interruptions, minimum=0) / (count("gpus", gpus) * positive("days", days))


def expected_interruptions_per_day(gpus: int, rate_per_gpu_day: float) -> float:
    """Interruptions a day of a synchronous job on ``gpus`` GPUs: rate a GPU-day × GPUs.

    Any GPU's failure stops the whole job, so the rates add (the first failure among n independent
    exponential clocks comes at n·λ): :func:`infraprep.estimates.cost.job_interruption_rate`.
    """
    return cost.job_interruption_rate(rate_per_gpu_day, gpus)


def job_mtbf_hours(gpus: int, rate_per_gpu_day: float) -> float:
    """Mean hours between interruptions of a job on ``gpus`` GPUs: one GPU's MTBF (24 ÷ rate hours) ÷ GPUs.

    Llama 3's rate on 16,384 GPUs gives 3.1 h; at 100,000 GPUs the same hardware fails every 31 minutes.
    Uses :func:`infraprep.estimates.reliability.cluster_mtbf`.
    """
    return reliability.cluster_mtbf(24.0 / positive("rate_per_gpu_day", rate_per_gpu_day), gpus)


def goodput(checkpoint_interval: float, checkpoint_stall: float, mtbf: float, restart: float,
            straggler_slowdown: float = 0.0) -> dict[str, float]:
    """Share of wall-clock time that makes training progress, and where the rest goes (same time unit throughout).

    A job checkpoints every τ of work, each checkpoint stalls it δ (the blocking part: all of the write
    for a synchronous checkpoint, the copy to host memory for an asynchronous one); failures arrive
    every MTBF on average and each costs the work since the last checkpoint (τ/2 on average) plus the
    restart R; stragglers make every step (1 + s) times as long as it should be. Wall time per unit of
    work is (1 + s)(1 + δ/τ) ÷ (1 − (τ/2 + R)/MTBF) (the first-order model of
    :func:`infraprep.estimates.cost.spot_expected_hours`).

    Returns fractions of wall time that add up to 1: ``goodput``, ``checkpointing``, ``rework``,
    ``restart`` and ``stragglers``. Sources: Young (CACM 1974); Daly (FGCS 2006); Google Cloud, "ML
    Productivity Goodput" (2024) for the name.
    """
    tau, delta = positive("checkpoint_interval", checkpoint_interval), non_negative("checkpoint_stall", checkpoint_stall)
    m, r = positive("mtbf", mtbf), non_negative("restart", restart)
    s = non_negative("straggler_slowdown", straggler_slowdown)
    # expected wall time for one unit of work, stragglers aside (raises when failures outpace progress)
    wall = cost.spot_expected_hours(1.0, 1.0 / m, tau, r, delta)
    computing = 1.0 / wall  # share of wall time spent running steps: (1 − (τ/2 + R)/M) ÷ (1 + δ/τ)
    useful = computing / (1 + s)
    checkpointing = computing * delta / tau
    return {"goodput": useful, "checkpointing": checkpointing, "rework": (tau / 2) / m, "restart": r / m,
            "stragglers": computing - useful}


# ---------------------------------------------------------------------------------------- checkpoints

def sharded_write_bandwidth_bytes_s(writers: int, per_writer_bytes_s: float, storage_limit_bytes_s: float = math.inf) -> float:
    """Aggregate write rate of a sharded checkpoint: every writer at its own rate, capped by the storage.

    min(writers × per-writer rate, what the storage tier absorbs). A per-writer rate is what one GPU
    or node gets (its NIC, or its local NVMe); the cap is the file system's or object store's
    aggregate. Source: PyTorch Distributed Checkpoint (each rank saves its own shards).
    """
    limit = positive("storage_limit_bytes_s", storage_limit_bytes_s) if storage_limit_bytes_s != math.inf else math.inf
    return min(count("writers", writers) * positive("per_writer_bytes_s", per_writer_bytes_s), limit)


def sharded_checkpoint_write_time_s(checkpoint_size_bytes: float, writers: int, per_writer_bytes_s: float,
                                    storage_limit_bytes_s: float = math.inf) -> float:
    """Seconds to write a checkpoint split evenly over ``writers`` ranks (see :func:`sharded_write_bandwidth_bytes_s`).

    Llama 3 405B: 405e9 × 14 bytes = 5.7 TB; at Tectonic's 2 TB/s sustained that is 2.8 s, at a
    200 GB/s file system 28 s. Uses :func:`infraprep.estimates.storage.checkpoint_write_time_s`.
    """
    rate = sharded_write_bandwidth_bytes_s(writers, per_writer_bytes_s, storage_limit_bytes_s)
    return storage.checkpoint_write_time_s(positive("checkpoint_size_bytes", checkpoint_size_bytes), rate)


def async_checkpoint_stall_s(shard_bytes: float, device_to_host_bytes_s: float) -> float:
    """Seconds an asynchronous checkpoint stops training: copying this GPU's shard to host memory.

    The upload to storage then runs in the background while training continues (PyTorch DCP
    ``async_save``: a staging future, then an upload future). PCIe Gen5 x16 moves about 63 GB/s each way.
    """
    return communication.transfer_time_s(non_negative("shard_bytes", shard_bytes), device_to_host_bytes_s)


def restore_read_bytes(params: float, data_parallel: int, read_once_and_broadcast: bool = False,
                       weight_bytes: float = memory.WEIGHT_BYTES, optimizer_bytes: float = memory.OPTIMIZER_BYTES) -> float:
    """Bytes a restart reads from storage when optimizer state is sharded over the data-parallel replicas.

    The optimizer state (12 bytes a parameter) is read once in total; the BF16 weights (2 bytes) are
    needed by every replica. If each of the d replicas reads them from storage, that is 2Ψ·d; if one
    replica reads them and broadcasts over the fabric, 2Ψ. Loading into a different layout
    (resharding, e.g. after losing nodes) reads the same bytes at other offsets: PyTorch DCP plans
    load-time resharding so each rank reads only the ranges it needs.
    """
    psi, d = positive("params", params), count("data_parallel", data_parallel)
    weights = positive("weight_bytes", weight_bytes) * psi
    return weights * (1 if read_once_and_broadcast else d) + positive("optimizer_bytes", optimizer_bytes) * psi


# ---------------------------------------------------------------------------------------- fabrics

def fabric_tiers(endpoints: int, radix: int) -> int:
    """Switch tiers a non-blocking folded-Clos fabric of ``radix``-port switches needs for ``endpoints`` ports.

    One switch holds k endpoints; two tiers k²/2; three tiers k³/4 (Al-Fares et al., SIGCOMM 2008).
    Radix 64 (Quantum-2 QM9700, 64 × 400 Gb/s): 64 / 2,048 / 65,536. Radix 144 (Quantum-X800 Q3400,
    144 × 800 Gb/s): 144 / 10,368 / 746,496. Raises ValueError beyond three tiers.
    """
    e, k = count("endpoints", endpoints), count("radix", radix, minimum=2)
    if k % 2:
        raise ValueError("radix must be even")
    for tiers, capacity in ((1, k), (2, k * k // 2), (3, k ** 3 // 4)):
        if e <= capacity:
            return tiers
    raise ValueError(f"{e} endpoints exceed a three-tier fabric of radix {k} ({k ** 3 // 4}); use a larger radix or four tiers")


def three_tier_fabric(endpoints: int, radix: int, core_oversubscription: float = 1.0) -> dict[str, int]:
    """Switches and links of a three-tier fat tree (leaf, spine, core) for ``endpoints`` ports.

    Leaves are non-blocking: k/2 ports down, k/2 up, one uplink to each of the pod's k/2 spines.
    Each spine splits its k ports d down (one per leaf of its pod) and u up to the core, d/u =
    ``core_oversubscription`` (1 = non-blocking). So a pod holds d leaves and d·k/2 endpoints;
    leaves = ⌈E ÷ k/2⌉, spines = ⌈leaves ÷ d⌉ · k/2, cores = ⌈spines · u ÷ k⌉; at most k pods.

    Non-blocking with k = 64 this gives 512 leaves, 512 spines and 256 core switches for 16,384
    GPUs, as the DGX SuperPOD B200 reference architecture lists. Returns ``endpoints, pods, leaves,
    spines, cores, switches, endpoint_links, leaf_spine_links, spine_core_links``.
    """
    e, k = count("endpoints", endpoints), count("radix", radix, minimum=2)
    if k % 2:
        raise ValueError("radix must be even")
    down, up = network._split(k, core_oversubscription)  # the spine's ports towards leaves and towards the core
    half = k // 2
    leaves = math.ceil(e / half)
    pods = math.ceil(leaves / down)
    if pods > k:
        raise ValueError(f"{e} endpoints need {pods} pods; a radix-{k} core connects at most {k}")
    spines = pods * half
    cores = math.ceil(spines * up / k)
    return {"endpoints": e, "pods": pods, "leaves": leaves, "spines": spines, "cores": cores,
            "switches": leaves + spines + cores, "endpoint_links": e, "leaf_spine_links": leaves * half,
            "spine_core_links": spines * up}


def fabric_for_endpoints(endpoints: int, radix: int) -> dict[str, int]:
    """The smallest non-blocking fabric for ``endpoints``: one switch, a leaf-spine, or a three-tier fat tree.

    Returns ``tiers, leaves, spines, cores, switches`` (unused tiers 0). Uses
    :func:`infraprep.estimates.network.leaf_spine_for_hosts` for two tiers.
    """
    tiers = fabric_tiers(endpoints, radix)
    if tiers == 1:
        return {"tiers": 1, "leaves": 1, "spines": 0, "cores": 0, "switches": 1}
    if tiers == 2:
        two = network.leaf_spine_for_hosts(endpoints, radix)
        return {"tiers": 2, "leaves": two["leaves"], "spines": two["spines"], "cores": 0, "switches": two["switches"]}
    three = three_tier_fabric(endpoints, radix)
    return {"tiers": 3, "leaves": three["leaves"], "spines": three["spines"], "cores": three["cores"],
            "switches": three["switches"]}


def in_network_allreduce_time_s(message_bytes: float, bandwidth_bytes_s: float, latency_s: float = 0.0) -> float:
    """AllReduce time when the switches reduce the data (InfiniBand SHARP, NVLink SHARP / NVLS): S/B + latency.

    Each GPU sends its S bytes up the tree once and receives the reduced S bytes once, instead of the
    ring's 2(n−1)/n · S each way, so large messages go up to 2(n−1)/n ≈ 2× faster, and the latency
    term does not grow with n. (Switches run few reductions at once: one active streaming tree a
    switch on Quantum HDR, one a port on Quantum-2, so jobs are kept to their rails.) Sources: NVIDIA
    SHARP documentation; NCCL 2.18 release notes (NVLS, NVLSTree).
    """
    return communication.transfer_time_s(positive("message_bytes", message_bytes), bandwidth_bytes_s, latency_s)


# ---------------------------------------------------------------------------------------- layouts

def layout_memory_per_gpu(params: float, gpus: int, tensor_parallel: int, pipeline_parallel: int, zero_stage: int,
                          layers: int = 0, hidden: int = 0, heads: int = 0, seq_len: int = 0, micro_batch: int = 1,
                          recompute: str = "full", microbatches_in_flight: int | None = None) -> dict[str, float]:
    """Bytes each GPU holds under a tensor × pipeline × data layout: model state plus stored activations.

    Model state: :func:`infraprep.estimates.parallelism.model_state_bytes_per_gpu` (16 bytes a parameter,
    split t·p ways, the optimizer (ZeRO-1), gradients (ZeRO-2) and weights (ZeRO-3) sharded over the d
    data-parallel replicas). Activations: the first pipeline stage holds ⌈layers ÷ p⌉ layers for
    ``microbatches_in_flight`` micro-batches (p under the 1F1B schedule), each layer's bytes from
    :func:`infraprep.estimates.parallelism.activation_bytes_per_layer` (``recompute="full"`` keeps only
    each layer's input). Pass ``layers=0`` to count model state alone. Returns ``model_state``,
    ``activations`` and ``total`` (bytes).
    """
    state = parallelism.model_state_bytes_per_gpu(params, gpus, tensor_parallel, pipeline_parallel, zero_stage)
    acts = 0.0
    if count("layers", layers, minimum=0):
        in_flight = pipeline_parallel if microbatches_in_flight is None else count("microbatches_in_flight", microbatches_in_flight)
        per_layer = parallelism.activation_bytes_per_layer(seq_len, micro_batch, hidden, heads, tensor_parallel, recompute)
        acts = per_layer * math.ceil(layers / pipeline_parallel) * in_flight
    return {"model_state": state, "activations": acts, "total": state + acts}


def candidate_layouts(params: float, gpus: int, memory_gb: float, tensor_options: Iterable[int] = (1, 2, 4, 8),
                      pipeline_options: Iterable[int] = (1, 2, 4, 8, 16, 32), zero_stage: int = 1,
                      usable_fraction: float = 0.9, **activations) -> list[dict]:
    """Every (t, p) layout of ``gpus`` (t·p must divide it) with its memory per GPU and whether it fits.

    ``activations`` are passed to :func:`layout_memory_per_gpu` (``layers``, ``hidden``, ``heads``,
    ``seq_len``, ``micro_batch``, ``recompute``). A layout fits when its total is at most
    ``memory_gb`` (decimal) × ``usable_fraction`` (the rest goes to the CUDA context, NCCL buffers and
    fragmentation). Rows: ``tensor, pipeline, data, model_parallel, model_state_gb, activations_gb,
    total_gb, fits``, cheapest first (see :func:`cheapest_layout`).
    """
    rows = []
    for t in sorted(set(tensor_options)):
        for p in sorted(set(pipeline_options)):
            if count("gpus", gpus) % (count("tensor", t) * count("pipeline", p)):
                continue
            mem = layout_memory_per_gpu(params, gpus, t, p, zero_stage, **activations)
            rows.append({"tensor": t, "pipeline": p, "data": gpus // (t * p), "model_parallel": t * p,
                         "model_state_gb": mem["model_state"] / 1e9, "activations_gb": mem["activations"] / 1e9,
                         "total_gb": mem["total"] / 1e9,
                         "fits": memory.fits(mem["total"], memory_gb, usable_fraction)})
    rows.sort(key=lambda row: (row["model_parallel"], row["pipeline"]))
    return rows


def cheapest_layout(params: float, gpus: int, memory_gb: float, tensor_options: Iterable[int] = (1, 2, 4, 8),
                    pipeline_options: Iterable[int] = (1, 2, 4, 8, 16, 32), zero_stage: int = 1,
                    usable_fraction: float = 0.9, **activations) -> tuple[int, int] | None:
    """The layout (t, p) that fits in memory with the least model parallelism, or None if none fits.

    "Cheapest" means the smallest t·p (the most data parallelism, so the least per-layer
    communication and the smallest pipeline bubble); between equal t·p, the smaller p (pipeline
    bubbles cost more than tensor-parallel traffic that stays inside the NVLink domain). Keep t within
    the NVLink domain (8 on an HGX node) by what you pass as ``tensor_options``.
    """
    for row in candidate_layouts(params, gpus, memory_gb, tensor_options, pipeline_options, zero_stage,
                                 usable_fraction, **activations):
        if row["fits"]:
            return row["tensor"], row["pipeline"]
    return None


# ---------------------------------------------------------------------------------------- data

def training_tokens_per_s(params: float, gpus: int, peak_flop_s_per_gpu: float, mfu: float) -> float:
    """Tokens a second a training run consumes: GPUs × peak × MFU ÷ 6N (the inverse of 6·N·D per token).

    Uses :func:`infraprep.estimates.compute.training_time_s` for one token.
    """
    return 1.0 / compute.training_time_s(params, 1, gpus, peak_flop_s_per_gpu, mfu)


def loader_workers_needed(samples_per_s: float, samples_per_s_per_worker: float) -> int:
    """Data-loader worker processes to keep up: ⌈samples a second needed ÷ what one worker decodes⌉."""
    return math.ceil(positive("samples_per_s", samples_per_s) / positive("samples_per_s_per_worker", samples_per_s_per_worker) - 1e-12)


def prefixes_needed(requests_per_s: float, per_prefix_limit: float) -> int:
    """Object-store key prefixes to spread the load over: ⌈requests a second ÷ each prefix's limit⌉.

    Amazon S3 supports at least 5,500 GET/HEAD requests a second per partitioned prefix.
    """
    return math.ceil(positive("requests_per_s", requests_per_s) / positive("per_prefix_limit", per_prefix_limit) - 1e-12)


def origin_read_bytes_s(total_read_bytes_s: float, cache_hit_rate: float) -> float:
    """Read rate that reaches the origin (object storage) behind a cache: total × (1 − hit rate)."""
    return non_negative("total_read_bytes_s", total_read_bytes_s) * (1.0 - fraction("cache_hit_rate", cache_hit_rate, allow_zero=True))


# ---------------------------------------------------------------------------------------- platform and serving

def cohort_allocation(nominal: Mapping[str, int], demand: Mapping[str, int],
                      borrowing_limit: Mapping[str, int] | None = None, lending_limit: Mapping[str, int] | None = None,
                      weights: Mapping[str, float] | None = None) -> dict[str, int]:
    """GPUs each queue of a cohort gets when queues lend unused quota and borrow it, in whole GPUs.

    A sketch of Kueue's ClusterQueues in one cohort: each queue first uses its own ``nominalQuota``
    (up to its demand); the unused part of each quota, up to that queue's ``lendingLimit``, forms a
    pool; queues that want more borrow from the pool, each up to its ``borrowingLimit``, shared by
    max-min fairness (weighted by ``weights``, Kueue's fair-sharing weight; ties in the mappings'
    order). Kueue admits whole workloads rather than GPUs, so real allocations are lumpier; a lender
    whose demand returns reclaims its quota by preemption (``reclaimWithinCohort``). Sources: Kueue
    documentation, ClusterQueue and fair sharing.
    """
    teams = list(nominal)
    if set(demand) != set(teams):
        raise ValueError("nominal and demand must name the same queues")
    own = {t: min(count(f"demand of {t}", demand[t], minimum=0), count(f"nominal quota of {t}", nominal[t], minimum=0))
           for t in teams}

    def limit(table: Mapping[str, int] | None, team: str) -> float:
        return math.inf if table is None or table.get(team) is None else count(f"limit of {team}", table[team], minimum=0)

    pool = sum(min(nominal[t] - own[t], limit(lending_limit, t)) for t in teams)
    want = {t: min(demand[t] - own[t], limit(borrowing_limit, t)) for t in teams}
    weight = {t: positive(f"weight of {t}", (weights or {}).get(t, 1.0)) for t in teams}
    borrowed = dict.fromkeys(teams, 0)
    while pool > 0:
        hungry = [t for t in teams if borrowed[t] < want[t]]
        if not hungry:
            break
        neediest = min(hungry, key=lambda t: (borrowed[t] / weight[t], teams.index(t)))
        borrowed[neediest] += 1
        pool -= 1
    return {t: own[t] + borrowed[t] for t in teams}


def serving_design(requests_per_s: float, prompt_tokens: float, output_tokens: float, params: float, layers: int,
                   kv_heads: int, head_dim: int, gpu_memory_gb: float, bandwidth_bytes_s: float, peak_flop_s: float,
                   gpus_per_replica: int, tpot_slo_s: float, weight_bytes_per_param: float = 2,
                   kv_bytes_per_value: float = 2, prefill_mfu: float = 0.5, decode_mbu: float = 1.0,
                   headroom: float = 1.0, usable_memory_fraction: float = 0.9,
                   usd_per_gpu_hour: float | None = None, prefix_cache_hit_rate: float = 0.0) -> dict[str, float | str]:
    """The napkin numbers of an LLM serving fleet for one model, from lesson 8's formulas.

    A replica is ``gpus_per_replica`` GPUs (tensor parallel: their memory, bandwidth and FLOP/s add).
    Its decode batch is the smaller of what the free memory holds as KV cache (whole sequences of
    prompt + output tokens) and the largest batch whose step time meets the TPOT SLO at the mean
    context (prompt + half the output). Decode replicas serve requests/s × output tokens with
    ``headroom``; prefill needs requests/s × 2·N·prompt FLOPs at ``prefill_mfu``, counted as
    separate GPUs (as a disaggregated fleet would, and the same GPU-time a mixed one spends).
    ``prefix_cache_hit_rate`` is the share of prompt tokens whose KV cache is reused (shared system
    prompts, chat history): they skip prefill but still occupy the KV cache. Uses :mod:`infraprep.estimates.inference` and :mod:`infraprep.estimates.memory`.

    Returns ``weights_gb``, ``kv_bytes_per_token``, ``kv_free_gb``, ``batch_kv``, ``batch_tpot``,
    ``batch``, ``batch_limited_by`` ("kv cache" or "TPOT SLO"), ``tpot_s``, ``tokens_per_s_per_replica``,
    ``decode_replicas``, ``prefill_gpus``, ``gpus``, ``ttft_prefill_s``, ``concurrency`` (Little's law),
    ``concurrency_capacity`` and, with a price, ``usd_per_hour``, ``usd_per_million_output_tokens`` and
    ``usd_per_million_tokens`` (input and output).
    """
    g = count("gpus_per_replica", gpus_per_replica)
    weights = memory.weights_bytes(params, weight_bytes_per_param)
    kv_token = memory.kv_cache_bytes_per_token(layers, kv_heads, head_dim, kv_bytes_per_value)
    replica_memory = positive("gpu_memory_gb", gpu_memory_gb) * 1e9 * fraction("usable_memory_fraction", usable_memory_fraction) * g
    free = replica_memory - weights
    if free <= 0:
        raise ValueError(f"the weights ({weights / 1e9:,.0f} GB) do not fit in {g} GPU(s); quantise or add GPUs")
    prompt, out = positive("prompt_tokens", prompt_tokens), positive("output_tokens", output_tokens)
    mean_context = prompt + out / 2
    peak, bandwidth = positive("peak_flop_s", peak_flop_s) * g, positive("bandwidth_bytes_s", bandwidth_bytes_s) * g
    batch_kv = inference.kv_capacity_sequences(free, prompt + out, kv_token)
    batch_tpot = inference.max_batch_for_tpot(tpot_slo_s, params, weights, peak, bandwidth, mean_context, kv_token,
                                              mfu=prefill_mfu, mbu=decode_mbu)
    batch = min(batch_kv, batch_tpot)
    if batch < 1:
        raise ValueError("no batch meets the TPOT SLO with this memory: use more GPUs a replica or a faster GPU")
    step = inference.decode_step_time_s(params, weights, batch, peak, bandwidth, mean_context, kv_token,
                                        mfu=prefill_mfu, mbu=decode_mbu)
    _, per_replica = inference.decode_tokens_per_s(step, batch)
    replicas = inference.replicas_for_load(requests_per_s, out, per_replica, headroom)
    computed = prompt * (1.0 - fraction("prefix_cache_hit_rate", prefix_cache_hit_rate, allow_zero=True))
    if computed <= 0:
        raise ValueError("prefix_cache_hit_rate must leave some prompt tokens to prefill (below 1)")
    prefill_gpu_s = inference.prefill_time_s(params, computed, peak_flop_s, prefill_mfu)  # on one GPU
    prefill_gpus = math.ceil(positive("requests_per_s", requests_per_s) * prefill_gpu_s * headroom / g - 1e-12) * g
    ttft = inference.prefill_time_s(params, computed, peak, prefill_mfu)
    out_dict: dict[str, float | str] = {
        "weights_gb": weights / 1e9, "kv_bytes_per_token": kv_token, "kv_free_gb": free / 1e9,
        "batch_kv": float(batch_kv), "batch_tpot": float(batch_tpot), "batch": float(batch),
        "batch_limited_by": "kv cache" if batch_kv <= batch_tpot else "TPOT SLO",
        "tpot_s": step, "tokens_per_s_per_replica": per_replica, "decode_replicas": float(replicas),
        "decode_gpus": float(replicas * g), "prefill_gpus": float(prefill_gpus), "gpus": float(replicas * g + prefill_gpus),
        "ttft_prefill_s": ttft,
        "concurrency": inference.littles_law_concurrency(requests_per_s, ttft + out * step),
        "concurrency_capacity": float(replicas * batch),
    }
    if usd_per_gpu_hour is not None:
        hourly = out_dict["gpus"] * positive("usd_per_gpu_hour", usd_per_gpu_hour)
        out_dict["usd_per_hour"] = hourly
        out_dict["usd_per_million_output_tokens"] = inference.cost_per_million_tokens(hourly, requests_per_s * out)
        out_dict["usd_per_million_tokens"] = inference.cost_per_million_tokens(hourly, requests_per_s * (prompt + out))
    return out_dict


# ---------------------------------------------------------------------------------------- binding constraint

def constraint_ratios(needs: Mapping[str, float], limits: Mapping[str, float]) -> dict[str, float]:
    """need ÷ limit for every named constraint (above 1: the design does not fit on that constraint)."""
    missing = sorted(set(needs) ^ set(limits))
    if missing:
        raise ValueError(f"needs and limits must name the same constraints; unmatched: {', '.join(missing)}")
    return {name: non_negative(f"need for {name}", needs[name]) / positive(f"limit for {name}", limits[name])
            for name in needs}


def binding_constraint(ratios: Mapping[str, float]) -> str:
    """The constraint with the largest need ÷ limit: the one that binds first as the design grows.

    Ties go to the earlier name in :data:`CONSTRAINTS` (then in the mapping's order)."""
    if not ratios:
        raise ValueError("give at least one constraint")
    rank = {name: i for i, name in enumerate(CONSTRAINTS)}
    names = sorted(ratios, key=lambda name: rank.get(name, len(CONSTRAINTS)))  # stable: mapping order after
    best = names[0]
    for name in names[1:]:
        if non_negative(name, ratios[name]) > non_negative(best, ratios[best]):
            best = name
    return best


def training_design(
    params: float, tokens: float, gpus: int, gpu_memory_gb: float, peak_flop_s_per_gpu: float, mfu: float,
    tensor_parallel: int, pipeline_parallel: int, zero_stage: int, nvlink_domain: int,
    link_bytes_s_per_gpu: float, system_power_w: float, gpus_per_system: int, pue_ratio: float,
    site_power_w: float, usd_per_gpu_hour: float, budget_usd: float, deadline_days: float,
    global_batch_tokens: float = 16e6, goodput_fraction: float = 1.0, usable_memory_fraction: float = 0.9,
    **activations,
) -> dict[str, float | str | bool]:
    """The napkin numbers of a training-cluster design and which constraint binds.

    - memory: :func:`layout_memory_per_gpu` ÷ usable HBM;
    - network: the larger of (a) one step's data-parallel ring AllReduce of the BF16 gradients of a
      model-parallel shard (2Ψ/(t·p) bytes over d ranks at the per-GPU scale-out bandwidth) ÷ the
      step's compute time (above 1 it can no longer hide behind compute), and (b) t ÷ the NVLink
      domain when t exceeds it (tensor parallelism that leaves the NVLink domain);
    - power: IT load (:func:`it_power_w`) × PUE ÷ the site's power;
    - budget: GPU-hours ÷ goodput × price ÷ budget;
    - time: wall-clock days ÷ goodput ÷ the deadline.

    Returns the figures (``data_parallel``, ``memory_gb_per_gpu``, ``step_compute_s``,
    ``dp_allreduce_s``, ``facility_power_w``, ``cost_usd``, ``days``...), the five ``ratio_<name>``
    values, ``binding`` (the name) and ``fits`` (every ratio ≤ 1).
    """
    d = parallelism.data_parallel_size(gpus, tensor_parallel, pipeline_parallel)
    good = fraction("goodput_fraction", goodput_fraction)
    mem = layout_memory_per_gpu(params, gpus, tensor_parallel, pipeline_parallel, zero_stage, **activations)
    usable = positive("gpu_memory_gb", gpu_memory_gb) * 1e9 * fraction("usable_memory_fraction", usable_memory_fraction)
    step = compute.training_time_s(params, global_batch_tokens, gpus, peak_flop_s_per_gpu, mfu)
    gradient_bytes = memory.GRADIENT_BYTES * positive("params", params) / (tensor_parallel * pipeline_parallel)
    allreduce = 0.0 if d == 1 else communication.ring_allreduce_time_s(gradient_bytes, d, 0.0, link_bytes_s_per_gpu)
    it = it_power_w(gpus, system_power_w, gpus_per_system)
    site = facility_power_w(it, pue_ratio)
    run = cost.training_run(params, tokens, gpus, peak_flop_s_per_gpu, mfu, usd_per_gpu_hour)
    days = run["wall_time_days"] / good
    spend = run["cost_usd"] / good
    spill = tensor_parallel / count("nvlink_domain", nvlink_domain)
    needs = {"memory": mem["total"], "network": max(allreduce / step, spill if spill > 1 else 0.0),
             "power": site, "budget": spend, "time": days}
    limits = {"memory": usable, "network": 1.0, "power": positive("site_power_w", site_power_w),
              "budget": positive("budget_usd", budget_usd), "time": positive("deadline_days", deadline_days)}
    ratios = constraint_ratios(needs, limits)
    out: dict[str, float | str | bool] = {
        "data_parallel": float(d), "model_state_gb_per_gpu": mem["model_state"] / 1e9,
        "activations_gb_per_gpu": mem["activations"] / 1e9, "memory_gb_per_gpu": mem["total"] / 1e9,
        "usable_memory_gb": usable / 1e9, "step_compute_s": step, "dp_allreduce_s": allreduce,
        "it_power_w": it, "facility_power_w": site, "gpu_hours": run["gpu_hours"] / good, "cost_usd": spend,
        "days": days,
    }
    out.update({f"ratio_{name}": value for name, value in ratios.items()})
    out["binding"] = binding_constraint(ratios)
    out["fits"] = all(value <= 1.0 for value in ratios.values())
    return out
