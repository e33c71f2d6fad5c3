"""Run a student's kernel in a bubblewrap sandbox.

:class:`SandboxedKernelManager` starts the kernel through ``bwrap`` (Debian's
``bubblewrap``) so that student code:

- sees only the system and Python files it needs, read-only, plus the course
  package (``infraprep/``, public data) — not ``source/``, other submissions,
  the gradebook or the course configuration;
- can write only its own submission folder and a private ``/tmp``;
- has no network (its own empty network namespace) and its own process tree,
  which dies with the grader;
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

BWRAP = shutil.which("bwrap") or "/usr/bin/bwrap"
SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc"]


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """True when bubblewrap exists and can create the namespaces the sandbox uses."""
    if not os.path.exists(BWRAP):
        return False
    try:
        probe = subprocess.run(
            [BWRAP, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
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


def bwrap_prefix(workdir: str, shared_dir: str, memory_bytes: int = 0) -> list[str]:
    """The ``bwrap ... --`` prefix for a kernel working in ``workdir``."""
    args = [BWRAP, "--die-with-parent", "--new-session", "--unshare-all",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--clearenv"]
    for folder in SYSTEM_DIRS:
        args += ["--ro-bind-try", folder, folder]
    for folder in python_dirs():
        args += ["--ro-bind", folder, folder]
    args += ["--bind", shared_dir, shared_dir, "--bind", workdir, workdir, "--chdir", workdir]
    env = {"HOME": "/tmp", "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "INFRAPREP_SANDBOXED": "1"}
    for key, value in env.items():
        args += ["--setenv", key, value]
    args.append("--")
    if memory_bytes:
        args += ["prlimit", f"--as={memory_bytes}", "--"]
    return args


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run under bubblewrap (see the module docstring)."""

    sandbox_memory_bytes = Integer(4 * 1024**3, help="Address-space limit of the kernel (bytes); 0 for none").tag(config=True)
    extra_read_only = List(Unicode(), help="More folders the kernel may read").tag(config=True)

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

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw):
        if not available():
            raise RuntimeError("bubblewrap cannot run here: student code would run unsandboxed (install bubblewrap)")
        workdir = self.scratch or str(Path(kw.get("cwd") or os.getcwd()).resolve())
        if self.scratch:
            kw["cwd"] = self.scratch
        prefix = bwrap_prefix(workdir, self._shared, self.sandbox_memory_bytes)
        for folder in self.extra_read_only:
            prefix[1:1] = ["--ro-bind", folder, folder]
        kw["env"] = {}
        return await super()._async_launch_kernel(prefix + kernel_cmd, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._shared, ignore_errors=True)
            if self.scratch:
                shutil.rmtree(self.scratch, ignore_errors=True)
