#!/usr/bin/env python3
"""Write notebooks as plain text, and turn that text into .ipynb (and back).

The .ipynb files in ``notebooks/`` and ``source/`` are the stored form; this is
an authoring aid so a lesson can be written and reviewed in an editor.

Text format: a cell starts at a marker line and runs to the next one.

    # %% [markdown]                  markdown cell (raw markdown follows)
    # %%                             code cell
    # %% [setup]                     code, read-only in the graded notebook
    # %% [readonly ID]               markdown, read-only (question text), grade id ID
    # %% [answer ID]                 code answer cell (solution region inside)
    # %% [tests ID points=N]         autograded test cell worth N points
    # %% [written ID points=N]       markdown answer, graded by hand, worth N points

Usage:
    python scripts/nbtext.py build lesson.txt out.ipynb
    python scripts/nbtext.py dump  notebook.ipynb > lesson.txt
"""

from __future__ import annotations

import re
import sys

import nbformat

MARKER = re.compile(r"^# %%(?:\s*\[(?P<kind>[a-z]+)(?P<args>[^\]]*)\])?\s*$")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _nbgrader(kind: str, grade_id: str, points: float | None) -> dict:
    meta = {"schema_version": 3, "grade_id": grade_id, "task": False}
    meta.update({
        "setup": dict(grade=False, solution=False, locked=True),
        "readonly": dict(grade=False, solution=False, locked=True),
        "answer": dict(grade=False, solution=True, locked=False),
        "tests": dict(grade=True, solution=False, locked=True),
        "written": dict(grade=True, solution=True, locked=False),
    }[kind])
    if points is not None:
        meta["points"] = points
    return meta


def build(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    cells: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        match = MARKER.match(line)
        if match:
            cells.append((match["kind"] or "code", (match["args"] or "").strip(), []))
        elif cells:
            cells[-1][2].append(line)
        elif line.strip():
            raise ValueError(f"text before the first cell marker: {line!r}")
    setup_count = 0
    for kind, args, lines in cells:
        source = "\n".join(lines).strip("\n")
        words = args.split()
        options = dict(w.split("=", 1) for w in words if "=" in w)
        names = [w for w in words if "=" not in w]
        if kind in ("markdown", "readonly", "written"):
            cell = nbformat.v4.new_markdown_cell(source)
        elif kind in ("code", "setup", "answer", "tests"):
            cell = nbformat.v4.new_code_cell(source)
        else:
            raise ValueError(f"unknown cell kind {kind!r}")
        if kind in ("setup", "readonly", "answer", "tests", "written"):
            if kind == "setup" and not names:
                setup_count += 1
                names = [f"setup_{setup_count}"]
            if not names:
                raise ValueError(f"a [{kind}] cell needs an id, e.g. [{kind} q1]")
            points = float(options["points"]) if "points" in options else None
            if kind in ("tests", "written") and points is None:
                raise ValueError(f"[{kind} {names[0]}] needs points=N")
            cell.metadata["nbgrader"] = _nbgrader(kind, names[0], points)
            if kind in ("setup", "readonly", "tests"):
                cell.metadata["editable"] = False
                cell.metadata["deletable"] = False
        nb.cells.append(cell)
    return nb


def dump(nb: nbformat.NotebookNode) -> str:
    out = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta:
            if meta.get("grade") and meta.get("solution"):
                kind = "written"
            elif meta.get("grade"):
                kind = "tests"
            elif meta.get("solution"):
                kind = "answer"
            else:
                kind = "readonly" if cell.cell_type == "markdown" else "setup"
            extra = f" points={meta['points']:g}" if "points" in meta and meta.get("grade") else ""
            out.append(f"# %% [{kind} {meta['grade_id']}{extra}]")
        else:
            out.append("# %% [markdown]" if cell.cell_type == "markdown" else "# %%")
        out.append(cell.source)
        out.append("")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "build":
        with open(argv[1], encoding="utf-8") as handle:
            nb = build(handle.read())
        nbformat.validate(nb)
        nbformat.write(nb, argv[2])
        return 0
    if len(argv) == 2 and argv[0] == "dump":
        sys.stdout.write(dump(nbformat.read(argv[1], as_version=4)))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
