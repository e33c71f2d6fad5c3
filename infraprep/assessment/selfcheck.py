"""``infraprep check``: the learner's own grader, for an open course where no instructor collects.

It grades a learner's notebook exactly as a cohort's grader would — the same judge (hidden tests run
in the grader's own process, on the answers taken out of the kernel), the same sandbox where it
runs, the same per-student variants (the learner's identity: :func:`.variants.identity`) — with the
hidden tests of the course's ``source/`` on this machine, and never touches a gradebook. It prints
one row a question (points, maximum, and the kind of mistake, never the answer) and the total, and
writes a feedback page beside the notebook with the hidden tests stripped.

``--new-variant`` starts a fresh practice round: new inputs and option orders for every question;
the old notebook is kept as a copy and the working copy starts again from the released version.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["CheckError", "Row", "Result", "check", "course_root", "default_notebook", "new_variant", "run"]


class CheckError(Exception):
    """The check cannot run (a file that is not a notebook, an unknown lesson, no hidden tests here)."""


@dataclass
class Row:
    question: str
    points: float | None
    max_points: float
    reason: str


@dataclass
class Result:
    lesson: str
    notebook: str
    student: str
    questions: list[Row] = field(default_factory=list)
    feedback: str = ""
    sandboxed: bool = False

    @property
    def score(self) -> float:
        return round(sum(r.points or 0.0 for r in self.questions if r.points is not None), 4)

    @property
    def max_score(self) -> float:
        return round(sum(r.max_points for r in self.questions if r.points is not None), 4)

    def as_json(self) -> dict:
        return {"lesson": self.lesson, "notebook": self.notebook, "student": self.student, "score": self.score,
                "max_score": self.max_score, "questions": [asdict(r) for r in self.questions],
                "feedback": self.feedback, "sandboxed": self.sandboxed}

    def table(self) -> str:
        """The result as people read it: one row a question, then the total."""
        width = max([len(r.question) for r in self.questions] + [8])
        lines = [f"{'question':<{width}}  {'points':>6}  {'max':>4}  reason", "-" * (width + 40)]
        for r in self.questions:
            got = "  -" if r.points is None else f"{r.points:g}"
            lines.append(f"{r.question:<{width}}  {got:>6}  {r.max_points:>4g}  {r.reason}")
        lines.append("-" * (width + 40))
        manual = sum(r.max_points for r in self.questions if r.points is None)
        extra = f" (+ {manual:g} points graded by hand)" if manual else ""
        lines.append(f"{'total':<{width}}  {self.score:>6g}  {self.max_score:>4g}{extra}")
        return "\n".join(lines)


def course_root(start: Path | None = None) -> Path:
    """The course folder (``nbgrader_config.py`` and ``source/``): ``INFRAPREP_COURSE``, else the folder
    the course package lives in, else the first such folder above ``start`` (the working folder)."""
    candidates = []
    if os.environ.get("INFRAPREP_COURSE"):
        candidates.append(Path(os.environ["INFRAPREP_COURSE"]))
    import infraprep

    candidates.append(Path(infraprep.__file__).resolve().parents[1])
    here = (start or Path.cwd()).resolve()
    candidates += [here, *here.parents]
    for folder in candidates:
        if (folder / "nbgrader_config.py").is_file() and (folder / "source").is_dir():
            return folder
    raise CheckError("the course's folder (nbgrader_config.py and source/) is not on this machine: "
                     "run this from the course you cloned, or set INFRAPREP_COURSE")


def _lessons(root: Path) -> list[str]:
    from infraprep import tables

    return [str(lesson) for lesson in tables.lessons()["lesson_id"]]


def _source(root: Path, lesson: str) -> Path:
    if lesson not in _lessons(root):
        raise CheckError(f"unknown lesson {lesson!r}: choose among {', '.join(_lessons(root))}")
    path = root / "source" / lesson / f"{lesson}.ipynb"
    if not path.is_file():
        raise CheckError(f"the hidden tests of {lesson} are not on this machine (no {path})")
    return path


def default_notebook(root: Path, lesson: str) -> Path:
    """The learner's working copy: the assignment fetched with nbgrader's Assignments tab, else ``release/``."""
    from infraprep.grading.course import Course

    try:
        course_id = Course(root).course_id
    except Exception:  # noqa: BLE001 - an unreadable config: fall back to the release
        course_id = "ai-infra-prep"
    for path in (root / course_id / lesson / f"{lesson}.ipynb", root / "release" / lesson / f"{lesson}.ipynb"):
        if path.is_file():
            return path
    raise CheckError(f"no working copy of {lesson}: fetch it from the Assignments tab, or name the notebook")


def _read(path: Path):
    import nbformat

    if not path.is_file():
        raise CheckError(f"{path} does not exist")
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # noqa: BLE001 - say what it is, in one line
        raise CheckError(f"{path} is not a notebook ({type(exc).__name__})") from None
    if not isinstance(nb.get("cells"), list):
        raise CheckError(f"{path} is not a notebook (it has no cells)")
    return nb


def _label(grade_id: str) -> str:
    base = grade_id.removesuffix("_tests")
    return base.upper() if base[:1] == "q" and base[1:].isdigit() else base


def check(lesson: str, notebook: str | os.PathLike | None = None, write_feedback: bool = True) -> Result:
    """Grade ``notebook`` (default: the working copy of ``lesson``) with the hidden tests on this machine."""
    from infraprep.grading.cells import nbgrader_meta
    from infraprep.grading.judge import JudgedExecute, TrustedCells

    from . import variants

    root = course_root()
    source_path = _source(root, lesson)
    path = Path(notebook).resolve() if notebook else default_notebook(root, lesson)
    nb = _read(path)
    source = _read(source_path)
    trusted = TrustedCells.from_notebook(source)
    who = variants.identity()
    points = {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c).get("points") or 0)
              for c in source.cells if nbgrader_meta(c).get("grade")}
    written = [nbgrader_meta(c)["grade_id"] for c in source.cells
               if nbgrader_meta(c).get("grade") and nbgrader_meta(c).get("solution")]
    from traitlets.config import Config

    config = Config()
    config.JudgedExecute.preflight = False
    config.JudgedExecute.warn_unsandboxed = False
    config.JudgedExecute.timeout = 60
    judge = JudgedExecute(config=config)
    resources = {"nbgrader": {"student": who.student, "assignment": lesson, "notebook": path.stem},
                 "metadata": {"path": str(path.parent), "name": path.stem},
                 "infraprep": {"trusted_cells": trusted.to_dict(), "preflight": True, "variant_key": who.key}}
    graded, _ = judge.preprocess(nb, resources)
    result = Result(lesson, str(path), who.student, sandboxed=judge.sandboxed)
    for grade_id, maximum in points.items():
        if grade_id in written:
            result.questions.append(Row(_label(grade_id), None, maximum, "written answer: graded by hand"))
            continue
        verdict = judge.verdicts.get(grade_id) or {"status": "unrun", "message": "this test did not run"}
        status = verdict.get("status")
        earned = maximum if status == "pass" else round(maximum * float(verdict.get("fraction", 0)), 4) if status == "partial" else 0.0
        reason = "correct" if status == "pass" else str(verdict.get("message") or status)
        result.questions.append(Row(_label(grade_id), earned, maximum, reason.replace("\n", " ")[:160]))
    if write_feedback:
        result.feedback = str(_feedback(graded, path, root))
    return result


def _feedback(nb, path: Path, root: Path) -> Path:
    """A feedback page beside the notebook (the graded notebook, hidden tests stripped, made safe) - or,
    for a notebook inside the course's own ``source/`` (an instructor checking the solutions), in
    ``~/.infraprep/feedback/``: nothing is ever written where an assignment is generated from."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.exporter import ResourcesDict

    from infraprep.grading.preprocessors import StripHiddenTests
    from infraprep.grading.sanitize import SanitizeFeedback

    for cls in (StripHiddenTests, SanitizeFeedback):
        nb, _ = cls().preprocess(nb, ResourcesDict())
    body, _ = HTMLExporter().from_notebook_node(nb)
    target = path.with_name(f"{path.stem}-feedback.html")
    try:
        path.resolve().relative_to((root / "source").resolve())
        from infraprep import userdata

        target = userdata.home() / "feedback" / target.name
        target.parent.mkdir(parents=True, exist_ok=True)
    except ValueError:
        pass
    target.write_text(body, encoding="utf-8")
    return target


def new_variant(lesson: str, notebook: str | os.PathLike | None = None) -> tuple[Path, Path, dict]:
    """A fresh practice round: returns (the kept copy, the fresh working copy, the new identity)."""
    from . import variants

    root = course_root()
    _source(root, lesson)
    path = Path(notebook).resolve() if notebook else default_notebook(root, lesson)
    _read(path)
    identity = variants.new_local_round()
    kept = path.with_name(f"{path.stem}.round-{identity['round'] - 1}{path.suffix}")
    shutil.copy2(path, kept)
    released = root / "release" / lesson / f"{lesson}.ipynb"
    if released.is_file() and released.resolve() != path:
        shutil.copy2(released, path)
    return kept, path, identity


CELL = (
    "# Check your work: grade your *saved* notebook (Ctrl+S first) with the course's hidden tests, here on\n"
    "# your machine. One row a question; nothing is sent anywhere. (In a terminal: infraprep check {lesson})\n"
    "from infraprep.assessment import selfcheck\n"
    'selfcheck.run("{lesson}")'
)


def run(lesson: str) -> None:
    """The last cell of every assignment: check the saved notebook, from inside JupyterLab."""
    if os.environ.get("INFRAPREP_GRADING") or os.environ.get("NBGRADER_EXECUTION"):
        print("(infraprep check runs in your own JupyterLab; nothing to do while the notebook is graded)")
        return
    path = os.environ.get("JPY_SESSION_NAME") or ""
    if not path.endswith(".ipynb"):  # not opened in JupyterLab (a script, a test run): say how instead
        print(f"Open this notebook in JupyterLab to check it here, or run: infraprep check {lesson} NOTEBOOK")
        return
    import subprocess

    print(f"Checking {Path(path).name} as saved ...", flush=True)
    done = subprocess.run([sys.executable, "-m", "infraprep.cli", "check", lesson, path],
                          capture_output=True, text=True, timeout=900)
    print(done.stdout.strip() if done.returncode == 0 else done.stderr.strip())


def main(args) -> int:
    """``infraprep check`` (see :mod:`infraprep.cli`)."""
    try:
        if args.new_variant:
            kept, fresh, identity = new_variant(args.lesson, args.notebook)
            print(f"new variant (round {identity['round']}): your answers are kept in {kept}; "
                  f"{fresh} starts again with new inputs. Rerun it from the top.")
            return 0
        result = check(args.lesson, args.notebook)
    except CheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_json(), indent=1))
    else:
        print(f"{args.lesson} for {result.student}{'' if result.sandboxed else ' (not sandboxed)'}: {result.notebook}")
        print(result.table())
        if result.feedback:
            print(f"feedback: {result.feedback}")
    return 0
