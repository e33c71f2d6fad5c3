"""Cohorts: several runs of the course side by side, each with its roster, schedule and gradebook.

A cohort is an nbgrader course directory of its own, ``cohorts/NAME/`` inside the course:
``nbgrader_config.py`` (the course's settings, plus its own course id - so the exchange keeps
cohorts apart - and its own gradebook), ``source`` (a link to the course's ``source/``),
``roster.csv``, ``schedule.csv`` (lesson, due date in UTC) and nbgrader's working folders.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
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
'''


def cohort_root(course_root: str | Path, name: str) -> Path:
    return Path(course_root).resolve() / "cohorts" / safe_name(name)


def create_cohort(course_root: str | Path, name: str, roster: str | Path, db_url: str | None = None,
                  start: dt.date | None = None, weeks_between: int = 1) -> Course:
    """Make ``cohorts/NAME`` from a roster (refused, naming the line, if it is not usable)."""
    students = read_roster(roster)  # checked before anything is written
    course_root = Path(course_root).resolve()
    base = Course(course_root)
    root = cohort_root(course_root, name)
    if (root / "nbgrader_config.py").exists():
        raise FileExistsError(f"cohort {name!r} already exists at {root}")
    root.mkdir(parents=True)
    db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
    (root / "nbgrader_config.py").write_text(CONFIG.format(name=name, db=db_url), encoding="utf-8")
    source = Path(base.coursedir.root) / base.coursedir.source_directory
    os.symlink(os.path.relpath(source, root), root / "source", target_is_directory=True)
    write_roster(root / "roster.csv", students)
    start = start or dt.datetime.now(dt.timezone.utc).date()
    with (root / "schedule.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lesson", "due"])
        for i, lesson in enumerate(base.lessons(), start=1):
            due = dt.datetime.combine(start + dt.timedelta(weeks=weeks_between * i), dt.time(23, 59))
            writer.writerow([lesson, due.strftime("%Y-%m-%d %H:%M:%S")])
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


def schedule(course: Course) -> dict[str, dt.datetime]:
    """lesson -> due date (naive UTC, as nbgrader stores them) from ``schedule.csv``."""
    path = course.root / "schedule.csv"
    due: dict[str, dt.datetime] = {}
    if path.exists():
        with path.open(newline="", encoding="utf-8") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                if row.get("lesson") and (row.get("due") or "").strip():
                    try:
                        due[row["lesson"].strip()] = dt.datetime.fromisoformat(row["due"].strip()).replace(tzinfo=None)
                    except ValueError:
                        raise ValueError(f"{path.name} line {line}: bad due date {row['due']!r}") from None
    return due


def cohorts(course_root: str | Path) -> list[str]:
    base = Path(course_root).resolve() / "cohorts"
    return sorted(p.name for p in base.iterdir() if (p / "nbgrader_config.py").exists()) if base.is_dir() else []


def add_students(course: Course, students: list[Student]) -> None:
    with course.gradebook() as gb:
        for s in students:
            gb.update_or_create_student(s.id, first_name=s.first_name, last_name=s.last_name, email=s.email)
