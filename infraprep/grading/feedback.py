"""Feedback for every graded student, through nbgrader's GenerateFeedback with the course's
preprocessors (``StripHiddenTests`` among them), and a check that no hidden test reached a student."""

from __future__ import annotations

import html
import re
from pathlib import Path

from .course import Course

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def hidden_test_lines(course: Course, lesson: str, min_length: int = 7) -> list[str]:
    """Every line (stripped, at least ``min_length`` characters) inside a hidden-test region of a lesson's source."""
    import nbformat

    cd = course.coursedir
    lines: list[str] = []
    for path in sorted(Path(cd.format_path(cd.source_directory, ".", lesson)).glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if BEGIN in line:
                    inside = True
                elif END in line:
                    inside = False
                elif inside and len(line.strip()) >= min_length:
                    lines.append(line.strip())
    return lines


def visible_text(page: Path) -> str:
    """What a reader of an HTML page can see or select: styles and tags removed, entities decoded."""
    raw = page.read_text(encoding="utf-8")
    raw = re.sub(r"<(style|script)\b.*?</\1>", " ", raw, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


def leaks(course: Course, lessons: list[str] | None = None) -> list[tuple[Path, str]]:
    """(feedback file, hidden-test line) for every hidden-test line found in any feedback file."""
    found = []
    base = Path(course.coursedir.root) / course.coursedir.feedback_directory
    for lesson in lessons or course.lessons():
        secrets = hidden_test_lines(course, lesson)
        for page in sorted(base.glob(f"*/{lesson}/*.html")):
            text = visible_text(page)
            found += [(page, line) for line in secrets if line in text]
    return found


def feedback(course: Course, lessons: list[str] | None = None, release: bool = True) -> list[Path]:
    """Feedback HTML for every autograded submission of these lessons (default: all), checked for
    hidden-test lines, then released to the students through the exchange."""
    lessons = lessons or course.lessons()
    pages: list[Path] = []
    base = Path(course.coursedir.root) / course.coursedir.feedback_directory
    autograded = Path(course.coursedir.root) / course.coursedir.autograded_directory
    for lesson in lessons:
        if not any(autograded.glob(f"*/{lesson}/*.ipynb")):
            continue
        result = course.api.generate_feedback(lesson, force=True)
        if not result.get("success"):
            raise RuntimeError(f"generate_feedback {lesson} failed:\n{result.get('error')}\n{result.get('log')}")
        pages += sorted(base.glob(f"*/{lesson}/*.html"))
    found = leaks(course, lessons)
    if found:  # never release a page that shows a hidden test
        shown = "\n".join(f"  {page}: {line}" for page, line in found[:10])
        raise RuntimeError(f"feedback shows hidden tests; nothing released:\n{shown}")
    if release:
        for lesson in lessons:
            if any(base.glob(f"*/{lesson}/*.html")):
                result = course.api.release_feedback(lesson)
                if not result.get("success"):
                    raise RuntimeError(f"release_feedback {lesson} failed:\n{result.get('error')}\n{result.get('log')}")
    return pages
