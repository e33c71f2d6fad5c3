"""A fork server ("zygote") per grading worker: a new kernel a notebook, without paying start-up each time.

Starting a kernel costs about a second here, almost all of it CPU spent importing ipykernel,
IPython, numpy, pandas, matplotlib and the course package. A worker pays that once: it starts one
long-lived *zygote* process that has imported all of it (into ``sys.modules`` only) but has created
no ZeroMQ context, no socket and no thread. For every notebook the zygote forks; the child becomes a
fresh ipykernel (:class:`ipykernel.kernelapp.IPKernelApp` with a connection file and IPC endpoints
of its own), working in a fresh, empty scratch folder holding a copy of the submission's files.

Isolation (the zygote runs inside the bubblewrap sandbox of :mod:`.sandbox`, as the PID 1 of its
PID namespace, ``bwrap --as-pid-1``):

- every notebook runs in its own new process; its user namespace (``user_ns``) is new;
- between notebooks the zygote kills every other process of the sandbox (``kill(-1, SIGKILL)``
  from PID 1), removes every file, folder and System V IPC object created since the sandbox
  started (its ``/``, ``/tmp``, ``/dev`` tmpfs-es, the scratch and the IPC folder), and checks that
  nothing it started with was changed (modes, links, its own rlimits, nice value, CPU affinity, OOM
  score); anything it cannot undo marks the sandbox *tainted* and the worker replaces it with a new
  one before the next notebook;
- a child cannot signal the zygote (the kernel delivers no signal to a namespace's PID 1 from inside
  unless it has a handler, and it has none), cannot ptrace it or read its memory (it is not dumpable
  and the sandbox has no capabilities), and patching a module changes only the child's own
  copy-on-write memory;
- if the zygote dies anyway, the whole sandbox goes with it; the worker starts a new one.

Where bubblewrap cannot run, :func:`available` is False and the executors keep their
:class:`~.executors.KernelPool` (one process started per kernel).
"""

from __future__ import annotations

import gc
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

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
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")

# ======================================================================== inside the sandbox (zygote)

class _Zygote:
    """The zygote's side: reads one JSON request a line on its control pipe, answers one JSON line."""

    def __init__(self, opts: dict):
        self.work = opts["work"]
        self.shared = opts["shared"]
        self.live: set[int] = set()
        self.exited: dict[int, int] = {}
        self.ctl_in = os.dup(0)
        self.ctl_out = os.dup(1)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)  # nothing but answers on the control pipe
        os.close(devnull)
        self.reader = os.fdopen(self.ctl_in, "rb", buffering=1 << 16, closefd=False)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # PID 1: no handler, so a child's signal is never delivered
        self._libc = None
        self._dumpable(False)
        if "" in sys.path:
            sys.path.remove("")  # never import from the (writable) working folder
        self.base_path = list(sys.path)
        self.base_env = dict(os.environ)
        self.launcher = "ipykernel_launcher"
        self.snapshot = self._scan()
        self.state = self._process_state()

    # ------------------------------------------------------------------ helpers
    def libc(self):
        if self._libc is None:
            import ctypes

            self._libc = ctypes.CDLL(None, use_errno=True)
        return self._libc

    def _dumpable(self, on: bool) -> None:
        PR_SET_DUMPABLE = 4
        self.libc().prctl(PR_SET_DUMPABLE, 1 if on else 0, 0, 0, 0)

    def send(self, obj: dict) -> None:
        data = (json.dumps(obj) + "\n").encode()
        while data:
            data = data[os.write(self.ctl_out, data):]

    def preload(self, modules: Iterable[str]) -> list[str]:
        import importlib

        failed = []
        for name in modules:
            if name in sys.modules:
                continue
            try:
                importlib.import_module(name)
            except BaseException:  # noqa: BLE001 - a module a lesson names may simply not exist
                failed.append(name)
        if "matplotlib" in sys.modules:
            try:
                sys.modules["matplotlib"].use("Agg")
            except Exception:  # noqa: BLE001
                pass
        return failed

    # ------------------------------------------------------------------ processes
    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.live:
                self.live.discard(pid)
                self.exited[pid] = os.waitstatus_to_exitcode(status)

    def kill_all(self, deadline: float = 10.0) -> tuple[int, bool]:
        """SIGKILL every process of the sandbox but this one (we are PID 1); reap them all."""
        end = time.monotonic() + deadline
        rounds = 0
        while time.monotonic() < end:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            rounds += 1
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    pid = -1
                if pid <= 0:
                    break
                self.live.discard(pid)
                self.exited.setdefault(pid, os.waitstatus_to_exitcode(status))
            if pid == -1:  # no child left at all: every process of the namespace is gone
                try:
                    os.kill(-1, 0)
                except ProcessLookupError:
                    return rounds, True
            time.sleep(0.001)
        return rounds, False

    def spawn(self, argv: list[str], cwd: str, env: dict) -> int:
        self.reap()
        r, w = os.pipe()
        # what the zygote holds goes to the collector's permanent generation: a kernel's collections
        # then never walk (and so never copy, page by page) the 1.3 million objects the zygote imported
        gc.freeze()
        pid = os.fork()
        if pid == 0:  # the child: becomes the notebook's kernel, never returns
            os.close(r)
            code = 1
            try:
                self._child(argv, cwd, env, w)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0
            except BaseException:  # noqa: BLE001
                import traceback

                traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                except BaseException:  # noqa: BLE001
                    pass
                os._exit(code)
        os.close(w)
        os.read(r, 1)  # the child has left the zygote's fds and signals behind
        os.close(r)
        self.live.add(pid)
        return pid

    def _child(self, argv: list[str], cwd: str, env: dict, ready_fd: int) -> None:
        os.close(self.ctl_in)
        os.close(self.ctl_out)
        os.setsid()
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self._dumpable(True)  # like any process of its own; the zygote stays undumpable
        os.write(ready_fd, b"x")
        os.close(ready_fd)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(self.base_env)
        os.environ.update(env)
        os.environ["PWD"] = cwd
        sys.path[:] = self.base_path
        sys.argv = [self.launcher] + list(argv[1:])
        np = sys.modules.get("numpy")
        if np is not None:
            try:
                np.random.seed()  # the random module reseeds itself after fork; numpy's global state does not
            except Exception:
                pass
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance(argv=list(argv[1:]))

    # ------------------------------------------------------------------ clean-up between notebooks
    def _scan(self) -> dict[str, tuple]:
        """Every entry of the sandbox's writable tmpfs trees (``/``, ``/tmp``, ``/dev``): kind, mode, link."""
        import stat

        devs = set()
        for path in ("/", "/tmp", "/dev"):
            try:
                devs.add(os.lstat(path).st_dev)
            except OSError:
                pass
        skip = {"/proc", self.work, self.shared}
        out: dict[str, tuple] = {}
        st = os.lstat("/")
        out["/"] = (stat.S_IFMT(st.st_mode), st.st_mode, None, st.st_dev, 0)
        stack = ["/"]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                out[folder + "//unreadable"] = ("unreadable",)
                continue
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                kind = stat.S_IFMT(st.st_mode)
                link = os.readlink(entry.path) if kind == stat.S_IFLNK else None
                size = st.st_size if kind == stat.S_IFREG else 0
                out[entry.path] = (kind, st.st_mode, link, st.st_dev, size, st.st_mtime_ns if size else 0)
                if kind == stat.S_IFDIR and st.st_dev in devs and entry.path not in skip:
                    stack.append(entry.path)
        return out

    def _process_state(self) -> dict:
        import resource

        state = {"nice": os.getpriority(os.PRIO_PROCESS, 0)}
        for name in dir(resource):
            if name.startswith("RLIMIT_"):
                try:
                    state[name] = resource.getrlimit(getattr(resource, name))
                except (OSError, ValueError):
                    pass
        try:
            state["affinity"] = sorted(os.sched_getaffinity(0))
        except OSError:
            pass
        try:
            with open("/proc/self/oom_score_adj") as f:
                state["oom"] = f.read().strip()
        except OSError:
            pass
        return state

    @staticmethod
    def _remove(path: str) -> bool:
        """Remove a file or a whole tree, whatever modes the notebook gave its folders."""
        import stat

        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        try:
            if stat.S_ISDIR(st.st_mode):
                stack = [path]
                while stack:  # make every folder of the tree ours to empty, top-down
                    folder = stack.pop()
                    try:
                        os.chmod(folder, 0o700)
                        with os.scandir(folder) as entries:
                            stack.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
                    except OSError:
                        continue
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass
        return not os.path.lexists(path)

    def _empty(self, folder: str, problems: list[str]) -> None:
        try:
            os.chmod(folder, 0o700)
            names = os.listdir(folder)
        except OSError as exc:
            problems.append(f"{folder}: {exc}")
            return
        for name in names:
            if not self._remove(os.path.join(folder, name)):
                problems.append(f"cannot remove {os.path.join(folder, name)}")

    def _sysv_ipc(self, problems: list[str]) -> None:
        libc = self.libc()
        IPC_RMID = 0
        for kind in ("shm", "msg", "sem"):
            try:
                with open(f"/proc/sysvipc/{kind}") as f:
                    rows = f.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                ident = int(row.split()[1])
                if kind == "shm":
                    rc = libc.shmctl(ident, IPC_RMID, None)
                elif kind == "msg":
                    rc = libc.msgctl(ident, IPC_RMID, None)
                else:
                    rc = libc.semctl(ident, 0, IPC_RMID)
                if rc != 0:
                    problems.append(f"System V {kind} {ident} cannot be removed")

    def reset(self) -> dict:
        rounds, clean = self.kill_all()
        problems: list[str] = [] if clean else ["processes survive SIGKILL"]
        self.live.clear()
        self.exited.clear()
        self._empty(self.work, problems)
        self._empty(self.shared, problems)
        now = self._scan()
        for path in sorted(set(now) - set(self.snapshot)):
            parent = os.path.dirname(path)
            if parent in now and parent not in self.snapshot:
                continue  # inside a new folder, removed with it
            if not self._remove(path):
                problems.append(f"cannot remove {path}")
        for path, before in self.snapshot.items():
            after = now.get(path)
            if after != before:
                problems.append(f"changed: {path}")
        self._sysv_ipc(problems)
        if self._process_state() != self.state:
            problems.append("the zygote's limits, priority or affinity changed")
        os.environ.clear()
        os.environ.update(self.base_env)
        import resource

        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # CPU of every process reaped so far
        return {"ok": not problems, "problems": problems[:20], "rounds": rounds,
                "cpu": usage.ru_utime + usage.ru_stime}

    # ------------------------------------------------------------------ the loop
    def serve(self, preload: list[str]) -> None:
        failed = self.preload(preload)
        try:
            import importlib.util

            self.launcher = importlib.util.find_spec("ipykernel_launcher").origin or self.launcher
        except Exception:  # noqa: BLE001
            pass
        self.reset()  # whatever the imports left in /tmp goes; the snapshot is the empty sandbox
        self.send({"ready": True, "pid": os.getpid(), "threads": threading.active_count(),
                   "failed": failed, "modules": len(sys.modules)})
        while True:
            line = self.reader.readline()
            if not line:
                break
            try:
                req = json.loads(line)
                op = req["op"]
                if op == "spawn":
                    answer = {"pid": self.spawn(req["argv"], req["cwd"], req["env"])}
                elif op == "poll":
                    self.reap()
                    pid = req["pid"]
                    if pid in self.exited:
                        answer = {"status": self.exited[pid]}
                    elif pid in self.live:
                        answer = {"status": None}
                    else:
                        answer = {"status": -9}
                elif op == "signal":
                    self.reap()
                    pid, sig = req["pid"], req["sig"]
                    if pid in self.live:
                        try:
                            os.killpg(pid, sig)
                        except OSError:
                            try:
                                os.kill(pid, sig)
                            except OSError:
                                pass
                    answer = {"ok": True}
                elif op == "reset":
                    answer = self.reset()
                elif op == "killall":
                    rounds, clean = self.kill_all()
                    answer = {"ok": clean}
                elif op == "preload":
                    answer = {"failed": self.preload(req["modules"])}
                    extra = self.reset()
                    answer["ok"] = extra["ok"]
                elif op == "ping":
                    answer = {"ok": True, "threads": threading.active_count()}
                else:
                    answer = {"error": f"unknown op {op!r}"}
            except Exception as exc:  # noqa: BLE001 - answer, never die
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            self.send(answer)
        self.kill_all(2.0)


def zygote_main(argv: list[str] | None = None) -> None:
    """Entry point inside the sandbox: ``python -c 'from ...forkserver import zygote_main; zygote_main()' JSON``."""
    opts = json.loads((argv or sys.argv)[1])
    if os.getpid() != 1:  # kill(-1) must only ever reach this sandbox's own PID namespace
        sys.stdout.write(json.dumps({"ready": False, "error": "the zygote must be PID 1 of its own PID namespace"}) + "\n")
        sys.stdout.flush()
        raise SystemExit(2)
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    for key in _THREAD_VARS:
        os.environ[key] = "1"  # thread pools made before fork would be broken in the child
    os.environ.setdefault("MPLBACKEND", "Agg")
    zygote = _Zygote(opts)
    zygote.preload(opts.get("preload", ()))
    try:
        from infraprep.grading import tracebacks

        tracebacks.install()  # coloured tracebacks, the same text, for less CPU (see tracebacks)
    except Exception:  # noqa: BLE001 - the kernels still work, only slower at errors
        pass
    for key, value in saved.items():  # the kernels' environment is the sandbox's, as for any kernel
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    zygote.base_env = dict(os.environ)
    zygote.serve([])


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


_ENTRY = "import sys; from infraprep.grading.forkserver import zygote_main; zygote_main(sys.argv)"


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
        self.root = tempfile.mkdtemp(prefix="infraprep-zygote-")
        os.chmod(self.root, 0o700)
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
        self.info = self._read(self.timeout)
        if not self.info.get("ready"):
            raise ZygoteDied(f"the fork server did not start: {self.info}")
        self._dirty = False
        return self

    def _prefix(self, sandbox, memory: int) -> list[str]:
        import inspect

        params = inspect.signature(sandbox.bwrap_prefix).parameters
        kwargs = {}
        if "confinement" in params:
            try:
                from . import limits

                cls = sandbox.SandboxedKernelManager.class_traits()
                pids = cls["sandbox_pids"].default() if "sandbox_pids" in cls else limits.PIDS
                mem = cls["sandbox_cgroup_memory_bytes"].default() if "sandbox_cgroup_memory_bytes" in cls else limits.MEMORY_BYTES
                self._confinement = limits.Confinement.create(pids, mem)
                kwargs["confinement"] = self._confinement
                if "nproc" in params:
                    kwargs["nproc"] = pids
            except Exception:  # noqa: BLE001 - no cgroups: the sandbox's own fallback applies
                self._confinement = None
        prefix = list(sandbox.bwrap_prefix(self.work, self.shared, memory, **kwargs))
        at = prefix.index(sandbox.BWRAP) + 1
        prefix[at:at] = ["--as-pid-1"]  # the zygote is the namespace's init: children cannot signal it
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
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

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
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    proc.kill()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
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

    def kernel_manager(self, kernel_name: str = "python3") -> "ZygoteKernelManager":
        self._count += 1
        return ZygoteKernelManager(server=self, kernel_name=kernel_name, tag=f"{self._count}-{uuid.uuid4().hex[:8]}")

    def scratch(self, tag: str, source: str | None) -> str:
        """A new, empty folder in the sandbox with a copy of ``source``'s files."""
        folder = os.path.join(self.work, f"nb-{tag}")
        if source and os.path.isdir(source):
            shutil.copytree(source, folder, symlinks=True)
        else:
            os.mkdir(folder)
        os.chmod(folder, 0o700)
        return folder

    def spawn(self, argv: list[str], cwd: str, env: dict | None = None) -> int:
        """Fork a kernel in ``cwd`` (``argv``: ipykernel's, from ``-f``); the environment is the sandbox's."""
        answer = self.request(op="spawn", argv=argv, cwd=cwd, env=dict(env or {}))
        self.kernels += 1
        return int(answer["pid"])

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


# ---------------------------------------------------------------- jupyter_client integration

class ZygoteProvisioner(LocalProvisioner):
    """A provisioner whose kernel process is forked by the zygote; poll, signal and kill go through it."""

    pid: int | None = None
    server: ForkServer | None = None

    @property
    def has_process(self) -> bool:
        return self.pid is not None

    async def launch_kernel(self, cmd: list[str], **kwargs):
        km = self.parent
        if km.scratch is None:  # a restart (after the kernel died) keeps the notebook's folder
            km.scratch = self.server.scratch(km.tag, kwargs.get("cwd"))
        scratch = km.scratch
        try:
            at = next(i for i, a in enumerate(cmd) if a == "-f")
        except StopIteration:
            at = len(cmd)
        argv = ["ipykernel_launcher"] + cmd[at:]
        self.pid = self.server.spawn(argv, scratch, getattr(km, "kernel_env", None))
        return self.connection_info

    async def poll(self):
        if self.pid is None:
            return -9
        try:
            return self.server.request(op="poll", pid=self.pid)["status"]
        except (ZygoteDied, RuntimeError):
            self.server._dirty = True
            return -9

    async def wait(self):
        import asyncio

        while True:
            status = await self.poll()
            if status is not None:
                self.pid = None
                return status
            await asyncio.sleep(0.01)

    async def send_signal(self, signum: int) -> None:
        if self.pid is not None:
            try:
                self.server.request(op="signal", pid=self.pid, sig=int(signum))
            except (ZygoteDied, RuntimeError):
                self.server._dirty = True

    async def kill(self, restart: bool = False) -> None:
        if restart and self.pid is not None:  # the notebook goes on in a new kernel: end all it started
            try:
                self.server.request(op="killall")
            except (ZygoteDied, RuntimeError):
                self.server._dirty = True
            return
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        await self.send_signal(signal.SIGTERM)

    async def cleanup(self, restart: bool = False) -> None:
        self.pid = None


def _fast_reconnect(create):
    """The sockets connect before the new kernel has bound its endpoints; retry every 5 ms, not 100."""

    def _create_connected_socket(self, channel, identity=None):
        import zmq

        url = self._make_url(channel)
        sock = self.context.socket(__import__("jupyter_client.connect", fromlist=["x"]).channel_socket_types[channel])
        sock.linger = 1000
        sock.setsockopt(zmq.RECONNECT_IVL, 5)
        if identity:
            sock.identity = identity
        if self.curve_publickey is not None:
            return create(self, channel, identity)
        sock.connect(url)
        return sock

    return _create_connected_socket


class ZygoteKernelClient(AsyncKernelClient):
    """jupyter_client's client, without the fixed 0.2 s of IOPub silence ``wait_for_ready`` waits for
    at the end (nbclient matches every output to the request it answers, so an early status message
    cannot land in a cell)."""

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        import asyncio
        from queue import Empty

        end = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:
            self.kernel_info()
            try:
                msg = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                msg = None
            if msg is not None and msg["msg_type"] == "kernel_info_reply":
                try:  # IOPub is connected once it delivers anything (the kernel's status, its welcome)
                    await self.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(msg)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > end:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
            await asyncio.sleep(0)
        while True:  # drain what is already there, without waiting for silence
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                break

    wait_for_ready = _async_wait_for_ready
    _create_connected_socket = _fast_reconnect(AsyncKernelClient._create_connected_socket)


class ZygoteKernelManager(AsyncKernelManager):
    """One notebook's kernel, forked by a :class:`ForkServer`, talking over IPC sockets in its shared folder."""

    _create_connected_socket = _fast_reconnect(AsyncKernelManager._create_connected_socket)

    def __init__(self, server: ForkServer, tag: str, **kwargs):
        super().__init__(**kwargs)
        self.server = server
        self.tag = tag
        self.scratch = None
        self.transport = "ipc"
        self.cache_ports = False
        self.connection_file = os.path.join(server.shared, f"kernel-{tag}.json")
        self.ip = os.path.join(server.shared, f"ipc-{tag}")
        self._kernel_spec = server.kernel_spec(self.kernel_name)
        self.kernel_id = str(uuid.uuid4())
        provisioner = ZygoteProvisioner(kernel_id=self.kernel_id, kernel_spec=self._kernel_spec, parent=self)
        provisioner.server = server
        self.provisioner = provisioner
        self.client_class = f"{__name__}.ZygoteKernelClient"
