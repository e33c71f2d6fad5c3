"""Grading on submit: ``infraprep watch --cohort NAME``.

A long-running instructor process. Every ``--interval`` seconds it lists the cohort's inbound
folder in nbgrader's exchange; for each student and lesson with a submission it has not handled,
it collects that submission (the course's safe collect: no link followed, no entry taken as
another student's, a back-dated time corrected), autogrades it (the course's parallel, sandboxed
grader, with worker processes kept warm between submissions) and releases its feedback, which
says how many attempts remain. A student presses Submit, then Fetch Feedback, and sees a score.

**Attempts.** ``schedule.csv``'s ``attempts`` column limits, per lesson, how many submissions are
graded before the due date (empty: no limit). Attempt *k* is a student's *k*-th submission of the
lesson. Before the due date the watcher grades a student's newest submission while it is within
the limit; later ones are kept in the exchange, not graded. The grade that counts is nbgrader's,
the last submission on time (``nbgrader collect --before-duedate``): once the due date has passed,
the watcher grades each student's last submission on time if that is not the one graded - a kept
one included - and, for a student with none on time, their newest (late) one.

**Stop and start at any moment.** Each step is recorded in ``.infraprep-watch.json`` after it is
done (collected, graded, feedback released), and each is safe to repeat: a submission is copied
into ``submitted/`` whole or not at all (copied aside, then renamed), the coordinator grades only
what is not graded, and feedback is made again. A submission that arrived while the watcher was
stopped, or while its lesson was being graded, is found at the next look.

**One writer.** Each batch holds the cohort's gradebook lock (:mod:`.lock`), which ``infraprep
collect``, ``autograde`` and ``feedback`` take too: run by hand beside the watcher, they wait for
each other. A notebook that kills its worker process is graded zero and reported; the worker is
replaced and the watcher goes on.

**Reported, not graded**: a submission of a student who is not on the roster (removed, or never
on it), of a lesson the gradebook does not know (not released), or with a name that is not
nbgrader's; a ``schedule.csv`` that has become unreadable (the last good one is kept). Each is
logged once and listed in the status file ``.infraprep-watch-status.json``
(``infraprep watch --cohort NAME --status``).
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import os
import shutil
import signal
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .course import Course
from .escape import printable
from .executors import LocalExecutor, _Worker, dispatch, stop_workers

STATE_FILE = ".infraprep-watch.json"
STATUS_FILE = ".infraprep-watch-status.json"
STAGING = ".infraprep-collecting"
CLOCK_SLACK = 300  # seconds, as the course's SafeCollect.clock_slack


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------- what is in the exchange

@dataclass(frozen=True)
class Submission:
    """One entry of the exchange's inbound folder."""

    entry: str           # the folder's name, student+lesson+time[+random]
    student: str
    lesson: str
    time: dt.datetime    # naive UTC: the entry's time, corrected as the course's collect corrects it
    written: float       # the entry's change time (a student cannot set it): orders two in one second

    @property
    def order(self) -> tuple:
        return (self.time, self.written, self.entry)


def inbound_path(course: Course) -> Path:
    root = course.config.get("Exchange", {}).get("root") if hasattr(course.config.get("Exchange", {}), "get") else None
    root = root or os.path.join(os.path.expanduser("~"), ".local", "share", "jupyter", "exchange")
    return Path(root) / course.course_id / "inbound"


def list_inbound(course: Course, problems: dict | None = None) -> dict[tuple[str, str], list[Submission]]:
    """(student, lesson) -> their submissions, oldest first. Entries that are not submissions (a
    link, a file, a name nbgrader does not make) go to ``problems`` (entry -> why)."""
    from nbgrader.utils import parse_utc

    from .safecollect import _newest_change

    problems = {} if problems is None else problems
    found: dict[tuple[str, str], list[Submission]] = {}
    folder = inbound_path(course)
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return found
    for name in names:
        path = folder / name
        parts = name.rsplit("+", 3)
        if len(parts) < 3 or not parts[0] or not parts[1]:
            problems[name] = "not an nbgrader submission name (student+lesson+time)"
            continue
        try:
            info = os.lstat(path)
            if path.is_symlink() or not path.is_dir():
                problems[name] = "a link or a file, not a submission folder"
                continue
            claimed = parse_utc(parts[2])
            changed = _newest_change(str(path))
        except (OSError, ValueError, OverflowError) as exc:
            problems[name] = f"unreadable ({type(exc).__name__})"
            continue
        changed_at = dt.datetime.fromtimestamp(changed, dt.timezone.utc).replace(tzinfo=None)
        when = changed_at if (changed_at - claimed).total_seconds() > CLOCK_SLACK else claimed
        found.setdefault((parts[0], parts[1]), []).append(Submission(name, parts[0], parts[1], when, info.st_ctime))
    for subs in found.values():
        subs.sort(key=lambda s: s.order)
    return found


# ---------------------------------------------------------------- which submission to grade

@dataclass(frozen=True)
class Decision:
    target: Submission   # the submission that should be graded now
    attempt: int         # its number among the student's submissions (1 = first)
    submitted: int       # how many the student has submitted
    limit: int | None
    due: dt.datetime | None
    past_due: bool
    kept: int            # submissions kept, not graded (beyond the limit, or late after one on time)
    same_second: bool    # the target shares its time stamp's second with another submission

    def note(self) -> str:
        """What the student's feedback says about attempts (the course's text, no student data)."""
        due = f"{self.due:%Y-%m-%d %H:%M} UTC" if self.due else ""
        if self.past_due:
            if self.target.time <= self.due:
                return (f"The due date ({due}) has passed. This is your last submission on time (attempt "
                        f"{self.attempt}): it is the one that counts.")
            return f"Submitted after the due date ({due}): graded as late."
        if self.limit is None:
            until = f" before the due date ({due})" if due else ""
            return f"Attempt {self.attempt}. There is no limit on attempts; your last submission{until} counts."
        left = self.limit - self.submitted
        if left > 0:
            return (f"Attempt {self.attempt} of {self.limit}: {left} attempt{'s' if left != 1 else ''} "
                    f"remain{'s' if left == 1 else ''}" + (f" before the due date ({due})." if due else "."))
        text = f"Attempt {self.attempt} of {self.limit}: no attempts remain."
        if self.kept:
            text += (f" Your {self.kept} later submission{'s are' if self.kept != 1 else ' is'} kept, not graded"
                     + (f"; after the due date ({due}) your last submission on time is graded and counts."
                        if due else "."))
        return text


def decide(subs: list[Submission], limit: int | None, due: dt.datetime | None, now: dt.datetime) -> Decision:
    """The submission of one student's lesson to grade now (``subs`` oldest first; see the module docstring)."""
    subs = sorted(subs, key=lambda s: s.order)
    past_due = due is not None and now > due
    if past_due:
        on_time = [s for s in subs if s.time <= due]
        target = on_time[-1] if on_time else subs[-1]
    else:
        allowed = subs[:limit] if limit is not None else subs
        target = allowed[-1]
    index = subs.index(target)
    kept = len(subs) - index - 1
    second = target.time.replace(microsecond=0)
    same = sum(1 for s in subs if s.time.replace(microsecond=0) == second) > 1
    return Decision(target, index + 1, len(subs), limit, due, past_due, kept, same)


# ---------------------------------------------------------------- collecting one chosen submission

def _collector_class():
    from .safecollect import SafeCollect

    class ChosenCollect(SafeCollect):
        """The course's safe collect, of the one entry chosen for each student (``chosen``), copied
        aside and then renamed into ``submitted/`` so a copy is there whole or not at all."""

        chosen: dict = {}
        staging: str = ""

        def _sort_by_timestamp(self, records):
            mine = [r for r in records if r["filename"] == self.chosen.get(r["username"])]
            return mine + [r for r in super()._sort_by_timestamp(records) if r not in mine]

        def init_src(self):
            super().init_src()
            self.src_records = [r for r in self.src_records if r["filename"] == self.chosen.get(r["username"])]

        def do_copy(self, src, dest, log=None):
            aside = os.path.join(self.staging, os.path.basename(os.path.dirname(dest)) + "+" + os.path.basename(dest))
            shutil.rmtree(aside, ignore_errors=True)
            super().do_copy(src, aside, log)
            os.replace(aside, dest)

    return ChosenCollect


def collect_chosen(course: Course, lesson: str, chosen: dict[str, str], log=None) -> list[str]:
    """Collect, for each student in ``chosen``, the inbound entry named there; returns the students
    whose ``submitted/`` now holds it. A student whose entry the course's collect refuses keeps what
    ``submitted/`` held before (the collect's log lines go to ``log``)."""
    from nbgrader.apps.api import capture_log
    from nbgrader.auth import Authenticator

    staging = course.root / STAGING
    staging.mkdir(exist_ok=True)
    cd = course.coursedir
    before: dict[str, Path] = {}
    for student in chosen:  # whatever was there goes aside: the chosen entry replaces it whole
        folder = course.path("submitted", student, lesson)
        if folder.exists():
            aside = staging / f"previous+{student}+{lesson}"
            shutil.rmtree(aside, ignore_errors=True)
            os.replace(folder, aside)
            before[student] = aside
    cls = _collector_class()
    previous = cd.assignment_id
    cd.assignment_id = lesson
    try:
        app = cls(coursedir=cd, authenticator=Authenticator(config=course.config), config=course.config)
        app.chosen, app.staging, app.update, app.before_duedate = dict(chosen), str(staging), True, False
        result = capture_log(app)
    finally:
        cd.assignment_id = previous
    if log is not None:
        for line in (result.get("log") or "").splitlines():
            if "ERROR" in line or "not collected" in line:
                log(f"collect {lesson}: {line.strip()}")
        if not result.get("success"):
            log(f"collect {lesson} failed: {(result.get('error') or '').strip()[-500:]}")
    got = []
    for student in chosen:
        folder = course.path("submitted", student, lesson)
        if (folder / "timestamp.txt").exists():
            got.append(student)
            if student in before:
                shutil.rmtree(before[student], ignore_errors=True)
        elif student in before:
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(before[student], folder)
    return got


# ---------------------------------------------------------------- worker processes kept between batches

class KeptWorkers(LocalExecutor):
    """:class:`.executors.LocalExecutor`'s worker processes, kept from one batch to the next (each
    with its fork server or warm kernel, and the instructor's solutions checked once): a submission
    waits for no worker to start. A worker that dies is replaced, as in a single run."""

    def __init__(self, workers: int | None = None, warm_modules: Iterable[str] = ()):
        super().__init__(workers, warm_modules)
        self.name = f"{self.n} kept worker process{'es' if self.n > 1 else ''}"
        self._ctx = mp.get_context("spawn")
        self._workers: list = []

    def start(self) -> "KeptWorkers":
        """Start the workers now (they import and warm up while nothing is submitted yet)."""
        if not self._workers:
            self._workers = [_Worker(self._ctx, self.warm_modules) for _ in range(self.n)]
        return self

    def run(self, payloads: Iterable[dict]) -> Iterator[dict]:
        from . import fastpaths

        fastpaths.install()
        workers = self.start()._workers
        try:
            yield from dispatch(workers, payloads, self.depth, lambda: _Worker(self._ctx, self.warm_modules))
        finally:
            for i, w in enumerate(workers):  # a batch left early: a worker still busy is not reused
                if w.inflight:
                    stop_workers([w])
                    workers[i] = _Worker(self._ctx, self.warm_modules)

    def close(self) -> None:
        stop_workers(self._workers)
        self._workers = []


# ---------------------------------------------------------------- the watcher

@dataclass
class StepReport:
    graded: list[tuple[str, str, str]] = field(default_factory=list)   # (student, lesson, entry)
    kept: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Watcher:
    def __init__(self, course: Course, workers: int | None = None, log=None, now=utcnow):
        self.course = course
        self.log = log or (lambda message: print(printable(message), flush=True))
        self.now = now
        self.state_path = course.root / STATE_FILE
        self.status_path = course.root / STATUS_FILE
        self.state = self._load_state()
        self.workers = workers
        self._executor: KeptWorkers | None = None
        self._schedule = None
        self._roster = None
        self._said: set[str] = set()
        self._decisions: dict[tuple[str, str], Decision] = {}

    # ------------------------------------------------------------------ state
    def _load_state(self) -> dict:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _record(self, student: str, lesson: str, **values) -> None:
        entry = self.state.setdefault(f"{student}/{lesson}", {})
        entry.update(values)
        tmp = self.state_path.with_suffix(".partial")
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.state_path)

    def _say_once(self, key: str, message: str, report: StepReport) -> None:
        report.problems.append(message)
        if key not in self._said:
            self._said.add(key)
            self.log(message)

    # ------------------------------------------------------------------ inputs that may change under us
    def schedule(self, report: StepReport | None = None):
        from . import cohort

        try:
            self._schedule = cohort.schedule_entries(self.course)
        except (OSError, ValueError) as exc:
            if self._schedule is None:
                raise
            if report is not None:
                self._say_once(f"schedule:{exc}", f"schedule.csv refused, the last good one is used: {exc}", report)
        return self._schedule

    def _roster_ids(self, report: StepReport) -> set[str] | None:
        from . import cohort

        try:
            self._roster = set(cohort.roster(self.course)) if (self.course.root / "roster.csv").exists() else None
        except (OSError, ValueError) as exc:
            self._say_once(f"roster:{exc}", f"roster.csv refused, the last good one is used: {exc}", report)
        return self._roster

    def executor(self) -> KeptWorkers:
        if self._executor is None:
            from .coordinator import imported_modules

            cd = self.course.coursedir
            source = Path(cd.format_path(cd.source_directory, ".", "."))
            warm = tuple(sorted(imported_modules(sorted(source.glob("*/*.ipynb")))))
            self._executor = KeptWorkers(self.workers, warm)
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()
            self._executor = None

    # ------------------------------------------------------------------ one look at the exchange
    def pending(self, report: StepReport) -> dict[str, list[Decision]]:
        """lesson -> decisions whose submission is not yet graded with its feedback released."""
        schedule = self.schedule(report)
        roster = self._roster_ids(report)
        with self.course.gradebook() as gb:
            known = {a.name: a.duedate for a in gb.assignments}
            gb.db.commit()
        odd: dict[str, str] = {}
        groups = list_inbound(self.course, odd)
        for entry, why in odd.items():
            self._say_once(f"entry:{entry}", f"not collected: {entry}: {why}", report)
        now = self.now()
        todo: dict[str, list[Decision]] = {}
        self._decisions = {}
        for (student, lesson), subs in sorted(groups.items()):
            if roster is not None and student not in roster:
                self._say_once(f"roster:{student}/{lesson}/{len(subs)}",
                               f"not graded: {student} submitted {lesson} ({len(subs)} submission(s), kept in the "
                               "exchange) but is not on the cohort's roster", report)
                continue
            if lesson not in known:
                self._say_once(f"lesson:{student}/{lesson}/{len(subs)}",
                               f"not graded: {student} submitted {lesson}, which is not a released lesson of "
                               "this cohort (kept in the exchange)", report)
                continue
            entry = schedule.get(lesson)
            due = entry.due if entry and entry.due else known[lesson]
            decision = decide(subs, entry.attempts if entry else None, due, now)
            self._decisions[(student, lesson)] = decision
            report.kept += decision.kept
            if decision.same_second:
                self._say_once(f"second:{decision.target.entry}",
                               f"{student} submitted {lesson} more than once in the same second: "
                               f"the one written last ({decision.target.entry}) is taken", report)
            done = self.state.get(f"{student}/{lesson}", {})
            if done.get("released") == decision.target.entry and done.get("note") == decision.note():
                continue
            todo.setdefault(lesson, []).append(decision)
        return todo

    def step(self) -> StepReport:
        """Handle everything pending once (a batch a lesson, each under the gradebook lock)."""
        from .lock import gradebook_lock

        started = time.monotonic()
        report = StepReport()
        todo = self.pending(report)
        for lesson, decisions in sorted(todo.items()):
            with gradebook_lock(self.course.root, f"infraprep watch --cohort {self.course.root.name}", log=self.log):
                self._batch(lesson, decisions, report)
        report.seconds = time.monotonic() - started
        self._write_status(report, todo)
        return report

    def _fresh(self, student: str, lesson: str) -> bool:
        """Whether the autograded notebooks are of the submission now in ``submitted/``."""
        cd = self.course.coursedir
        sub, auto = self.course.path("submitted", student, lesson), self.course.path("autograded", student, lesson)
        if not any(auto.glob("*.ipynb")):
            return False
        new, old = cd.get_existing_timestamp(str(sub)), cd.get_existing_timestamp(str(auto))
        return new is not None and new == old

    def _batch(self, lesson: str, decisions: list[Decision], report: StepReport) -> None:
        from . import cohort
        from .coordinator import Coordinator
        from .feedback import feedback

        staging = self.course.root / STAGING
        if staging.exists():  # a copy a stop cut short: never used, since it was never renamed
            shutil.rmtree(staging, ignore_errors=True)
        by_student = {d.target.student: d for d in decisions}
        to_collect = {s: d.target.entry for s, d in by_student.items()
                      if self.state.get(f"{s}/{lesson}", {}).get("collected") != d.target.entry
                      or not (self.course.path("submitted", s, lesson) / "timestamp.txt").exists()}
        if to_collect:
            got = set(collect_chosen(self.course, lesson, to_collect, log=self.log))
            for student, entry in to_collect.items():
                if student in got:
                    self._record(student, lesson, collected=entry)
                else:
                    self._say_once(f"collect:{entry}", f"not collected: {entry} (refused by the course's collect: "
                                   "see the log above)", report)
                    by_student.pop(student, None)
        grade = [s for s, d in by_student.items()
                 if self.state.get(f"{s}/{lesson}", {}).get("graded") != d.target.entry and not self._fresh(s, lesson)]
        if grade:
            coordinator = Coordinator(self.course, roster=cohort.roster(self.course), progress=False, log=self.log)
            summary = coordinator.run([lesson], students=grade, force=True, executor=self.executor())
            self.log(f"{lesson}: graded {', '.join(grade)} ({summary.graded} notebook(s) in {summary.seconds:.1f} s, "
                     f"{len(summary.problems)} problem(s))")
            for problem in summary.problems:
                report.problems.append(str(problem))
        for student, d in by_student.items():
            self._record(student, lesson, graded=d.target.entry)
        notes = {s: d.note() for s, d in by_student.items()}
        shown = dict(notes)
        try:
            from .analytics import manual_cells, score_parts

            manual = manual_cells(self.course, lesson)
            with self.course.gradebook() as gb:
                for student in by_student:
                    parts = score_parts(gb.find_submission(lesson, student), manual)
                    shown[student] += f" Your score: {parts.text()}."
        except Exception as exc:  # noqa: BLE001 - the note without the split is still right
            self.log(f"{lesson}: could not split the scores for the feedback note ({type(exc).__name__}: {exc})")
        result = feedback(self.course, [lesson], release=True, students=sorted(by_student),
                          note=lambda student, _lesson: shown.get(student))
        for page, _lines in result.held.items():
            self._say_once(f"held:{page}", f"feedback HELD BACK {page}: it would show a hidden test", report)
        for (student, _lesson, notebook), why in sorted(result.failed.items()):
            self._say_once(f"nofeedback:{student}/{lesson}/{notebook}",
                           f"NO FEEDBACK {student} / {lesson} / {notebook}: {why}", report)
        without = {student for student, _lesson, _notebook in result.failed}
        for student, d in by_student.items():
            self._record(student, lesson, released=d.target.entry, note=notes[student])
            report.graded.append((student, lesson, d.target.entry))
            if student not in without:
                self.log(f"{lesson}: feedback released to {student} ({d.note()})")

    def _write_status(self, report: StepReport, todo: dict) -> None:
        status = {
            "updated": utcnow().strftime("%Y-%m-%d %H:%M:%S"),
            "pid": os.getpid(),
            "pending": sum(len(v) for v in todo.values()) - len(report.graded),
            "handled_in_last_step": [list(x) for x in report.graded],
            "kept_not_graded": report.kept,
            "problems": sorted(set(report.problems)),
            "students": {f"{s}/{l}": {"graded": d.target.entry, "attempt": d.attempt, "submitted": d.submitted,
                                      "limit": d.limit, "kept": d.kept, "note": d.note()}
                         for (s, l), d in sorted(self._decisions.items())},
        }
        tmp = self.status_path.with_suffix(".partial")
        tmp.write_text(json.dumps(status, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.status_path)

    # ------------------------------------------------------------------ the loop
    def run(self, interval: float = 2.0, once: bool = False) -> int:
        """Look, handle, sleep; until interrupted (Ctrl-C, or SIGTERM: the step in progress finishes
        its notebook's save first, see the coordinator)."""
        from .judge import GradingEnvironmentError

        def terminate(signum, frame):
            handler = signal.getsignal(signal.SIGINT)  # deferred while the coordinator saves a notebook
            if callable(handler):
                handler(signal.SIGINT, frame)
            else:
                raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, terminate)
        self.schedule()  # a corrupt schedule.csv stops the start, naming the line
        self.executor().start()
        self.log(f"watching {inbound_path(self.course)} for {self.course.course_id} every {interval:g} s")
        try:
            while True:
                try:
                    report = self.step()
                except GradingEnvironmentError as exc:
                    self.log(f"GRADING STOPPED: {exc}; trying again in {max(interval, 60):g} s")
                    if once:
                        return 1
                    time.sleep(max(interval, 60))
                    continue
                if once:
                    return 0
                time.sleep(interval if not report.graded else 0.2)
        except KeyboardInterrupt:
            self.log("watch stopped; start it again to go on (nothing is graded twice or lost)")
            return 0
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.close()


def read_status(course: Course) -> dict:
    try:
        return json.loads((course.root / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def status_lines(course: Course) -> list[str]:
    status = read_status(course)
    if not status:
        return [f"no watcher has run on {course.course_id}"]
    lines = [f"{course.course_id}: last look {status['updated']} UTC (pid {status['pid']}), "
             f"{status['pending']} pending, {status['kept_not_graded']} submission(s) kept beyond their limit"]
    for key, s in status.get("students", {}).items():
        lines.append(printable(f"  {key}: attempt {s['attempt']} of {s['submitted']} submitted graded - {s['note']}"))
    lines += [printable(f"  PROBLEM {p}") for p in status.get("problems", [])]
    return lines


def watch(course: Course, interval: float = 2.0, workers: int | None = None, once: bool = False) -> int:
    return Watcher(course, workers=workers).run(interval=interval, once=once)


__all__ = ["Submission", "Decision", "decide", "list_inbound", "collect_chosen", "KeptWorkers", "Watcher",
           "watch", "read_status", "status_lines"]
