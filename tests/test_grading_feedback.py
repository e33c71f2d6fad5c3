"""One notebook whose feedback page cannot be made stops nobody else's feedback: it is named, with
the reason in one line, flagged for the report, and every other page is made and released.

Fast: nbgrader's API is played by a stand-in that fails on one notebook the way nbgrader's
generate_feedback does (it goes on with the others, removes the failed student's pages and reports
failure for the whole run); the real run is the red-team catalogue's (tests/integrity/catalogue.py).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from infraprep.grading import flags
from infraprep.grading.feedback import feedback

LESSON = "01-roles"


class StandInAPI:
    """generate_feedback and release_feedback as nbgrader's API answers them; notebooks in ``broken`` fail."""

    def __init__(self, coursedir, broken: set[tuple[str, str]]):
        self.coursedir, self.broken, self.calls, self.released = coursedir, broken, [], []

    def generate_feedback(self, lesson, student_id=None, force=True):
        root = Path(self.coursedir.root)
        notebook = self.coursedir.notebook_id
        self.calls.append((student_id, notebook))
        failed = []
        for path in sorted((root / "autograded").glob(f"{student_id or '*'}/{lesson}/{notebook}.ipynb")):
            student = path.parent.parent.name
            page = root / "feedback" / student / lesson / f"{path.stem}.html"
            if (student, path.stem) in self.broken:
                failed.append(student)
                continue
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(f"<html><body>feedback for {student}</body></html>", encoding="utf-8")
        for student in failed:  # nbgrader removes what it made for a failed student
            for page in (root / "feedback" / student / lesson).glob("*.html") if notebook == "*" else []:
                page.unlink()
        log = "".join(f"[ERROR] There was an error processing assignment: {lesson}\n    Traceback (most recent call last):\n"
                      f"    nbconvert.filters.markdown_mistune.InvalidNotebook: missing attachment: sketch.png\n"
                      f"[ERROR] There was an error processing assignment '{lesson}' for student '{s}'\n" for s in failed)
        return {"success": not failed, "log": log + ("nbgrader.converters.base.NbGraderException: see above\n" if failed else "")}

    def release_feedback(self, lesson, student_id=None):
        self.released.append(student_id)
        return {"success": True}


class StandInCourse:
    def __init__(self, root: Path, broken):
        self.config = Config()
        self.config.CourseDirectory.root = str(root)
        self.coursedir = CourseDirectory(config=self.config)
        self.api = StandInAPI(self.coursedir, broken)

    def lessons(self):
        return [LESSON]


def course(tmp_path: Path, notebooks: dict[str, list[str]], broken) -> StandInCourse:
    source = tmp_path / "source" / LESSON
    source.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), source / f"{LESSON}.ipynb")
    for student, names in notebooks.items():
        for name in names:
            path = tmp_path / "autograded" / student / LESSON / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nbformat.v4.new_notebook(), path)
    return StandInCourse(tmp_path, broken)


def test_one_notebook_that_cannot_be_made_is_named_and_everyone_else_gets_feedback(tmp_path):
    c = course(tmp_path, {"ann": [LESSON], "bob": [LESSON, "extra"], "cy": [LESSON]}, broken={("bob", LESSON)})
    result = feedback(c, [LESSON], release=True)
    pages = sorted(str(p.relative_to(tmp_path / "feedback")) for p in result.pages)
    # bob's other notebook is made on its own; his failed one is named with nbgrader's reason
    assert pages == [f"ann/{LESSON}/{LESSON}.html", f"bob/{LESSON}/extra.html", f"cy/{LESSON}/{LESSON}.html"]
    assert result.failed == {("bob", LESSON, LESSON): "InvalidNotebook: missing attachment: sketch.png"}
    assert c.api.released == [None]
    raised = [f for f in flags.collect(tmp_path) if f.kind == flags.NO_FEEDBACK]
    assert [(f.student, f.lesson, f.notebook) for f in raised] == [("bob", LESSON, LESSON)]
    assert "missing attachment: sketch.png" in raised[0].message

    # once the page can be made, the flag goes
    c.api.broken.clear()
    again = feedback(c, [LESSON], release=False)
    assert not again.failed and len(again.pages) == 4
    assert not [f for f in flags.collect(tmp_path) if f.kind == flags.NO_FEEDBACK]


def test_feedback_for_some_students_only_keeps_the_others_flags(tmp_path):
    c = course(tmp_path, {"ann": [LESSON], "bob": [LESSON]}, broken={("ann", LESSON), ("bob", LESSON)})
    assert set(feedback(c, [LESSON], release=True).failed) == {("ann", LESSON, LESSON), ("bob", LESSON, LESSON)}
    c.api.broken.discard(("bob", LESSON))
    result = feedback(c, [LESSON], release=True, students=["bob"])
    assert not result.failed and [p.parent.parent.name for p in result.pages] == ["bob"]
    assert [f.student for f in flags.collect(tmp_path) if f.kind == flags.NO_FEEDBACK] == ["ann"]
