"""Lab: a small GPU-cluster scheduler simulation (pure Python, deterministic).

A cluster of ``nodes`` machines with ``gpus_per_node`` GPUs each receives
training jobs. A job is ``pods`` pods of ``gpus_per_pod`` GPUs and, like a
distributed training job, does useful work only when **all** its pods run
(the ranks wait for each other at the first collective).

Two scheduling policies:

- ``"per-pod"``: the default Kubernetes behaviour. Each pending pod is placed
  on its own as soon as it fits, and keeps its GPUs while it waits for its
  siblings. When two jobs arrive together their pods are queued interleaved
  (two controllers create pods at the same time), so each job can grab part of
  the cluster: neither can start, nothing ever finishes, and the cluster is
  *deadlocked* with GPUs allocated but idle.
- ``"gang"``: the Volcano/Kueue behaviour. A job is placed only if all its
  pods fit at once; otherwise it waits without holding anything. Queueing is
  best-effort FIFO (a later job that fits may start while the head waits),
  or strict FIFO with ``strict=True``.

Two placement rules for choosing among nodes that fit: ``"spread"`` (the
node with the most free GPUs, like the default scheduler's balanced scoring)
and ``"pack"`` (the node with the fewest free GPUs that still fits, a
bin-packing "MostAllocated" score). Spreading small jobs strands GPUs: free
GPUs exist but no node has enough for a whole-node pod (**fragmentation**).

Time moves in whole steps. At each step finished jobs release their GPUs,
new jobs arrive, the scheduler runs, then the state is recorded. Everything
is deterministic; :func:`random_jobs` draws a job mix from a seed.

Also here: small pure functions for the lesson's arithmetic: fragmentation
(:func:`pods_that_fit`, :func:`stranded_gpus`, :func:`fragmentation`), Kueue's
cohort accounting (:func:`kueue_available`, :func:`kueue_weighted_share`,
:func:`kueue_share_status`), its requeue backoff (:func:`kueue_requeue_delays`,
:func:`kueue_time_to_deactivation`) and the Topology Manager's admission rule
for devices (:func:`numa_admits`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:  # pandas is imported where a table is built, so the pure helpers load without it
    import pandas as pd


__all__ = [
    "Job", "SimResult", "simulate", "random_jobs", "deadlock_scenario", "fragmentation_scenario",
    "pods_that_fit", "stranded_gpus", "fragmentation", "kueue_available", "kueue_weighted_share",
    "kueue_share_status", "kueue_requeue_delays", "kueue_time_to_deactivation", "numa_admits",
    "TOPOLOGY_POLICIES", "jobs_table", "first_pass",
]

POLICIES = ("per-pod", "gang")
PLACEMENTS = ("spread", "pack")


@dataclass(frozen=True)
class Job:
    """A training job: ``pods`` pods of ``gpus_per_pod`` GPUs, running ``duration`` steps once all pods run."""

    name: str
    arrival: int
    pods: int
    gpus_per_pod: int
    duration: int

    def __post_init__(self):
        for attr in ("pods", "gpus_per_pod", "duration"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"job {self.name}: {attr} must be a whole number >= 1, got {value!r}")
        if isinstance(self.arrival, bool) or not isinstance(self.arrival, int) or self.arrival < 0:
            raise ValueError(f"job {self.name}: arrival must be a whole number >= 0, got {self.arrival!r}")

    @property
    def gpus(self) -> int:
        return self.pods * self.gpus_per_pod


@dataclass
class SimResult:
    """What happened: a row a step in ``timeline`` and a row a job in ``jobs``."""

    policy: str
    placement: str
    nodes: int
    gpus_per_node: int
    timeline: pd.DataFrame
    jobs: pd.DataFrame
    deadlocked: bool
    deadlock_time: int | None
    deadlocked_jobs: list[str]
    holders: dict[int, list[list[str]]] = field(repr=False, default_factory=dict)

    @property
    def total_gpus(self) -> int:
        return self.nodes * self.gpus_per_node

    @property
    def mean_utilisation(self) -> float:
        """Average fraction of GPUs doing useful work (held by running jobs) over the timeline."""
        return float(self.timeline["busy_gpus"].mean() / self.total_gpus) if len(self.timeline) else 0.0

    @property
    def finished(self) -> int:
        return int(self.jobs["end"].notna().sum())

    @property
    def makespan(self) -> int | None:
        """Step at which the last job finished, or None if some job never finished."""
        if self.jobs["end"].isna().any():
            return None
        return int(self.jobs["end"].max())

    def summary(self) -> dict:
        return {
            "policy": self.policy, "placement": self.placement,
            "jobs_finished": self.finished, "jobs": len(self.jobs),
            "mean_utilisation": round(self.mean_utilisation, 4),
            "deadlocked": self.deadlocked, "deadlock_time": self.deadlock_time,
            "deadlocked_jobs": list(self.deadlocked_jobs), "makespan": self.makespan,
            "mean_wait": float(self.jobs["wait"].mean()) if self.jobs["wait"].notna().any() else None,
        }


# --------------------------------------------------------------------------- small pure functions

def _counts(free: Iterable[int], pod_gpus: int) -> list[int]:
    values = list(free)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"free GPU counts must be whole numbers >= 0, got {v!r}")
    if isinstance(pod_gpus, bool) or not isinstance(pod_gpus, int) or pod_gpus < 1:
        raise ValueError(f"pod_gpus must be a whole number >= 1, got {pod_gpus!r}")
    return values


def pods_that_fit(free_per_node: Sequence[int], pod_gpus: int) -> int:
    """How many pods of ``pod_gpus`` GPUs fit, given each node's free GPUs (a pod cannot span nodes)."""
    return sum(v // pod_gpus for v in _counts(free_per_node, pod_gpus))


def stranded_gpus(free_per_node: Sequence[int], pod_gpus: int) -> int:
    """Free GPUs that cannot serve a ``pod_gpus`` pod: the remainder on each node after whole pods."""
    return sum(v % pod_gpus for v in _counts(free_per_node, pod_gpus))


def fragmentation(free_per_node: Sequence[int], pod_gpus: int) -> float:
    """Fraction of free GPUs stranded for ``pod_gpus``-GPU pods (0 when nothing is free).

    Example: free GPUs [3, 5, 0, 8] and 8-GPU pods: 8 of 16 free GPUs are usable, fragmentation 0.5.
    """
    values = _counts(free_per_node, pod_gpus)
    free = sum(values)
    return stranded_gpus(values, pod_gpus) / free if free else 0.0


def kueue_available(queue: str, queues: dict[str, dict]) -> float:
    """GPUs ClusterQueue ``queue`` can still admit without preemption, in a flat Kueue cohort (one flavor).

    ``queues`` maps each ClusterQueue of the cohort to ``{"nominal": ..., "usage": ...,
    "borrowing_limit": ... or None, "lending_limit": ... or None}``. A queue keeps
    ``nominal - lending_limit`` for itself (nothing when there is no lending
    limit); the rest of every queue's nominal quota forms the cohort's shared
    pool, and use beyond a queue's kept part draws on that pool. A queue can
    admit what is left of its kept part plus what is free in the pool, but never
    more than ``nominal + borrowing_limit - usage``. (Simplified from Kueue's
    cohort accounting; see the Kueue ClusterQueue docs.)
    """
    if queue not in queues:
        raise ValueError(f"unknown ClusterQueue {queue!r}; known: {', '.join(queues)}")
    pool = 0.0
    used_from_pool = 0.0
    kept = {}
    for name, q in queues.items():
        nominal, usage = float(q["nominal"]), float(q.get("usage", 0))
        if nominal < 0 or usage < 0:
            raise ValueError(f"{name}: nominal and usage must be >= 0")
        lend = q.get("lending_limit")
        lend = nominal if lend is None else min(float(lend), nominal)
        kept[name] = nominal - lend
        pool += lend
        used_from_pool += max(0.0, usage - kept[name])
    q = queues[queue]
    usage = float(q.get("usage", 0))
    available = max(0.0, kept[queue] - usage) + max(0.0, pool - used_from_pool)
    borrow = q.get("borrowing_limit")
    if borrow is not None:
        available = min(available, float(q["nominal"]) + float(borrow) - usage)
    return max(0.0, available)


def _per_resource(value, name: str) -> dict[str, float]:
    if isinstance(value, dict):
        return {str(k): float(v) for k, v in value.items()}
    return {name: float(value)}


def kueue_weighted_share(queue: str, queues: dict[str, dict], resource: str = "nvidia.com/gpu") -> float:
    """Kueue's Fair Sharing share of ``queue`` in a flat cohort (one flavor): a plain ratio, not x 1000.

    For each resource, the usage above the queue's nominal quota is divided by the cohort's
    lendable quota of that resource (the sum of every member's nominal quota, or of its
    ``lending_limit`` where that is lower); the share is the largest of these ratios (the
    *dominant* resource) divided by the queue's ``weight`` (default 1). A queue within its
    nominal quota has share 0; a weight of 0 makes any borrowing infinitely heavy.

    ``queues`` maps each ClusterQueue of the cohort to ``{"nominal": ..., "usage": ...,
    "lending_limit": ..., "weight": ...}``, where quantities are numbers (for ``resource``) or
    dicts by resource name. Source: Kueue's ``dominantResourceShare`` (pkg/cache/scheduler/fair_sharing.go).
    """
    if queue not in queues:
        raise ValueError(f"unknown ClusterQueue {queue!r}; known: {', '.join(queues)}")
    lendable: dict[str, float] = {}
    for name, q in queues.items():
        nominal = _per_resource(q["nominal"], resource)
        lend = _per_resource(q.get("lending_limit") or {}, resource)
        for r, n in nominal.items():
            if n < 0:
                raise ValueError(f"{name}: nominal quota must be >= 0")
            lendable[r] = lendable.get(r, 0.0) + min(n, lend.get(r, n))
    q = queues[queue]
    nominal = _per_resource(q["nominal"], resource)
    usage = _per_resource(q.get("usage", 0), resource)
    weight = float(q.get("weight", 1))
    if weight < 0:
        raise ValueError(f"{queue}: weight must be >= 0")
    ratio = 0.0
    for r, used in usage.items():
        borrowed = used - nominal.get(r, 0.0)
        if borrowed > 0 and lendable.get(r, 0.0) > 0:
            ratio = max(ratio, borrowed / lendable[r])
    if ratio == 0:
        return 0.0
    return math.inf if weight == 0 else ratio / weight


def kueue_share_status(queue: str, queues: dict[str, dict], resource: str = "nvidia.com/gpu") -> int | float:
    """What Kueue reports in ``status.fairSharing.weightedShare``: the share x 1000, rounded up."""
    share = kueue_weighted_share(queue, queues, resource)
    return share if math.isinf(share) else math.ceil(round(share * 1000, 9))


def kueue_requeue_delays(requeues: int, base_s: float = 60, cap_s: float = 3600) -> list[float]:
    """Seconds Kueue waits before each of the first ``requeues`` requeues: base x 2^(n-1), capped (no jitter).

    Defaults are Kueue's (backoffBaseSeconds 60, backoffMaxSeconds 3600).
    """
    if isinstance(requeues, bool) or not isinstance(requeues, int) or requeues < 0:
        raise ValueError(f"requeues must be a whole number >= 0, got {requeues!r}")
    if base_s < 0 or cap_s < 0:
        raise ValueError("base_s and cap_s must be >= 0")
    return [min(base_s * 2 ** (n - 1), cap_s) for n in range(1, requeues + 1)]


def kueue_time_to_deactivation(timeout_s: float, backoff_limit: int, base_s: float = 60, cap_s: float = 3600) -> float:
    """Seconds from first admission until Kueue deactivates a workload whose pods never become Ready.

    With ``waitForPodsReady`` and ``requeuingStrategy.backoffLimitCount = k``: the workload is
    admitted, times out, waits its backoff and is admitted again, k times; at the (k+1)-th timeout
    the limit is exceeded and it is deactivated. So (k + 1) timeouts plus k backoff delays,
    assuming each re-admission is immediate and ignoring jitter.
    """
    if timeout_s < 0:
        raise ValueError("timeout_s must be >= 0")
    return (backoff_limit + 1) * timeout_s + sum(kueue_requeue_delays(backoff_limit, base_s, cap_s))


TOPOLOGY_POLICIES = ("none", "best-effort", "restricted", "single-numa-node")


def numa_admits(policy: str, request: int, devices_per_numa: Sequence[int], free_per_numa: Sequence[int]) -> bool:
    """Does the kubelet's Topology Manager admit a pod asking for ``request`` devices (GPUs) of one kind?

    The device manager offers a hint for every set of NUMA nodes whose *free* devices cover the
    request, and marks *preferred* the hints whose size equals the smallest number of NUMA nodes
    whose *installed* devices could ever cover it. ``none`` and ``best-effort`` admit whenever
    the node has the devices free; ``restricted`` only if a preferred hint exists;
    ``single-numa-node`` only if one NUMA node has the devices free. CPUs are left out (they add
    hints only for Guaranteed pods with whole CPUs under the static CPU Manager).

    >>> numa_admits("restricted", 8, [4, 4], [4, 4])   # spanning is the narrowest possible
    True
    >>> numa_admits("restricted", 2, [4, 4], [1, 1])   # 2 fit one socket, but only split ones are free
    False
    """
    if policy not in TOPOLOGY_POLICIES:
        raise ValueError(f"policy must be one of {TOPOLOGY_POLICIES}, got {policy!r}")
    total, free = list(devices_per_numa), list(free_per_numa)
    if len(total) != len(free) or not total:
        raise ValueError("give installed and free device counts for the same NUMA nodes")
    for t, f in zip(total, free):
        if isinstance(t, bool) or isinstance(f, bool) or not isinstance(t, int) or not isinstance(f, int) or f < 0 or f > t:
            raise ValueError("device counts must be whole numbers with 0 <= free <= installed")
    if isinstance(request, bool) or not isinstance(request, int) or request < 1:
        raise ValueError(f"request must be a whole number >= 1, got {request!r}")
    if sum(free) < request:
        return False  # the device manager cannot allocate at all
    nodes = range(len(total))
    narrowest = min((k for k in range(1, len(total) + 1)
                     if any(sum(total[i] for i in mask) >= request for mask in combinations(nodes, k))),
                    default=None)
    fits = [mask for k in range(1, len(total) + 1) for mask in combinations(nodes, k)
            if sum(free[i] for i in mask) >= request]
    if policy in ("none", "best-effort"):
        return True
    if policy == "single-numa-node":
        return any(len(mask) == 1 for mask in fits)
    return narrowest is not None and any(len(mask) == narrowest for mask in fits)


def jobs_table(jobs: Sequence[Job]) -> pd.DataFrame:
    """The jobs of a scenario as a table (one row a job: arrival step, pods, GPUs a pod, GPUs, duration)."""
    import pandas as pd

    return pd.DataFrame([{"job": j.name, "arrival_step": j.arrival, "pods": j.pods, "gpus_per_pod": j.gpus_per_pod,
                          "gpus": j.gpus, "duration_steps": j.duration} for j in jobs])


# --------------------------------------------------------------------------- simulation

def _choose_node(free: list[int], need: int, placement: str) -> int | None:
    candidates = [i for i, f in enumerate(free) if f >= need]
    if not candidates:
        return None
    if placement == "spread":
        return max(candidates, key=lambda i: (free[i], -i))
    return min(candidates, key=lambda i: (free[i], i))


def _interleave(jobs: list[Job]) -> list[tuple[str, int]]:
    """Pods of jobs that arrive together, queued round-robin: (a0, b0, a1, b1, ...)."""
    out, longest = [], max((j.pods for j in jobs), default=0)
    for k in range(longest):
        for job in jobs:
            if k < job.pods:
                out.append((job.name, k))
    return out


def first_pass(jobs: Sequence[Job], nodes: int, gpus_per_node: int = 8, placement: str = "spread") -> dict:
    """The default (per-pod) scheduler's first pass over jobs that arrive together, without a simulation.

    Pods are taken round-robin over the jobs (first pod of each job, then second pods...) and each
    goes to a node by ``placement`` if one has room; a pod that does not fit is skipped (a later,
    smaller one may still fit). Returns ``{"allocated_gpus", "busy_gpus", "idle_allocated_gpus",
    "started", "stuck"}``: a job is busy when all its pods were placed, stuck when only some were.
    Equal to step 0 of :func:`simulate` with ``policy="per-pod"``.
    """
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    ordered = sorted(jobs, key=lambda j: (j.arrival, j.name))
    by_name = {j.name: j for j in ordered}
    free, placed = [gpus_per_node] * nodes, {j.name: 0 for j in ordered}
    for name, _k in _interleave(ordered):
        node = _choose_node(free, by_name[name].gpus_per_pod, placement)
        if node is not None:
            free[node] -= by_name[name].gpus_per_pod
            placed[name] += 1
    started = [j.name for j in ordered if placed[j.name] == j.pods]
    stuck = [j.name for j in ordered if 0 < placed[j.name] < j.pods]
    allocated = sum(placed[j.name] * j.gpus_per_pod for j in ordered)
    busy = sum(by_name[n].gpus for n in started)
    return {"allocated_gpus": allocated, "busy_gpus": busy, "idle_allocated_gpus": allocated - busy,
            "started": started, "stuck": stuck}


def simulate(jobs: Sequence[Job], nodes: int = 4, gpus_per_node: int = 8, policy: str = "per-pod",
             placement: str = "spread", strict: bool = False, horizon: int | None = None,
             watch_pod_gpus: int | None = None) -> SimResult:
    """Run the cluster until every job finishes or a deadlock is certain (or, if given, to step ``horizon``).

    ``watch_pod_gpus`` is the pod size used for the fragmentation column
    (default: the largest ``gpus_per_pod`` among the jobs).
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    for name, value in (("nodes", nodes), ("gpus_per_node", gpus_per_node)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    jobs = sorted(jobs, key=lambda j: (j.arrival, j.name))
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):
        raise ValueError("job names must be unique")
    for job in jobs:
        if job.gpus_per_pod > gpus_per_node:
            raise ValueError(f"job {job.name}: a pod of {job.gpus_per_pod} GPUs cannot fit a {gpus_per_node}-GPU node")
        if job.gpus > nodes * gpus_per_node:
            raise ValueError(f"job {job.name} needs {job.gpus} GPUs; the cluster has {nodes * gpus_per_node}")
    by_name = {j.name: j for j in jobs}
    watch = watch_pod_gpus or max((j.gpus_per_pod for j in jobs), default=gpus_per_node)
    run_to_horizon = horizon is not None
    if horizon is None:
        horizon = max((j.arrival for j in jobs), default=0) + sum(j.duration for j in jobs) + 1

    free = [gpus_per_node] * nodes
    holders: list[list[str]] = [[] for _ in range(nodes)]  # job name per allocated GPU slot
    placed: dict[str, list[int]] = {j.name: [] for j in jobs}  # node of each placed pod
    start: dict[str, int] = {}
    end: dict[str, int] = {}
    pod_queue: list[tuple[str, int]] = []  # per-pod policy
    job_queue: list[str] = []  # gang policy
    rows, snapshots = [], {}
    deadlock_time = None
    arrivals = {}
    for job in jobs:
        arrivals.setdefault(job.arrival, []).append(job)

    def place(job: Job, node: int) -> None:
        free[node] -= job.gpus_per_pod
        holders[node].extend([job.name] * job.gpus_per_pod)
        placed[job.name].append(node)

    t = 0
    while t <= horizon:
        # 1. finished jobs release their GPUs
        for name, finish in list(end.items()):
            if finish == t:
                job = by_name[name]
                for node in placed[name]:
                    free[node] += job.gpus_per_pod
                    for _ in range(job.gpus_per_pod):
                        holders[node].remove(name)
        # 2. arrivals
        new = arrivals.get(t, [])
        if policy == "per-pod":
            pod_queue.extend(_interleave(new))
        else:
            job_queue.extend(j.name for j in new)
        # 3. schedule
        if policy == "per-pod":
            waiting = []
            for name, k in pod_queue:
                node = _choose_node(free, by_name[name].gpus_per_pod, placement)
                if node is None:
                    waiting.append((name, k))
                else:
                    place(by_name[name], node)
            pod_queue = waiting
        else:
            still = []
            blocked = False
            for name in job_queue:
                job = by_name[name]
                trial, nodes_for = list(free), []
                for _ in range(job.pods):
                    node = _choose_node(trial, job.gpus_per_pod, placement)
                    if node is None:
                        break
                    trial[node] -= job.gpus_per_pod
                    nodes_for.append(node)
                if len(nodes_for) == job.pods and not blocked:
                    for node in nodes_for:
                        place(job, node)
                else:
                    still.append(name)
                    blocked = blocked or strict
            job_queue = still
        # 4. jobs whose pods are all placed start now
        for job in jobs:
            if job.name not in start and len(placed[job.name]) == job.pods:
                start[job.name] = t
                end[job.name] = t + job.duration
        # 5. record
        running = [n for n in start if end[n] > t]
        busy = sum(by_name[n].gpus for n in running)
        allocated = nodes * gpus_per_node - sum(free)
        partial = [j.name for j in jobs if 0 < len(placed[j.name]) < j.pods]
        pending = [j.name for j in jobs if j.arrival <= t and j.name not in start]
        rows.append({
            "t": t, "allocated_gpus": allocated, "busy_gpus": busy, "idle_allocated_gpus": allocated - busy,
            "free_gpus": sum(free), "stranded_gpus": stranded_gpus(free, watch),
            "fragmentation": fragmentation(free, watch), "running_jobs": len(running),
            "pending_jobs": len(pending), "partially_placed_jobs": len(partial),
        })
        snapshots[t] = [list(h) for h in holders]
        # 6. stop when done, or when stuck for good (nothing running, nothing can move)
        future = any(a > t for a in arrivals)
        if not running and partial and deadlock_time is None:
            queue_fits = any(_choose_node(free, by_name[n].gpus_per_pod, placement) is not None for n, _ in pod_queue)
            if not queue_fits:
                deadlock_time = t
        if not future and not running and not run_to_horizon:
            break
        t += 1

    import pandas as pd

    frame = pd.DataFrame(rows)
    job_rows = []
    for job in jobs:
        s = start.get(job.name)
        job_rows.append({"job": job.name, "arrival": job.arrival, "pods": job.pods, "gpus_per_pod": job.gpus_per_pod,
                         "gpus": job.gpus, "duration": job.duration, "start": s,
                         "end": end.get(job.name) if s is not None else None,
                         "wait": (s - job.arrival) if s is not None else None,
                         "pods_placed": len(placed[job.name])})
    job_frame = pd.DataFrame(job_rows)
    for column in ("start", "end", "wait"):
        job_frame[column] = job_frame[column].astype("Int64")
    stuck = [j.name for j in jobs if 0 < len(placed[j.name]) < j.pods and j.name not in start]
    return SimResult(policy=policy, placement=placement, nodes=nodes, gpus_per_node=gpus_per_node,
                     timeline=frame, jobs=job_frame, deadlocked=deadlock_time is not None and bool(stuck),
                     deadlock_time=deadlock_time if stuck else None, deadlocked_jobs=stuck, holders=snapshots)


# --------------------------------------------------------------------------- scenarios

def deadlock_scenario() -> list[Job]:
    """Four jobs for a 4-node, 32-GPU cluster: two 4-pod x 8-GPU training jobs arrive together at
    step 0, then a 1-pod fine-tune (8 GPUs, step 2) and a 4-GPU eval (step 3).

    Per-pod scheduling gives each big job two nodes: neither starts (deadlock), and the two small
    jobs find no free GPU. Gang scheduling runs one big job, then the other, then the small ones.
    """
    return [
        Job("train-a", 0, pods=4, gpus_per_pod=8, duration=10),
        Job("train-b", 0, pods=4, gpus_per_pod=8, duration=10),
        Job("finetune-c", 2, pods=1, gpus_per_pod=8, duration=4),
        Job("eval-d", 3, pods=1, gpus_per_pod=4, duration=3),
    ]


def random_jobs(n: int = 30, seed: int = 0, gang_share: float = 0.5, max_arrival: int = 40,
                gpus_per_node: int = 8, max_pods: int = 4) -> list[Job]:
    """A reproducible job mix: about ``gang_share`` multi-pod 8-GPU jobs, the rest small 1-4 GPU jobs."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number >= 1, got {n!r}")
    if not 0 <= gang_share <= 1:
        raise ValueError(f"gang_share must be in [0, 1], got {gang_share!r}")
    rng = random.Random(seed)
    jobs = []
    for i in range(n):
        arrival = rng.randint(0, max_arrival)
        if rng.random() < gang_share:
            jobs.append(Job(f"gang-{i:02d}", arrival, pods=rng.randint(2, max_pods), gpus_per_pod=gpus_per_node,
                            duration=rng.randint(5, 15)))
        else:
            jobs.append(Job(f"small-{i:02d}", arrival, pods=1, gpus_per_pod=rng.choice([1, 2, 4]),
                            duration=rng.randint(3, 12)))
    return jobs


def fragmentation_scenario(seed: int = 1, n_small: int = 16, n_whole: int = 4) -> list[Job]:
    """Many small 1-3 GPU jobs early, then whole-node 8-GPU jobs: spreading strands GPUs, packing does not."""
    rng = random.Random(seed)
    jobs = [Job(f"small-{i:02d}", rng.randint(0, 4), pods=1, gpus_per_pod=rng.choice([1, 2, 3]),
                duration=rng.randint(10, 20)) for i in range(n_small)]
    jobs += [Job(f"whole-{i}", 6 + i, pods=1, gpus_per_pod=8, duration=6) for i in range(n_whole)]
    return jobs
