"""Lab: a real ring AllReduce between worker processes on this machine.

Each worker is a separate OS process holding its own NumPy buffer. Neighbours are
joined by one-way pipes (rank r writes to rank r+1), and the buffer is cut into n
chunks. The algorithm is the one NCCL's ring uses, in two phases of n−1 steps:

1. **reduce-scatter**: at step k rank r sends chunk (r−k) mod n to its right
   neighbour and adds the chunk (r−k−1) mod n that arrives from its left; after
   n−1 steps rank r holds the complete sum of chunk (r+1) mod n;
2. **all-gather**: at step k rank r forwards chunk (r+1−k) mod n and overwrites
   chunk (r−k) mod n with what arrives, so after n−1 more steps every rank has
   every summed chunk.

Every rank sends 2(n−1) chunks of S/n bytes, i.e. 2(n−1)/n·S. The lab checks the
result against ``numpy.sum`` of the inputs, times the collective across message
sizes (process start-up is outside the timed region: workers start once and wait
on a barrier before every timed repetition) and fits the α-β model
t = 2(n−1)·α + 2(n−1)/n·S/B by least squares.

Quick use (a few seconds, 4 workers)::

    from infraprep.labs import allreduce
    result = allreduce.run_lab()          # quick=True by default
    result.fit["alpha_s"], result.fit["bandwidth_bytes_s"]

Workers start with ``fork`` where available (fast: nothing is re-imported) and
``spawn`` elsewhere; pass ``context="spawn"`` to force a fresh interpreter per worker.
Both are tested, also under pytest-xdist.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import time
import weakref
from dataclasses import dataclass, field

import numpy as np

from ..estimates._validate import count
from ..estimates.communication import fit_ring_alpha_beta, ring_allreduce_time_s

__all__ = [
    "chunk_schedule", "sends_of_rank", "chunk_bounds", "RingAllReduce", "ring_allreduce",
    "measure", "run_lab", "LabResult", "QUICK_SIZES_BYTES", "FULL_SIZES_BYTES", "DEFAULT_CONTEXT",
]

#: Message sizes of the quick (CI / notebook) run: 4 KiB to 4 MiB.
QUICK_SIZES_BYTES = tuple(4 * 1024 * 4**i for i in range(6))
#: A longer run: 1 KiB to 64 MiB.
FULL_SIZES_BYTES = tuple(1024 * 4**i for i in range(9))

_REPLY_TIMEOUT_S = 120.0
_IDLE_EXIT_S = 3600.0

#: ``fork`` where the platform has it (Linux: workers start in milliseconds and need no
#: re-import), else ``spawn``. Workers only run NumPy and pipe I/O, never locks or
#: threads inherited from the parent, which is what makes forking from Jupyter safe here.
DEFAULT_CONTEXT = "fork" if "fork" in mp.get_all_start_methods() else "spawn"


# --------------------------------------------------------------------------- the schedule


def chunk_schedule(n: int) -> list[list[dict]]:
    """The 2(n−1) steps of a ring AllReduce; each step lists, for every rank, what it sends.

    Every entry is ``{"phase", "step", "sender", "receiver", "chunk"}`` where the
    receiver is (sender+1) mod n, and ``chunk`` is the index of the chunk sent.
    """
    n = count("n", n)
    steps = []
    for k in range(n - 1):
        steps.append([
            {"phase": "reduce-scatter", "step": k, "sender": r, "receiver": (r + 1) % n, "chunk": (r - k) % n}
            for r in range(n)
        ])
    for k in range(n - 1):
        steps.append([
            {"phase": "all-gather", "step": n - 1 + k, "sender": r, "receiver": (r + 1) % n, "chunk": (r + 1 - k) % n}
            for r in range(n)
        ])
    return steps


def sends_of_rank(n: int, rank: int) -> list[int]:
    """The chunk indices ``rank`` sends at each of the 2(n−1) steps (reduce-scatter, then all-gather)."""
    n = count("n", n)
    rank = count("rank", rank, minimum=0)
    if rank >= n:
        raise ValueError(f"rank must be below n={n}, got {rank}")
    return [step[rank]["chunk"] for step in chunk_schedule(n)]


def chunk_bounds(length: int, n: int) -> list[tuple[int, int]]:
    """Split ``length`` elements into n contiguous chunks whose sizes differ by at most one."""
    length, n = count("length", length, minimum=0), count("n", n)
    edges = [i * length // n for i in range(n + 1)]
    return list(zip(edges[:-1], edges[1:]))


# --------------------------------------------------------------------------- worker side


def _exchange(rank: int, send_conn, recv_conn, outgoing: np.ndarray, incoming: np.ndarray) -> None:
    """Send ``outgoing`` to the right and receive into ``incoming`` from the left without deadlock.

    A pipe holds only a few kilobytes, so if every rank sent first all would block.
    Even ranks send first and odd ranks receive first, which always lets the ring drain.
    """
    if rank % 2 == 0:
        send_conn.send_bytes(outgoing)
        _receive(recv_conn, incoming)
    else:
        _receive(recv_conn, incoming)
        send_conn.send_bytes(outgoing)


def _receive(recv_conn, into: np.ndarray) -> None:
    got = recv_conn.recv_bytes_into(into)
    if got != into.nbytes:
        raise RuntimeError(f"expected {into.nbytes} bytes from the left neighbour, got {got}")


def _ring_allreduce_inplace(buf: np.ndarray, rank: int, n: int, send_conn, recv_conn) -> None:
    """Sum ``buf`` across the ring in place (reduce-scatter then all-gather)."""
    if n == 1:
        return
    bounds = chunk_bounds(buf.size, n)
    scratch = np.empty(max(b - a for a, b in bounds), dtype=buf.dtype)
    for k in range(n - 1):  # reduce-scatter
        s_lo, s_hi = bounds[(rank - k) % n]
        r_lo, r_hi = bounds[(rank - k - 1) % n]
        incoming = scratch[: r_hi - r_lo]
        _exchange(rank, send_conn, recv_conn, buf[s_lo:s_hi], incoming)
        buf[r_lo:r_hi] += incoming
    for k in range(n - 1):  # all-gather
        s_lo, s_hi = bounds[(rank + 1 - k) % n]
        r_lo, r_hi = bounds[(rank - k) % n]
        _exchange(rank, send_conn, recv_conn, buf[s_lo:s_hi], buf[r_lo:r_hi])


def _worker(rank: int, n: int, send_conn, recv_conn, ctrl, barrier) -> None:  # pragma: no cover - runs in a child
    """Serve commands from the parent until told to stop."""
    while True:
        if not ctrl.poll(_IDLE_EXIT_S):  # the parent vanished without saying stop
            break
        command = ctrl.recv()
        kind = command[0]
        if kind == "stop":
            break
        try:
            if kind == "allreduce":
                buf = np.array(command[1], copy=True)
                barrier.wait()
                _ring_allreduce_inplace(buf, rank, n, send_conn, recv_conn)
                ctrl.send(("ok", buf))
            elif kind == "time":
                _, elements, repeats, dtype = command
                buf = np.ones(elements, dtype=dtype)
                barrier.wait()
                _ring_allreduce_inplace(buf, rank, n, send_conn, recv_conn)  # warm-up, not timed
                times = []
                for _ in range(repeats):
                    buf.fill(1)
                    barrier.wait()
                    start = time.perf_counter()
                    _ring_allreduce_inplace(buf, rank, n, send_conn, recv_conn)
                    times.append(time.perf_counter() - start)
                ok = bool(np.all(buf == n))
                ctrl.send(("ok", (times, ok)))
            else:
                ctrl.send(("error", f"unknown command {kind!r}"))
        except Exception as exc:  # report instead of dying silently
            ctrl.send(("error", f"{type(exc).__name__}: {exc}"))


# --------------------------------------------------------------------------- parent side


def _shutdown(processes, controls) -> None:
    for conn in controls:
        try:
            conn.send(("stop",))
        except (OSError, ValueError):
            pass
    for proc in processes:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
    for conn in controls:
        conn.close()


class RingAllReduce:
    """A ring of ``workers`` processes that can AllReduce arrays and time the collective.

    Use as a context manager so the processes always stop::

        with RingAllReduce(workers=4) as ring:
            summed = ring.allreduce([np.arange(10.0)] * 4)
            times = ring.time_allreduce(1 << 20, repeats=5)
    """

    def __init__(self, workers: int = 4, context: str | None = None):
        self.workers = count("workers", workers)
        context = context or DEFAULT_CONTEXT
        if context not in mp.get_all_start_methods():
            raise ValueError(f"start method {context!r} is not available here; use one of {mp.get_all_start_methods()}")
        self.context = context
        self._processes: list = []
        self._controls: list = []
        self._barrier = None
        self._finalizer = None

    # -- lifecycle
    def start(self) -> "RingAllReduce":
        if self._processes:
            return self
        ctx = mp.get_context(self.context)
        n = self.workers
        pipes = [ctx.Pipe(duplex=False) for _ in range(n)]  # pipe r: rank r writes, rank r+1 reads
        barrier = ctx.Barrier(n)
        self._barrier = barrier  # keep it alive: spawned children unpickle it after start() returns
        for rank in range(n):
            parent_end, child_end = ctx.Pipe()
            send_conn = pipes[rank][1]
            recv_conn = pipes[(rank - 1) % n][0]
            proc = ctx.Process(
                target=_worker, args=(rank, n, send_conn, recv_conn, child_end, barrier),
                name=f"ring-allreduce-{rank}", daemon=True,
            )
            proc.start()
            child_end.close()
            self._processes.append(proc)
            self._controls.append(parent_end)
        for recv_end, send_end in pipes:  # the children hold their own copies
            recv_end.close()
            send_end.close()
        self._finalizer = weakref.finalize(self, _shutdown, self._processes, self._controls)
        return self

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._processes, self._controls, self._finalizer, self._barrier = [], [], None, None

    def __enter__(self) -> "RingAllReduce":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- operations
    def _gather(self) -> list:
        replies = []
        for rank, conn in enumerate(self._controls):
            if not conn.poll(_REPLY_TIMEOUT_S):
                self.close()
                raise RuntimeError(f"worker {rank} did not answer within {_REPLY_TIMEOUT_S:.0f} s")
            try:
                status, payload = conn.recv()
            except (EOFError, OSError) as exc:
                self.close()
                raise RuntimeError(f"worker {rank} exited unexpectedly ({type(exc).__name__})") from None
            if status != "ok":
                self.close()
                raise RuntimeError(f"worker {rank} failed: {payload}")
            replies.append(payload)
        return replies

    def allreduce(self, arrays: list) -> list[np.ndarray]:
        """AllReduce (sum) one 1-D array per worker; returns every worker's result."""
        if not self._processes:
            raise RuntimeError("start the ring first (use it in a with-block)")
        if len(arrays) != self.workers:
            raise ValueError(f"need one array per worker ({self.workers}), got {len(arrays)}")
        shapes = {np.asarray(a).shape for a in arrays}
        if len(shapes) != 1 or len(next(iter(shapes))) != 1:
            raise ValueError("give 1-D arrays of the same length, one per worker")
        for conn, array in zip(self._controls, arrays):
            conn.send(("allreduce", np.ascontiguousarray(array)))
        return self._gather()

    def time_allreduce(self, size_bytes: int, repeats: int = 5, dtype: str = "float32") -> tuple[list[float], bool]:
        """Time ``repeats`` AllReduces of ``size_bytes`` each.

        Returns the time of each repetition (the slowest worker's, since a
        collective ends when its last rank finishes) and whether every worker
        ended with the correct sum (all ones summed = n).
        """
        if not self._processes:
            raise RuntimeError("start the ring first (use it in a with-block)")
        itemsize = np.dtype(dtype).itemsize
        elements = max(self.workers, count("size_bytes", size_bytes) // itemsize)
        reps = count("repeats", repeats)
        for conn in self._controls:
            conn.send(("time", elements, reps, dtype))
        replies = self._gather()
        per_rep = [max(reply[0][i] for reply in replies) for i in range(reps)]
        return per_rep, all(reply[1] for reply in replies)


def ring_allreduce(arrays: list, context: str | None = None) -> list[np.ndarray]:
    """One-shot ring AllReduce of ``arrays`` (one per worker) in separate processes."""
    with RingAllReduce(len(arrays), context=context) as ring:
        return ring.allreduce(arrays)


def measure(ring: RingAllReduce, sizes_bytes=QUICK_SIZES_BYTES, repeats: int = 5):
    """Time the ring at each size: median and best of ``repeats`` (a DataFrame; bytes and seconds)."""
    import pandas as pd  # imported here so worker processes never pay for it
    rows = []
    for size in sizes_bytes:
        times, ok = ring.time_allreduce(size, repeats=repeats)
        elements = max(ring.workers, int(size) // 4)
        rows.append({
            "size_bytes": elements * 4,
            "median_s": statistics.median(times),
            "best_s": min(times),
            "repeats": repeats,
            "correct": ok,
        })
    return pd.DataFrame(rows)


@dataclass
class LabResult:
    """What :func:`run_lab` measured: the timings, the α-β fit and the correctness check."""

    workers: int
    measurements: "pd.DataFrame"  # noqa: F821 - pandas is imported lazily
    fit: dict
    max_abs_error: float
    correct: bool
    context: str = DEFAULT_CONTEXT
    notes: list[str] = field(default_factory=list)

    def predicted_s(self, size_bytes: float) -> float:
        """Time the fitted model predicts for a message of ``size_bytes``."""
        return ring_allreduce_time_s(size_bytes, self.workers, self.fit["alpha_s"], self.fit["bandwidth_bytes_s"])

    def summary(self) -> str:
        fit = self.fit
        return (
            f"{self.workers} processes, ring AllReduce {'matches' if self.correct else 'DOES NOT match'} numpy.sum "
            f"(max error {self.max_abs_error:g}); fitted alpha = {fit['alpha_s'] * 1e6:.1f} us per step, "
            f"B = {fit['bandwidth_bytes_s'] / 1e9:.2f} GB/s per link (R^2 = {fit['r2']:.3f})"
        )

    def table(self):
        """The measurements as a reader wants them: message size in KiB, times in milliseconds, the
        bus bandwidth each best time reaches (GB/s) and the fitted model's prediction (ms)."""
        from ..estimates.communication import algbw, allreduce_busbw

        frame = self.measurements
        return frame.assign(
            size_kib=frame["size_bytes"] / 1024,
            median_ms=frame["median_s"] * 1e3,
            best_ms=frame["best_s"] * 1e3,
            busbw_gb_s=[allreduce_busbw(algbw(s, t), self.workers) / 1e9 for s, t in zip(frame["size_bytes"], frame["best_s"])],
            model_ms=[self.predicted_s(s) * 1e3 for s in frame["size_bytes"]],
        )[["size_kib", "median_ms", "best_ms", "model_ms", "busbw_gb_s", "repeats", "correct"]]

    def _repr_markdown_(self) -> str:
        return self.summary()


def run_lab(
    workers: int = 4,
    sizes_bytes=None,
    repeats: int = 5,
    quick: bool = True,
    context: str | None = None,
    seed: int = 0,
) -> LabResult:
    """Start a ring of processes, check it against ``numpy.sum``, time it across sizes and fit α and B.

    ``quick=True`` (default) uses 4 KiB-4 MiB and finishes in a few seconds on two
    cores; ``quick=False`` goes up to 64 MiB. The fit uses the best time at each size
    (other programs on a shared machine only ever add time), weighted by relative error
    so both the latency and the bandwidth ends count.
    """
    sizes = tuple(sizes_bytes) if sizes_bytes is not None else (QUICK_SIZES_BYTES if quick else FULL_SIZES_BYTES)
    if len(set(sizes)) < 2:
        raise ValueError("give at least two different message sizes so a line can be fitted")
    n = count("workers", workers, minimum=2)
    rng = np.random.default_rng(seed)
    inputs = [rng.integers(-1000, 1000, size=10_007).astype(np.float64) for _ in range(n)]
    expected = np.sum(inputs, axis=0)
    with RingAllReduce(n, context=context) as ring:
        results = ring.allreduce(inputs)
        frame = measure(ring, sizes, repeats=repeats)
    error = max(float(np.max(np.abs(r - expected))) for r in results)
    fit = fit_ring_alpha_beta(frame["size_bytes"].tolist(), frame["best_s"].tolist(), n, relative=True)
    notes = []
    if fit["intercept_s"] < 0:
        notes.append("the fitted intercept was negative (timing noise); alpha is reported as 0")
    correct = error == 0.0 and bool(frame["correct"].all())
    return LabResult(n, frame, fit, error, correct, context or DEFAULT_CONTEXT, notes)
