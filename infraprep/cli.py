"""``infraprep``: the instructor's command line (a thin layer over :mod:`infraprep.grading`).

    infraprep cohort create NAME --roster roster.csv [--db URL]
    infraprep release [LESSON ...] [--cohort NAME]
    infraprep collect [LESSON ...] [--cohort NAME]
    infraprep autograde [LESSON ...] [--workers N] [--scheduler ADDRESS] [--db URL] [--cohort NAME]
    infraprep feedback [LESSON ...] [--cohort NAME]
    infraprep watch --cohort NAME [--interval 2] [--workers N] [--once | --status]
    infraprep export [--output grades.csv] [--format plain|canvas|moodle] [--cohort NAME]
    infraprep report [--output report/] [--cohort NAME]
    infraprep cohort keys NAME [--output keys.csv]   (each student's variant key, for work off the hub)
    infraprep hub setup --roster roster.csv --cohort NAME [--db URL] [--start]   (as root; also: hub start|stop|status)

Without ``--cohort`` the commands work on the nbgrader course directory itself (``--course``,
default: the current folder), like nbgrader's own commands.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .grading.escape import printable


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course", default=".", help="the nbgrader course directory (default: .)")
    common.add_argument("--cohort", help="work on cohorts/NAME instead of the course directory itself")
    common.add_argument("--db", help="gradebook URL (sqlite:///..., postgresql://...); default from nbgrader_config.py")

    parser = argparse.ArgumentParser(prog="infraprep", description="Run a cohort of the course: release, "
                                     "collect, autograde in parallel, feedback, export, report.")
    sub = parser.add_subparsers(dest="command", required=True)

    cohort = sub.add_parser("cohort", help="create or list cohorts")
    csub = cohort.add_subparsers(dest="action", required=True)
    create = csub.add_parser("create", parents=[common], help="a cohort from a roster CSV (id,name,email)")
    create.add_argument("name")
    create.add_argument("--roster", required=True, type=Path)
    create.add_argument("--start", help="first day (YYYY-MM-DD) for the default weekly schedule")
    csub.add_parser("list", parents=[common], help="the cohorts of the course")
    keys = csub.add_parser("keys", parents=[common], help="each student's variant key (INFRAPREP_VARIANT_KEY) as CSV")
    keys.add_argument("name")
    keys.add_argument("--output", "-o", type=Path, help="write the CSV here (default: print it)")

    for name, text in (("release", "generate (if stale) and release lessons to the exchange"),
                       ("collect", "collect submissions; report who is missing and who is late"),
                       ("feedback", "feedback HTML (no hidden tests) released to the students")):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("lessons", nargs="*", metavar="LESSON")
        if name == "feedback":
            p.add_argument("--no-release", action="store_true", help="generate only; do not release to the exchange")

    auto = sub.add_parser("autograde", parents=[common], help="grade submissions in parallel")
    auto.add_argument("lessons", nargs="*", metavar="LESSON")
    auto.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    auto.add_argument("--scheduler", metavar="ADDRESS", help="run notebooks on a Dask cluster (tcp://host:port)")
    auto.add_argument("--student", action="append", help="only this student (repeatable)")
    auto.add_argument("--force", action="store_true", help="grade again what is already graded")
    auto.add_argument("--no-progress", action="store_true", help="no progress bar")

    check = sub.add_parser("check", help="grade your own notebook with the hidden tests on this machine (learners)")
    check.add_argument("lesson", metavar="LESSON", help="the lesson id, e.g. 02-gpu")
    check.add_argument("notebook", nargs="?", help="the notebook (default: your fetched copy, else release/LESSON/)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument("--new-variant", action="store_true", help="start a fresh practice round with new inputs")

    watch = sub.add_parser("watch", parents=[common], help="grade on submit: collect, autograde and release "
                           "feedback as submissions arrive (attempt limits from schedule.csv)")
    watch.add_argument("--interval", type=float, default=2.0, help="seconds between looks at the exchange (default 2)")
    watch.add_argument("--workers", type=int, help="worker processes kept warm (default: one per core)")
    watch.add_argument("--once", action="store_true", help="handle what is pending, then exit")
    watch.add_argument("--status", action="store_true", help="print what the watcher last saw and did, then exit")

    export = sub.add_parser("export", parents=[common], help="grades as CSV (a row a student, a column a lesson)")
    export.add_argument("--output", "-o", type=Path, default=Path("grades.csv"))
    export.add_argument("--format", choices=("plain", "canvas", "moodle"), default="plain",
                        help="plain (default), or the gradebook import CSV of Canvas or Moodle")
    report = sub.add_parser("report", parents=[common], help="an HTML report with charts")
    report.add_argument("--output", "-o", type=Path, default=Path("report"))

    _hub_parser(sub)
    return parser


def _hub_parser(sub) -> None:
    """The ``hub`` command group (:mod:`infraprep.hub` does the work)."""
    from .hub import DEFAULT_EXCHANGE, DEFAULT_PREFIX

    hub = sub.add_parser("hub", help="run the course on a JupyterHub (as root): setup, start, stop, status")
    hsub = hub.add_subparsers(dest="action", required=True)
    s = hsub.add_parser("setup", help="users from a roster, JupyterHub, nbgrader exchange and a cohort")
    s.add_argument("--roster", required=True, type=Path, help="roster CSV (id,name,email); ids are Unix user names")
    s.add_argument("--cohort", required=True, help="the cohort (its own nbgrader course) to create or extend")
    s.add_argument("--course", default=".", type=Path, help="the course's folder (default: .)")
    s.add_argument("--db", help="gradebook URL for a new cohort (default: SQLite in the cohort's folder)")
    s.add_argument("--prefix", default=str(DEFAULT_PREFIX), help=f"where the hub lives (default {DEFAULT_PREFIX})")
    s.add_argument("--exchange", default=str(DEFAULT_EXCHANGE), help=f"nbgrader exchange (default {DEFAULT_EXCHANGE})")
    s.add_argument("--instructor", default="instructor", help="the instructor's account (default: instructor)")
    s.add_argument("--ip", default="", help="address to listen on (default: all)")
    s.add_argument("--port", type=int, default=8000, help="public port (default 8000; the hub also uses PORT+1, PORT+2)")
    s.add_argument("--start", action="store_true", help="(re)start the hub when set up")
    s.add_argument("--no-watch", action="store_true", help="no grading on submit (no `infraprep watch` per cohort)")
    s.add_argument("--watch-workers", type=int, default=1, help="worker processes of each cohort's watcher (default 1)")
    for name, text in (("start", "start the hub in the background"), ("stop", "stop the hub and every user's server"),
                       ("status", "whether the hub runs")):
        p = hsub.add_parser(name, help=text)
        p.add_argument("--prefix", default=str(DEFAULT_PREFIX))
        if name == "start":
            p.add_argument("--restart", action="store_true", help="stop it first if it runs")


def _hub(args) -> int:
    from .hub import Layout, _watchers, running, setup, start, stop

    if args.action == "setup":
        setup(args.roster, args.cohort, course=args.course, db_url=args.db, prefix=args.prefix,
              exchange=args.exchange, instructor=args.instructor, ip=args.ip, port=args.port, start_hub=args.start,
              watch=not args.no_watch, watch_workers=args.watch_workers)
    elif args.action == "start":
        if args.restart:
            stop(Path(args.prefix))
        print(f"hub running (pid {start(Path(args.prefix))})")
    elif args.action == "stop":
        print("hub stopped" if stop(Path(args.prefix)) else "hub was not running")
    elif args.action == "status":
        pid = running(Path(args.prefix))
        print(f"hub running (pid {pid})" if pid else "hub not running")
        for name, watcher in sorted(_watchers(Layout(Path(args.prefix))).items()):
            print(f"  cohort {name}: " + (f"infraprep watch running (pid {watcher})" if watcher else "no watcher running"))
        return 0 if pid else 3
    return 0


def _run(args) -> int:
    if args.command == "check":
        from .assessment.selfcheck import main as check_main

        return check_main(args)
    from .grading import cohort as cohorts
    from .grading.roster import RosterError

    if args.command == "hub":
        return _hub(args)
    if args.command == "cohort":
        if args.action == "list":
            for name in cohorts.cohorts(args.course):
                print(name)
            return 0
        if args.action == "keys":
            import csv
            import io

            course = cohorts.open_course(args.course, args.name, args.db)
            if not cohorts.variant_secret(course):
                print(f"note: cohort {args.name} has no variant secret: each key is the student id", file=sys.stderr)
            people = cohorts.roster(course)
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["id", "email", "variant_key"])
            for sid, key in cohorts.variant_keys(course).items():
                writer.writerow([sid, people[sid].email, key])
            if args.output:
                fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                    handle.write(buffer.getvalue())
                print(f"keys written to {args.output} (readable by you only)")
            else:
                print(buffer.getvalue(), end="")
            return 0
        import datetime as dt

        start = dt.date.fromisoformat(args.start) if args.start else None
        try:
            course = cohorts.create_cohort(args.course, args.name, args.roster, db_url=args.db, start=start)
        except RosterError as exc:
            print(f"error: roster refused: {exc}", file=sys.stderr)
            return 1
        print(f"cohort {args.name}: {course.root} ({len(cohorts.roster(course))} students, gradebook {course.db_url})")
        return 0

    course = cohorts.open_course(args.course, args.cohort, args.db)
    lessons = getattr(args, "lessons", None) or None
    if args.command in ("release", "collect", "feedback"):  # one writer at a time, beside `infraprep watch`
        from .grading.lock import gradebook_lock

        with gradebook_lock(course.root, f"infraprep {args.command}"):
            return _write(args, course, lessons)
    return _write(args, course, lessons)


def _write(args, course, lessons) -> int:
    from .grading import cohort as cohorts

    if args.command == "watch":
        from .grading import watch

        if args.status:
            print("\n".join(watch.status_lines(course)))
            return 0
        return watch.watch(course, interval=args.interval, workers=args.workers, once=args.once)
    if args.command == "release":
        from .grading.exchange import release

        for lesson in release(course, lessons):
            print(f"released {lesson} to {course.course_id}")
    elif args.command == "collect":
        from .grading.exchange import collect

        print("\n".join(collect(course, lessons).lines()))
    elif args.command == "autograde":
        from .grading.coordinator import autograde

        summary = autograde(course, lessons, students=args.student, workers=args.workers, scheduler=args.scheduler,
                            force=args.force, progress=not args.no_progress, roster=cohorts.roster(course))
        print(printable(summary))
        for problem in summary.problems:
            print(printable(f"  {problem}"))
    elif args.command == "feedback":
        from .grading.feedback import feedback

        result = feedback(course, lessons, release=not args.no_release)
        print(f"{len(result.pages)} feedback page(s), no hidden test in any; "
              f"{'generated only' if args.no_release else 'released to the exchange'}")
        for page, shown in result.held.items():
            print(printable(f"  HELD BACK {page}: it would show a hidden test ({shown[0][:60]}...)"), file=sys.stderr)
        for (student, lesson, notebook), why in sorted(result.failed.items()):
            print(printable(f"  NO FEEDBACK {student} / {lesson} / {notebook}: {why}"), file=sys.stderr)
        if result.held or result.failed:
            return 1
    elif args.command == "export":
        from .grading.export import export

        print(f"grades written to {export(course, args.output, args.format)}")
    elif args.command == "report":
        from .grading.report import report

        print(f"report written to {report(course, args.output)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from infraprep.grading import fastpaths

    fastpaths.skip_iri_grammars()  # 1.3 s of start-up nobody uses (see fastpaths)
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to finish (nothing graded is lost or graded twice)",
              file=sys.stderr)
        return 130
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as exc:
        print(printable(f"error: {exc}", keep_newlines=True), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
