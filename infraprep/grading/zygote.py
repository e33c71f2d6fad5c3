"""Inside the sandbox: the zygote that forks a kernel a notebook, and the namespaces each kernel gets.

Everything in this module runs inside the bubblewrap sandbox of :mod:`.sandbox`; the host's side of
the fork server is :mod:`.forkserver`. A boundary is a file boundary.

**Each notebook starts from nothing another notebook touched.** Before any student code runs,
:func:`isolate` gives the kernel namespaces of its own and drops every capability:

- a PID namespace of its own (the kernel is process 2 under a small init, process 1): it cannot
  see, signal, renice, reschedule or re-limit the zygote or any other notebook's processes;
- an IPC namespace of its own: System V and POSIX message queues, semaphores and shared memory
  start empty and vanish with it; a UTS namespace (its host name is its own);
- a mount namespace of its own: a fresh ``/tmp`` and ``/dev/shm`` (files, extended attributes and
  timestamps start new), its working folder and its IPC folder writable, everything else read-only,
  the device nodes included (so ``chmod``/``utime`` of ``/dev/null`` fail, writes still work);
- its working folder is a tmpfs of its own, bounded in bytes and inodes (:data:`WORKDIR_TMPFS`),
  holding a copy of the notebook's files the host put in the folder of that name: what the kernel
  writes there never reaches the grader's disk, and goes with the kernel;
- a new, empty session keyring; the user keyrings it could share are emptied by the zygote after
  every notebook (:func:`clear_keyrings`);
- no capabilities at all, and ``no_new_privs``: nothing it runs can gain any.

Between notebooks the zygote kills every other process of the sandbox, removes what was written to
the folders it shares with the host, clears the keyrings and checks its own state (limits,
priority, scheduling policy, I/O priority, affinity, OOM score): a sandbox it cannot restore is
reported *tainted* and replaced by the host.

The zygote itself: a long-lived process that has imported ipykernel, IPython, numpy, pandas,
matplotlib and the course package (into ``sys.modules`` only) and forks a fresh kernel for every
notebook; it is PID 1 of the sandbox (children cannot signal it), not dumpable (they cannot ptrace
it or read its memory), and its only capabilities, ``CAP_SYS_ADMIN`` and ``CAP_SETPCAP`` inside the
sandbox's user namespace, are what :func:`isolate` and :func:`drop_capabilities` need and drop.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterable

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x04000000, 0x08000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 0x20, 0x400, 0x800, 0x1000, 0x4000, 0x40000, 0x200000
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 4, 24, 38
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine, 250)
KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_CLEAR, KEYCTL_GET_PERSISTENT = 1, 7, 22
KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -4, -5
LINUX_CAPABILITY_VERSION_3 = 0x20080522
TMPFS_SIZE = "size=1g,mode=1777"
WORKDIR_TMPFS = "size=1g,nr_inodes=16384,mode=0700"  # the kernel's working folder: bytes and inodes bounded
FILES_VIEW = "/.infraprep-files"  # the host's folder of the notebook's files, read-only (kernels started ahead)
_OPTION_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
                 "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(rc: int, what: str) -> None:
    if rc != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source, target: str, fstype, flags: int, data=None) -> None:
    _check(libc().mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                        ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def _mounts() -> list[tuple[str, set[str]]]:
    """(mount point, options) of every mount this process sees, parents before children."""
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            found.append((point, set(fields[5].split(","))))
    return found


def _copy_files(source: str, target: str) -> None:
    """Folders and regular files of ``source`` into ``target`` (links and anything else left out)."""
    import stat

    for root, dirs, files in os.walk(source):
        into = os.path.join(target, os.path.relpath(root, source))
        for name in dirs:
            if not os.path.islink(os.path.join(root, name)):
                os.makedirs(os.path.join(into, name), exist_ok=True)
        for name in files:
            path = os.path.join(root, name)
            if stat.S_ISREG(os.lstat(path).st_mode):
                shutil.copy2(path, os.path.join(into, name), follow_symlinks=False)


def take_files(workdir: str) -> None:
    """In a kernel started before its notebook was known: copy the notebook's files, which the host
    has just put in its folder (seen at :data:`FILES_VIEW`), into the working folder, and go there."""
    if os.path.isdir(FILES_VIEW):
        _copy_files(FILES_VIEW, workdir)
    os.chdir(workdir)


def bounded_workdir(folder: str, keep_files_view: bool = False) -> None:
    """Make ``folder`` (the kernel's working folder) a tmpfs bounded in bytes and inodes
    (:data:`WORKDIR_TMPFS`) holding a copy of the folders and regular files the host's folder of that
    name holds; with ``keep_files_view`` the host's folder stays readable at :data:`FILES_VIEW`
    (read-only once :func:`isolate` has run). In this process's mount namespace: needs CAP_SYS_ADMIN in
    the sandbox's user namespace."""
    os.makedirs(FILES_VIEW, mode=0o700, exist_ok=True)
    _mount(folder, FILES_VIEW, None, MS_BIND)
    _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, WORKDIR_TMPFS)
    _copy_files(FILES_VIEW, folder)
    if not keep_files_view:
        _check(libc().umount2(FILES_VIEW.encode(), 2), f"detach {FILES_VIEW}")  # MNT_DETACH
        os.rmdir(FILES_VIEW)


def isolate(writable: Iterable[str], new_pid: bool = True, workdir: str | None = None,
            keep_files_view: bool = False) -> None:
    """Give this process fresh namespaces and a read-only world but ``writable`` (see the module
    docstring); with ``new_pid``, the caller's *next* child is PID 1 of a new PID namespace (call
    :func:`enter_pid_namespace` there). ``workdir`` (one of ``writable``): made a bounded tmpfs first
    (:func:`bounded_workdir`). Needs CAP_SYS_ADMIN in the sandbox's user namespace."""
    flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | (CLONE_NEWPID if new_pid else 0)
    _check(libc().unshare(flags), "unshare the kernel's namespaces")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    if os.path.isdir("/dev/pts"):
        # a devpts instance of this notebook's own (its multiplexer /dev/pts/ptmx, which /dev/ptmx finds
        # beside it, its mode and times, every pty): nothing in it outlives the notebook
        _mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    if workdir:
        bounded_workdir(os.path.realpath(workdir), keep_files_view)
    keep = {os.path.realpath(p) for p in writable}
    fresh = [folder for folder in ("/tmp", "/dev/shm") if os.path.isdir(folder)]
    # what lives under a folder made fresh - folders to keep writable, and the sandbox's own binds (the
    # grader's Python when the course sits under /tmp, say): hold each aside, then put it back inside;
    # a bind put back is made read-only again below, with every other mount but ``keep``
    def under_fresh(path: str) -> bool:
        return any(path.startswith(top + "/") for top in fresh)

    candidates = {folder for folder in keep if under_fresh(folder)}
    candidates |= {point for point, _ in _mounts() if under_fresh(point)}
    outermost = sorted(c for c in candidates if not any(c.startswith(o + "/") for o in candidates if o != c))
    held = []
    for index, folder in enumerate(outermost):
        hold = f"/.infraprep-keep-{index}"
        os.mkdir(hold, 0o700)
        _mount(folder, hold, None, MS_BIND | MS_REC)
        held.append((folder, hold))
    for folder in fresh:
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, TMPFS_SIZE)
    for folder, hold in held:
        os.makedirs(folder, exist_ok=True)
        _mount(hold, folder, None, MS_BIND | MS_REC)
        _check(libc().umount2(hold.encode(), 2), f"detach {hold}")  # MNT_DETACH
        os.rmdir(hold)
    points = {point for point, _ in _mounts()}
    for folder in sorted(keep):
        if folder in dict(held):
            continue
        if folder not in points:  # its own mount, so it stays writable under a read-only parent
            _mount(folder, folder, None, MS_BIND)
    for point, options in _mounts():
        if point in keep or point in ("/tmp", "/dev/shm") or point.startswith("/proc") or "ro" in options:
            continue
        if point.startswith("/dev/pts"):
            continue
        keep_flags = sum(flag for name, flag in _OPTION_FLAGS.items() if name in options)
        try:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep_flags)
        except OSError:
            if point == "/" or point.startswith(("/dev", "/opt", "/usr")):
                raise


def enter_pid_namespace() -> None:
    """In the first child after :func:`isolate`: PID 1 of the new namespace gets its own ``/proc``."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """No capability left, none to be had again (``no_new_privs``), and a session keyring of its own."""
    lib = libc()
    lib.syscall(SYS_KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None)
    for cap in range(64):  # the bounding set too (needs CAP_SETPCAP, dropped last with the rest)
        if lib.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:  # EINVAL: no such cap
            _check(-1, f"drop capability {cap} from the bounding set")
    _check(lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs")
    header, data = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    _check(lib.capset(ctypes.byref(header), data), "drop capabilities")


def clear_keyrings() -> None:
    """Empty the keyrings every process of the sandbox's account shares (user, user session, persistent)."""
    lib = libc()
    for keyring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
        lib.syscall(SYS_KEYCTL, KEYCTL_CLEAR, keyring)
    persistent = lib.syscall(SYS_KEYCTL, KEYCTL_GET_PERSISTENT, ctypes.c_int(-1), KEY_SPEC_USER_KEYRING)
    if persistent > 0:
        lib.syscall(SYS_KEYCTL, KEYCTL_CLEAR, persistent)


def _init(child: int) -> None:
    """PID 1 of a kernel's namespace: reap, and exit with the kernel's status. It ignores signals (the
    host reaches the kernel through their process group; a kernel's own signals to it do nothing)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if pid == child:
            os._exit(_exit_code(status))


def _exit_code(status: int) -> int:
    """A wait status as a process's exit code (128 + the signal for a process a signal ended)."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code & 0xFF


def run_isolated(argv: list[str] | None = None) -> None:
    """Entry point for a kernel started on its own (no fork server): ``... run_isolated() WORKDIR
    SHARED -- KERNEL ARGV``: the same namespaces a fork-server kernel gets, then the kernel."""
    argv = list(sys.argv if argv is None else argv)
    at = argv.index("--")
    writable, command = argv[1:at], argv[at + 1:]
    # the working folder is the one bubblewrap started us in (--chdir); its files may come later (KernelPool)
    workdir = os.getcwd()
    isolate(writable, new_pid=True, workdir=workdir, keep_files_view=True)
    os.chdir(workdir)  # the tmpfs, not the host's folder under it
    pid = os.fork()
    if pid:
        os._exit(_exit_code(os.waitpid(pid, 0)[1]))
    enter_pid_namespace()
    drop_capabilities()
    kernel = os.fork()
    if kernel == 0:
        os.execvp(command[0], command)
    os.setsid()
    _init(kernel)


# ======================================================================== the zygote

class _Zygote:
    """The zygote's side: reads one JSON request a line on its control pipe, answers one JSON line."""

    def __init__(self, opts: dict):
        self.work = opts["work"]
        self.shared = opts["shared"]
        self.bounded: set[str] = set()  # notebooks' working folders made tmpfs here (kept across restarts)
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
        libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        if "" in sys.path:
            sys.path.remove("")  # never import from the (writable) working folder
        self.base_path = list(sys.path)
        self.base_env = dict(os.environ)
        self.launcher = "ipykernel_launcher"
        self.snapshot = self._scan()
        self.state = self._process_state()

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

    def spawn(self, argv: list[str], cwd: str, env: dict, writable: list[str]) -> int:
        """A kernel for one notebook in namespaces of its own; returns the pid of its init (which the
        host signals and polls: it passes signals on and exits with the kernel's status)."""
        self.reap()
        folder = os.path.realpath(cwd)
        if folder not in self.bounded:  # in the zygote's namespace: a restarted kernel finds what it wrote
            bounded_workdir(folder)
            self.bounded.add(folder)
        r, w = os.pipe()
        # what the zygote holds goes to the collector's permanent generation: a kernel's collections
        # then never walk (and so never copy, page by page) the objects the zygote imported
        gc.freeze()
        middle = os.fork()
        if middle == 0:
            os.close(r)
            code = 1
            try:
                isolate([cwd, *writable], new_pid=True)
                init = os.fork()
                if init == 0:
                    self._notebook_init(argv, cwd, env)  # never returns
                os.write(w, f"{init}\n".encode())
                code = 0
            except BaseException as exc:  # noqa: BLE001 - tell the zygote, which tells the host
                try:
                    os.write(w, f"error {type(exc).__name__}: {exc}\n".encode())
                except OSError:
                    pass
            finally:
                os._exit(code)
        os.close(w)
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = os.read(r, 256)
            if not chunk:
                break
            answer += chunk
        os.close(r)
        try:
            os.waitpid(middle, 0)
        except ChildProcessError:
            pass
        text = answer.decode(errors="replace").strip()
        if not text or text.startswith("error"):
            raise RuntimeError(f"the kernel's namespaces could not be made: {text or 'no answer'}")
        pid = int(text)  # the init, reparented to us (PID 1) when the middle process exited
        self.live.add(pid)
        return pid

    def _notebook_init(self, argv: list[str], cwd: str, env: dict) -> None:
        code = 1
        try:
            enter_pid_namespace()
            drop_capabilities()
            os.setsid()
            kernel = os.fork()
            if kernel == 0:
                self._kernel(argv, cwd, env)  # never returns
            self.reader.close()
            os.close(self.ctl_in)
            os.close(self.ctl_out)
            _init(kernel)
        except BaseException:  # noqa: BLE001
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)

    def _kernel(self, argv: list[str], cwd: str, env: dict) -> None:
        code = 1
        try:
            os.close(self.ctl_in)
            os.close(self.ctl_out)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):  # never the zygote's: its stderr may be a file of the grader's (its log), and
                os.dup2(devnull, fd)  # ipykernel keeps a copy of the kernel's original 1 and 2 for the kernel
            os.close(devnull)
            for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # like any process of its own; the zygote stays undumpable
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
                except Exception:  # noqa: BLE001
                    pass
            from ipykernel.kernelapp import IPKernelApp

            IPKernelApp.launch_instance(argv=list(argv[1:]))
            code = 0
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

        state = {"nice": os.getpriority(os.PRIO_PROCESS, 0), "policy": os.sched_getscheduler(0),
                 "umask": os.umask(0o022)}
        os.umask(state["umask"])
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
            state["ioprio"] = libc().syscall({"x86_64": 252, "aarch64": 31}.get(os.uname().machine, 252), 1, 0)
        except Exception:  # noqa: BLE001
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
        lib = libc()
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
                    rc = lib.shmctl(ident, IPC_RMID, None)
                elif kind == "msg":
                    rc = lib.msgctl(ident, IPC_RMID, None)
                else:
                    rc = lib.semctl(ident, 0, IPC_RMID)
                if rc != 0:
                    problems.append(f"System V {kind} {ident} cannot be removed")

    def reset(self) -> dict:
        rounds, clean = self.kill_all()
        problems: list[str] = [] if clean else ["processes survive SIGKILL"]
        self.live.clear()
        self.exited.clear()
        for folder in sorted(self.bounded):  # the notebook's tmpfs goes, with all it held
            if libc().umount2(folder.encode(), 2) != 0:  # MNT_DETACH
                problems.append(f"cannot unmount {folder}")
        self.bounded.clear()
        self._empty(self.work, problems)
        self._empty(self.shared, problems)
        clear_keyrings()
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
            problems.append("the zygote's limits, priority, scheduling or affinity changed")
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
                    answer = {"pid": self.spawn(req["argv"], req["cwd"], req["env"], req.get("writable", []))}
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


_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def zygote_main(argv: list[str] | None = None) -> None:
    """Entry point inside the sandbox: ``python -c 'from ...zygote import zygote_main; zygote_main()' JSON``."""
    opts = json.loads((argv or sys.argv)[1])
    if os.getpid() != 1:  # kill(-1) must only ever reach this sandbox's own PID namespace
        sys.stdout.write(json.dumps({"ready": False, "error": "the zygote must be PID 1 of its own PID namespace"}) + "\n")
        sys.stdout.flush()
        raise SystemExit(2)
    # a mount namespace of the zygote's own, where it may mount each notebook's working folder
    # (bounded_workdir; bubblewrap's own namespace takes no new mount)
    _check(libc().unshare(CLONE_NEWNS), "unshare the zygote's mount namespace")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
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
