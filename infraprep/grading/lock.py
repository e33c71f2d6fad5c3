"""One writer at a time: the gradebook lock of a course directory.

``infraprep watch`` and a manual ``infraprep collect``/``autograde``/``feedback`` may run at the same
time on one cohort. Each takes :func:`gradebook_lock` for the whole of its work on the cohort's
``submitted/``, ``autograded/``, ``feedback/`` and gradebook, so one waits while the other writes
(and says whom it waits for). The lock is an exclusive ``flock`` on ``.infraprep-gradebook.lock``
in the course directory: the kernel releases it when its holder exits, however it exits, so a
killed process never leaves a stale lock. It is reentrant inside one process (the watcher holds it
while the coordinator it calls takes it again).

``flock`` serialises processes on one machine (and on one host of a network file system at best):
run every writer of a cohort on the machine that holds its course directory.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .escape import printable

LOCK_FILE = ".infraprep-gradebook.lock"

_held: dict[str, list] = {}  # resolved lock path -> [file descriptor, depth]
_guard = threading.Lock()


def lock_path(course_root: str | Path) -> Path:
    return Path(course_root).resolve() / LOCK_FILE


def holder(course_root: str | Path) -> dict:
    """Who holds (or last held) the lock: ``{"pid", "what", "since"}``, or ``{}``."""
    try:
        data = json.loads(lock_path(course_root).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextmanager
def gradebook_lock(course_root: str | Path, what: str = "", log=None, timeout: float | None = None):
    """Hold the course's gradebook lock for the block (waiting for it if another process has it).

    ``what`` names the holder for the others' messages (``"infraprep watch"``); ``log`` receives
    the one "waiting for ..." line (default: stderr); with ``timeout`` (seconds) a lock still held
    then raises :class:`TimeoutError`."""
    path = lock_path(course_root)
    key = str(path)
    with _guard:
        if key in _held:
            _held[key][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[key][1] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            other = holder(course_root)
            message = (f"waiting for the gradebook lock of {path.parent}: held by "
                       f"{other.get('what') or 'another infraprep command'} (pid {other.get('pid', '?')}) "
                       f"since {other.get('since', '?')}")
            (log or (lambda m: print(printable(m), file=sys.stderr, flush=True)))(message)
            _wait(fd, timeout, path)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "what": what or " ".join(sys.argv[:3]),
                                  "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode(), 0)
        with _guard:
            _held[key] = [fd, 1]
        try:
            yield
        finally:
            with _guard:
                del _held[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _wait(fd: int, timeout: float | None, path: Path) -> None:
    if timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the gradebook lock {path} is still held after {timeout:.0f} s") from None
            time.sleep(0.1)
