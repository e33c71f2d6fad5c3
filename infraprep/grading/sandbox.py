"""Run a student's kernel in a bubblewrap sandbox.

:class:`SandboxedKernelManager` starts the kernel through ``bwrap`` (Debian's
``bubblewrap``) so that student code:

- sees only the system and Python files it needs, read-only, plus the course
  package (``infraprep/``, public data) — not ``source/``, other submissions,
  the gradebook or the course configuration;
- can write only its own submission folder and a private ``/tmp``;
- has no network (its own empty network namespace) and its own process tree,
  which dies with the grader;
- runs as ``nobody`` (uid 65534) in a user namespace of its own, with no capabilities and no way to
  make further namespaces, even when the grader is root;
- has at most :data:`limits.PIDS` processes and :data:`limits.MEMORY_BYTES` of memory (a cgroup,
  where the grader may make one; otherwise ``prlimit --nproc``), and each process at most
  4 GiB of address space;
- gets a clean environment (no grader variables such as a database URL).

The kernel talks to the grader over ZeroMQ IPC sockets in a private folder that
is the only other thing shared with it, since TCP cannot cross the network
namespace. :func:`available` says whether sandboxing works on this machine.
"""

from __future__ import annotations

import functools
import os
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
# nobody, in a user namespace of its own, with no capabilities (bwrap keeps them all for root otherwise)
IDENTITY = ["--unshare-user", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL", "--disable-userns"]


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """True when bubblewrap exists and can create the namespaces the sandbox uses."""
    if not os.path.exists(BWRAP):
        return False
    try:
        probe = subprocess.run(
            [BWRAP, *IDENTITY, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
             "--unshare-all", "--die-with-parent", "true"],
            capture_output=True, timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def python_dirs() -> list[str]:
    """Read-only folders the kernel's Python needs: its prefixes and the course package."""
    import infraprep

    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["purelib"],
            str(Path(infraprep.__file__).resolve().parent), str(Path(sys.executable).resolve().parent.parent)}
    return sorted(d for d in dirs if d and os.path.isdir(d))


def bwrap_prefix(workdir: str, shared_dir: str, memory_bytes: int = 0,
                 confinement: "limits.Confinement | None" = None, nproc: int = limits.PIDS,
                 extra_env: dict | None = None) -> list[str]:
    """The command prefix for a kernel working in ``workdir``: ``[cgroup join] bwrap ... -- [prlimit ...]``.

    ``memory_bytes``: address-space limit of each process (0: none). ``confinement``: the cgroup the
    sandbox joins (see :mod:`.limits`); without one, ``nproc`` caps the processes of the sandbox's
    user with ``prlimit --nproc`` instead (which root ignores)."""
    args = (confinement.prefix() if confinement else []) + [BWRAP, *IDENTITY, "--die-with-parent", "--new-session", "--unshare-all",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--clearenv"]
    for folder in SYSTEM_DIRS:
        args += ["--ro-bind-try", folder, folder]
    for folder in python_dirs():
        args += ["--ro-bind", folder, folder]
    args += ["--bind", shared_dir, shared_dir, "--bind", workdir, workdir, "--chdir", workdir]
    env = {"HOME": "/tmp", "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "INFRAPREP_SANDBOXED": "1", **(extra_env or {})}
    for key, value in env.items():
        args += ["--setenv", key, value]
    args.append("--")
    rlimits = [f"--as={memory_bytes}"] if memory_bytes else []
    if confinement is None and os.geteuid() != 0 and nproc:
        rlimits.append(f"--nproc={_user_tasks() + nproc}")  # the limit counts the user's other tasks too
    if rlimits:
        args += ["prlimit", *rlimits, "--"]
    return args


def _user_tasks() -> int:
    """Processes and threads this user runs now (what RLIMIT_NPROC counts)."""
    uid, count = os.geteuid(), 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            if int(fields["Uid"].split()[1]) == uid:
                count += int(fields["Threads"])
        except (OSError, KeyError, ValueError, IndexError):
            continue
    return count


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run under bubblewrap (see the module docstring)."""

    sandbox_memory_bytes = Integer(4 * 1024**3, help="Address-space limit of the kernel (bytes); 0 for none").tag(config=True)
    sandbox_pids = Integer(limits.PIDS, help="Processes the kernel's tree may have").tag(config=True)
    sandbox_cgroup_memory_bytes = Integer(limits.MEMORY_BYTES, help="Memory of the kernel's tree (bytes, cgroup)").tag(config=True)
    extra_read_only = List(Unicode(), help="More folders the kernel may read").tag(config=True)
    kernel_env: dict = {}  # the graded student's identity (variants), set by the judge before start

    def __init__(self, scratch: bool = False, **kwargs):
        """``scratch=True``: the kernel works in a fresh private folder (``self.scratch``) instead of
        the folder it is started in, for kernels started before their notebook is known."""
        super().__init__(**kwargs)
        self.scratch = tempfile.mkdtemp(prefix="infraprep-scratch-") if scratch else None
        self._shared = tempfile.mkdtemp(prefix="infraprep-kernel-")
        os.chmod(self._shared, 0o700)
        self.transport = "ipc"
        self.connection_file = os.path.join(self._shared, "kernel.json")
        self.ip = os.path.join(self._shared, "ipc")
        self._confinement: limits.Confinement | None = None

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw):
        if not available():
            raise RuntimeError("bubblewrap cannot run here: student code would run unsandboxed (install bubblewrap)")
        workdir = self.scratch or str(Path(kw.get("cwd") or os.getcwd()).resolve())
        if self.scratch:
            kw["cwd"] = self.scratch
        if self._confinement is None:
            self._confinement = limits.Confinement.create(self.sandbox_pids, self.sandbox_cgroup_memory_bytes)
        prefix = bwrap_prefix(workdir, self._shared, self.sandbox_memory_bytes, self._confinement, self.sandbox_pids,
                              extra_env=self.kernel_env)
        at = prefix.index(BWRAP) + 1
        for folder in self.extra_read_only:
            prefix[at:at] = ["--ro-bind", folder, folder]
        kw["env"] = {}
        return await super()._async_launch_kernel(prefix + kernel_cmd, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            if self._confinement is not None:
                self._confinement.close()
                self._confinement = None
            shutil.rmtree(self._shared, ignore_errors=True)
            if self.scratch:
                shutil.rmtree(self.scratch, ignore_errors=True)
