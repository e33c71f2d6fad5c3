"""Grading on submit (`infraprep watch`): which submission is graded, attempt limits, stopping and
starting, one writer beside a manual `infraprep autograde`, and the bad inputs a cohort brings."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

import builders as b
from infraprep.grading import cohort as cohorts
from infraprep.grading import lock, watch
from infraprep.grading.simulate import fetch_feedback_as_student

LESSON = "01-roles"
CID = "ai-infra-prep-spring"
POINTS = sum(b.test_cells(b.source_nb(LESSON)).values())   # autograded
TOTAL = sum(float(b.meta(c)["points"]) for c in b.source_nb(LESSON).cells if b.meta(c).get("grade"))  # and by hand


# ---------------------------------------------------------------- which submission counts (no grading)

def sub(minute: int, name: str = "", second: float = 0.0, written: float = 0.0) -> watch.Submission:
    when = dt.datetime(2026, 3, 1, 12, minute, 0) + dt.timedelta(seconds=second)
    return watch.Submission(name or f"ann+{LESSON}+{minute}", "ann", LESSON, when, written)


DUE = dt.datetime(2026, 3, 1, 12, 30)
BEFORE, AFTER = dt.datetime(2026, 3, 1, 12, 20), dt.datetime(2026, 3, 2)


def test_before_the_due_date_the_newest_within_the_limit_is_graded():
    subs = [sub(1), sub(5), sub(9), sub(15)]
    d = watch.decide(subs, 2, DUE, BEFORE)
    assert d.target == subs[1] and d.attempt == 2 and d.kept == 2 and not d.past_due
    assert "Attempt 2 of 2: no attempts remain" in d.note() and "2 later submissions are kept" in d.note()
    d = watch.decide(subs[:1], 3, DUE, BEFORE)
    assert d.target == subs[0] and "Attempt 1 of 3: 2 attempts remain" in d.note()
    assert watch.decide(subs, None, DUE, BEFORE).target == subs[-1]  # no limit: the newest
    assert "no limit" in watch.decide(subs, None, DUE, BEFORE).note()


def test_after_the_due_date_the_last_submission_on_time_counts_even_if_it_was_kept():
    subs = [sub(1), sub(5), sub(25), sub(45)]  # the last is late
    d = watch.decide(subs, 1, DUE, AFTER)
    assert d.target == subs[2] and d.past_due and "the one that counts" in d.note()
    late_only = [sub(40), sub(50)]
    d = watch.decide(late_only, 1, DUE, AFTER)
    assert d.target == late_only[-1] and "graded as late" in d.note()  # nbgrader's rule: the newest


def test_two_submissions_in_one_second_are_ordered_by_when_they_were_written():
    first, second = sub(5, "a", 0.1, written=100.0), sub(5, "b", 0.1, written=101.0)
    d = watch.decide([second, first], None, DUE, BEFORE)
    assert d.target is second and d.same_second


# ---------------------------------------------------------------- schedule.csv

@pytest.mark.parametrize("line, expected", [
    (f"{LESSON},2026-01-15 12:00:00,0", "line 3: bad attempts '0'"),
    (f"{LESSON},2026-01-15 12:00:00,two", "line 3: bad attempts 'two'"),
    (f"{LESSON},15/01/2026,", "line 3: bad due date '15/01/2026'"),
    ("02-gpu,2026-01-15 12:00:00,1", "line 3: '02-gpu' again (first on line 2)"),
    (f"{LESSON},2026-01-15 12:00:00,1,extra", "line 3: 4 fields, the header has 3"),
    (",2026-01-15 12:00:00,1", "line 3: no lesson"),
])
def test_a_corrupt_schedule_line_is_refused_by_number(tmp_path, line, expected):
    path = tmp_path / "schedule.csv"
    first = "02-gpu,2026-01-08 12:00:00,3" if "02-gpu" in line else "00-intro,2026-01-08 12:00:00,"
    path.write_text(f"lesson,due,attempts\n{first}\n{line}\n")
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        cohorts.read_schedule(path)


def test_schedule_reads_limits_and_leaves_empty_ones_unlimited(tmp_path):
    path = tmp_path / "schedule.csv"
    path.write_text("lesson,due,attempts\n01-roles,2026-01-15 12:00:00,3\n02-gpu,2026-01-22 12:00:00,\n"
                    "03-distributed,,\n")
    got = cohorts.read_schedule(path)
    assert got["01-roles"].attempts == 3 and got["02-gpu"].attempts is None
    assert got["02-gpu"].due == dt.datetime(2026, 1, 22, 12) and got["03-distributed"].due is None


# ---------------------------------------------------------------- the lock

def _hold(root: str, ready, release) -> None:
    with lock.gradebook_lock(root, "the first holder"):
        ready.set()
        release.wait(30)


def test_the_gradebook_lock_makes_a_second_writer_wait_and_says_for_whom(tmp_path):
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        said = []
        with pytest.raises(TimeoutError):
            with lock.gradebook_lock(tmp_path, "second", log=said.append, timeout=0.5):
                pass
        assert said and "held by the first holder" in said[0] and f"pid {holder.pid}" in said[0]
        release.set()
        started = time.monotonic()
        with lock.gradebook_lock(tmp_path, "second", log=said.append, timeout=30):
            with lock.gradebook_lock(tmp_path, "the same process again"):  # reentrant, no deadlock
                assert lock.holder(tmp_path)["what"] == "second"
        assert time.monotonic() - started < 30
    finally:
        release.set()
        holder.join(30)


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), ready, release))
    holder.start()
    assert ready.wait(30)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(30)
    with lock.gradebook_lock(tmp_path, "after a kill", timeout=5):
        pass


# ---------------------------------------------------------------- the watcher on a real cohort

class Cohort:
    """A cohort of the course in a temporary folder, its exchange, and students who submit through it."""

    def __init__(self, tmp: Path, students=("ann", "bob", "cat"), config: str = ""):
        self.tmp = tmp
        self.course = b.new_course(tmp, [LESSON])
        if config:
            b.add_course_config(self.course, config)
        roster = b.write_roster(tmp / "roster.csv", students)
        b.infraprep(self.course, "cohort", "create", "spring", "--roster", str(roster))
        self.root = self.course / "cohorts" / "spring"
        self.exchange = tmp / "exchange"
        self.schedule(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1), attempts=2)
        b.infraprep(self.course, "release", LESSON, "--cohort", "spring")
        self.log = tmp / "watch.log"
        self.proc = None

    def schedule(self, due: dt.datetime, attempts: int | None) -> None:
        (self.root / "schedule.csv").write_text(
            f"lesson,due,attempts\n{LESSON},{due:%Y-%m-%d %H:%M:%S},{attempts or ''}\n")

    def submit(self, student: str, nb) -> str:
        return b.student_submit(self.exchange, CID, student, LESSON, nb, self.tmp / "homes" / student).name

    def fetch(self, student: str) -> dict[str, str]:
        return fetch_feedback_as_student(self.exchange, CID, student, LESSON, self.tmp / "homes" / student)

    def start(self, *extra: str, env: dict | None = None) -> None:
        full = b.nbgrader_env(self.course)
        full.update(env or {})
        self.proc = subprocess.Popen([str(b.BIN / "infraprep"), "watch", "--cohort", "spring", "--interval", "0.3",
                                      "--workers", "1", *extra], cwd=self.course, env=full,
                                     stdout=self.log.open("a"), stderr=subprocess.STDOUT)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(120)

    def status(self) -> dict:
        try:
            return json.loads((self.root / watch.STATUS_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def released(self, student: str, entry: str) -> bool:
        return (self.status().get("students", {}).get(f"{student}/{LESSON}", {}).get("graded") == entry
                and json.loads((self.root / watch.STATE_FILE).read_text()).get(f"{student}/{LESSON}", {})
                .get("released") == entry)

    def wait(self, what, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if what():
                    return
            except (OSError, ValueError, KeyError):
                pass
            assert self.proc is None or self.proc.poll() is None, f"the watcher exited:\n{self.log.read_text()}"
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting; the watcher said:\n{self.log.read_text()[-6000:]}")

    def score(self, student: str) -> float | None:
        got = b.gradebook_scores(f"sqlite:///{self.root / 'gradebook.db'}", LESSON, CID).get(student)
        return None if got is None else sum(got.values())


def _entry_time(entry: str) -> dt.datetime:
    from nbgrader.utils import parse_utc

    return parse_utc(entry.rsplit("+", 3)[2])


@pytest.mark.roundtrip
def test_watch_grades_on_submit_with_an_attempt_limit_and_survives_restarts(tmp_path):
    c = Cohort(tmp_path)
    c.start()
    try:
        first = c.submit("ann", b.submission(LESSON))                      # attempt 1: blank
        c.wait(lambda: c.released("ann", first))
        pages = c.fetch("ann")
        assert len(pages) == 1
        page = next(iter(pages.values()))
        assert "Attempt 1 of 2: 1 attempt remains" in page and f"Score: 0.0 / {TOTAL:.1f}" in page
        assert f"autograded 0 / {POINTS:g}; written answers 0 / {TOTAL - POINTS:g}" in page  # blank: zero, no hand needed

        second = c.submit("ann", b.submission(LESSON, "all"))              # attempt 2: every answer right
        c.wait(lambda: c.released("ann", second))
        pages = c.fetch("ann")
        assert len(pages) == 2, "a page for each graded submission"
        newest = pages[max(pages)]
        assert "Attempt 2 of 2: no attempts remain" in newest and f"Score: {POINTS:.1f}" in newest
        assert f"autograded {POINTS:g} / {POINTS:g}; {TOTAL - POINTS:g} point(s) of written answers not graded yet" in newest
        assert c.score("ann") == POINTS

        third = c.submit("ann", b.submission(LESSON))                      # attempt 3: kept, not graded
        c.wait(lambda: c.status()["students"][f"ann/{LESSON}"]["kept"] == 1
               and "1 later submission is kept" in json.loads((c.root / watch.STATE_FILE).read_text())[f"ann/{LESSON}"]["note"])
        assert c.score("ann") == POINTS, "a submission past the limit is not graded before the due date"
        assert (c.exchange / CID / "inbound" / third).is_dir(), "and it is kept"
        assert "1 later submission is kept, not graded" in c.fetch("ann")[max(c.fetch("ann"))]

        # someone removed from the roster (or never on it) submits: reported, kept, not graded
        dan = c.submit("dan", b.submission(LESSON, "all"))
        c.wait(lambda: any("dan submitted" in p and "not on the cohort's roster" in p for p in c.status()["problems"]))
        assert c.score("dan") is None and (c.exchange / CID / "inbound" / dan).is_dir()

        # a submission that arrives while its lesson is being graded is graded after it
        q1 = next(cell.source for cell in b.source_nb(LESSON).cells if b.grade_id(cell) == "q1")
        slow = c.submit("bob", b.submission(LESSON, "all", replace={"q1": "import time\ntime.sleep(6)\n" + q1}))
        c.wait(lambda: (c.root / "submitted" / "bob" / LESSON).is_dir())
        during = c.submit("cat", b.submission(LESSON, "all"))
        c.wait(lambda: c.released("bob", slow) and c.released("cat", during))
        assert c.score("bob") == c.score("cat") == POINTS

        # stopped: what arrives meanwhile is graded after the start, and nothing is graded twice
        assert c.stop() == 0 and "watch stopped" in c.log.read_text()
        graded = {s: (c.root / "autograded" / s / LESSON / f"{LESSON}.ipynb").stat().st_mtime_ns for s in ("ann", "bob", "cat")}
        while_stopped = c.submit("cat", b.submission(LESSON))
        c.start()
        c.wait(lambda: c.released("cat", while_stopped))
        assert c.score("cat") == 0
        for s in ("ann", "bob"):
            assert (c.root / "autograded" / s / LESSON / f"{LESSON}.ipynb").stat().st_mtime_ns == graded[s], s

        # a schedule.csv gone bad is refused by its line; the last good one is kept
        good = (c.root / "schedule.csv").read_text()
        (c.root / "schedule.csv").write_text(good + f"{LESSON}-extra,2026-13-45 99:00:00,1\n")
        c.wait(lambda: any("schedule.csv line 3: bad due date" in p for p in c.status()["problems"]))
        (c.root / "schedule.csv").write_text(good)

        # the due date passes: ann's last submission on time counts - the kept one
        c.schedule(dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1), attempts=2)
        state = lambda: json.loads((c.root / watch.STATE_FILE).read_text())[f"ann/{LESSON}"]  # noqa: E731
        c.wait(lambda: c.released("ann", third) and "the one that counts" in state()["note"])
        assert c.score("ann") == 0
        assert "it is the one that counts" in c.fetch("ann")[max(c.fetch("ann"))]

        # two submissions in the same second: the one written last is graded, and that is reported
        c.schedule(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1), attempts=5)  # attempts to spare
        inbound = c.exchange / CID / "inbound"
        original = inbound / c.submit("bob", b.submission(LESSON))
        twin = inbound / (original.name.rsplit("+", 1)[0] + "+SameSecondTwin")
        shutil.copytree(original, twin)
        nb_path = twin / f"{LESSON}.ipynb"
        nbformat.write(b.submission(LESSON, "all"), str(nb_path))
        c.wait(lambda: c.released("bob", twin.name))
        assert c.score("bob") == POINTS
        assert any("more than once in the same second" in p for p in c.status()["problems"])

    finally:
        if c.proc and c.proc.poll() is None:
            c.stop()
    assert _entry_time(third) > _entry_time(second)


@pytest.mark.roundtrip
def test_watch_and_a_manual_autograde_take_turns_on_the_gradebook(tmp_path):
    c = Cohort(tmp_path, students=[f"s{i}" for i in range(4)])
    c.schedule(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1), attempts=None)
    q1 = next(cell.source for cell in b.source_nb(LESSON).cells if b.grade_id(cell) == "q1")
    entries = {f"s{i}": c.submit(f"s{i}", b.submission(LESSON, "all", replace={"q1": "import time\ntime.sleep(3)\n" + q1}))
               for i in range(4)}
    c.start()
    try:
        c.wait(lambda: lock.holder(c.root).get("what", "").startswith("infraprep watch")
               and (c.root / "submitted").is_dir(), timeout=120)
        assert not all(c.released(s, e) for s, e in entries.items()), "the watcher is still grading"
        manual = b.infraprep(c.course, "autograde", "--cohort", "spring", "--force", "--workers", "1", "--no-progress")
        c.wait(lambda: all(c.released(s, e) for s, e in entries.items()))
    finally:
        c.stop()
    waited = "waiting for the gradebook lock" in manual.stderr or "waiting for the gradebook lock" in c.log.read_text()
    assert waited, f"nobody waited for the lock:\n{manual.stderr}\n{c.log.read_text()}"
    assert "autograded 4 notebook(s)" in manual.stdout and "0 problem(s)" in manual.stdout
    assert "database is locked" not in manual.stderr + c.log.read_text()
    for s in entries:
        assert c.score(s) == POINTS, s
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{c.root / 'gradebook.db'}", CID) as gb:
        assert sorted(sub.student_id for sub in gb.assignment_submissions(LESSON)) == sorted(entries)


@pytest.mark.roundtrip
def test_watch_survives_a_notebook_that_kills_its_worker(tmp_path):
    # In the sandbox a kernel has a process tree of its own and cannot reach its worker; a grader
    # without it (bubblewrap missing: every process of the watcher, its workers too, is told so
    # here through a sitecustomize) is where a notebook can kill the worker that runs it.
    c = Cohort(tmp_path, students=["ann", "bob"])
    nosandbox = tmp_path / "nosandbox"
    nosandbox.mkdir()
    (nosandbox / "sitecustomize.py").write_text(
        "import infraprep.grading.sandbox as _s\n_s.available = lambda: False\n")
    wrecker = b.submission(LESSON, "all", replace={"q3": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"})
    bad = c.submit("ann", wrecker)
    c.start(env={"PYTHONPATH": str(nosandbox)})
    try:
        c.wait(lambda: c.released("ann", bad))
        good = c.submit("bob", b.submission(LESSON, "all"))
        c.wait(lambda: c.released("bob", good))
        assert c.proc.poll() is None, "the watcher goes on"
    finally:
        c.stop()
    assert "kernel died" in c.log.read_text() and "worker process running it died" in c.log.read_text()
    assert c.score("ann") == 0 and c.score("bob") == POINTS


def test_watch_refuses_to_start_on_a_corrupt_schedule(tmp_path):
    course = b.new_course(tmp_path, [LESSON])
    roster = b.write_roster(tmp_path / "roster.csv", ["ann"])
    b.infraprep(course, "cohort", "create", "spring", "--roster", str(roster))
    (course / "cohorts" / "spring" / "schedule.csv").write_text(f"lesson,due,attempts\n{LESSON},2026-01-15,-1\n")
    run = b.infraprep(course, "watch", "--cohort", "spring", "--once", check=False)
    assert run.returncode == 1 and "schedule.csv line 2: bad attempts '-1'" in run.stderr
