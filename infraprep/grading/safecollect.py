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
  collects it with that time instead, so a back-dated submission counts as late as it is.

Each case is logged as an error naming the entry; the rest of the cohort is collected.
"""

from __future__ import annotations

import datetime
import os
import shutil

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.utils import ignore_patterns
from traitlets import Integer

from ..assessment.variants import valid_identity
from .escape import printable

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


class SafeCollect(ExchangeCollect):
    """nbgrader's collect, with the checks of the module docstring."""

    clock_slack = Integer(300, help="Seconds a submission's claimed time may precede its files' change times").tag(config=True)

    def init_src(self):
        super().init_src()
        kept, self._corrected = [], {}
        for rec in self.src_records:
            path = os.path.join(self.inbound_path, rec["filename"])
            name = printable(rec["filename"])
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
            changed = datetime.datetime.fromtimestamp(_newest_change(path), tz=datetime.timezone.utc)
            claimed_time = rec["timestamp"]
            if claimed_time.tzinfo is None:
                claimed_time = claimed_time.replace(tzinfo=datetime.timezone.utc)
            if (changed - claimed_time).total_seconds() > self.clock_slack:
                self.log.error("%s claims it was submitted at %s, but its files changed at %s: collected with the later time",
                               name, claimed_time.isoformat(" "), changed.isoformat(" "))
                rec = dict(rec, timestamp=changed.replace(tzinfo=None) if rec["timestamp"].tzinfo is None else changed)
                self._corrected[path] = changed
            kept.append(rec)
        self.src_records = kept

    def do_copy(self, src, dest, log=None):
        """Copy the submission without following, or copying, a single link."""
        size = self.get_size(src)
        if size > 1000 * self.coursedir.max_dir_size:
            raise RuntimeError(f"Directory size is too big. Size is {size}, maximum size is {1000 * self.coursedir.max_dir_size}")
        patterns = ignore_patterns(exclude=self.coursedir.ignore, include=self.coursedir.include,
                                   max_file_size=self.coursedir.max_file_size, log=self.log)

        def ignore(folder, names):
            skipped = set(patterns(folder, names))
            links = {n for n in names if os.path.islink(os.path.join(folder, n))}
            for link in sorted(links):
                self.log.error("not collected: %s is a symbolic link", printable(os.path.join(folder, link)))
            return skipped | links

        shutil.copytree(src, dest, symlinks=True, ignore=ignore)
        changed = getattr(self, "_corrected", {}).get(src)
        if changed is not None:
            with open(os.path.join(dest, "timestamp.txt"), "w") as handle:
                handle.write(changed.strftime(self.timestamp_format))
        if self.coursedir.groupshared:
            for root, dirs, files in os.walk(dest):
                for name in dirs + files:
                    try:
                        os.chmod(os.path.join(root, name), os.stat(os.path.join(root, name)).st_mode | 0o060)
                    except OSError:
                        pass
