"""Cohorts: several runs of the course side by side, each with its roster, schedule and gradebook.

A cohort is an nbgrader course directory of its own, ``cohorts/NAME/`` inside the course:
``nbgrader_config.py`` (the course's settings, plus its own course id - so the exchange keeps
cohorts apart - and its own gradebook), ``source`` (a link to the course's ``source/``),
``roster.csv``, ``schedule.csv`` (lesson, due date in UTC, attempts: how many submissions
``infraprep watch`` grades before the due date, empty for no limit), ``variant_secret`` (the cohort's
secret for per-student variants, readable by the instructor alone) and nbgrader's working folders.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from .course import Course, safe_name
from .roster import Student, read_roster, write_roster

CONFIG = '''"""nbgrader settings of the cohort {name!r}: the course's, with its own course id, folders and gradebook."""
import os

c = get_config()  # noqa: F821 - provided by nbgrader
HERE = os.path.dirname(os.path.abspath(__file__))
load_subconfig(os.path.join(HERE, "..", "..", "nbgrader_config.py"))  # noqa: F821
c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = c.CourseDirectory.course_id + "-" + {name!r}
c.CourseDirectory.db_url = {db!r}
# the cohort's secret for per-student variants (infraprep.assessment.variants): the grader draws each
# student's inputs with it; a student's server gets only their key, HMAC(secret, student)
_secret = os.path.join(HERE, "variant_secret")
if os.path.exists(_secret):
    with open(_secret, encoding="utf-8") as _handle:
        c.JudgedExecute.variant_secret = _handle.read().strip()
'''

SECRET_FILE = "variant_secret"
SCHEDULE_COLUMNS = ("lesson", "due", "attempts")


def cohort_root(course_root: str | Path, name: str) -> Path:
    return Path(course_root).resolve() / "cohorts" / safe_name(name)


def create_cohort(course_root: str | Path, name: str, roster: str | Path, db_url: str | None = None,
                  start: dt.date | None = None, weeks_between: int = 1, secret: str | None = None) -> Course:
    """Make ``cohorts/NAME`` from a roster (refused, naming the line, if it is not usable), with a new
    variant secret (or ``secret``)."""
    students = read_roster(roster)  # checked before anything is written
    course_root = Path(course_root).resolve()
    base = Course(course_root)
    root = cohort_root(course_root, name)
    if (root / "nbgrader_config.py").exists():
        raise FileExistsError(f"cohort {name!r} already exists at {root}")
    root.mkdir(parents=True)
    db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
    write_secret(root, secret)
    (root / "nbgrader_config.py").write_text(CONFIG.format(name=name, db=db_url), encoding="utf-8")
    source = Path(base.coursedir.root) / base.coursedir.source_directory
    os.symlink(os.path.relpath(source, root), root / "source", target_is_directory=True)
    write_roster(root / "roster.csv", students)
    start = start or dt.datetime.now(dt.timezone.utc).date()
    with (root / "schedule.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SCHEDULE_COLUMNS)
        for i, lesson in enumerate(base.lessons(), start=1):
            due = dt.datetime.combine(start + dt.timedelta(weeks=weeks_between * i), dt.time(23, 59))
            writer.writerow([lesson, due.strftime("%Y-%m-%d %H:%M:%S"), ""])
    course = Course(root)
    with course.gradebook() as gb:
        for s in students:
            gb.update_or_create_student(s.id, first_name=s.first_name, last_name=s.last_name, email=s.email)
    return course


def open_course(course_root: str | Path = ".", cohort: str | None = None, db_url: str | None = None) -> Course:
    root = cohort_root(course_root, cohort) if cohort else Path(course_root)
    if cohort and not (root / "nbgrader_config.py").exists():
        raise FileNotFoundError(f"no cohort {cohort!r}: create it with `infraprep cohort create {cohort} --roster FILE`")
    return Course(root, db_url=db_url)


def roster(course: Course) -> dict[str, Student]:
    """The course's roster (``roster.csv`` in its folder), or an empty one."""
    path = course.root / "roster.csv"
    return {s.id: s for s in read_roster(path)} if path.exists() else {}


@dataclass(frozen=True)
class Entry:
    """One line of ``schedule.csv``: the lesson, its due date (naive UTC) and its attempt limit."""

    lesson: str
    due: dt.datetime | None
    attempts: int | None   # None: no limit
    line: int


def read_schedule(path: str | Path) -> dict[str, Entry]:
    """lesson -> :class:`Entry` from a ``schedule.csv`` (columns ``lesson``, ``due``, optional ``attempts``).

    Refused with :class:`ValueError` naming the file and line: a missing ``lesson`` column, a row with
    more fields than the header, an empty or repeated lesson, a due date that is not ``YYYY-MM-DD
    HH:MM[:SS]``, an attempt limit that is not a whole number of at least 1."""
    path = Path(path)
    found: dict[str, Entry] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        if "lesson" not in header:
            raise ValueError(f"{path.name} line 1: no 'lesson' column (expected {','.join(SCHEDULE_COLUMNS)})")
        where = {name: header.index(name) for name in SCHEDULE_COLUMNS if name in header}
        for row in reader:
            line = reader.line_num
            if not any(field.strip() for field in row):
                continue
            if len(row) > len(header):
                raise ValueError(f"{path.name} line {line}: {len(row)} fields, the header has {len(header)}")
            cell = {name: (row[i].strip() if i < len(row) else "") for name, i in where.items()}
            lesson = cell["lesson"]
            if not lesson:
                raise ValueError(f"{path.name} line {line}: no lesson")
            if lesson in found:
                raise ValueError(f"{path.name} line {line}: {lesson!r} again (first on line {found[lesson].line})")
            due = None
            if cell.get("due"):
                try:
                    due = dt.datetime.fromisoformat(cell["due"])
                except ValueError:
                    raise ValueError(f"{path.name} line {line}: bad due date {cell['due']!r} "
                                     "(YYYY-MM-DD HH:MM:SS, in UTC)") from None
                if due.tzinfo is not None:
                    due = due.astimezone(dt.timezone.utc)
                due = due.replace(tzinfo=None)
            attempts = None
            if cell.get("attempts"):
                text = cell["attempts"]
                if not text.isdigit() or int(text) < 1:
                    raise ValueError(f"{path.name} line {line}: bad attempts {text!r} for {lesson!r} "
                                     "(a whole number of at least 1, or empty for no limit)")
                attempts = int(text)
            found[lesson] = Entry(lesson, due, attempts, line)
    return found


def schedule_entries(course: Course) -> dict[str, Entry]:
    """The course's ``schedule.csv`` (``{}`` without one)."""
    path = course.root / "schedule.csv"
    return read_schedule(path) if path.exists() else {}


def schedule(course: Course) -> dict[str, dt.datetime]:
    """lesson -> due date (naive UTC, as nbgrader stores them) from ``schedule.csv``."""
    return {lesson: e.due for lesson, e in schedule_entries(course).items() if e.due is not None}


def attempt_limits(course: Course) -> dict[str, int]:
    """lesson -> how many submissions are graded before the due date (lessons without a limit absent)."""
    return {lesson: e.attempts for lesson, e in schedule_entries(course).items() if e.attempts is not None}


# ---------------------------------------------------------------- the variant secret

def write_secret(root: Path, secret: str | None = None) -> Path:
    """``root/variant_secret``: a new random secret (or ``secret``), readable by its owner only."""
    path = Path(root) / SECRET_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write((secret or secrets.token_hex(32)) + "\n")
    path.chmod(0o600)
    return path


def variant_secret(course: Course) -> str:
    """The cohort's variant secret (what the grader uses), ``""`` if it has none."""
    section = course.config.get("JudgedExecute", {})
    return str(section.get("variant_secret", "")) if hasattr(section, "get") else ""


def variant_keys(course: Course) -> dict[str, str]:
    """student id -> their variant key (``INFRAPREP_VARIANT_KEY``), for students who work off the hub."""
    from infraprep.assessment import variants

    secret = variant_secret(course)
    return {sid: variants.key_for(sid, secret) for sid in roster(course)}


def cohorts(course_root: str | Path) -> list[str]:
    base = Path(course_root).resolve() / "cohorts"
    return sorted(p.name for p in base.iterdir() if (p / "nbgrader_config.py").exists()) if base.is_dir() else []


def add_students(course: Course, students: list[Student]) -> None:
    with course.gradebook() as gb:
        for s in students:
            gb.update_or_create_student(s.id, first_name=s.first_name, last_name=s.last_name, email=s.email)
