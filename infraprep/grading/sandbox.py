"""Run a student's kernel in a bubblewrap sandbox (the host's side: the command that starts it).

Student code, while it is graded:

- sees only the system and Python files it needs, read-only, plus the grader's own course package
  (``infraprep/``, first on its import path, so the kernel imports exactly the package the grader
  runs) — not ``source/``, other submissions, the gradebook or the course configuration;
- can write only its own notebook's working folder, a fresh ``/tmp`` and a fresh ``/dev/shm``, each
  a tmpfs of its own with a bounded size (the working folder's inodes bounded too, and the notebook's
  files copied in: :func:`.zygote.bounded_workdir`), so what it writes there never lands on the
  grader's disk;
  every other mount, the device nodes included, is read-only (:func:`.zygote.isolate`);
- has no network (its own empty network namespace), its own processes only (a PID namespace of
  its own) and its own IPC objects and host name;
- runs as ``nobody`` in a user namespace, with no capabilities and no way to make namespaces;
  when the grader is root, the whole sandbox runs as a dedicated unprivileged account
  (:func:`sandbox_account`, started through :mod:`.stage`), so the kernel owns no inode of the host's
  and everything it makes belongs to that account;
- has at most :data:`limits.PIDS` processes and :data:`limits.MEMORY_BYTES` of memory (a cgroup,
  where the grader may make one; otherwise ``prlimit --nproc`` for the account), and each process
  at most 4 GiB of address space;
- gets a clean environment (no grader variables such as a database URL), told only who it grades.

The kernel talks to the grader over ZeroMQ IPC sockets in a private folder, the only other thing
shared with it, since TCP cannot cross the network namespace. :func:`available` says whether
sandboxing works on this machine. What runs inside the sandbox lives in :mod:`.zygote`.
"""

from __future__ import annotations

import functools
import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Integer, List, Unicode

from . import limits

BWRAP = shutil.which("bwrap") or "/usr/bin/bwrap"
SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc"]
# nobody, in a user namespace of its own, with no capabilities but CAP_SYS_ADMIN and CAP_SETPCAP there,
# which the process that sets up each kernel's own namespaces (.zygote.isolate) drops before any student code runs
IDENTITY = ["--unshare-user", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL", "--disable-userns"]
ISOLATE = ["--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP"]
SANDBOX_UID = 64990  # first uid tried for the sandbox's own account when the grader is root
COURSE_PATH = "/opt/infraprep-course"  # the grader's course package, as the kernel imports it


@functools.lru_cache(maxsize=1)
def sandbox_account() -> tuple[int, int] | None:
    """(uid, gid) the sandbox runs as when the grader is root: ``INFRAPREP_SANDBOX_UID`` (``uid`` or
    ``uid:gid``), else the first uid from 64990 that no account or group uses. None when not root
    (the sandbox then runs as the grader's own, unprivileged, account)."""
    if os.geteuid() != 0:
        return None
    chosen = os.environ.get("INFRAPREP_SANDBOX_UID", "").strip()
    if chosen:
        uid, _, gid = chosen.partition(":")
        return int(uid), int(gid or uid)
    import grp

    for uid in range(SANDBOX_UID, SANDBOX_UID + 500):
        try:
            pwd.getpwuid(uid)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(uid)
            continue
        except KeyError:
            return uid, uid
    raise RuntimeError("no free uid for the sandbox's account (set INFRAPREP_SANDBOX_UID)")


_MADE: set[str] = set()  # folders this process made for kernels (real paths)


def new_folder(prefix: str) -> str:
    """A fresh private folder in the temporary directory, made for a kernel: only such folders (and
    what is inside them) are ever handed to the sandbox's account."""
    folder = tempfile.mkdtemp(prefix=prefix)
    _MADE.add(os.path.realpath(folder))
    return folder


def entrust(folder: str | os.PathLike) -> None:
    """Mark a folder the caller made for a kernel (a test's, say) as the kernel's to write."""
    _MADE.add(os.path.realpath(folder))


def made_for_the_sandbox(path: str | os.PathLike) -> bool:
    """True for a folder made with :func:`new_folder` or :func:`entrust`, or anything inside one; never
    for the instructor's course, the grader's own files or any other folder, wherever they are."""
    real = os.path.realpath(path)
    return any(real == made or real.startswith(made + os.sep) for made in _MADE)


def hand_over(path: str | os.PathLike, recursive: bool = False) -> None:
    """Give a folder (or file) the grader made to the sandbox's account, so the kernel can write it.

    Only what the grader made for the kernel (:func:`made_for_the_sandbox`): handing over any other
    folder would give the kernel, and the sandbox's account, an instructor's files."""
    account = sandbox_account()
    if account is None:
        return
    if not made_for_the_sandbox(path):
        raise RuntimeError(f"refusing to give {path} to the sandbox's account: the kernel may only write "
                           "folders the grader made for it")
    uid, gid = account
    os.chown(path, uid, gid, follow_symlinks=False)
    if recursive and os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def python_dirs() -> list[str]:
    """Read-only folders the kernel's Python needs: its prefixes (the course package is bound apart)."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["purelib"],
            str(Path(sys.executable).resolve().parent.parent)}
    return sorted(d for d in dirs if d and os.path.isdir(d))


def course_package() -> str:
    """The folder of the ``infraprep`` package this grader runs (bound at :data:`COURSE_PATH`)."""
    import infraprep

    return str(Path(infraprep.__file__).resolve().parent)


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """True when bubblewrap exists and the sandbox starts, exactly as the kernels' sandboxes do."""
    if not os.path.exists(BWRAP):
        return False
    work, shared = new_folder("infraprep-probe-"), new_folder("infraprep-probe-")
    stage = None
    try:
        prefix, stage = bwrap_prefix(work, shared)
        probe = subprocess.run(prefix + ["true"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired, RuntimeError):
        return False
    finally:
        for folder in (work, shared, stage):
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
    return probe.returncode == 0


def _command(argv: list[str], sources: list[str]) -> tuple[list[str], str | None]:
    """``argv`` (a bwrap command), started through :mod:`.stage` as the sandbox's account when the
    grader is root; returns the command and the staging folder to remove once the sandbox is up."""
    account = sandbox_account()
    if account is None:
        return argv, None
    stage = tempfile.mkdtemp(prefix="infraprep-stage-")
    os.chmod(stage, 0o711)
    spec = {"uid": account[0], "gid": account[1], "stage": stage, "sources": sources, "argv": argv}
    entry = (f"import sys; sys.path.insert(0, {str(Path(course_package()).parent)!r}); "
             "from infraprep.grading.stage import main; main(sys.argv)")
    return [sys.executable, "-I", "-c", entry, json.dumps(spec)], stage


def bwrap_prefix(workdir: str, shared_dir: str, memory_bytes: int = 0,
                 confinement: "limits.Confinement | None" = None, nproc: int = limits.PIDS,
                 extra_env: dict | None = None, extra_read_only: list[str] = (),
                 as_pid_1: bool = False) -> tuple[list[str], str | None]:
    """The command prefix that starts a process in the sandbox, and the staging folder to remove
    after it has started (None when the grader is not root): ``[cgroup join] [stage] bwrap ... --
    [prlimit ...]``. ``workdir`` and ``shared_dir`` are the two folders it may write, handed to the
    sandbox's account. ``memory_bytes``: address-space limit of each process (0: none). ``confinement``:
    the cgroup the sandbox joins (see :mod:`.limits`); without one, ``nproc`` caps the processes of
    the sandbox's account with ``prlimit --nproc`` (which binds no root, hence the account)."""
    for folder in (workdir, shared_dir):
        hand_over(folder, recursive=True)
    package = course_package()
    args = [BWRAP, *IDENTITY, *ISOLATE, "--die-with-parent", "--new-session", "--unshare-all"]
    if as_pid_1:
        args.append("--as-pid-1")
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--clearenv"]
    sources = []
    for folder in SYSTEM_DIRS:
        args += ["--ro-bind-try", folder, folder]
        sources.append(folder)
    for folder in python_dirs() + list(extra_read_only):
        args += ["--ro-bind", folder, folder]
        sources.append(folder)
    args += ["--ro-bind", package, f"{COURSE_PATH}/infraprep"]
    sources.append(package)
    args += ["--bind", shared_dir, shared_dir, "--bind", workdir, workdir, "--chdir", workdir]
    sources += [shared_dir, workdir]
    env = {"HOME": "/tmp", "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "INFRAPREP_SANDBOXED": "1",
           "PYTHONPATH": COURSE_PATH, **(extra_env or {})}
    for key, value in env.items():
        args += ["--setenv", key, value]
    args.append("--")
    rlimits = [f"--as={memory_bytes}"] if memory_bytes else []
    if confinement is None and nproc:
        rlimits.append(f"--nproc={_user_tasks() + nproc}")  # the limit counts the account's other tasks too
    if rlimits:
        args += ["prlimit", *rlimits, "--"]
    command, stage = _command(args, sources)
    return (confinement.prefix() if confinement else []) + command, stage


def isolation_shim(*writable: str) -> list[str]:
    """What goes between :func:`bwrap_prefix` and a command started on its own in the sandbox: the same
    namespaces and the same dropped capabilities a fork-server kernel gets (:func:`.zygote.run_isolated`)."""
    return [sys.executable, "-c", "from infraprep.grading.zygote import run_isolated; run_isolated()", *writable, "--"]


def _user_tasks() -> int:
    """Processes and threads the sandbox's account runs now (what RLIMIT_NPROC counts)."""
    account = sandbox_account()
    uid, count = (account[0] if account else os.geteuid()), 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            if int(fields["Uid"].split()[1]) == uid:
                count += int(fields["Threads"])
        except (OSError, KeyError, ValueError, IndexError):
            continue
    return count


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run under bubblewrap (see the module docstring), each behind
    :func:`.zygote.run_isolated`, which gives it the same namespaces a fork-server kernel gets."""

    sandbox_memory_bytes = Integer(4 * 1024**3, help="Address-space limit of the kernel (bytes); 0 for none").tag(config=True)
    sandbox_pids = Integer(limits.PIDS, help="Processes the kernel's tree may have").tag(config=True)
    sandbox_cgroup_memory_bytes = Integer(limits.MEMORY_BYTES, help="Memory of the kernel's tree (bytes, cgroup)").tag(config=True)
    extra_read_only = List(Unicode(), help="More folders the kernel may read").tag(config=True)
    kernel_env: dict = {}  # the graded student's identity (variants), set by the judge before start

    def __init__(self, scratch: bool = False, **kwargs):
        """``scratch=True``: the kernel works in a fresh private folder (``self.scratch``) instead of
        the folder it is started in, for kernels started before their notebook is known."""
        super().__init__(**kwargs)
        self.scratch = new_folder("infraprep-scratch-") if scratch else None
        self._shared = new_folder("infraprep-kernel-")
        os.chmod(self._shared, 0o700)
        self.transport = "ipc"
        self.connection_file = os.path.join(self._shared, "kernel.json")
        self.ip = os.path.join(self._shared, "ipc")
        self._confinement: limits.Confinement | None = None

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw):
        if not available():
            raise RuntimeError("bubblewrap cannot run here: student code would run unsandboxed (install bubblewrap)")
        workdir = self.scratch or str(Path(kw.get("cwd") or os.getcwd()).resolve())
        if not made_for_the_sandbox(workdir):
            # started in a folder the grader did not make (the instructor's, say): the kernel works in a
            # fresh folder of its own instead, so nothing outside it becomes writable to student code
            self.scratch = workdir = new_folder("infraprep-scratch-")
        if self.scratch:
            kw["cwd"] = self.scratch
        if self._confinement is None:
            self._confinement = limits.Confinement.create(self.sandbox_pids, self.sandbox_cgroup_memory_bytes)
        hand_over(self.connection_file)
        prefix, stage = bwrap_prefix(workdir, self._shared, self.sandbox_memory_bytes, self._confinement,
                                     self.sandbox_pids, extra_env=self.kernel_env, extra_read_only=list(self.extra_read_only))
        shim = isolation_shim(workdir, self._shared)
        kw["env"] = {}
        # the kernel's own descriptors 1 and 2 are never the grader's (ipykernel keeps a copy of them, and
        # a kernel can write to them): whoever starts the kernel, its console is /dev/null
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
        try:
            return await super()._async_launch_kernel(prefix + shim + kernel_cmd, **kw)
        finally:
            self._stage = stage

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        stage = getattr(self, "_stage", None)
        if stage:
            shutil.rmtree(stage, ignore_errors=True)
            self._stage = None
        if not restart:
            if self._confinement is not None:
                self._confinement.close()
                self._confinement = None
            shutil.rmtree(self._shared, ignore_errors=True)
            if self.scratch:
                shutil.rmtree(self.scratch, ignore_errors=True)
