"""An nbgrader course directory opened the way nbgrader's own commands open it.

``Course(root)`` reads ``root/nbgrader_config.py`` (the course's settings: exchange, gradebook URL,
timeouts, feedback preprocessors), optionally overrides the gradebook URL, and hands out nbgrader's
own ``CourseDirectory``, ``NbGraderAPI`` and ``Gradebook`` for it. Everything in
``infraprep.grading`` works on a ``Course``, so it works on any nbgrader course directory.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader


class Course:
    def __init__(self, root: str | Path = ".", db_url: str | None = None):
        self.root = Path(root).resolve()
        if not (self.root / "nbgrader_config.py").exists():
            raise FileNotFoundError(f"{self.root} is not an nbgrader course directory (no nbgrader_config.py)")
        self._db_override = db_url
        os.environ.setdefault("NBGRADER_DB_LOG_LEVEL", "WARNING")

    @cached_property
    def config(self) -> Config:
        loader = PyFileConfigLoader("nbgrader_config.py", path=str(self.root))
        cfg = loader.load_config()
        cfg.CourseDirectory.root = str(self.root)
        if self._db_override:
            cfg.CourseDirectory.db_url = self._db_override
        if "db_url" in cfg.CourseDirectory:
            cfg.CourseDirectory.db_url = normalize_db_url(cfg.CourseDirectory.db_url)
        return cfg

    @cached_property
    def coursedir(self):
        from nbgrader.coursedir import CourseDirectory

        from .safefiles import install

        install()  # nbgrader reads timestamp.txt and copies submissions without following a link
        return CourseDirectory(config=self.config)

    @property
    def db_url(self) -> str:
        return self.coursedir.db_url

    @property
    def course_id(self) -> str:
        return self.coursedir.course_id

    @cached_property
    def api(self):
        from nbgrader.apps.api import NbGraderAPI

        return NbGraderAPI(coursedir=self.coursedir, config=self.config)

    def gradebook(self):
        from nbgrader.api import Gradebook

        return Gradebook(self.db_url, self.course_id)

    def lessons(self) -> list[str]:
        """Assignment ids with a source notebook folder, in order."""
        source = Path(self.coursedir.format_path(self.coursedir.source_directory, ".", "."))
        return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) \
            if source.is_dir() else []

    def path(self, kind: str, student: str, lesson: str) -> Path:
        """``submitted``/``autograded``/``feedback``/``source``/``release`` folder of a student's lesson."""
        directory = getattr(self.coursedir, f"{kind}_directory")
        return Path(self.coursedir.format_path(directory, student, lesson))

    def submitted(self, lessons: list[str] | None = None) -> list[tuple[str, str]]:
        """(student, lesson) pairs that have a folder under ``submitted/``, sorted."""
        base = Path(self.coursedir.root) / self.coursedir.submitted_directory
        pairs = []
        if base.is_dir():
            for student in sorted(p for p in base.iterdir() if p.is_dir()):
                for lesson in sorted(p for p in student.iterdir() if p.is_dir()):
                    if lessons is None or lesson.name in lessons:
                        pairs.append((student.name, lesson.name))
        return pairs


def normalize_db_url(url: str) -> str:
    """``postgresql://...`` names SQLAlchemy's default PostgreSQL driver (psycopg 3); the course ships
    psycopg2 (``psycopg2-binary``), so a bare ``postgresql://`` uses it unless psycopg 3 is installed."""
    if url.startswith(("postgresql://", "postgres://")):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def safe_name(text: str) -> str:
    """A cohort name usable as a folder and inside an nbgrader course id."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", text):
        raise ValueError(f"bad cohort name {text!r}: letters, digits, '_' and '-' only")
    return text
