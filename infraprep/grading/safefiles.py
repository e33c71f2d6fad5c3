"""What the grader reads of a submission folder's own files: never through a link, never from a pipe.

A submission folder is filled by whoever made it, and nbgrader reads it trustingly: its
``CourseDirectory.get_existing_timestamp`` opens ``timestamp.txt`` with a plain ``open`` (a link is
followed, so a linked file's date becomes the submission time; a named pipe, or a link to one, blocks
the grader for ever) and a time it cannot parse calls a ``fail`` that ``CourseDirectory`` does not
have (the command stops with an ``AttributeError``); its converters copy every file of the folder
with ``shutil.copy`` (following links; a named pipe stops that student's grading before the
submission is even recorded).

- :func:`read_timestamp` opens ``timestamp.txt`` with ``O_NOFOLLOW | O_NONBLOCK`` from a folder
  opened with ``O_NOFOLLOW`` (the student's folder above it must not be a link either), reads it
  only if it is a regular file, at most 4 kB, and gives None, with a one-line warning naming the
  file, for anything it cannot trust or parse;
- :func:`regular_files` lists the files of a folder as nbgrader's ``find_all_files`` does, without
  links (to files or folders) or anything that is not a regular file, and nothing at all when the
  folder is itself a link;
- :func:`linked_submission` says whether a submission folder, or its student's folder, is a link;
- :func:`install` puts the first two in nbgrader's place (``CourseDirectory.get_existing_timestamp``,
  and the ``find_all_files`` its converters copy a submission with). The course's
  ``nbgrader_config.py`` calls it, so stock ``nbgrader autograde`` and ``collect`` read submissions
  this way too; :class:`.course.Course` calls it for everything ``infraprep`` runs.
"""

from __future__ import annotations

import datetime
import errno
import logging
import os
import stat

from .escape import printable

TIMESTAMP = "timestamp.txt"
MAX_TIMESTAMP_BYTES = 4096

_log = logging.getLogger("infraprep.grading.safefiles")


def _warn(log, message: str) -> None:
    (log or _log).warning(printable(message))


def _linked_below(root: str | None, folder: str) -> str | None:
    """The first link among the folders from ``root``'s own subfolder (``submitted``, ``autograded``...)
    down to ``folder`` excluded (a student's folder), or None."""
    if not root:
        return None
    rel = os.path.relpath(os.path.abspath(folder), os.path.abspath(root))
    if rel == "." or rel.startswith(".."):
        return None
    parts = rel.split(os.sep)
    for depth in range(2, len(parts)):  # parts[0] is the step's folder, which the instructor may link
        path = os.path.join(root, *parts[:depth])
        if os.path.islink(path):
            return path
    return None


def read_timestamp(folder: str | os.PathLike, root: str | None = None, log=None) -> datetime.datetime | None:
    """The time in ``folder/timestamp.txt`` (naive UTC, as nbgrader's), or None when there is none to
    trust: missing, empty, not a time, not a regular file, or reached through a link (the file, the
    folder or, under ``root``, the student's folder)."""
    from nbgrader.utils import parse_utc

    folder = os.fspath(folder)
    path = os.path.join(folder, TIMESTAMP)
    linked = _linked_below(root, folder)
    if linked:
        _warn(log, f"{path} not read: {linked} is a symbolic link")
        return None
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            _warn(log, f"{path} not read: {folder} is a symbolic link or not a folder")
        return None
    try:
        try:  # looked at before it is opened: even a non-blocking open of a pipe is seen by its writer
            mode = os.stat(TIMESTAMP, dir_fd=dir_fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return None
        except OSError as exc:
            _warn(log, f"{path} not read: {exc.strerror}")
            return None
        if not stat.S_ISREG(mode):
            _warn(log, f"{path} not read: it is {'a symbolic link' if stat.S_ISLNK(mode) else kind_of(mode)}")
            return None
        try:
            fd = os.open(TIMESTAMP, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC,
                         dir_fd=dir_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            what = "is a symbolic link" if exc.errno == errno.ELOOP else f"cannot be opened ({exc.strerror})"
            _warn(log, f"{path} not read: it {what}")
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # changed since it was looked at
                _warn(log, f"{path} not read: it is not a regular file")
                return None
            raw = os.read(fd, MAX_TIMESTAMP_BYTES + 1)
        finally:
            os.close(fd)
    finally:
        os.close(dir_fd)
    if len(raw) > MAX_TIMESTAMP_BYTES:
        _warn(log, f"{path} not read: it is larger than a time stamp")
        return None
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        _warn(log, f"{path} is empty")
        return None
    try:
        return parse_utc(text)
    except (ValueError, OverflowError, TypeError, AttributeError) as exc:
        _warn(log, f"{path} is not a time ({type(exc).__name__}): {text[:60]!r}")
        return None


def regular_files(path: str | os.PathLike, exclude: list[str] | None = None, log=None) -> list[str]:
    """nbgrader's ``find_all_files(path, exclude)`` without links or anything but regular files
    (each one left out is logged), and empty when ``path`` is itself a link."""
    from nbgrader.utils import find_all_files

    path = os.fspath(path)
    if os.path.islink(path):
        _warn(log, f"{path} is a symbolic link: nothing in it is read")
        return []
    kept = []
    for name in find_all_files(path, exclude):  # os.walk: a link to a folder is not entered
        try:
            mode = os.lstat(name).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode):
            kept.append(name)
        else:
            what = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
            _warn(log, f"{name} is {what}: not copied")
    return kept


def special_files(folder: str | os.PathLike) -> list[str]:
    """Paths (relative to ``folder``) of what is in it that is neither a folder, a regular file nor a
    link: named pipes, sockets, devices. Links are not followed."""
    folder = os.fspath(folder)
    found = []
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                found.append(os.path.relpath(path, folder))
    return sorted(found)


def kind_of(mode: int) -> str:
    return ("a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")


def linked_submission(submitted_root: str | os.PathLike, student: str, lesson: str) -> str | None:
    """The submission folder ``submitted_root/student/lesson``, or the student's folder, when it is a
    symbolic link (which nothing of the grader follows), else None."""
    student_folder = os.path.join(os.fspath(submitted_root), student)
    for path in (student_folder, os.path.join(student_folder, lesson)):
        if os.path.islink(path):
            return path
    return None


# ---------------------------------------------------------------------- in nbgrader's place
def _get_existing_timestamp(self, dest_path: str):
    return read_timestamp(dest_path, root=self.root, log=self.log)


def _find_submission_files(path: str, exclude: list[str] | None = None) -> list[str]:
    return regular_files(path, exclude)


def install() -> None:
    """Make nbgrader read timestamps with :func:`read_timestamp` and copy a folder's files with
    :func:`regular_files` (its converters' ``find_all_files``). Idempotent."""
    from nbgrader import coursedir
    from nbgrader.converters import base

    if not getattr(coursedir.CourseDirectory.get_existing_timestamp, "__infraprep__", False):
        _get_existing_timestamp.__infraprep__ = True
        coursedir.CourseDirectory.get_existing_timestamp = _get_existing_timestamp
    if not getattr(base.find_all_files, "__infraprep__", False):
        _find_submission_files.__infraprep__ = True
        base.find_all_files = _find_submission_files
