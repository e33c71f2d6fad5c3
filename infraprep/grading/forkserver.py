"""A fork server per grading worker (the host's side): a new kernel a notebook, without paying start-up each time.

Starting a kernel costs about a second, almost all of it CPU spent importing ipykernel, IPython,
numpy, pandas, matplotlib and the course package. A worker pays that once: it starts one long-lived
*zygote* (:mod:`.zygote`, which runs inside the bubblewrap sandbox of :mod:`.sandbox` as its PID 1)
that has imported all of it, and for every notebook asks it to fork a fresh kernel in namespaces of
its own (:func:`.zygote.isolate`), working in a fresh scratch folder with a copy of the notebook's
files. After the notebook, :meth:`ForkServer.finish` has the zygote kill everything and wipe what
was written; a sandbox that cannot be restored is replaced before the next notebook, and so is a
zygote that died. jupyter_client's side (kernel manager, provisioner, client) is :mod:`.forkkernel`.

Where bubblewrap cannot run, :func:`available` is False and the executors keep their
:class:`~.executors.KernelPool` (one sandboxed process started per kernel).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable

from .limits import kill_group

# What every kernel imports on start-up, plus what the lessons use: imported once, in the zygote.
BASE_PRELOAD = (
    "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.iostream",
    "ipykernel.comm", "ipykernel.eventloops", "ipykernel.debugger", "IPython.core.completerlib",
    "IPython.core.debugger", "IPython.core.oinspect", "IPython.extensions.storemagic",
    "IPython.utils.wildcard", "sqlite3", "pdb", "tornado.platform.asyncio",
    "IPython", "IPython.core.interactiveshell", "IPython.core.completer", "IPython.core.profiledir",
    "jupyter_client.session", "zmq", "zmq.eventloop.zmqstream", "tornado.ioloop", "comm",
    "matplotlib_inline.backend_inline", "psutil", "debugpy", "jedi",
    "numpy", "pandas", "yaml", "matplotlib", "matplotlib.pyplot",
    "infraprep", "infraprep.checking", "infraprep.tables",
)
# ======================================================================== the worker's side

class ZygoteDied(RuntimeError):
    pass


def available() -> bool:
    """True where the fork server can run: bubblewrap works, and not switched off
    (``INFRAPREP_FORKSERVER=0``)."""
    if os.environ.get("INFRAPREP_FORKSERVER", "1").lower() in ("0", "no", "off", "false"):
        return False
    from . import sandbox

    return sys.platform.startswith("linux") and sandbox.available()


_ENTRY = "import sys; from infraprep.grading.zygote import zygote_main; zygote_main(sys.argv)"


class ForkServer:
    """A worker's zygote (started at once, inside the sandbox) and the kernels it forks.

    ``kernel_manager(kernel_name)`` gives a jupyter_client kernel manager (not started) for one
    notebook; nbclient starts it as usual, in the notebook's folder; :meth:`finish` ends it and
    resets the sandbox for the next notebook."""

    def __init__(self, preload: Iterable[str] = (), memory_bytes: int | None = None, timeout: float = 120.0):
        self.preload = tuple(dict.fromkeys(list(BASE_PRELOAD) + list(preload)))
        self.memory_bytes = memory_bytes
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.root = self.work = self.shared = None
        self._confinement = None
        self._stage: str | None = None
        self._lock = threading.RLock()
        self._specs: dict = {}
        self.started = 0  # zygotes started (restarts included)
        self.kernels = 0
        self.info: dict = {}
        self._dirty = False
        self._count = 0
        self._buffer = b""
        self.last_problems: list[str] = []
        self.kernel_cpu = 0.0  # CPU seconds of the current zygote's children (kernels and all they started)
        import atexit

        atexit.register(self.close)

    # ------------------------------------------------------------------ the zygote
    def start(self) -> "ForkServer":
        from . import sandbox

        self.close()
        self.root = sandbox.new_folder("infraprep-zygote-")
        os.chmod(self.root, 0o711)  # the sandbox's account passes through to its two folders, no more
        self.work = os.path.join(self.root, "work")
        self.shared = os.path.join(self.root, "shared")
        os.mkdir(self.work, 0o700)
        os.mkdir(self.shared, 0o700)
        memory = self.memory_bytes
        if memory is None:
            memory = sandbox.SandboxedKernelManager.class_traits()["sandbox_memory_bytes"].default()
        prefix = self._prefix(sandbox, memory)
        opts = {"work": self.work, "shared": self.shared, "preload": list(self.preload)}
        log = os.environ.get("INFRAPREP_FORKSERVER_LOG")
        stderr = open(log, "ab") if log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(prefix + [sys.executable, "-c", _ENTRY, json.dumps(opts)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                         cwd=self.work, start_new_session=True)
        finally:
            if log:
                stderr.close()
        self._buffer = b""
        self.started += 1
        try:
            self.info = self._read(self.timeout)
        finally:
            if self._stage:  # the sandbox's mounts are made: the staging binds are no longer needed
                shutil.rmtree(self._stage, ignore_errors=True)
                self._stage = None
        if not self.info.get("ready"):
            raise ZygoteDied(f"the fork server did not start: {self.info}")
        self._dirty = False
        return self

    def _prefix(self, sandbox, memory: int) -> list[str]:
        from . import limits

        traits = sandbox.SandboxedKernelManager.class_traits()
        pids, mem = traits["sandbox_pids"].default(), traits["sandbox_cgroup_memory_bytes"].default()
        self._confinement = limits.Confinement.create(pids, mem)  # None without cgroups: prlimit instead
        # the zygote is the namespace's init: children cannot signal it
        prefix, self._stage = sandbox.bwrap_prefix(self.work, self.shared, memory, self._confinement, pids, as_pid_1=True)
        return prefix

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _read(self, timeout: float) -> dict:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        end = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = end - time.monotonic()
            if left <= 0:
                self._kill()
                raise ZygoteDied("the fork server stopped answering")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                if self.proc.poll() is not None:
                    raise ZygoteDied(f"the fork server exited ({self.proc.returncode})")
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                self.proc.wait(5)
                raise ZygoteDied(f"the fork server exited ({self.proc.returncode})")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def request(self, timeout: float | None = None, **msg) -> dict:
        with self._lock:
            if not self.alive():
                raise ZygoteDied("the fork server is not running")
            try:
                self.proc.stdin.write((json.dumps(msg) + "\n").encode())
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                raise ZygoteDied(f"the fork server is gone ({exc})") from exc
            answer = self._read(timeout or self.timeout)
            if "error" in answer:
                raise RuntimeError(f"fork server: {answer['error']}")
            return answer

    def ensure(self, preload: Iterable[str] = ()) -> None:
        """A running, clean zygote that has imported ``preload`` too."""
        if self._dirty or not self.alive():
            self.start()
        missing = [m for m in preload if m not in self.preload]
        if missing:
            self.preload += tuple(missing)
            try:
                answer = self.request(modules=missing, op="preload")
                if not answer.get("ok", True):
                    self.start()
            except (ZygoteDied, RuntimeError):
                self.start()

    def _kill(self) -> None:
        kill_group(self.proc)

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            if proc.poll() is None:
                try:
                    proc.wait(1.0)  # EOF on its control pipe: the zygote kills its children and exits
                except subprocess.TimeoutExpired:
                    pass
            kill_group(proc)
        if self._confinement is not None:
            try:
                self._confinement.close()
            except Exception:  # noqa: BLE001
                pass
            self._confinement = None
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    # ------------------------------------------------------------------ kernels
    def kernel_spec(self, kernel_name: str):
        if kernel_name not in self._specs:
            from jupyter_client.kernelspec import KernelSpecManager

            self._specs[kernel_name] = KernelSpecManager().get_kernel_spec(kernel_name)
        return self._specs[kernel_name]

    def supports(self, kernel_name: str) -> bool:
        try:
            argv = self.kernel_spec(kernel_name).argv
        except Exception:  # noqa: BLE001
            return False
        return kernel_name == "python3" or any("ipykernel" in a for a in argv)

    def kernel_manager(self, kernel_name: str = "python3"):
        from .forkkernel import ZygoteKernelManager

        self._count += 1
        return ZygoteKernelManager(server=self, kernel_name=kernel_name, tag=f"{self._count}-{uuid.uuid4().hex[:8]}")

    def scratch(self, tag: str, source: str | None) -> str:
        """A new folder in the sandbox with a copy of ``source``'s regular files (links are not copied)."""
        folder = os.path.join(self.work, f"nb-{tag}")
        if source and os.path.isdir(source):
            shutil.copytree(source, folder, symlinks=True, ignore=lambda d, names: [
                n for n in names if os.path.islink(os.path.join(d, n))])
        else:
            os.mkdir(folder)
        os.chmod(folder, 0o700)
        self.hand_over(folder, recursive=True)
        return folder

    def ipc_dir(self, tag: str) -> str:
        """A new folder for one kernel's connection file and sockets."""
        folder = os.path.join(self.shared, f"ipc-{tag}")
        os.mkdir(folder, 0o700)
        self.hand_over(folder)
        return folder

    @staticmethod
    def hand_over(path: str, recursive: bool = False) -> None:
        from . import sandbox

        sandbox.hand_over(path, recursive=recursive)

    def spawn(self, argv: list[str], cwd: str, env: dict | None = None, writable: Iterable[str] = ()) -> int:
        """Fork a kernel in ``cwd`` (``argv``: ipykernel's, from ``-f``) that may write ``cwd`` and
        ``writable`` only; its environment is the sandbox's, plus ``env``. Returns its init's pid."""
        answer = self.request(op="spawn", argv=argv, cwd=cwd, env=dict(env or {}), writable=list(writable))
        self.kernels += 1
        return int(answer["pid"])

    def run(self, execute_cls, config, nb, resources, kernel_name: str, warm: Iterable[str] = ()):
        """Run ``execute_cls`` (the course's Execute) on a kernel forked for this notebook, then reset
        the sandbox: the same call as :meth:`.executors.KernelPool.run`."""
        try:
            self.ensure(warm)
        except ZygoteDied:
            self.ensure(warm)  # one more try: a zygote that failed to start once
        km = self.kernel_manager(kernel_name)
        executor = execute_cls(config=config)
        try:
            return executor.preprocess(nb, resources, km=km)
        finally:
            if executor.kc is not None:
                executor.kc.stop_channels()
            self.finish(km)

    def finish(self, km=None) -> None:
        """End the notebook's kernel: kill every process of the sandbox but the zygote, wipe it."""
        if km is not None and getattr(km, "provisioner", None) is not None:
            km.provisioner.pid = None
        try:
            answer = self.request(op="reset", timeout=30)
            self._dirty = not answer.get("ok")
            self.kernel_cpu = answer.get("cpu", 0.0)
            self.last_problems = answer.get("problems", [])
        except (ZygoteDied, RuntimeError):
            self._dirty = True


