"""A whole small cohort, end to end, in a temporary copy of the course (``make cohort-demo``).

roster -> cohort -> release -> six simulated students (right, half right, blank, broken file, late,
and one who never submits) -> collect -> parallel autograde -> feedback -> export -> report.

    python -m infraprep.grading.demo [--lesson 01-roles] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(course: Path, *args: str) -> None:
    from infraprep.cli import main

    print(f"\n$ infraprep {' '.join(args)}", flush=True)
    cwd = os.getcwd()
    os.chdir(course)
    try:
        code = main(list(args))
    finally:
        os.chdir(cwd)
    if code:
        raise SystemExit(f"infraprep {' '.join(args)} failed ({code})")


def main(argv: list[str] | None = None) -> int:
    from infraprep.grading.simulate import answered, submit_as_student

    parser = argparse.ArgumentParser(description="play a small cohort end to end")
    parser.add_argument("--lesson", default="01-roles")
    parser.add_argument("--keep", type=Path, help="work here (kept) instead of a temporary folder")
    args = parser.parse_args(argv)
    lesson = args.lesson

    tmp = (args.keep or Path(tempfile.mkdtemp(prefix="infraprep-demo-"))).resolve()
    course = tmp / "course"
    (course / "source").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(ROOT / "source" / lesson, course / "source" / lesson, dirs_exist_ok=True)
    os.environ["INFRAPREP_EXCHANGE"] = str(tmp / "exchange")
    os.environ["INFRAPREP_DB"] = f"sqlite:///{course / 'gradebook.db'}"
    roster = tmp / "roster.csv"
    people = ["ada", "ben", "cho", "dev", "eli", "fay"]
    roster.write_text("id,name,email\n" + "".join(f"{p},{p.title()} Example,{p}@example.org\n" for p in people))
    print(f"demo course: {course}\nroster: {', '.join(people)}")

    _run(course, "cohort", "create", "demo", "--roster", str(roster), "--start", "2026-01-08")
    cohort = course / "cohorts" / "demo"
    (cohort / "schedule.csv").write_text(f"lesson,due\n{lesson},2026-01-15 23:59:00\n")
    _run(course, "release", lesson, "--cohort", "demo")

    source = ROOT / "source" / lesson / f"{lesson}.ipynb"
    release = cohort / "release" / lesson / f"{lesson}.ipynb"
    import nbformat

    ids = [c.metadata["nbgrader"]["grade_id"] for c in nbformat.read(str(source), as_version=4).cells
           if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    plays = {
        "ada": (answered(source, release, "all"), "2026-01-14 09:00:00 UTC", "answers everything"),
        "ben": (answered(source, release, ids[: len(ids) // 2]), "2026-01-15 20:00:00 UTC", "answers half"),
        "cho": (answered(source, release), "2026-01-15 22:00:00 UTC", "submits the blank notebook"),
        "dev": ("{ a file that is not a notebook", "2026-01-15 23:00:00 UTC", "submits a broken file"),
        "eli": (answered(source, release, "all"), "2026-01-17 08:00:00 UTC", "answers everything, two days late"),
    }
    from infraprep.grading.cohort import open_course

    course_id = open_course(course, "demo").course_id
    print()
    for student, (nb, when, what) in plays.items():
        submit_as_student(tmp / "exchange", course_id, student, lesson, nb, tmp / "homes" / student, when)
        print(f"{student} {what}")
    print("fay never submits")

    _run(course, "collect", lesson, "--cohort", "demo")
    _run(course, "autograde", lesson, "--cohort", "demo")
    _run(course, "feedback", lesson, "--cohort", "demo")
    _run(course, "export", "--cohort", "demo", "-o", str(tmp / "grades.csv"))
    print((tmp / "grades.csv").read_text())
    _run(course, "report", "--cohort", "demo", "-o", str(tmp / "report"))
    print(f"\nopen {tmp / 'report' / 'report.html'} to see the cohort's report")
    return 0


if __name__ == "__main__":
    sys.exit(main())
