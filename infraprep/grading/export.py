"""Grades as CSV: one row a student, one column a lesson, and the total."""

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


def export(course: Course, path: str | Path) -> Path:
    lessons, rows = grade_table(course)
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["student_id", "name", "email", *lessons, "total"])
        writer.writeheader()
        writer.writerows(rows)
    return path
