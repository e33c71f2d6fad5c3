"""Executors: run sanitized notebooks in fresh kernels, away from the gradebook.

The coordinator sends *payloads* (a sanitized notebook as JSON, nbgrader's resources for it, the
course's settings and the preprocessors to run: its Execute and what follows it up to the first
gradebook writer) and gets back the executed notebook. An executor never writes the gradebook.

Starting a kernel is most of the cost of grading a notebook, and almost all of it is importing
(ipykernel, IPython, numpy, pandas, the course package). Each worker pays it once:

- where the sandbox works, a worker keeps a fork server (:class:`.forkserver.ForkServer`): one
  long-lived, sandboxed process that has imported all of that and forks a new kernel for every
  notebook, then kills everything the notebook started and wipes the sandbox before the next one;
- elsewhere (or with ``INFRAPREP_FORKSERVER=0``) it keeps one kernel warming while it runs the current
  notebook (:class:`KernelPool`): the next kernel starts as soon as the current one is taken.

Either way every notebook runs in a kernel of its own, started fresh, whose namespace is new (what
was imported ahead is in ``sys.modules`` only), in a fresh folder holding a copy of the submission's files.

Two executors: :class:`LocalExecutor` (worker processes on this machine) and
:class:`DaskExecutor` (workers of a ``dask.distributed`` cluster, ``--scheduler ADDRESS``).
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import wait

def _warm_code(modules: Iterable[str]) -> str:
    names = tuple(sorted(set(modules)))
    return ("import importlib as _infraprep_w\n"
            f"for _infraprep_m in {names!r}:\n"
            "    try:\n        _infraprep_w.import_module(_infraprep_m)\n"
            "    except BaseException:\n        pass\n"
            "del _infraprep_w\ntry:\n    del _infraprep_m\nexcept NameError:\n    pass")


class KernelPool:
    """One worker's kernels: hands out a started kernel and at once starts the next one.

    The next kernel pre-imports what the current notebook's lesson imports (the coordinator sends
    notebooks lesson by lesson, so the guess is right but at a lesson's boundary; a wrong guess is
    stopped and a kernel with the right imports started)."""

    def __init__(self, warm_modules: Iterable[str] = (), kernel_name: str = "python3", sandboxed: bool | None = None):
        from . import sandbox

        self.kernel_name = kernel_name
        # student kernels run under bubblewrap wherever it works (infraprep.grading.sandbox)
        self.sandboxed = sandbox.available() if sandboxed is None else sandboxed
        self.warm_modules = tuple(warm_modules)
        self._next = None
        self._next_warm: tuple = ()
        atexit.register(self.close)

    def _start(self, warm: tuple = ()):
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        os.environ["NBGRADER_EXECUTION"] = "autograde"  # what `nbgrader autograde` sets for its kernels
        if self.sandboxed:
            from .sandbox import SandboxedKernelManager

            km = SandboxedKernelManager(kernel_name=self.kernel_name, scratch=True)
        else:
            km = AsyncKernelManager(kernel_name=self.kernel_name)
        args = ["--HistoryManager.hist_file=:memory:"]
        if warm:
            args.append("--IPKernelApp.exec_lines=" + _warm_code(warm))
        # the kernel's own stderr (ipykernel's start-up warnings) would only break the progress bar;
        # everything a notebook prints reaches the notebook through the kernel's channels
        run_sync(km.start_kernel)(extra_arguments=args, stderr=subprocess.DEVNULL)
        return km

    def prestart(self) -> None:
        """Start warming the first kernel (with ``warm_modules``) before any notebook arrives."""
        if self._next is None:
            self._next, self._next_warm = self._start(self.warm_modules), self.warm_modules

    def take(self, kernel_name: str, warm: Iterable[str] = ()):
        """A started kernel that pre-imported ``warm``; the next one starts warming now."""
        if kernel_name != self.kernel_name:
            return None
        warm = tuple(warm)
        if self._next is not None and self._next_warm != warm:
            self.stop(self._next)
            self._next = None
        km = self._next if self._next is not None else self._start(warm)
        self._next, self._next_warm = self._start(warm), warm
        return km

    def supports(self, kernel_name: str) -> bool:
        return kernel_name == self.kernel_name

    def run(self, execute_cls, config, nb, resources, kernel_name: str, warm=()):
        """Run ``execute_cls`` (the course's Execute) on a started kernel of the pool, then stop it."""
        km = self.take(kernel_name, warm)
        executor = _warm_class(execute_cls)(config=config)
        executor.workdir = resources["metadata"]["path"]
        try:
            return executor.preprocess(nb, resources, km=km)
        finally:
            if km is not None:
                if executor.kc is not None:
                    executor.kc.stop_channels()
                self.stop(km)

    @staticmethod
    def stop(km) -> None:
        from jupyter_core.utils import run_sync

        try:
            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=True)
        except Exception:  # a kernel that is already gone
            pass

    def close(self) -> None:
        if self._next is not None:
            self.stop(self._next)
            self._next = None


def _warm_class(execute_cls):
    """The course's Execute (nbgrader's, or a subclass such as the course's JudgedExecute), able to
    run in an already-started kernel: moves it to the folder the notebook would have started in,
    silently (no output, no execution count)."""
    from nbclient.util import run_sync

    async def async_start_new_kernel_client(self):
        kc = await execute_cls.async_start_new_kernel_client(self)
        workdir = getattr(self, "workdir", None)
        scratch = getattr(self.km, "scratch", None)
        take = "__import__('os').chdir"
        if workdir and scratch and not self.owns_km:
            # a sandboxed warm kernel sees only its own scratch folder: give it the submission's files (its
            # working folder is a tmpfs of its own, which copies them from the host's folder: .zygote.take_files)
            shutil.copytree(workdir, scratch, dirs_exist_ok=True)
            workdir = scratch
            take = "__import__('infraprep.grading.zygote', fromlist=['take_files']).take_files"
        if workdir and not self.owns_km:
            env = getattr(self, "kernel_env", {})  # the graded student's identity (a kernel started ahead has none)
            code = f"{take}({workdir!r}); __import__('os').environ.update({env!r})"
            msg_id = kc.execute(code, silent=True, store_history=False)
            await self.async_wait_for_reply(msg_id)
        return kc

    # nbclient's synchronous wrapper is bound to the coroutine of the class that defined it: bind ours
    return type(f"Warm{execute_cls.__name__}", (execute_cls,),
                {"async_start_new_kernel_client": async_start_new_kernel_client,
                 "start_new_kernel_client": run_sync(async_start_new_kernel_client), "workdir": None})


def make_kernels(warm_modules: Iterable[str] = ()):
    """A worker's kernel source: a started fork server where it can run, else a :class:`KernelPool`."""
    from . import forkserver

    if forkserver.available():
        try:
            return forkserver.ForkServer(preload=warm_modules).start()
        except Exception:  # noqa: BLE001 - e.g. no room for another sandbox: the pool still works
            pass
    return KernelPool(warm_modules)


class FreshKernels:
    """The kernel source of last resort: nbclient starts a kernel of its own for each notebook."""

    def run(self, execute_cls, config, nb, resources, kernel_name: str, warm=()):
        return execute_cls(config=config).preprocess(nb, resources)

    def close(self) -> None:
        pass


def execute_payload(payload: dict, pool=None) -> dict:
    """Run one sanitized notebook through the executor's share of the course's autograde
    preprocessors (nbgrader's: Execute, IgnorePattern, ClearMetadata, LimitOutput), with the
    course's settings. Returns ``{"key", "ok", "nb"}`` or ``{"key", "ok": False, "kind", "message"}``."""
    import nbformat
    from nbgrader.preprocessors import Execute
    from traitlets.config import Config

    key = payload["key"]
    config = Config(payload["config"])
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    try:
        nb = nbformat.reads(payload["nb"], as_version=4)
        resources = payload["resources"]
        kernel_name = nb.metadata.get("kernelspec", {}).get("name", "python3")
        source = pool if pool is not None and pool.supports(kernel_name) else FreshKernels()
        for cls in payload["preprocessors"]:
            if isinstance(cls, type) and issubclass(cls, Execute):
                nb, resources = source.run(cls, config, nb, resources, kernel_name, payload.get("warm", ()))
            else:
                nb, resources = cls(config=config)(nb, resources)
        return {"key": key, "ok": True, "nb": nbformat.writes(nb)}
    except Exception as exc:  # the submission could not be run: the coordinator reports and zeroes it
        from nbclient.exceptions import DeadKernelError

        from .judge import GradingEnvironmentError

        if isinstance(exc, GradingEnvironmentError):  # the course itself cannot be graded here: stop
            return {"key": key, "ok": False, "kind": "broken environment", "message": str(exc)}
        kind = "kernel died" if isinstance(exc, DeadKernelError) else "execution failed"
        return {"key": key, "ok": False, "kind": kind,
                "message": f"{type(exc).__name__}: {exc}".strip()[:500],
                "detail": traceback.format_exc()[-2000:]}


# ---------------------------------------------------------------- local worker processes

def _worker_main(conn, warm_modules) -> None:
    from . import fastpaths

    fastpaths.skip_iri_grammars()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides when to stop
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))
    pool = make_kernels(warm_modules)
    try:
        if isinstance(pool, KernelPool):
            pool.prestart()
        while True:
            try:
                payload = conn.recv()
            except EOFError:
                break
            if payload is None:
                break
            conn.send(execute_payload(payload, pool))
    finally:
        pool.close()


class _Worker:
    def __init__(self, ctx, warm_modules):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, tuple(warm_modules)), daemon=True)
        self.proc.start()
        child.close()
        self.inflight: deque = deque()


class LocalExecutor:
    """A pool of worker processes on this machine, each with its own warm kernel."""

    def __init__(self, workers: int | None = None, warm_modules: Iterable[str] = (), depth: int = 2):
        self.n = max(1, workers or os.cpu_count() or 1)
        self.warm_modules = tuple(warm_modules)
        self.depth = depth  # payloads queued per worker, so a worker never waits for the coordinator
        self.name = f"{self.n} local worker process{'es' if self.n > 1 else ''}"

    def run(self, payloads: Iterable[dict]) -> Iterator[dict]:
        from . import fastpaths

        fastpaths.install()  # this runs in the coordinator: its nbgrader metadata checks, cheaper
        ctx = mp.get_context("spawn")
        workers = [_Worker(ctx, self.warm_modules) for _ in range(self.n)]
        try:
            yield from dispatch(workers, payloads, self.depth, lambda: _Worker(ctx, self.warm_modules))
        finally:
            stop_workers(workers)


def dispatch(workers: list, payloads: Iterable[dict], depth: int, respawn: Callable[[], _Worker]) -> Iterator[dict]:
    """Keep up to ``depth`` payloads queued on each of ``workers`` and yield their results as they come.

    A worker that dies is replaced in the list by ``respawn()``: the payload it was running is
    reported as ``kernel died`` and the ones queued behind it go to the next free worker. A worker
    that has a payload in flight when the caller stops early is still in ``workers`` with a non-empty
    ``inflight``; the caller decides what to do with it."""
    source = iter(payloads)
    retry: deque = deque()
    exhausted = False
    while True:
        for w in workers:
            while len(w.inflight) < depth and not exhausted:
                payload = retry.popleft() if retry else next(source, None)
                if payload is None:
                    exhausted = True
                    break
                w.conn.send(payload)
                w.inflight.append(payload)
        busy = [w for w in workers if w.inflight]
        if not busy:
            return
        ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy])
        for i, w in enumerate(workers):
            if not w.inflight:
                continue
            if w.conn in ready:
                try:
                    result = w.conn.recv()
                except (EOFError, OSError):
                    result = None
                if result is not None:
                    w.inflight.popleft()
                    yield result
                    continue
            if w.proc.sentinel in ready or not w.proc.is_alive():
                w.proc.join(1)
                lost = w.inflight.popleft()
                retry.extend(w.inflight)
                exhausted = exhausted and not retry
                yield {"key": lost["key"], "ok": False, "kind": "kernel died",
                       "message": f"the worker process running it died (exit code {w.proc.exitcode})"}
                workers[i] = respawn()


def stop_workers(workers: Iterable[_Worker]) -> None:
    """Ask each worker to finish, all at once, then wait for each (5 s, then terminate)."""
    workers = list(workers)
    for w in workers:
        try:
            w.conn.send(None)
        except (OSError, ValueError):
            pass
    for w in workers:
        w.proc.join(5)
        if w.proc.is_alive():
            w.proc.terminate()
            w.proc.join(5)


# ---------------------------------------------------------------- dask.distributed

_DASK_POOL = None  # a Dask worker's fork server (or KernelPool), made once and kept between tasks
_DASK_LOCK = threading.Lock()


def dask_execute(payload: dict) -> dict:
    """Run on a Dask worker: the worker's fork server (or kernel pool) is made once and kept between tasks."""
    global _DASK_POOL
    from . import fastpaths

    fastpaths.skip_iri_grammars()  # if this worker has not loaded jsonschema yet
    with _DASK_LOCK:  # one notebook at a time per worker process, whatever its thread count
        if _DASK_POOL is None:
            _DASK_POOL = make_kernels(payload.get("warm", ()))
            atexit.register(_DASK_POOL.close)
        return execute_payload(payload, _DASK_POOL)


class DaskExecutor:
    """Workers of a dask.distributed cluster (``tcp://host:port`` of its scheduler)."""

    def __init__(self, address: str, warm_modules: Iterable[str] = ()):
        self.address = address
        self.warm_modules = tuple(warm_modules)
        self.name = f"Dask cluster at {address}"

    def run(self, payloads: Iterable[dict]) -> Iterator[dict]:
        import uuid

        from distributed import Client, as_completed

        from . import fastpaths

        fastpaths.install()  # this runs in the coordinator: its nbgrader metadata checks, cheaper

        with Client(self.address, timeout="30s") as client:
            workers = max(1, len(client.scheduler_info().get("workers", {})))
            source = iter(payloads)
            pending = as_completed()
            keys = {}

            def submit_next() -> bool:
                payload = next(source, None)
                if payload is None:
                    return False
                future = client.submit(dask_execute, payload, key=f"infraprep-{uuid.uuid4().hex}", pure=False)
                keys[future.key] = payload["key"]
                pending.add(future)
                return True

            for _ in range(2 * workers):  # two a worker: each always has the next notebook at hand
                if not submit_next():
                    break
            for future in pending:
                try:
                    result = future.result()
                except Exception as exc:  # the worker itself died (KilledWorker) or the task was lost
                    result = {"key": keys[future.key], "ok": False, "kind": "kernel died",
                              "message": f"{type(exc).__name__}: {exc}"[:500]}
                future.release()
                submit_next()
                yield result
