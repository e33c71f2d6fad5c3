"""Simulated students, for demos and tests: answer a released notebook and submit it through the exchange."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .cells import nbgrader_meta


def answered(source_path: Path, release_path: Path, correct: Iterable[str] | str = (),
             replace: Mapping[str, str] | None = None):
    """The released notebook with the answers in ``correct`` (``"all"``: every one) taken from the
    source's solutions, those in ``replace`` set to the given code, the rest left blank."""
    import nbformat

    source = nbformat.read(str(source_path), as_version=4)
    release = nbformat.read(str(release_path), as_version=4)

    def gid(cell):
        return nbgrader_meta(cell).get("grade_id")

    solutions = {gid(c): c.source for c in source.cells if nbgrader_meta(c).get("solution")}
    wanted = set(solutions) if correct == "all" else set(correct)
    replace = dict(replace or {})
    for cell in release.cells:
        if gid(cell) in replace:
            cell.source = replace[gid(cell)]
        elif gid(cell) in wanted:
            cell.source = solutions[gid(cell)]
    return release


def submit_as_student(exchange: Path, course_id: str, student: str, assignment: str, nb, home: Path,
                      when: str | None = None) -> Path:
    """Fetch ``assignment`` into ``home`` with nbgrader's exchange, replace its notebook by ``nb``
    (a notebook, or raw text/bytes for a broken file) and submit it. ``when`` (``"2026-01-15 10:00:00 UTC"``)
    is the submission's time, in its entry's name and timestamp.txt as if it had been submitted then
    (the course's collect, whose clock says now, takes it only with a ``SafeCollect.clock_slack`` that
    reaches back that far). Returns the submission's folder in the exchange."""
    import nbformat
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeSubmit
    from traitlets.config import Config

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    cfg = Config()
    cfg.Exchange.root = str(exchange)
    cfg.Exchange.path_includes_course = True
    cfg.Exchange.cache = str(home / ".nbgrader-cache")
    cfg.CourseDirectory.course_id = course_id
    cfg.CourseDirectory.assignment_id = assignment
    cfg.CourseDirectory.student_id = student
    cfg.CourseDirectory.root = str(home)
    cwd = os.getcwd()
    os.chdir(home)
    try:
        coursedir = CourseDirectory(config=cfg)
        auth = Authenticator(config=cfg)
        if not (home / course_id / assignment).exists():
            ExchangeFetchAssignment(coursedir=coursedir, authenticator=auth, config=cfg).start()
        path = home / course_id / assignment / f"{assignment}.ipynb"
        if isinstance(nb, (str, bytes)):
            path.write_bytes(nb.encode() if isinstance(nb, str) else nb)
        else:
            nbformat.write(nb, str(path))
        class SubmitAt(ExchangeSubmit):  # the submission's time is ``when``: its entry's name and timestamp.txt
            def set_timestamp(self):
                super().set_timestamp()
                if when is not None:
                    self.timestamp = when

        submitter = SubmitAt(coursedir=coursedir, authenticator=auth, config=cfg)
        submitter.start()
        inbound = Path(submitter.inbound_path) / submitter.assignment_filename
    finally:
        os.chdir(cwd)
    return inbound


def fetch_feedback_as_student(exchange: Path, course_id: str, student: str, assignment: str, home: Path) -> dict[str, str]:
    """Fetch ``assignment``'s feedback as ``student`` with nbgrader's exchange (the student's Fetch
    Feedback), into ``home``; returns {submission time stamp: HTML page} for every page fetched so far."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeFetchFeedback
    from traitlets.config import Config

    home = Path(home)
    cfg = Config()
    cfg.Exchange.root = str(exchange)
    cfg.Exchange.path_includes_course = True
    cfg.Exchange.cache = str(home / ".nbgrader-cache")
    cfg.CourseDirectory.course_id = course_id
    cfg.CourseDirectory.assignment_id = assignment
    cfg.CourseDirectory.student_id = student
    cfg.CourseDirectory.root = str(home)
    cwd = os.getcwd()
    os.chdir(home)
    try:
        coursedir = CourseDirectory(config=cfg)
        ExchangeFetchFeedback(coursedir=coursedir, authenticator=Authenticator(config=cfg), config=cfg).start()
    finally:
        os.chdir(cwd)
    folder = home / course_id / assignment / "feedback"
    return {page.parent.name: page.read_text(encoding="utf-8") for page in sorted(folder.glob("*/*.html"))}


def copied_answers(source_path: Path, lesson: str, classmate: str, secret: str, questions: Iterable[str]) -> dict[str, str]:
    """``{answer id: "qN = <value>"}``: the right answers of ``classmate``'s variants written out as
    values - what a student hands in who copied that classmate's numbers (for demos and tests of the
    similarity flags). The course's set-up and solution cells run with the classmate's variants."""
    from .similarity import variant_truth

    truth = variant_truth(Path(source_path), lesson, classmate, secret, set(questions))
    return {q: f"{q} = {t['right']!r}" for q, t in truth.items() if t["right"] is not None}
