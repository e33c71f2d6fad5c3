"""Reading nbgrader cells: kinds of cell, and the hidden-test regions inside test cells."""

from __future__ import annotations

from nbformat.notebooknode import NotebookNode

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"


def nbgrader_meta(cell: NotebookNode) -> dict:
    """A cell's nbgrader metadata, ``{}`` when it has none (or a submission set it to something empty)."""
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell: code, graded, not an answer."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_setup_cell(cell_meta: dict, cell_type: str) -> bool:
    """A read-only code cell that is neither an answer nor a test (imports, helpers)."""
    return cell_type == "code" and bool(cell_meta.get("locked")) and not cell_meta.get("grade") and not cell_meta.get("solution")


def split_hidden(source: str, begin: str = BEGIN_HIDDEN, end: str = END_HIDDEN) -> tuple[str, str]:
    """Split a test cell's source into (visible code, hidden code).

    Lines of the delimiters themselves belong to neither part. An unterminated
    region hides everything after its start.
    """
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            hidden.append(line)
        else:
            visible.append(line)
    return "\n".join(visible), "\n".join(hidden)


def has_hidden(source: str, begin: str = BEGIN_HIDDEN) -> bool:
    return begin in source
