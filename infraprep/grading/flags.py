"""Flags: what the grader noticed about a submission, kept for the instructor's report.

Three places hold them:

- the autograded notebook's metadata, ``metadata.infraprep.flags``: things noticed while the
  notebook was still graded (a deleted or edited graded cell restored, changed points ignored, a
  kernel that died and was restarted, a timeout, truncated output, extra files, no sandbox...);
- ``autograded/.infraprep-problems.json``: notebooks that could not be graded at all (empty, not a
  notebook, wrongly named, too large...), which scored zero. A later successful grading removes them.
- ``autograded/.infraprep-feedback.json``: graded notebooks whose feedback page could not be made
  (:mod:`.feedback` names them and goes on with everyone else). A later page made for it removes it.

:func:`collect` reads all three, for :mod:`.report` and for tests.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

PROBLEMS_FILE = ".infraprep-problems.json"
FEEDBACK_FILE = ".infraprep-feedback.json"

# kinds of flag on a notebook that was still graded (cell: the grade id or file name concerned)
DELETED_CELL = "deleted cell"
STRIPPED_METADATA = "stripped metadata"
DUPLICATE_ID = "duplicate grade id"
UNKNOWN_ID = "unknown grade id"
CHANGED_POINTS = "changed points"
EDITED_LOCKED = "edited locked cell"
CHANGED_TYPE = "changed cell type"
KERNEL_DIED = "kernel died"
TIMEOUT = "timeout"
OUTPUT_TRUNCATED = "output truncated"
EXTRA_FILE = "extra file"
LINKED_SUBMISSION = "linked submission"
OLD_FORMAT = "old notebook format"
OTHER_KERNEL = "other kernel"
UNSANDBOXED = "unsandboxed"
JUDGE_LIMIT = "grading limit"
VARIANT_CHANGED = "variant changed"
MARKUP_NOT_SHOWN = "markup not shown"
NO_FEEDBACK = "no feedback page"


@dataclass(frozen=True)
class Flag:
    student: str
    lesson: str
    notebook: str
    kind: str
    cell: str
    message: str

    def __str__(self) -> str:
        from .escape import printable

        where = f" [{self.cell}]" if self.cell else ""
        return printable(f"{self.student} / {self.lesson} / {self.notebook}{where}: {self.kind}: {self.message}")


def add(nb, kind: str, cell: str, message: str) -> None:
    """Record a flag in a notebook's metadata (once per kind and cell)."""
    meta = nb.metadata.setdefault("infraprep", {})
    flags = meta.setdefault("flags", [])
    entry = {"kind": kind, "cell": cell or "", "message": message}
    if not any(f.get("kind") == kind and f.get("cell") == entry["cell"] for f in flags):
        flags.append(entry)


def of_notebook(nb) -> list[dict]:
    """The flags recorded in a notebook (``[]`` if none), the missing sandbox included."""
    meta = nb.get("metadata", {}).get("infraprep", {}) or {}
    flags = [dict(f) for f in meta.get("flags", []) if isinstance(f, dict)]
    if meta.get("sandboxed") is False and not any(f.get("kind") == UNSANDBOXED for f in flags):
        flags.append({"kind": UNSANDBOXED, "cell": "", "message": "graded without the sandbox (bubblewrap unavailable)"})
    return flags


# ---------------------------------------------------------------------- whole-notebook problems
def _problems_path(autograded: Path, name: str = PROBLEMS_FILE) -> Path:
    return Path(autograded) / name


def load_problems(autograded: Path, name: str = PROBLEMS_FILE) -> dict[str, dict]:
    """``student/lesson/notebook`` -> {kind, message} for notebooks that could not be graded (or, with
    ``name=FEEDBACK_FILE``, whose feedback page could not be made)."""
    path = _problems_path(autograded, name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_problems(autograded: Path, problems: dict[str, dict], name: str = PROBLEMS_FILE) -> None:
    path = _problems_path(autograded, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    tmp.write_text(json.dumps(problems, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def collect(course_root: Path | str, autograded: str = "autograded") -> list[Flag]:
    """Every flag and problem of a course, sorted by student, lesson and notebook."""
    import nbformat

    base = Path(course_root) / autograded
    found: list[Flag] = []
    for key, problem in [*load_problems(base).items(), *load_problems(base, FEEDBACK_FILE).items()]:
        student, lesson, notebook = (key.split("/") + ["", "", ""])[:3]
        found.append(Flag(student, lesson, notebook, problem.get("kind", "problem"), "", problem.get("message", "")))
    for path in sorted(base.glob("*/*/*.ipynb")):
        student, lesson = path.parent.parent.name, path.parent.name
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:
            continue
        for flag in of_notebook(nb):
            found.append(Flag(student, lesson, path.stem, flag.get("kind", ""), flag.get("cell", ""), flag.get("message", "")))
    return sorted(found, key=lambda f: (f.student, f.lesson, f.notebook, f.kind, f.cell))


def as_rows(flags: list[Flag]) -> list[dict]:
    return [asdict(f) for f in flags]
