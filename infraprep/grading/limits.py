"""Process and memory limits for one sandboxed kernel: a cgroup of its own.

A fork bomb or a memory bomb in a student's notebook must stop at the notebook. The sandbox's
address-space limit (``prlimit --as``) bounds one process; a *cgroup* bounds the whole tree a kernel
starts: at most :data:`PIDS` processes and :data:`MEMORY_BYTES` of memory (the kernel's OOM killer
ends the tree's largest process, usually the kernel, which the grader then records as "kernel died").

Cgroups need root (or a delegated subtree), so this works where graders usually run (CI, a hub as
root). Elsewhere :func:`Confinement.create` returns ``None`` and the caller falls back to
``prlimit --nproc`` (a per-user process count, which does not bind root). Linux cgroup v2 and v1
(the ``pids`` and ``memory`` hierarchies) are both handled.
Sources: Linux kernel docs, "Control Group v2" (pids.max, memory.max) and
"cgroups v1: Process Number Controller" (pids.max), "Memory Resource Controller" (memory.limit_in_bytes).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

PIDS = 256                    # processes and threads in one kernel's tree
MEMORY_BYTES = 3 * 1024**3    # resident memory of one kernel's tree (bytes)
ROOT = Path("/sys/fs/cgroup")


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


def _v2_root() -> Path | None:
    """The cgroup v2 folder new groups go in, with the pids and memory controllers on, or None."""
    if not (ROOT / "cgroup.controllers").exists() or not _writable(ROOT):
        return None
    wanted = {"pids", "memory"}
    if not wanted <= set((ROOT / "cgroup.controllers").read_text().split()):
        return None
    enabled = set((ROOT / "cgroup.subtree_control").read_text().split())
    try:
        for name in wanted - enabled:
            (ROOT / "cgroup.subtree_control").write_text(f"+{name}")
    except OSError:
        return None
    return ROOT


class Confinement:
    """A cgroup (v2) or a pair of cgroups (v1 pids + memory) that one kernel's processes join."""

    def __init__(self, folders: list[Path], pids: int, memory_bytes: int):
        self.folders = folders
        self.pids = pids
        self.memory_bytes = memory_bytes

    @classmethod
    def create(cls, pids: int = PIDS, memory_bytes: int = MEMORY_BYTES) -> "Confinement | None":
        """New empty cgroup(s) with these limits, or None where this process may not create cgroups."""
        name = f"infraprep-{uuid.uuid4().hex[:12]}"
        v2 = _v2_root()
        try:
            if v2 is not None:
                folder = v2 / name
                folder.mkdir()
                (folder / "pids.max").write_text(str(pids))
                if memory_bytes:
                    (folder / "memory.max").write_text(str(memory_bytes))
                    if (folder / "memory.swap.max").exists():
                        (folder / "memory.swap.max").write_text("0")
                return cls([folder], pids, memory_bytes)
            if _writable(ROOT / "pids"):
                folders = [ROOT / "pids" / name]
                folders[0].mkdir()
                (folders[0] / "pids.max").write_text(str(pids))
                if memory_bytes and _writable(ROOT / "memory"):
                    memory = ROOT / "memory" / name
                    memory.mkdir()
                    folders.append(memory)
                    (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
                return cls(folders, pids, memory_bytes)
        except OSError:
            return None
        return None

    def prefix(self) -> list[str]:
        """A command prefix that moves the command into the cgroup(s) before it starts (``sh`` then ``exec``)."""
        joins = " && ".join(f"echo $$ > '{folder}/cgroup.procs'" for folder in self.folders)
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "infraprep-confine"]

    def members(self) -> list[int]:
        pids: set[int] = set()
        for folder in self.folders:
            try:
                pids.update(int(p) for p in (folder / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return sorted(pids)

    def close(self) -> None:
        """Kill whatever is still in the group and remove it."""
        for _ in range(50):
            members = self.members()
            if not members:
                break
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)
        for folder in self.folders:
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def kill_group(proc) -> None:
    """SIGKILL a ``subprocess.Popen`` started in its own session, with everything it started (or the
    process alone if its group is gone), and reap it (5 s at most)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:  # stuck in the kernel (uninterruptible): nothing more to do
        pass
