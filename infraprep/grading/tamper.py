"""Tampering: put a submission's graded cells back the way the instructor made them, and say so.

nbgrader's own sanitizing restores the source of locked cells it finds, but a cell it cannot find is
skipped: a test cell deleted, or one whose nbgrader metadata was stripped, simply goes ungraded, and
a duplicated grade id keeps only one copy silently. :class:`RestoreGradedCells` runs first among the
sanitize preprocessors and compares the submission with the gradebook (the instructor's cells) and
the source notebook (their order and cell ids):

- a graded or read-only cell that is missing is put back at its place (a deleted answer cell comes
  back as released, unanswered); a cell whose metadata was stripped or altered is found by its cell
  id and its metadata restored; copies of a grade id after the first lose their metadata;
- points, cell types and locked sources are reset to the gradebook's (nbgrader then restores
  locked sources again and grades from the original);
- every change is recorded as a flag (:mod:`.flags`) with the cell concerned, and so are a notebook
  in an old format, a notebook for another kernel, and files submitted beyond the assignment's own.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

from . import flags
from .cells import split_hidden

_TRACKED = ("grade", "solution", "locked", "task")


def _meta(cell) -> dict:
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def _released(source: str) -> list[str]:
    """A locked cell's source as students see it (hidden tests out), blank lines and end spaces ignored."""
    visible, _ = split_hidden(source)
    return [line.rstrip() for line in visible.splitlines() if line.strip()]


class _Original:
    """What the instructor made: per grade id, the cell's metadata, type, source, cell id and position."""

    def __init__(self, gradebook_nb, source_nb=None):
        self.points = {c.name: float(c.max_score) for c in gradebook_nb.grade_cells}
        self.solutions = {c.name for c in gradebook_nb.solution_cells}
        self.cells = {c.name: c for c in gradebook_nb.source_cells}
        self.kernel = None
        try:
            import json

            self.kernel = (json.loads(gradebook_nb.kernelspec) or {}).get("name") if gradebook_nb.kernelspec else None
        except (TypeError, ValueError):
            pass
        self.order: list[str] = []
        self.cell_ids: dict[str, str] = {}
        self.metadata: dict[str, dict] = {}
        if source_nb is not None:
            for cell in source_nb.cells:
                gid = _meta(cell).get("grade_id")
                if gid in self.cells:
                    self.order.append(gid)
                    if cell.get("id"):
                        self.cell_ids[gid] = cell["id"]
                    self.metadata[gid] = dict(_meta(cell))
        for gid in self.cells:  # cells the source notebook no longer shows: keep the gradebook's order
            if gid not in self.order:
                self.order.append(gid)

    def expected_meta(self, gid: str) -> dict:
        """The nbgrader metadata the cell must carry (from the source notebook, else the gradebook)."""
        if gid in self.metadata:
            meta = dict(self.metadata[gid])
        else:
            cell = self.cells[gid]
            meta = {"grade": gid in self.points, "solution": gid in self.solutions, "locked": bool(cell.locked),
                    "grade_id": gid, "schema_version": 3}
            if cell.checksum:
                meta["checksum"] = cell.checksum
        meta["grade_id"] = gid
        if self.cells[gid].checksum:
            meta["checksum"] = self.cells[gid].checksum
        if gid in self.points:
            meta["points"] = self.points[gid]
        else:
            meta.pop("points", None)
        return meta

    def blank(self, gid: str):
        """A cell as released (the gradebook keeps answers as released, unanswered)."""
        cell = self.cells[gid]
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(cell.source)
        else:
            new = nbformat.v4.new_markdown_cell(cell.source)
        new.metadata["nbgrader"] = self.expected_meta(gid)
        if gid in self.cell_ids:
            new["id"] = self.cell_ids[gid]
        return new


class RestoreGradedCells(NbGraderPreprocessor):
    """Restore and flag tampered graded cells (see the module docstring). A sanitize preprocessor."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        try:
            with Gradebook(info["db_url"]) as gb:
                original = _Original(gb.find_notebook(info["notebook"], info["assignment"]), self._source_nb(info))
                notebooks = [n.name for n in gb.find_assignment(info["assignment"]).notebooks]
        except MissingEntry:
            return nb, resources
        self._formats(nb, original)
        self._restore(nb, original)
        self._extra_files(nb, resources, notebooks)
        return nb, resources

    # ------------------------------------------------------------------ where the originals are
    def _coursedir(self):
        from nbgrader.coursedir import CourseDirectory

        return CourseDirectory(config=self.config)

    def _source_nb(self, info):
        try:
            cd = self._coursedir()
            path = Path(cd.format_path(cd.source_directory, ".", info["assignment"])) / f"{info['notebook']}.ipynb"
            return nbformat.read(str(path), as_version=4)
        except Exception:
            return None

    # ------------------------------------------------------------------ checks
    def _formats(self, nb, original: _Original) -> None:
        old = nb.metadata.get("orig_nbformat")
        if isinstance(old, int) and old < 4:
            flags.add(nb, flags.OLD_FORMAT, "", f"submitted as nbformat {old}; upgraded to 4 and graded")
        kernel = (nb.metadata.get("kernelspec") or {}).get("name")
        if original.kernel and kernel != original.kernel:
            flags.add(nb, flags.OTHER_KERNEL, "", f"kernel {kernel!r} in the submission; graded with {original.kernel!r}")

    def _restore(self, nb, original: _Original) -> None:
        kept: dict[str, int] = {}
        by_cell_id = {}
        for index, cell in enumerate(nb.cells):
            meta = _meta(cell)
            gid = meta.get("grade_id")
            if cell.get("id"):
                by_cell_id.setdefault(cell["id"], index)
            if not gid and not any(meta.get(k) for k in _TRACKED):
                continue
            if gid not in original.cells:
                cell.metadata.pop("nbgrader", None)
                flags.add(nb, flags.UNKNOWN_ID, str(gid or ""), "nbgrader metadata that is not the instructor's was removed; the cell ran as ordinary code")
                continue
            if gid in kept:
                cell.metadata.pop("nbgrader", None)
                flags.add(nb, flags.DUPLICATE_ID, gid, "a second cell carried this grade id; the first one was graded")
                continue
            kept[gid] = index
            self._check(nb, cell, gid, original)
        # missing cells: metadata stripped (found again by cell id) or deleted (put back)
        for gid in original.order:
            if gid in kept:
                continue
            index = by_cell_id.get(original.cell_ids.get(gid, "\0"))
            if index is not None and not _meta(nb.cells[index]).get("grade_id"):
                cell = nb.cells[index]
                cell.metadata["nbgrader"] = original.expected_meta(gid)
                flags.add(nb, flags.STRIPPED_METADATA, gid, "the cell's nbgrader metadata was removed; restored")
                self._check(nb, cell, gid, original, report_meta=False)
                kept[gid] = index
                continue
            position = self._position(nb, gid, original)
            nb.cells.insert(position, original.blank(gid))
            what = "answer cell (put back unanswered)" if gid in original.solutions else "cell (put back from the gradebook)"
            flags.add(nb, flags.DELETED_CELL, gid, f"this {what} was missing from the submission")
            kept = {g: (i + 1 if i >= position else i) for g, i in kept.items()}
            kept[gid] = position

    def _check(self, nb, cell, gid: str, original: _Original, report_meta: bool = True) -> None:
        meta = _meta(cell)
        expected = original.expected_meta(gid)
        if gid in original.points and float(meta.get("points") or 0) != original.points[gid]:
            flags.add(nb, flags.CHANGED_POINTS, gid,
                      f"points changed to {meta.get('points')}; graded out of {original.points[gid]:g}")
        if report_meta and any(bool(meta.get(k)) != bool(expected.get(k)) for k in ("grade", "solution", "locked")):
            flags.add(nb, flags.STRIPPED_METADATA, gid, "the cell's nbgrader metadata was changed; restored")
        cell.metadata["nbgrader"] = expected
        source_cell = original.cells[gid]
        if cell.cell_type != source_cell.cell_type:
            flags.add(nb, flags.CHANGED_TYPE, gid, f"changed from {source_cell.cell_type} to {cell.cell_type}; restored")
            self._retype(cell, source_cell.cell_type)
        if source_cell.locked and _released(cell.source) != _released(source_cell.source):
            flags.add(nb, flags.EDITED_LOCKED, gid, "a read-only cell was edited; the instructor's version was graded")
            cell.source = source_cell.source

    @staticmethod
    def _retype(cell, cell_type: str) -> None:
        cell.cell_type = cell_type
        if cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)

    @staticmethod
    def _position(nb, gid: str, original: _Original) -> int:
        """Just after the nearest earlier original cell still in the notebook (or at the top)."""
        at = {(_meta(c).get("grade_id")): i for i, c in enumerate(nb.cells) if _meta(c).get("grade_id")}
        earlier = original.order[: original.order.index(gid)]
        for previous in reversed(earlier):
            if previous in at:
                return at[previous] + 1
        return 0

    def _extra_files(self, nb, resources, notebooks: list[str]) -> None:
        folder = (resources.get("metadata") or {}).get("path")
        info = resources["nbgrader"]
        if not folder or not os.path.isdir(folder):
            return
        cd = self._coursedir()
        own = {f"{name}.ipynb" for name in notebooks} | {"timestamp.txt"}
        try:
            source = Path(cd.format_path(cd.source_directory, ".", info["assignment"]))
            own |= {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()}
        except Exception:
            pass
        ignore = list(cd.ignore) + [".*"]
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if not any(fnmatch.fnmatch(d, pattern) for pattern in ignore)]
            for name in files:
                rel = os.path.relpath(os.path.join(root, name), folder)
                if rel in own or any(fnmatch.fnmatch(name, pattern) for pattern in ignore):
                    continue
                flags.add(nb, flags.EXTRA_FILE, rel, "a file that is not part of the assignment was submitted")
