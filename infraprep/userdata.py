"""Where a learner's local progress lives, and safe JSON reads and writes for it.

Progress (prep-plan ticks, flashcard schedules, mock-interview scores) is kept in
``$INFRAPREP_HOME`` or, by default, ``~/.infraprep/``. Writes are atomic (a
temporary file then ``os.replace``), so a crash never leaves half a file; a file
that cannot be read is moved aside with a warning and a fresh one is started.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any


def home() -> Path:
    """The folder for local progress files (created on first use)."""
    folder = Path(os.environ.get("INFRAPREP_HOME", Path.home() / ".infraprep"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def load_json(path: Path, default: Any) -> Any:
    """Read JSON from ``path``; ``default`` if missing; a corrupt file is set aside and ``default`` returned."""
    path = Path(path)
    if not path.exists():
        return default
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, aside)
        warnings.warn(f"{path} could not be read ({exc}); it was moved to {aside.name} and a fresh file started")
        return default


def save_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
