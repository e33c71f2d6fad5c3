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

A submission folder (or student's folder) that is a symbolic link is never followed: what it points
at (a classmate's work, the instructor's source) is not the student's, so the notebook graded is the
assignment as released, unanswered, flagged ``linked submission``. A named pipe, socket or device in
a submission folder (which neither nbgrader's exchange nor the course's collect ever makes) stops the
notebook's grading with an error naming it.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import shutil
from pathlib import Path
from typing import NamedTuple

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

from . import flags, safefiles
from .cells import nbgrader_meta, split_hidden

_TRACKED = ("grade", "solution", "locked", "task")
# what nbgrader's exchange adds to every submission: never the student's extra files
EXCHANGE_FILES = frozenset({"timestamp.txt", "submission_secret.txt"})


def _read_notebook(path: Path):
    """The instructor's source notebook (None if unreadable); read once while it stays unchanged."""
    try:
        return _read_cached(str(path), path.stat().st_mtime_ns)
    except Exception:
        return None


@functools.lru_cache(maxsize=32)
def _read_cached(path: str, mtime_ns: int):
    return nbformat.read(path, as_version=4)  # only read from (see _Original), so safe to share


class _Folders(NamedTuple):
    """Where one submission's files are: the student's submitted and autograded folders, the
    assignment's source folder, and the file patterns the course ignores (hidden files too)."""

    submitted: Path
    autograded: Path
    source: Path
    ignore: list[str]


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
                gid = nbgrader_meta(cell).get("grade_id")
                if gid in self.cells:
                    self.order.append(gid)
                    if cell.get("id"):
                        self.cell_ids[gid] = cell["id"]
                    self.metadata[gid] = dict(nbgrader_meta(cell))
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


def unanswered(release: Path | None, original: _Original | None, source_nb=None):
    """The notebook as released, unanswered: the release notebook if it is a regular file, else its
    graded and read-only cells from the gradebook (which keeps answers as released; none without
    ``original``, for RestoreGradedCells to put back)."""
    import stat

    if release is not None:
        try:
            if stat.S_ISREG(os.lstat(release).st_mode):
                return nbformat.read(str(release), as_version=4)
        except Exception:  # noqa: BLE001 - no readable release: built from the gradebook below
            pass
    nb = nbformat.v4.new_notebook()
    if source_nb is not None and source_nb.metadata.get("kernelspec"):
        nb.metadata["kernelspec"] = source_nb.metadata["kernelspec"]
    nb.cells = [original.blank(gid) for gid in original.order] if original is not None else []
    return nb


class RestoreGradedCells(NbGraderPreprocessor):
    """Restore and flag tampered graded cells (see the module docstring). A sanitize preprocessor."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        nb.metadata.pop("infraprep", None)  # flags and marks are the grader's to write, never the submission's
        folders = self._folders(info)
        source_nb = _read_notebook(folders.source / f"{info['notebook']}.ipynb") if folders else None
        try:
            with Gradebook(info["db_url"]) as gb:
                original = _Original(gb.find_notebook(info["notebook"], info["assignment"]), source_nb)
                notebooks = [n.name for n in gb.find_assignment(info["assignment"]).notebooks]
        except MissingEntry:
            return nb, resources
        linked = folders and safefiles.linked_submission(folders.submitted.parent.parent, info["student"],
                                                         info["assignment"])
        if linked:
            nb = unanswered(self._release(info), original, source_nb)
            flags.add(nb, flags.LINKED_SUBMISSION, "", f"the submission folder {os.path.basename(linked)} is a symbolic "
                      "link; it was not followed: the assignment was graded as released, unanswered")
            self._drop_copies(folders, notebooks)
        elif folders:
            if (folders.submitted / f"{info['notebook']}.ipynb").is_symlink():
                raise ValueError(f"{info['notebook']}.ipynb is a symbolic link, not a notebook: not graded")
            special = safefiles.special_files(folders.submitted)
            if special:
                kind = safefiles.kind_of(os.lstat(folders.submitted / special[0]).st_mode)
                raise ValueError(f"{special[0]} is {kind}, which no submission holds: not graded")
        self._formats(nb, original)
        self._restore(nb, original)
        if folders and not linked:
            self._extra_files(nb, folders, notebooks)
        return nb, resources

    # ------------------------------------------------------------------ where the originals are
    def _folders(self, info) -> _Folders | None:
        """This submission's folders (None if the course directory cannot place them)."""
        from nbgrader.coursedir import CourseDirectory

        try:
            cd = CourseDirectory(config=self.config)
            submitted, autograded, source = (Path(cd.format_path(folder, student, info["assignment"]))
                                             for folder, student in ((cd.submitted_directory, info["student"]),
                                                                     (cd.autograded_directory, info["student"]),
                                                                     (cd.source_directory, ".")))
        except Exception:
            return None
        return _Folders(submitted, autograded, source, list(cd.ignore) + [".*"])

    def _release(self, info) -> Path | None:
        """The assignment's release notebook (None if the course directory cannot place it)."""
        from nbgrader.coursedir import CourseDirectory

        try:
            cd = CourseDirectory(config=self.config)
            return Path(cd.format_path(cd.release_directory, ".", info["assignment"])) / f"{info['notebook']}.ipynb"
        except Exception:
            return None

    @staticmethod
    def _drop_copies(folders: _Folders, notebooks: list[str]) -> None:
        """Remove from the autograded folder what came through a linked submission folder (all but the
        assignment's own files), so none of it reaches the kernel."""
        autograded, source = folders.autograded, folders.source
        if not autograded.is_dir():
            return
        own = {f"{name}.ipynb" for name in notebooks}
        if source.is_dir():
            own |= {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()}
        for root, dirs, files in os.walk(autograded):
            for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                path = os.path.join(root, name)
                if os.path.relpath(path, autograded) not in own or os.path.islink(path):
                    try:
                        os.unlink(path)
                    except OSError:
                        pass

    # ------------------------------------------------------------------ checks
    def _formats(self, nb, original: _Original) -> None:
        old = nb.metadata.get("orig_nbformat")
        if isinstance(old, int) and old < 4:
            flags.add(nb, flags.OLD_FORMAT, "", f"submitted as nbformat {old}; upgraded to 4 and graded")
        kernel = (nb.metadata.get("kernelspec") or {}).get("name")
        if original.kernel and kernel != original.kernel:
            flags.add(nb, flags.OTHER_KERNEL, "", f"kernel {kernel!r} in the submission; graded with {original.kernel!r}")

    def _restore(self, nb, original: _Original) -> None:
        """Find each original cell (by its cell id first, then by the grade id it claims), restore it, and
        put back what is missing. A cell id cannot be faked into a second original: ids are matched once."""
        by_cell_id = {cid: gid for gid, cid in original.cell_ids.items()}
        for cell in nb.cells:
            if not isinstance(cell.get("metadata"), dict):
                cell["metadata"] = nbformat.NotebookNode()
        identity: dict[int, str] = {}
        for index, cell in enumerate(nb.cells):
            gid = by_cell_id.get(cell.get("id"))
            if gid and gid not in identity.values():
                identity[index] = gid
        for index, cell in enumerate(nb.cells):
            if index in identity:
                continue
            meta = nbgrader_meta(cell)
            claimed = meta.get("grade_id")
            if not claimed and not any(meta.get(k) for k in _TRACKED):
                continue
            if claimed in original.cells and claimed not in identity.values():
                identity[index] = claimed
                continue
            cell.metadata.pop("nbgrader", None)
            if claimed in original.cells:
                flags.add(nb, flags.DUPLICATE_ID, claimed, "a second cell carried this grade id; the first one was graded")
            else:
                flags.add(nb, flags.UNKNOWN_ID, str(claimed or ""),
                          "nbgrader metadata that is not the instructor's was removed; the cell ran as ordinary code")
        for index in sorted(identity):
            gid, cell = identity[index], nb.cells[index]
            claimed = nbgrader_meta(cell).get("grade_id")
            if claimed != gid:
                how = "removed" if not claimed else f"changed (it claimed {claimed!r})"
                flags.add(nb, flags.STRIPPED_METADATA, gid, f"the cell's nbgrader metadata was {how}; restored")
            self._check(nb, cell, gid, original, report_meta=claimed == gid)
        for gid in original.order:  # deleted: put back where it was
            if gid in identity.values():
                continue
            position = self._position(nb, gid, original)
            nb.cells.insert(position, original.blank(gid))
            what = "answer cell (put back unanswered)" if gid in original.solutions else "cell (put back from the gradebook)"
            flags.add(nb, flags.DELETED_CELL, gid, f"this {what} was missing from the submission")
            identity = {(i + 1 if i >= position else i): g for i, g in identity.items()}
            identity[position] = gid

    def _check(self, nb, cell, gid: str, original: _Original, report_meta: bool = True) -> None:
        meta = nbgrader_meta(cell)
        expected = original.expected_meta(gid)
        try:
            points = float(meta.get("points") or 0)
        except (TypeError, ValueError):
            points = None
        if gid in original.points and points != original.points[gid]:
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
        at = {(nbgrader_meta(c).get("grade_id")): i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id")}
        earlier = original.order[: original.order.index(gid)]
        for previous in reversed(earlier):
            if previous in at:
                return at[previous] + 1
        return 0

    def _extra_files(self, nb, folders: _Folders, notebooks: list[str]) -> None:
        """Flag files submitted beyond the assignment's own, from the student's submitted folder; a
        symbolic link is flagged and its copy removed from the autograded folder (it may point at
        course files, which must not reach the kernel)."""
        submitted, autograded, source, ignore = folders
        if not submitted.is_dir():
            return
        own = {f"{name}.ipynb" for name in notebooks} | EXCHANGE_FILES
        if source.is_dir():
            own |= {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()}
        for root, dirs, files in os.walk(submitted):
            for name in [d for d in dirs if os.path.islink(os.path.join(root, d))] + files:
                path = os.path.join(root, name)
                rel = os.path.relpath(path, submitted)
                if os.path.islink(path):
                    flags.add(nb, flags.EXTRA_FILE, rel, "a symbolic link was submitted; it was not given to the kernel")
                    copied = autograded / rel
                    if copied.is_symlink() or copied.is_file():
                        copied.unlink()
                    elif copied.is_dir():
                        shutil.rmtree(copied, ignore_errors=True)
                    continue
                if name in dirs or rel in own or any(fnmatch.fnmatch(name, pattern) for pattern in ignore):
                    continue
                flags.add(nb, flags.EXTRA_FILE, rel, "a file that is not part of the assignment was submitted")
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))
                       and not any(fnmatch.fnmatch(d, pattern) for pattern in ignore)]
