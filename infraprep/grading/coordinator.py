"""The coordinator of parallel autograding: the one process that writes the gradebook.

For every submission under ``submitted/`` it does what ``nbgrader autograde`` does, with the
preprocessors the course configures for nbgrader's ``Autograde`` (nbgrader's own by default), split
in three:

1. here: create the student and the submission (with its timestamp) in the gradebook, copy the
   assignment's files, read the notebook and run ``Autograde.sanitize_preprocessors`` (ClearOutput,
   DeduplicateIds, OverwriteKernelspec, OverwriteCells - which restores locked cells from the
   gradebook - CheckCellMetadata);
2. in an executor (worker processes or Dask workers): ``Autograde.autograde_preprocessors`` up to the
   first one that writes the gradebook (Execute - or the course's JudgedExecute - IgnorePattern,
   ClearMetadata, LimitOutput): the only slow part, run in parallel;
3. here again: the rest (SaveAutoGrades, AssignLatePenalties, CheckCellMetadata), committed once a
   notebook, then the autograded notebook is written to ``autograded/``.

A notebook counts as graded when its autograded file exists (written after its grades are saved,
with Ctrl-C held back in between), so an interrupted run, run again, grades only what is left.
Bad input never stops the cohort: a notebook that is empty, not JSON, not a notebook, wrongly named,
or that kills its kernel (or its worker) is reported (student, lesson, what went wrong) and scores zero.
"""

from __future__ import annotations

import ast
import inspect
import os
import shutil
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from . import flags, safefiles
from .course import Course
from ..assessment.variants import valid_identity
from .escape import printable
from .executors import DaskExecutor, LocalExecutor

MAX_NOTEBOOK_BYTES = 20 * 1024**2   # a submitted notebook larger than this is reported, not graded


@dataclass
class Problem:
    student: str
    lesson: str
    notebook: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.student} / {self.lesson} / {self.notebook}: {self.kind}: {self.message}"


@dataclass
class AutogradeSummary:
    graded: int = 0
    skipped: int = 0
    problems: list[Problem] = field(default_factory=list)
    executor: str = ""
    seconds: float = 0.0

    def __str__(self) -> str:
        rate = self.graded / self.seconds if self.seconds else 0.0
        return (f"autograded {self.graded} notebook(s) with {self.executor} in {self.seconds:.1f} s "
                f"({rate:.2f}/s); {self.skipped} already graded; {len(self.problems)} problem(s)")


@contextmanager
def _hold_interrupts():
    """Ctrl-C waits until the block is done (grades saved *and* the autograded file written)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


class _DeferredCommits:
    """A session whose commits wait: nbgrader's preprocessors commit a cell at a time; the
    coordinator commits once a notebook, so a notebook's grades are saved all together or not at all
    (and in one batch: a query flushes what it needs first, the session being autoflushing)."""

    def __init__(self, session):
        self._session = session

    def commit(self) -> None:
        pass

    def __getattr__(self, name):
        return getattr(self._session, name)


def _plain_copy(row) -> SimpleNamespace:
    """A row's columns as plain attributes: still readable after the session commits (an ORM object
    would be expired by the commit and read again from the database at its next use)."""
    from sqlalchemy import inspect as sa_inspect

    return SimpleNamespace(**{attr.key: getattr(row, attr.key) for attr in sa_inspect(row).mapper.column_attrs})


class _LentGradebook:
    """The coordinator's open gradebook, lent to nbgrader's preprocessors in place of the one each
    would open a notebook (a new database engine every time): entering or leaving it does not close it.

    nbgrader's preprocessors look up the assignment's cells one query at a time (``OverwriteCells``:
    two a graded cell, every notebook) and a submission's grades and comments the same way
    (``SaveAutoGrades``). Here the instructor's cells, which no preprocessor changes, are read once a
    run and kept as plain copies (``reads``, shared by every lending); a submitted notebook's grades and
    comments are read in one query each, the first time one is asked for. Anything not found that way
    goes to nbgrader's own lookup, so what is missing raises nbgrader's ``MissingEntry`` as before."""

    def __init__(self, gradebook, reads: dict | None = None):
        self._gb = gradebook
        self.db = _DeferredCommits(gradebook.db)
        self._reads = {} if reads is None else reads
        self._submitted: dict[tuple, tuple[dict, dict]] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def __getattr__(self, name):
        value = getattr(type(self._gb), name, None)
        if inspect.isfunction(value):
            return value.__get__(self)  # Gradebook's methods, running on this object's deferred session
        return getattr(self._gb, name)

    def _instructors(self, kind: str, *key: str):
        from nbgrader.api import Gradebook

        if (kind, *key) not in self._reads:
            self._reads[(kind, *key)] = _plain_copy(getattr(Gradebook, kind)(self, *key))
        return self._reads[(kind, *key)]

    def find_source_cell(self, name: str, notebook: str, assignment: str):
        return self._instructors("find_source_cell", name, notebook, assignment)

    def find_graded_cell(self, name: str, notebook: str, assignment: str):
        return self._instructors("find_graded_cell", name, notebook, assignment)

    def _submission(self, notebook: str, assignment: str, student: str) -> tuple[dict, dict]:
        """(grades, comments) of one submitted notebook, by cell name."""
        from nbgrader.api import BaseCell, Comment, Gradebook, Grade, MissingEntry

        key = (notebook, assignment, student)
        if key not in self._submitted:
            try:
                submitted = Gradebook.find_submission_notebook(self, notebook, assignment, student)
            except MissingEntry:
                self._submitted[key] = ({}, {})
            else:
                self._submitted[key] = tuple(
                    {name: row for row, name in self.db.query(table, BaseCell.name)
                     .join(BaseCell, BaseCell.id == table.cell_id).filter(table.notebook_id == submitted.id)}
                    for table in (Grade, Comment))
        return self._submitted[key]

    def find_grade(self, grade_cell: str, notebook: str, assignment: str, student: str):
        from nbgrader.api import Gradebook

        found = self._submission(notebook, assignment, student)[0].get(grade_cell)
        return found if found is not None else Gradebook.find_grade(self, grade_cell, notebook, assignment, student)

    def find_comment(self, solution_cell: str, notebook: str, assignment: str, student: str):
        from nbgrader.api import Gradebook

        found = self._submission(notebook, assignment, student)[1].get(solution_cell)
        return found if found is not None else Gradebook.find_comment(self, solution_cell, notebook, assignment, student)


_LENDING = tuple(f"nbgrader.preprocessors.{name}" for name in
                 ("overwritecells", "overwritekernelspec", "saveautogrades", "latesubmissions")) + (
    "infraprep.grading.tamper",)


@contextmanager
def _lend(gradebook, reads: dict | None = None):
    import importlib

    view = _LentGradebook(gradebook, reads)
    modules = [importlib.import_module(name) for name in _LENDING]
    saved = [module.Gradebook for module in modules]
    for module in modules:
        module.Gradebook = lambda *args, **kwargs: view
    try:
        yield
    except BaseException:
        gradebook.db.rollback()
        raise
    else:
        gradebook.db.commit()
    finally:
        for module, original in zip(modules, saved):
            module.Gradebook = original


def imported_modules(notebooks: list[Path]) -> set[str]:
    """Modules imported by the code cells of these notebooks (what a warm kernel pre-imports)."""
    import nbformat

    names: set[str] = set()
    for path in notebooks:
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:
            continue
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module)
                    names.update(f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _malformed(nb) -> str:
    """Why a parsed notebook cannot be run ('' if it can): cells must be objects with a known type and text."""
    cells = nb.get("cells")
    if not isinstance(cells, list):
        return "it has no list of cells"
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            return f"cell {number} is not a code, markdown or raw cell"
        if not isinstance(cell.get("source", ""), str):
            return f"cell {number} has a source that is not text"
    return ""


class Coordinator:
    def __init__(self, course: Course, roster: dict | None = None, progress: bool = True, log=None):
        self.course = course
        self.roster = roster or {}
        self.progress = progress
        self.log = log or (lambda message: print(printable(message), file=sys.stderr))
        self.config = course.config
        self.summary = AutogradeSummary()
        self._sanitized: dict[str, tuple[str, dict]] = {}
        self._trusted_cache: dict[tuple[str, str], dict] = {}
        self._reads: dict = {}  # the instructor's cells, read once a run (see _LentGradebook)
        self.sanitize_pps, self.execute_pps, self.save_pps = self._split()

    # ------------------------------------------------------------------ the course's preprocessors
    def _autograde_list(self, name: str) -> list:
        """``Autograde.<name>`` as the course configures it (nbgrader's default otherwise)."""
        from nbgrader.converters import Autograde

        section = self.config.get("Autograde", {})
        if name in section:
            return list(section[name])
        return list(Autograde.class_traits()[name].default())

    def _split(self):
        """(sanitize, execute, save): nbgrader's two autograde passes, the second cut where the gradebook
        is first written (SaveAutoGrades): what comes before runs in an executor, the rest here."""
        from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

        sanitize = self._autograde_list("sanitize_preprocessors")
        second = self._autograde_list("autograde_preprocessors")
        cut = next((i for i, cls in enumerate(second) if isinstance(cls, type)
                    and issubclass(cls, (SaveAutoGrades, AssignLatePenalties))), len(second))
        return sanitize, second[:cut], second[cut:]

    def _trusted(self, lesson: str, notebook: str, execute: list) -> dict | None:
        """The instructor's test and set-up cells, as plain data, for a judge that runs in an executor
        (the course's JudgedExecute reads them from here rather than from the gradebook)."""
        from .judge import JudgedExecute, TrustedCells

        if not any(isinstance(cls, type) and issubclass(cls, JudgedExecute) for cls in execute):
            return None
        key = (lesson, notebook)
        if key not in self._trusted_cache:
            self._trusted_cache[key] = TrustedCells.from_gradebook(self.course.db_url, lesson, notebook).to_dict()
        return self._trusted_cache[key]

    # ------------------------------------------------------------------ helpers
    def _pp(self, cls):
        return cls(config=self.config)

    def _expected(self, gb, lesson: str) -> list[str]:
        names = [nb.name for nb in gb.find_assignment(lesson).notebooks]
        gb.db.commit()  # end the read transaction: SQLite must stay free for the preprocessors
        return sorted(names)

    def _done(self, student: str, lesson: str, notebooks: list[str]) -> bool:
        dest = self.course.path("autograded", student, lesson)
        if not all((dest / f"{n}.ipynb").exists() for n in notebooks):
            return False
        cd = self.course.coursedir
        new = cd.get_existing_timestamp(str(self.course.path("submitted", student, lesson)))
        old = cd.get_existing_timestamp(str(dest))
        return not (new is not None and old is not None and new > old)

    def _zero(self, gb, student: str, lesson: str, notebook: str) -> None:
        nb = gb.find_submission_notebook(notebook, lesson, student)
        for grade in nb.grades:
            grade.auto_score = 0
            grade.needs_manual_grade = False
        gb.db.commit()

    def _problem(self, gb, student, lesson, notebook, kind, message) -> None:
        self._zero(gb, student, lesson, notebook)
        self._report(Problem(student, lesson, notebook, kind, message))

    def _report(self, problem: Problem) -> None:
        """Log a problem and keep it for the report (autograded/.infraprep-problems.json)."""
        self.summary.problems.append(problem)
        self.log(f"PROBLEM {problem}")
        self._set_problem(f"{problem.student}/{problem.lesson}/{problem.notebook}",
                          {"kind": problem.kind, "message": problem.message})

    def _set_problem(self, key: str, value: dict | None) -> None:
        cd = self.course.coursedir
        folder = Path(cd.root) / cd.autograded_directory
        problems = flags.load_problems(folder)
        if value is None and key not in problems:
            return
        if value is None:
            del problems[key]
        else:
            problems[key] = value
        flags.save_problems(folder, problems)

    def _init_submission(self, gb, student: str, lesson: str, notebooks: list[str]) -> None:
        """nbgrader's Autograde.init_assignment: student, submission and timestamp, files copied."""
        from nbgrader.utils import find_all_files

        cd = self.course.coursedir
        info = self.roster.get(student)
        extra = {"first_name": info.first_name, "last_name": info.last_name, "email": info.email} if info else {}
        gb.update_or_create_student(student, **extra)
        src = self.course.path("submitted", student, lesson)
        dest = self.course.path("autograded", student, lesson)
        for name in notebooks:  # a stale grade must not survive a new submission
            if (dest / f"{name}.ipynb").exists():
                (dest / f"{name}.ipynb").unlink()
        timestamp = cd.get_existing_timestamp(str(src))
        if timestamp:
            gb.update_or_create_submission(lesson, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(lesson, student)
        dest.mkdir(parents=True, exist_ok=True)
        # a symbolic link is never followed: it could point at course files (flagged by RestoreGradedCells);
        # a submission folder that is one gives nothing (graded as released, unanswered: see _sanitize)
        linked = safefiles.linked_submission(Path(cd.root) / cd.submitted_directory, student, lesson)
        copies = [] if linked else [(f, src) for f in safefiles.regular_files(str(src), cd.ignore + ["*.ipynb"])]
        source = Path(cd.format_path(cd.source_directory, ".", lesson))
        exclude = {str(source / x) for x in self._autograde_cfg("exclude_overwriting", {}).get(lesson, [])}
        copies += [(f, source) for f in find_all_files(str(source), cd.ignore + ["*.ipynb"]) if f not in exclude]
        for filename, root in copies:
            target = dest / os.path.relpath(filename, root)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                target.chmod(0o644)
                target.unlink()
            shutil.copy(filename, target)

    def _autograde_cfg(self, name, default):
        section = self.config.get("Autograde", {})
        return section.get(name, default) if hasattr(section, "get") else default

    def _resources(self, student: str, lesson: str, notebook: str) -> dict:
        dest = self.course.path("autograded", student, lesson)
        return {
            "unique_key": notebook,
            "output_files_dir": f"{notebook}_files",
            "nbgrader": {"student": student, "assignment": lesson, "notebook": notebook,
                         "db_url": self.course.db_url},
            "metadata": {"name": notebook, "path": str(dest)},
        }

    def _sanitize(self, gb, student: str, lesson: str, notebook: str):
        """The submitted notebook after nbgrader's sanitize preprocessors, or None (problem reported)."""
        import nbformat

        folder = self.course.path("submitted", student, lesson)
        path = folder / f"{notebook}.ipynb"
        cd = self.course.coursedir
        if safefiles.linked_submission(Path(cd.root) / cd.submitted_directory, student, lesson):
            # never read through the link: the course's RestoreGradedCells grades the release, unanswered
            from .tamper import unanswered

            nb = unanswered(Path(cd.format_path(cd.release_directory, ".", lesson)) / f"{notebook}.ipynb", None)
            return self._sanitized_pps(gb, student, lesson, notebook, nb)
        if path.is_symlink() or (path.exists() and not path.is_file()):
            what = "a symbolic link" if path.is_symlink() else "not a file"
            self._problem(gb, student, lesson, notebook, "not a notebook", f"{path.name} is {what}")
            return None
        if not path.exists():
            others = sorted(p.name for p in folder.glob("*.ipynb"))
            if others:
                self._problem(gb, student, lesson, notebook, "wrong notebook name",
                              f"submitted {', '.join(others)}; expected {notebook}.ipynb")
            else:
                self._problem(gb, student, lesson, notebook, "missing notebook", f"no {notebook}.ipynb submitted")
            return None
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            self._problem(gb, student, lesson, notebook, "too large",
                          f"{path.name} is {size / 1024**2:.1f} MB; the limit is {MAX_NOTEBOOK_BYTES / 1024**2:.0f} MB")
            return None
        raw = path.read_bytes()
        if not raw.strip():
            self._problem(gb, student, lesson, notebook, "empty file", f"{path.name} is empty")
            return None
        try:
            nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        except Exception as exc:
            self._problem(gb, student, lesson, notebook, "not a notebook", f"{type(exc).__name__}: {exc}"[:300])
            return None
        malformed = _malformed(nb)
        if malformed:
            self._problem(gb, student, lesson, notebook, "not a notebook", malformed)
            return None
        return self._sanitized_pps(gb, student, lesson, notebook, nb)

    def _sanitized_pps(self, gb, student: str, lesson: str, notebook: str, nb):
        """``nb`` after the course's sanitize preprocessors, or None (problem reported)."""
        resources = self._resources(student, lesson, notebook)
        try:
            with _lend(gb, self._reads):
                for cls in self.sanitize_pps:
                    nb, resources = self._pp(cls)(nb, resources)
        except Exception as exc:
            self._problem(gb, student, lesson, notebook, "cannot be graded", f"{type(exc).__name__}: {exc}"[:300])
            return None
        return nb, resources

    def _save(self, gb, student, lesson, notebook, nb_json: str, resources: dict) -> None:
        import nbformat

        nb = nbformat.reads(nb_json, as_version=4)
        with _hold_interrupts():
            with _lend(gb, self._reads):  # one commit: all of the notebook's grades, or none
                for cls in self.save_pps:
                    nb, resources = self._pp(cls)(nb, resources)
            self._write(student, lesson, notebook, nbformat.writes(nb))

    def _write(self, student, lesson, notebook, text: str) -> None:
        dest = self.course.path("autograded", student, lesson)
        target = dest / f"{notebook}.ipynb"
        tmp = dest / f".{notebook}.ipynb.partial"
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o444)
        os.replace(tmp, target)

    # ------------------------------------------------------------------ the run
    def payloads(self, gb, pending, bar, warm):
        config = self.config
        for student, lesson, notebooks in pending:
            try:
                self._init_submission(gb, student, lesson, notebooks)
            except Exception as exc:
                for notebook in notebooks:
                    self._report(Problem(student, lesson, notebook, "cannot be graded", f"{type(exc).__name__}: {exc}"[:300]))
                    bar.update(1)
                continue
            for notebook in notebooks:
                prepared = self._sanitize(gb, student, lesson, notebook)
                if prepared is None:
                    bar.update(1)
                    continue
                import nbformat

                nb, resources = prepared
                key = f"{student}/{lesson}/{notebook}"
                text = nbformat.writes(nb)
                self._sanitized[key] = (text, resources)
                trusted = self._trusted(lesson, notebook, self.execute_pps)
                sent = dict(resources, infraprep={"trusted_cells": trusted}) if trusted is not None else resources
                yield {"key": key, "nb": text, "resources": sent, "config": config, "warm": warm[lesson],
                       "preprocessors": self.execute_pps}

    def run(self, lessons: list[str] | None = None, students: list[str] | None = None,
            workers: int | None = None, scheduler: str | None = None, force: bool = False,
            executor=None) -> AutogradeSummary:
        import warnings

        from sqlalchemy.exc import SAWarning
        from tqdm.auto import tqdm

        from .lock import gradebook_lock

        warnings.filterwarnings("ignore", message=".*not in session.*", category=SAWarning)
        started = time.perf_counter()
        # one writer at a time (infraprep watch beside a manual autograde): see infraprep.grading.lock
        with gradebook_lock(self.course.root, "infraprep autograde", log=self.log), self.course.gradebook() as gb:
            known = {a.name for a in gb.assignments}
            gb.db.commit()
            submitted = self.course.submitted(lessons)
            wanted = lessons if lessons is not None else sorted({lesson for _, lesson in submitted})
            unknown = [lesson for lesson in wanted if lesson not in known]
            if unknown and lessons is not None:
                raise ValueError(f"not in the gradebook: {', '.join(unknown)} "
                                 "(run `infraprep release` or `nbgrader generate_assignment` first)")
            wanted = [lesson for lesson in wanted if lesson in known]
            expected = {lesson: self._expected(gb, lesson) for lesson in wanted}
            pending = []
            for student, lesson in submitted:
                if students is not None and student not in students:
                    continue
                if not valid_identity(student):  # a folder name no roster or exchange gives: never graded
                    self._report(Problem(student, lesson, "-", "not a student id",
                                         "submitted/ holds a folder whose name cannot be a student id; not graded"))
                    continue
                if lesson not in expected:  # a stray folder must not stop the cohort
                    self._report(Problem(student, lesson, "-", "unknown lesson",
                                         f"submitted/{student}/{lesson} is not an assignment in the gradebook"))
                    continue
                if not force and self._done(student, lesson, expected[lesson]):
                    self.summary.skipped += len(expected[lesson])
                    continue
                pending.append((student, lesson, expected[lesson]))
            pending.sort(key=lambda item: (item[1], item[0]))  # lesson by lesson: warm kernels guess right
            total = sum(len(n) for _, _, n in pending)
            cd = self.course.coursedir
            warm = {lesson: tuple(sorted(imported_modules(
                list(Path(cd.format_path(cd.source_directory, ".", lesson)).glob("*.ipynb"))))) for lesson in wanted}
            first = warm[pending[0][1]] if pending else ()
            if executor is None:  # a long-running caller (infraprep watch) brings workers it keeps
                executor = DaskExecutor(scheduler, first) if scheduler else LocalExecutor(workers, first)
            self.summary.executor = executor.name
            bar = tqdm(total=total, unit="nb", desc="autograde", disable=not self.progress or total == 0,
                       file=sys.stderr, dynamic_ncols=True)
            try:
                if total:
                    for result in executor.run(self.payloads(gb, pending, bar, warm)):
                        self._handle(gb, result)
                        bar.update(1)
            finally:
                bar.close()
                self.summary.seconds = time.perf_counter() - started
        return self.summary

    def _handle(self, gb, result: dict) -> None:
        key = result["key"]
        student, lesson, notebook = key.split("/")
        text, resources = self._sanitized.pop(key)
        if not result["ok"] and result.get("kind") == "broken environment":
            from .judge import GradingEnvironmentError

            raise GradingEnvironmentError(result["message"])  # nobody of this lesson is graded: stop, loudly
        if result["ok"]:
            try:
                self._save(gb, student, lesson, notebook, result["nb"], resources)
                self._set_problem(key, None)
                self.summary.graded += 1
                return
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                result = {"kind": "cannot be graded", "message": f"{type(exc).__name__}: {exc}"[:300]}
        with _hold_interrupts():
            self._problem(gb, student, lesson, notebook, result["kind"], result["message"])
            self._write(student, lesson, notebook, text)  # the sanitized notebook: graded (zero), not rerun


def autograde(course: Course, lessons=None, students=None, workers=None, scheduler=None, force=False,
              progress=True, roster=None) -> AutogradeSummary:
    """Autograde every submission of these lessons (default: every lesson with submissions)."""
    return Coordinator(course, roster=roster, progress=progress).run(lessons, students, workers, scheduler, force)
