"""Collect submissions from nbgrader's exchange without trusting what a student put there.

The exchange's ``inbound`` folder is writable by every student (that is how Submit works), so an
entry in it is the student's to make: nbgrader's own collect copies it with ``shutil.copytree``,
which *follows* symbolic links as the instructor (a link to the gradebook or to the instructor's
source becomes a regular file in ``submitted/``, handed to the student's kernel and back in their
feedback), takes the student id from the entry's name (a student can submit as a classmate, and
nbgrader only warns), and takes the submission time from the name and ``timestamp.txt`` (which the
student wrote). :class:`SafeCollect`, the course's ``ExchangeFactory.collect``:

- never follows a link: an entry that is a link is refused; links inside are not copied;
- refuses an entry whose student id could not be one (markup, control characters, path tricks);
- refuses an entry whose claimed student is an account on this machine but not its owner;
- when an entry's claimed time is earlier than the newest change time (``ctime``, which a student
  cannot set) of the entry and its files by more than :attr:`SafeCollect.clock_slack` seconds,
  collects it with that time instead, so a back-dated submission counts as late as it is;
- never copies the entry's own ``timestamp.txt`` (the student can rewrite it after submitting, or
  make it a pipe or a link): the collected one is written from the time the entry's name gives
  (or the later one above);
- refuses an entry larger than ``CourseDirectory.max_dir_size`` (counting its regular files, as
  nbgrader does) and copies only folders and regular files: a named pipe, a socket or a device in an
  entry is left out, like a link;
- collects each entry on its own, into a folder beside ``submitted/<student>/<lesson>`` renamed into
  place when whole: an entry that cannot be copied is reported and the others are still collected.

Each case is logged as an error naming the entry; the rest of the cohort is collected.
"""

from __future__ import annotations

import datetime
import os
import shutil
import stat
import uuid

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.utils import ignore_patterns
from traitlets import Integer

from ..assessment.variants import valid_identity
from .escape import printable
from .safefiles import TIMESTAMP, kind_of

try:
    import pwd
except ImportError:  # pragma: no cover - not on POSIX
    pwd = None


def _newest_change(path: str) -> float:
    newest = os.lstat(path).st_ctime
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_ctime)
            except OSError:
                continue
    return newest


def _size(path: str) -> int:
    """Bytes of the regular files in a folder (links not followed), as nbgrader's ``get_size`` counts."""
    total = 0
    for root, dirs, files in os.walk(path):
        for name in files:
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total


class SafeCollect(ExchangeCollect):
    """nbgrader's collect, with the checks of the module docstring."""

    clock_slack = Integer(300, help="Seconds a submission's claimed time may precede its files' change times").tag(config=True)

    def _path_to_record(self, path):
        """nbgrader's record of an entry; one whose name holds no time is kept aside (refused below)
        instead of stopping the whole collect."""
        try:
            return super()._path_to_record(path)
        except Exception:  # noqa: BLE001 - nbgrader's fail() raises, parse_utc raises ValueError
            filename = os.path.basename(path)
            return {"username": "\0" + filename, "filename": filename, "timestamp": datetime.datetime.min,
                    "unreadable": True}

    def init_src(self):
        super().init_src()
        kept, self._times = [], {}
        for rec in self.src_records:
            path = os.path.join(self.inbound_path, rec["filename"])
            name = printable(rec["filename"])
            if rec.get("unreadable"):
                self.log.error("not collected: %s is not named student+assignment+time+id", name)
                continue
            try:
                info = os.lstat(path)
            except OSError as exc:
                self.log.error("not collected: %s cannot be read (%s)", name, exc)
                continue
            if os.path.islink(path) or not os.path.isdir(path):
                self.log.error("not collected: %s is a link or not a folder, not a submission", name)
                continue
            if not valid_identity(rec["username"]):  # it would become a folder name and a gradebook id
                self.log.error("not collected: %s names a student id that cannot be one", name)
                continue
            if pwd is not None:
                try:
                    claimed = pwd.getpwnam(rec["username"]).pw_uid
                except KeyError:
                    claimed = None  # not an account here (a laptop course): nothing to compare with
                if claimed is not None and info.st_uid not in (claimed, os.geteuid()):
                    self.log.error("not collected: %s claims to be %s's but belongs to uid %d", name,
                                   printable(rec["username"]), info.st_uid)
                    continue
            limit = 1000 * self.coursedir.max_dir_size
            size = _size(path)
            if size > limit:
                self.log.error("not collected: %s is %.1f MB, over the course's limit of %.1f MB (CourseDirectory.max_dir_size)",
                               name, size / 1e6, limit / 1e6)
                continue
            changed = datetime.datetime.fromtimestamp(_newest_change(path), tz=datetime.timezone.utc)
            claimed_time = rec["timestamp"]
            if claimed_time.tzinfo is None:
                claimed_time = claimed_time.replace(tzinfo=datetime.timezone.utc)
            self._times[path] = claimed_time
            if (changed - claimed_time).total_seconds() > self.clock_slack:
                self.log.error("%s claims it was submitted at %s, but its files changed at %s: collected with the later time",
                               name, claimed_time.isoformat(" "), changed.isoformat(" "))
                rec = dict(rec, timestamp=changed.replace(tzinfo=None) if rec["timestamp"].tzinfo is None else changed)
                self._times[path] = changed
            kept.append(rec)
        self.src_records = kept

    def copy_files(self):
        """nbgrader's copy, one entry at a time: an entry that fails is reported, the others are collected."""
        records = list(self.src_records)
        try:
            for rec in records:
                self.src_records = [rec]
                try:
                    super().copy_files()
                except Exception as exc:  # noqa: BLE001 - one entry never stops the cohort's collect
                    self.log.error("not collected: %s (%s: %s)", printable(rec["filename"]), type(exc).__name__,
                                   printable(str(exc))[:300])
        finally:
            self.src_records = records

    def do_copy(self, src, dest, log=None):
        """Copy the submission without following, or copying, a single link or anything that is not a
        folder or a regular file; ``timestamp.txt`` is written from the time collect trusts. The copy is
        made beside ``dest`` and renamed into place whole."""
        size = _size(src)
        if size > 1000 * self.coursedir.max_dir_size:
            raise RuntimeError(f"{size / 1e6:.1f} MB, over the course's limit of {self.coursedir.max_dir_size / 1e3:.1f} MB")
        patterns = ignore_patterns(exclude=self.coursedir.ignore, include=self.coursedir.include,
                                   max_file_size=self.coursedir.max_file_size, log=self.log)

        def ignore(folder, names):
            skipped = set(patterns(folder, names))
            if os.path.normpath(folder) == os.path.normpath(src):
                skipped.add(TIMESTAMP)  # the student's to rewrite: collect writes its own below
            for name in sorted(set(names) - skipped):
                path = os.path.join(folder, name)
                try:
                    mode = os.lstat(path).st_mode
                except OSError:
                    skipped.add(name)
                    continue
                if stat.S_ISLNK(mode):
                    self.log.error("not collected: %s is a symbolic link", printable(path))
                    skipped.add(name)
                elif not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                    self.log.error("not collected: %s is %s", printable(path), kind_of(mode))
                    skipped.add(name)
            return skipped

        partial = f"{dest}.partial-{uuid.uuid4().hex[:8]}"
        try:
            shutil.copytree(src, partial, symlinks=True, ignore=ignore)
            when = getattr(self, "_times", {}).get(src)
            if when is None:
                when = datetime.datetime.now(datetime.timezone.utc)
            with open(os.path.join(partial, TIMESTAMP), "w") as handle:
                handle.write(when.astimezone(datetime.timezone.utc).strftime(self.timestamp_format))
            if self.coursedir.groupshared:
                for root, dirs, files in os.walk(partial):
                    for name in dirs + files:
                        try:
                            os.chmod(os.path.join(root, name), os.stat(os.path.join(root, name)).st_mode | 0o060)
                        except OSError:
                            pass
            os.rename(partial, dest)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
