"""Feedback for every graded student, through nbgrader's GenerateFeedback with the course's
preprocessors (``StripHiddenTests`` and ``SanitizeFeedback`` among them), checked page by page.

A page is released only if nothing the *course* wrote on it shows a hidden test: the test cells'
sources (restored from the gradebook, hidden regions stripped) and their outputs (the judge's
verdicts), and the set-up cells. What a student printed or wrote is theirs, and is not searched: a
student who prints a hidden-test line (the source is public) holds back nobody's feedback, not even
their own. A page that does show one is held back, named, and every other page is released.
Only the course's own files go with a page: whatever else sits in a feedback folder is removed first.

One notebook whose page cannot be made stops nobody else's: when nbgrader's run for a lesson fails,
each notebook left without a page is tried again on its own, and one that still fails is named (a
``no feedback page`` flag for the report, with the reason in one line) while every other page is
checked and released.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .cells import BEGIN_HIDDEN, END_HIDDEN, is_test_cell, nbgrader_meta
from .course import Course

BEGIN, END = BEGIN_HIDDEN, END_HIDDEN


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


def course_written(nb) -> str:
    """The parts of a feedback notebook the course wrote (after the feedback preprocessors): test and
    set-up cells' sources, and the outputs of test cells (the judge's verdicts)."""
    parts = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if is_test_cell(cell):
            parts.append(cell.source)
            for output in cell.get("outputs", []):
                parts.append(str(output.get("evalue", "")) + str(output.get("text", ""))
                             + str((output.get("data") or {}).get("text/plain", "")))
        elif meta.get("locked") and not meta.get("solution"):
            parts.append(cell.source)
    return "\n".join(parts)


def page_leaks(course: Course, lesson: str, student: str, notebook: str, secrets: list[str]) -> list[str]:
    """Hidden-test lines the course itself would show on one student's feedback page (``[]`` if none)."""
    import nbformat

    cd = course.coursedir
    path = Path(cd.format_path(cd.autograded_directory, student, lesson)) / f"{notebook}.ipynb"
    if not path.is_file():
        return []
    nb = nbformat.read(str(path), as_version=4)
    from nbconvert.exporters.exporter import ResourcesDict

    for cls in course.config.GenerateFeedback.get("preprocessors", []) if "GenerateFeedback" in course.config else []:
        if isinstance(cls, type) and cls.__name__ in ("StripHiddenTests", "SanitizeFeedback"):
            nb, _ = cls(config=course.config).preprocess(nb, ResourcesDict())
    text = course_written(nb)
    return [line for line in secrets if line in text]


def leaks(course: Course, lessons: list[str] | None = None) -> list[tuple[Path, str]]:
    """(feedback page, hidden-test line) for every page whose course-written part shows a hidden test."""
    found = []
    base = Path(course.coursedir.root) / course.coursedir.feedback_directory
    for lesson in lessons or course.lessons():
        secrets = hidden_test_lines(course, lesson)
        for page in sorted(base.glob(f"*/{lesson}/*.html")):
            student = page.parent.parent.name
            found += [(page, line) for line in page_leaks(course, lesson, student, page.stem, secrets)]
    return found


def _course_files(course: Course, lesson: str) -> set[str]:
    from .tamper import EXCHANGE_FILES

    cd = course.coursedir
    source = Path(cd.format_path(cd.source_directory, ".", lesson))
    own = {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file() and p.suffix != ".ipynb"}
    return own | EXCHANGE_FILES  # nbgrader releases feedback with the submission's time stamp


def keep_course_files(course: Course, lesson: str) -> list[Path]:
    """Remove from every feedback folder of ``lesson`` what the course did not make (links included);
    returns what was removed."""
    base = Path(course.coursedir.root) / course.coursedir.feedback_directory
    own = _course_files(course, lesson)
    removed = []
    for folder in sorted(base.glob(f"*/{lesson}")):
        notebooks = {p.stem for p in (Path(course.coursedir.root) / course.coursedir.autograded_directory
                                      / folder.parent.name / lesson).glob("*.ipynb")}
        for root, dirs, files in os.walk(folder):
            for name in list(dirs) + files:
                path = Path(root) / name
                rel = str(path.relative_to(folder))
                if path.is_symlink():
                    path.unlink()
                    removed.append(path)
                elif name in files and rel not in own and not (path.suffix == ".html" and path.stem in notebooks
                                                                and path.parent == folder):
                    path.unlink()
                    removed.append(path)
            dirs[:] = [d for d in dirs if not (Path(root) / d).is_symlink()]
    return removed


@dataclass
class FeedbackResult:
    pages: list[Path] = field(default_factory=list)          # released (or written, without release)
    held: dict[Path, list[str]] = field(default_factory=dict)  # page -> hidden-test lines it would show
    failed: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (student, lesson, notebook) -> why

    def __iter__(self):
        return iter(self.pages)

    def __len__(self) -> int:
        return len(self.pages)


def add_note(page: Path, text: str) -> None:
    """Put a short note of the course's (escaped) at the top of a feedback page (e.g. attempts remaining)."""
    raw = page.read_text(encoding="utf-8")
    note = (f'<div class="infraprep-note" style="border:2px solid #1f6feb;border-radius:6px;padding:.6em 1em;'
            f'margin:1em auto;max-width:60em;font-family:sans-serif">{html.escape(text)}</div>')
    found = re.search(r"<body[^>]*>", raw, flags=re.I)
    raw = raw[:found.end()] + note + raw[found.end():] if found else note + raw
    page.write_text(raw, encoding="utf-8")


_EXCEPTION_LINE = re.compile(r"^\s*((?:[A-Za-z_]\w*\.)*[A-Z]\w*): (\S.*)$")


def _reason(generated: dict) -> str:
    """The one line saying why nbgrader could not make a page: the last exception its log shows."""
    from .escape import printable

    found = [m.groups() for m in map(_EXCEPTION_LINE.match, str(generated.get("log") or "").splitlines())
             if m and not m.group(1).endswith("NbGraderException")]
    if not found:
        return "nbgrader generate_feedback failed"
    name, message = found[-1]
    return printable(f"{name.rsplit('.', 1)[-1]}: {message.strip()}")[:200]


def _one_by_one(course: Course, lesson: str, student: str | None) -> dict[tuple[str, str, str], str]:
    """After a failed run: make the page of every notebook of ``lesson`` (of ``student``, or of
    everyone) that has none, one notebook at a time; returns those that still fail, with why."""
    from nbgrader.utils import temp_attrs

    cd = course.coursedir
    root = Path(cd.root)
    failed = {}
    for path in sorted((root / cd.autograded_directory).glob(f"{student or '*'}/{lesson}/*.ipynb")):
        who = path.parent.parent.name
        if (root / cd.feedback_directory / who / lesson / f"{path.stem}.html").is_file():
            continue
        with temp_attrs(course.api.coursedir, notebook_id=path.stem):
            generated = course.api.generate_feedback(lesson, student_id=who, force=True)
        if not generated.get("success"):
            failed[(who, lesson, path.stem)] = _reason(generated)
    return failed


def _record_failures(course: Course, lesson: str, students: list[str] | None, failed: dict) -> None:
    """Keep this lesson's failed pages for the report (:mod:`.flags`); drop those now made."""
    from . import flags

    base = Path(course.coursedir.root) / course.coursedir.autograded_directory
    problems = flags.load_problems(base, flags.FEEDBACK_FILE)
    kept = {key: value for key, value in problems.items()
            if key.split("/")[1:2] != [lesson] or (students is not None and key.split("/")[0] not in students)}
    kept.update({f"{s}/{l}/{n}": {"kind": flags.NO_FEEDBACK, "message": f"feedback could not be made: {why}"}
                 for (s, l, n), why in failed.items()})
    if kept != problems:
        flags.save_problems(base, kept, flags.FEEDBACK_FILE)


def feedback(course: Course, lessons: list[str] | None = None, release: bool = True,
             students: list[str] | None = None, note=None) -> FeedbackResult:
    """Feedback HTML for every autograded submission of these lessons (default: all) - or of these
    ``students`` only; a page that would show a hidden test is held back (see the module docstring),
    the rest released to the students through the exchange. ``note(student, lesson)`` may return a
    line of text put at the top of that student's page (``infraprep watch``: the attempts remaining).
    A notebook whose page cannot be made is named in ``failed`` (and flagged); everyone else's goes on."""
    lessons = lessons or course.lessons()
    result = FeedbackResult()
    base = Path(course.coursedir.root) / course.coursedir.feedback_directory
    autograded = Path(course.coursedir.root) / course.coursedir.autograded_directory
    held_dir = Path(course.coursedir.root) / ".infraprep-held-feedback"
    for lesson in lessons:
        who = None if students is None else [s for s in students if any(autograded.glob(f"{s}/{lesson}/*.ipynb"))]
        if not any(autograded.glob(f"*/{lesson}/*.ipynb")) or who == []:
            continue
        failed: dict[tuple[str, str, str], str] = {}
        for student in who or [None]:
            generated = course.api.generate_feedback(lesson, student_id=student, force=True)
            if not generated.get("success"):  # nbgrader went on with the others; it removed the failed pages
                failed.update(_one_by_one(course, lesson, student))
        result.failed.update(failed)
        _record_failures(course, lesson, who, failed)
        keep_course_files(course, lesson)
        secrets = hidden_test_lines(course, lesson)
        pages = sorted(base.glob(f"*/{lesson}/*.html"))
        if who is not None:
            pages = [page for page in pages if page.parent.parent.name in who]
        for page in pages:
            shown = page_leaks(course, lesson, page.parent.parent.name, page.stem, secrets)
            if shown:  # never release it: move it aside for the instructor to look at
                aside = held_dir / page.relative_to(base)
                aside.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(page), str(aside))
                result.held[aside] = shown
            else:
                text = note(page.parent.parent.name, lesson) if note is not None else None
                if text:
                    add_note(page, text)
                result.pages.append(page)
        if release:
            for student in who or [None]:
                mine = [p for p in result.pages if p.parent.name == lesson and student in (None, p.parent.parent.name)]
                if not mine:
                    continue
                released = course.api.release_feedback(lesson, student_id=student)
                if not released.get("success"):
                    raise RuntimeError(f"release_feedback {lesson} failed:\n{released.get('error')}\n{released.get('log')}")
    return result
