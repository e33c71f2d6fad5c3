"""Release and collect through nbgrader's exchange, with due dates and a who-is-missing report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .cohort import roster, schedule
from .course import Course


def _stale(course: Course, lesson: str, known: set[str]) -> bool:
    cd = course.coursedir
    source = Path(cd.format_path(cd.source_directory, ".", lesson))
    release = Path(cd.format_path(cd.release_directory, ".", lesson))
    if lesson not in known or not release.is_dir():
        return True
    newest_source = max((p.stat().st_mtime for p in source.rglob("*") if p.is_file()), default=0)
    released = [p.stat().st_mtime for p in release.rglob("*.ipynb")]
    return not released or min(released) < newest_source


def _check(result: dict, what: str) -> None:
    if not result.get("success"):
        raise RuntimeError(f"{what} failed:\n{result.get('error') or ''}\n{result.get('log') or ''}".strip())


def release(course: Course, lessons: list[str] | None = None) -> list[str]:
    """Generate (if stale) and release lessons to the course's exchange, with their due dates."""
    lessons = lessons or course.lessons()
    missing = [lesson for lesson in lessons if lesson not in course.lessons()]
    if missing:
        raise ValueError(f"no source for: {', '.join(missing)}")
    due = schedule(course)
    course.config.ExchangeReleaseAssignment.force = True  # releasing again replaces the old release
    with course.gradebook() as gb:
        known = {a.name for a in gb.assignments}
    done = []
    for lesson in lessons:
        if _stale(course, lesson, known):
            _check(course.api.generate_assignment(lesson, force=True), f"generate_assignment {lesson}")
        with course.gradebook() as gb:
            gb.update_or_create_assignment(lesson, duedate=due.get(lesson))
        _check(course.api.release_assignment(lesson), f"release_assignment {lesson}")
        done.append(lesson)
    return done


@dataclass
class CollectReport:
    collected: dict[str, list[str]] = field(default_factory=dict)   # lesson -> students with a submission
    missing: dict[str, list[str]] = field(default_factory=dict)     # lesson -> roster students without one
    late: dict[str, dict[str, float]] = field(default_factory=dict)  # lesson -> student -> hours late

    def lines(self) -> list[str]:
        out = []
        for lesson in self.collected:
            out.append(f"{lesson}: {len(self.collected[lesson])} submitted, {len(self.missing[lesson])} missing, "
                       f"{len(self.late[lesson])} late")
            if self.missing[lesson]:
                out.append(f"  missing: {', '.join(self.missing[lesson])}")
            for student, hours in self.late[lesson].items():
                out.append(f"  late: {student} ({hours:.1f} h after the due date)")
        return out


def status(course: Course, lessons: list[str] | None = None) -> CollectReport:
    """Who has submitted each lesson, who is missing (from the roster) and who was late."""
    lessons = lessons or course.lessons()
    students = set(roster(course))
    due = schedule(course)
    report = CollectReport()
    with course.gradebook() as gb:
        students |= {s.id for s in gb.students}
        for a in gb.assignments:
            if a.duedate is not None:
                due.setdefault(a.name, a.duedate)
    cd = course.coursedir
    for lesson in lessons:
        have = sorted(s for s, l in course.submitted([lesson]))
        report.collected[lesson] = have
        report.missing[lesson] = sorted(students - set(have))
        report.late[lesson] = {}
        if lesson in due:
            for student in have:
                ts = cd.get_existing_timestamp(str(course.path("submitted", student, lesson)))
                if ts is not None and ts.replace(tzinfo=None) > due[lesson]:
                    report.late[lesson][student] = (ts.replace(tzinfo=None) - due[lesson]).total_seconds() / 3600
    return report


def collect(course: Course, lessons: list[str] | None = None) -> CollectReport:
    """Collect the newest submission of every student from the exchange into ``submitted/``."""
    lessons = lessons or course.lessons()
    for lesson in lessons:
        _check(course.api.collect(lesson, update=True), f"collect {lesson}")
    return status(course, lessons)
