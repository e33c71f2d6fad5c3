"""Course tables: every table lives once, as a CSV under ``infraprep/data/<lesson>/``.

Conventions
-----------
- One folder a lesson, named by the lesson id (``01-roles``, ``02-gpu``, ...).
- Column names carry their units (``base_low_usd``, ``duration_max_min``,
  ``bandwidth_tb_s``); a column named ``source`` holds a key of the lesson's
  ``references.csv`` so every figure can be traced to where it came from.
- Text artefacts (logs, command output, manifests) sit beside the tables as
  ``.txt``/``.log``/``.yaml`` files and are read with :func:`artefact`.

``load`` returns numbers as numbers and text as pandas' ``string`` dtype, so a
table behaves the same in every notebook and test.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = ["DATA_DIR", "load", "artefact", "artefact_path", "references", "lessons", "available"]

DATA_DIR = Path(str(resources.files("infraprep") / "data"))


class TableNotFound(LookupError):
    """Raised when a lesson or table name does not exist; the message lists what does."""


def _lesson_dir(lesson: str) -> Path:
    folder = DATA_DIR / lesson
    if not folder.is_dir():
        known = sorted(p.name for p in DATA_DIR.iterdir() if p.is_dir())
        raise TableNotFound(f"no data folder for lesson {lesson!r}; known lessons: {', '.join(known)}")
    return folder


def available(lesson: str) -> list[str]:
    """Names of the tables (CSV files, without extension) that a lesson has."""
    return sorted(p.stem for p in _lesson_dir(lesson).glob("*.csv"))


@lru_cache(maxsize=None)
def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, skipinitialspace=True, comment=None)
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].astype("string")
    return frame


def load(lesson: str, name: str) -> pd.DataFrame:
    """Load table ``name`` of ``lesson`` as a DataFrame (a fresh copy each call).

    >>> load("01-roles", "salaries").columns[:3].tolist()
    ['level', 'years_min', 'years_max']
    """
    path = _lesson_dir(lesson) / f"{name}.csv"
    if not path.is_file():
        raise TableNotFound(
            f"lesson {lesson!r} has no table {name!r}; it has: {', '.join(available(lesson))}"
        )
    return _read(path).copy()


def artefact_path(lesson: str, name: str) -> Path:
    """Path of a text artefact (log, command output, manifest) of a lesson."""
    path = _lesson_dir(lesson) / name
    if not path.is_file():
        others = sorted(p.name for p in _lesson_dir(lesson).iterdir() if p.suffix != ".csv")
        raise TableNotFound(f"lesson {lesson!r} has no artefact {name!r}; it has: {', '.join(others)}")
    return path


def artefact(lesson: str, name: str) -> str:
    """Text of an artefact, e.g. ``artefact("02-gpu", "nvidia-smi.txt")``."""
    return artefact_path(lesson, name).read_text(encoding="utf-8")


def references(lesson: str) -> pd.DataFrame:
    """The lesson's sources: ``key, title, publisher, url, accessed`` (ISO date)."""
    return load(lesson, "references")


def lessons() -> pd.DataFrame:
    """The lessons of the course, in order: ``number, lesson_id, title, summary``."""
    path = DATA_DIR / "lessons.csv"
    return _read(path).copy()
