"""Grades as CSV: one row a student, one column a lesson, and the total - plain, or in the gradebook
import format of Canvas or Moodle.

- ``plain``: ``student_id,name,email,<lesson>...,total``.
- ``canvas``: Canvas's gradebook CSV (what its Gradebook *Export* writes and *Import* reads): the
  columns ``Student`` ("Last, First"), ``ID`` (Canvas's own user id: left empty, Canvas then matches
  the next column), ``SIS User ID`` (the roster's id), ``SIS Login ID`` (the roster's email),
  ``Section`` (the cohort), then a column a lesson; the second row, ``Points Possible``, gives each
  lesson's points. A lesson column Canvas does not know becomes a new assignment on import.
- ``moodle``: a CSV for Moodle's *Import > CSV file*: ``First name``, ``Last name``, ``ID number``
  (the roster's id), ``Email address``, then a column a lesson. On Moodle's mapping page, identify
  users by *Email address* (map to ``useremail``) or by *ID number* (``useridnumber``), and map each
  lesson column to its grade item (or a new grade item).
"""

from __future__ import annotations

import csv
from pathlib import Path

from .cohort import roster
from .course import Course


def grade_table(course: Course) -> tuple[list[str], list[dict]]:
    """(lessons, rows): a row per student (gradebook and roster) with every lesson's score (0 if not
    submitted) and the total, read from the gradebook."""
    people = roster(course)
    with course.gradebook() as gb:
        lessons = sorted(a.name for a in gb.assignments)
        students = {s.id: s for s in gb.students}
        scores: dict[tuple[str, str], float] = {}
        for lesson in lessons:
            for sub in gb.assignment_submissions(lesson):
                scores[(sub.student_id, lesson)] = float(sub.score or 0.0)
        rows = []
        for sid in sorted(set(students) | set(people)):
            who = people.get(sid)
            s = students.get(sid)
            name = who.name if who else " ".join(x for x in (s.first_name, s.last_name) if x) if s else ""
            email = who.email if who else (s.email or "") if s else ""
            row = {"student_id": sid, "name": name, "email": email}
            for lesson in lessons:
                row[lesson] = round(scores.get((sid, lesson), 0.0), 4)
            row["total"] = round(sum(row[lesson] for lesson in lessons), 4)
            rows.append(row)
    return lessons, rows


FORMATS = ("plain", "canvas", "moodle")


def max_scores(course: Course) -> dict[str, float]:
    with course.gradebook() as gb:
        return {a.name: float(a.max_score) for a in gb.assignments}


def _split_name(name: str) -> tuple[str, str]:
    parts = name.split(" ", 1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (``=``, ``+``, ``-``, ``@`` first)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export(course: Course, path: str | Path, fmt: str = "plain") -> Path:
    """Write the grades to ``path`` in ``fmt`` (see the module docstring); return the path."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
    lessons, rows = grade_table(course)
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        if fmt == "plain":
            writer = csv.DictWriter(handle, fieldnames=["student_id", "name", "email", *lessons, "total"])
            writer.writeheader()
            writer.writerows({k: _cell(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows)
        elif fmt == "canvas":
            points = max_scores(course)
            writer = csv.writer(handle)
            writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *lessons])
            writer.writerow(["Points Possible", "", "", "", "", *(f"{points[l]:g}" for l in lessons)])
            section = course.root.name
            for row in rows:
                first, last = _split_name(row["name"] or row["student_id"])
                shown = f"{last}, {first}" if last else first
                writer.writerow([_cell(shown), "", _cell(row["student_id"]), _cell(row["email"]), _cell(section),
                                 *(f"{row[l]:g}" for l in lessons)])
        else:
            writer = csv.writer(handle)
            writer.writerow(["First name", "Last name", "ID number", "Email address", *lessons])
            for row in rows:
                first, last = _split_name(row["name"] or row["student_id"])
                writer.writerow([_cell(first), _cell(last), _cell(row["student_id"]), _cell(row["email"]),
                                 *(f"{row[l]:g}" for l in lessons)])
    return path
