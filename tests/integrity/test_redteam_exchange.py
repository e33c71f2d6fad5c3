"""Red team on nbgrader's exchange, as the course runs it (``infraprep collect`` with SafeCollect):
impersonating another student, back-dated submissions, entries that stop the collection or the
report for everyone, and student ids made to reach the instructor's terminal or pages.

The inbound folder is writable by every student, so an entry in it is the student's to make: each
attack below is an entry a student could make there by hand (as root here, which owns the entries,
``chown`` plays the other accounts). One cohort is released once; the attacks are collected in
rounds, each with a classmate's honest submission that must be collected whatever the attack does.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

import builders as b

LESSON = "01-roles"
COURSE_ID = "ai-infra-prep-spring"
DUE = dt.datetime(2026, 11, 20, 12, 0, 0)
STAMP = "%Y-%m-%d %H:%M:%S.%f %Z"

pytestmark = pytest.mark.roundtrip


class Cohort:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.course = b.new_course(tmp, [LESSON])
        self.exchange = tmp / "exchange"
        roster = b.write_roster(tmp / "roster.csv", ["ann", "bob", "cal", "dee", "eve", "fay", "gus"])
        b.infraprep(self.course, "cohort", "create", "spring", "--roster", str(roster))
        self.root = self.course / "cohorts" / "spring"
        (self.root / "schedule.csv").write_text(f"lesson,due\n{LESSON},{DUE:%Y-%m-%d %H:%M:%S}\n")
        b.infraprep(self.course, "release", "--cohort", "spring")
        self.inbound = self.exchange / COURSE_ID / "inbound"

    def submit(self, student: str, nb=None, when: str | None = None) -> Path:
        nb = nb if nb is not None else b.submission(LESSON, "all")
        return b.student_submit(self.exchange, COURSE_ID, student, LESSON, nb, self.tmp / "homes" / student, when=when)

    def entry(self, student: str, when: dt.datetime, name: str | None = None) -> Path:
        """An inbound entry made by hand: a copy of ``student``'s own, under ``name`` (default: the usual one)."""
        own = self.submit(student)
        stamp = when.replace(tzinfo=dt.timezone.utc).strftime(STAMP)
        target = self.inbound / f"{name or student}+{LESSON}+{stamp}+{os.urandom(4).hex()}"
        shutil.copytree(own, target)
        shutil.rmtree(own)
        (target / "timestamp.txt").write_text(stamp)
        return target

    def collect(self):
        return b.infraprep(self.course, "collect", "--cohort", "spring", check=False)

    def submitted(self) -> list[str]:
        folder = self.root / "submitted"
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return Cohort(tmp_path_factory.mktemp("exchange"))


def test_an_entry_claiming_another_account_is_not_collected(cohort):
    """'daemon' is an account of this machine; the entry belongs to 'nobody'."""
    cohort.submit("ann", when="2026-11-20 10:00:00.000000 UTC")
    forged = cohort.entry("eve", dt.datetime(2026, 11, 20, 9, 0), name="daemon")
    os.chown(forged, 65534, 65534)
    done = cohort.collect()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ann" in cohort.submitted()
    assert "daemon" not in cohort.submitted(), "an entry another account owns was collected as that account's"


def test_a_back_dated_timestamp_file_does_not_make_a_late_submission_on_time(cohort):
    """The entry's name has the true (late) time, so SafeCollect sees nothing to correct; the
    timestamp.txt inside, which the student wrote after submitting, says the day before the due date."""
    late = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    entry = cohort.entry("bob", late)
    (entry / "timestamp.txt").write_text("2026-11-19 12:00:00.000000 UTC")
    done = cohort.collect()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "bob" in cohort.submitted()
    claimed = (cohort.root / "submitted" / "bob" / LESSON / "timestamp.txt").read_text().strip()
    when = dt.datetime.strptime(claimed.replace(" UTC", ""), "%Y-%m-%d %H:%M:%S.%f")
    assert when > DUE, f"the submission counts as made at {claimed}, before the due date, though it came in at {late}"
    assert "late: bob" in done.stdout, done.stdout


def _remove(cohort, *names):
    """Take a round's attack out of the inbound and of submitted/, so the next round tries its own."""
    for name in names:
        for path in [*cohort.inbound.glob(f"{glob_escape(name)}+*"), cohort.root / "submitted" / name]:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)


def glob_escape(text: str) -> str:
    import glob

    return glob.escape(text)


def test_a_student_id_with_control_characters_is_not_printed_raw(cohort):
    """An entry's name is the student id collect uses; printed raw (in 'late: ...') it erases the
    instructor's screen."""
    name = "\x1b[2J\x1b[1;1HRTX-ESC"
    cohort.entry("cal", dt.datetime(2026, 11, 21, 9, 0), name=name)
    cohort.submit("gus", when="2026-11-20 11:00:00.000000 UTC")
    try:
        done = cohort.collect()
        assert done.returncode == 0, done.stderr[-2000:]
        assert "gus" in cohort.submitted()
        assert "\x1b[2J" not in done.stdout + done.stderr, "collect printed a control sequence from an entry's name raw"
    finally:
        _remove(cohort, name)


def test_a_student_id_holding_markup_is_not_collected(cohort):
    """No roster allows such an id: collected, it is a student in the gradebook whose id is HTML."""
    name = '<img src=x onerror="alert(1)">'
    cohort.entry("dee", dt.datetime(2026, 11, 20, 9, 0), name=name)
    try:
        done = cohort.collect()
        assert done.returncode == 0, done.stderr[-2000:]
        assert name not in cohort.submitted(), f"an entry whose id is markup was collected: {cohort.submitted()}"
    finally:
        _remove(cohort, name)


def _named_pipe(entry):
    os.mkfifo(entry / "notes.txt")


def _oversized(entry):
    """A sparse file makes the entry 'larger' than nbgrader's 100 MB limit without filling the disk."""
    with open(entry / "data.bin", "wb") as handle:
        handle.truncate(101 * 1000 * 1024)


@pytest.mark.parametrize("spoil, bad, good, minute", [(_named_pipe, "fay", "cal", 30), (_oversized, "eve", "dee", 50)],
                         ids=["named pipe", "oversized entry"])
def test_one_spoilt_entry_does_not_stop_collecting_the_others(cohort, spoil, bad, good, minute):
    spoil(cohort.entry(bad, dt.datetime(2026, 11, 20, 9, minute)))
    cohort.submit(good, when=f"2026-11-20 09:{minute + 5}:00.000000 UTC")
    try:
        done = cohort.collect()
        assert done.returncode == 0, f"one entry stopped collection for everyone:\n{done.stderr[-1500:]}"
        assert good in cohort.submitted()
    finally:
        _remove(cohort, bad)


def test_a_timestamp_file_that_is_not_a_time_does_not_stop_collect_or_the_report(cohort):
    entry = cohort.entry("gus", dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    (entry / "timestamp.txt").write_text("not a time at all")
    cohort.submit("ann", when="2026-11-20 11:30:00.000000 UTC")
    try:
        done = cohort.collect()
        assert done.returncode == 0, f"one student's time stamp stopped collect's report for everyone:\n{done.stderr[-1500:]}"
        report = b.infraprep(cohort.course, "report", "--cohort", "spring", "-o", str(cohort.tmp / "report"), check=False)
        assert report.returncode == 0, f"one student's time stamp stopped the cohort report:\n{report.stderr[-1500:]}"
    finally:
        _remove(cohort, "gus")
