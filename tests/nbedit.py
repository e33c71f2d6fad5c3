"""Edits of a notebook as a student might make them, for the tampering tests and the catalogue.

Each maker returns an ``edit(nb)`` that changes the notebook in place; :func:`chain` runs several.
Cells are found by their nbgrader grade id, so an edit that removes a cell's metadata comes last.
"""

from __future__ import annotations

import copy
import uuid

import nbformat

from infraprep.grading.cells import nbgrader_meta


def index(nb, grade_id: str) -> int:
    """Where the cell with this grade id is."""
    for i, cell in enumerate(nb.cells):
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            return i
    raise KeyError(grade_id)


def new_id() -> str:
    return uuid.uuid4().hex[:8]


def delete(*grade_ids):
    def edit(nb):
        for gid in grade_ids:
            del nb.cells[index(nb, gid)]
    return edit


def set_source(grade_id, source):
    def edit(nb):
        nb.cells[index(nb, grade_id)].source = source
    return edit


def retype(grade_id, cell_type="markdown"):
    """The cell turned into a markdown (or raw) cell with the same source and metadata."""
    def edit(nb):
        i = index(nb, grade_id)
        old = nb.cells[i]
        maker = nbformat.v4.new_markdown_cell if cell_type == "markdown" else nbformat.v4.new_raw_cell
        cell = maker(old.source, metadata=copy.deepcopy(old.metadata))
        cell["id"] = old.get("id", new_id())
        nb.cells[i] = cell
    return edit


def strip(*grade_ids):
    """Remove the nbgrader metadata (and the edit locks) of these cells; no ids: of every cell."""
    def edit(nb):
        for cell in nb.cells:
            if not grade_ids or nbgrader_meta(cell).get("grade_id") in grade_ids:
                for key in ("nbgrader", "deletable", "editable"):
                    cell.metadata.pop(key, None)
    return edit


def set_meta(grade_id, **changes):
    def edit(nb):
        nb.cells[index(nb, grade_id)].metadata["nbgrader"].update(changes)
    return edit


def duplicate(grade_id, source=None, before=False):
    """Copy a cell (same nbgrader metadata, new cell id), optionally with other source."""
    def edit(nb):
        i = index(nb, grade_id)
        cell = copy.deepcopy(nb.cells[i])
        cell["id"] = new_id()
        if source is not None:
            cell.source = source
        nb.cells.insert(i if before else i + 1, cell)
    return edit


def chain(*edits):
    def edit(nb):
        for e in edits:
            e(nb)
    return edit
