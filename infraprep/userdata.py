"""The learner's local progress folder and crash-safe JSON files.

Progress (prep-plan ticks, flashcards, mock-interview scores) lives outside the course folder so it
survives restarting JupyterLab and re-cloning the course: ``$INFRAPREP_HOME`` if set,
else ``~/.infraprep``. Every function takes an explicit path too, so tests use a
temporary folder and never touch the real one.

Writes are atomic: the JSON goes to a temporary file in the same folder, is flushed
to disk, then ``os.replace`` swaps it in, so a crash mid-write leaves the old file
intact. A file that cannot be read as JSON (or has the wrong shape) is renamed to
``<name>.corrupt-<timestamp>`` with a warning and a fresh state is started: the
learner loses nothing silently and the notebook never crashes.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

__all__ = ["home", "read_json", "write_json", "stamp", "CorruptFileWarning"]


class CorruptFileWarning(UserWarning):
    """A progress file could not be read and was set aside."""


def home(create: bool = True) -> Path:
    """The practice folder: ``$INFRAPREP_HOME`` or ``~/.infraprep`` (created if missing)."""
    folder = Path(os.environ.get("INFRAPREP_HOME") or Path.home() / ".infraprep").expanduser()
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def stamp(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(mtime_ns, size)`` of a file, or None if it does not exist: cheap change detection, so an
    object holding a file's content can notice that another widget or process rewrote it."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_mtime_ns, info.st_size


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as JSON atomically (temporary file in the same folder, then ``os.replace``)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _set_aside(path: Path, reason: str, now: datetime | None) -> Path:
    stamp = (now or datetime.now()).strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
        counter += 1
    os.replace(path, aside)
    warnings.warn(
        f"{path} could not be read ({reason}); it was moved to {aside.name} and a fresh file was started",
        CorruptFileWarning,
        stacklevel=3,
    )
    return aside


def read_json(
    path: str | os.PathLike,
    default: Callable[[], Any],
    valid: Callable[[Any], bool] = lambda data: True,
    now: datetime | None = None,
) -> Any:
    """Read JSON from ``path``; ``default()`` if the file is missing.

    If the file is not valid JSON, or ``valid(data)`` is false, it is renamed to
    ``<name>.corrupt-<timestamp>``, a :class:`CorruptFileWarning` is issued and
    ``default()`` is returned.
    """
    source = Path(path)
    if not source.exists():
        return default()
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _set_aside(source, f"not valid JSON: {exc.__class__.__name__}", now)
        return default()
    try:
        ok = bool(valid(data))
    except Exception:  # a validator tripping over odd data means the data are bad
        ok = False
    if not ok:
        _set_aside(source, "unexpected content", now)
        return default()
    return data
