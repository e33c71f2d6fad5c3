"""Stock `nbgrader autograde` vs `infraprep autograde` on the same synthetic cohort, in one run.

Builds a course with every released lesson that has a source, and a cohort of ``--students``
students (default 30): correct, partial, blank and broken-code submissions in turn, plus two
not-JSON files. Grades one copy with stock nbgrader (lesson by lesson, as an instructor would) and
another with infraprep (``--workers``, default one per core), checks that the two gradebooks agree
score for score on every honest submission, and prints notebooks per second for each and the ratio.

    .venv/bin/python benchmarks/autograde.py [--students 30] [--workers N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import builders as b  # noqa: E402  (the test builders: one place that makes submissions)


def broken_answers(lesson: str) -> dict[str, str]:
    """Honest but broken code: every other answer raises, the rest do not even parse."""
    out = {}
    for i, gid in enumerate(b.answer_ids(b.source_nb(lesson))):
        out[gid] = "raise RuntimeError('I ran out of time')" if i % 2 else f"{gid} = ("
    return out


def cohort(lesson: str, students: int) -> dict[str, object]:
    answers = b.answer_ids(b.source_nb(lesson))
    kinds = [
        lambda: b.submission(lesson, "all"),
        lambda: b.submission(lesson, correct=answers[: len(answers) // 2]),
        lambda: b.submission(lesson),
        lambda: b.submission(lesson, replace=broken_answers(lesson)),
    ]
    return {f"student{i:03d}": kinds[i % len(kinds)]() for i in range(students)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--lessons", nargs="*", help="default: every released lesson with a source")
    parser.add_argument("--keep", type=Path, help="build the courses here and keep them")
    args = parser.parse_args()
    from infraprep.grading import forkserver

    if not forkserver.available():  # the unsandboxed fallback is not what the course grades with
        print("error: bubblewrap (bwrap) is missing, so infraprep would grade unsandboxed and the ratio would "
              "not be the course's; install it with `make sandbox-deps` (as root)", file=sys.stderr)
        return 2

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="infraprep-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    wanted = args.lessons or [a for a in b.assignments() if (b.RELEASE / a).is_dir()]
    base = b.new_course(tmp / "base", wanted)
    lessons = []
    for lesson in wanted:
        made = b.nbgrader(base, "generate_assignment", lesson, "--force", check=False)
        if made.returncode == 0:
            lessons.append(lesson)
        else:
            print(f"skipping {lesson}: its source does not generate ({made.stderr.strip().splitlines()[-1:]})")
    honest: dict[str, set[str]] = {}
    for lesson in lessons:
        subs = cohort(lesson, args.students)
        honest[lesson] = set(subs)
        for student, nb in subs.items():
            b.submit(base, student, lesson, nb)
    for extra in ("notjson-1", "notjson-2"):
        b.submit(base, extra, lessons[0], "{ this is not a notebook")
    total = sum(len(s) for s in honest.values()) + 2
    print(f"cohort: {args.students} students x {len(lessons)} lessons ({', '.join(lessons)}) + 2 not-JSON files "
          f"= {total} notebooks; {os.cpu_count()} cores")

    stock, ours = tmp / "stock" / "course", tmp / "ours" / "course"
    for copy in (stock, ours):
        shutil.copytree(base, copy, symlinks=True)

    start = time.perf_counter()
    for lesson in lessons:
        b.nbgrader(stock, "autograde", lesson, check=False)  # exits 1 on the not-JSON files, grades the rest
    stock_s = time.perf_counter() - start

    start = time.perf_counter()
    run = b.infraprep(ours, "autograde", "--workers", str(args.workers), "--no-progress")
    ours_s = time.perf_counter() - start
    print(run.stdout.strip().splitlines()[0])

    disagree = 0
    compared = 0
    for lesson in lessons:
        want, got = b.scores(stock, lesson), b.scores(ours, lesson)
        for student in sorted(honest[lesson]):
            compared += 1
            if want.get(student) != got.get(student):
                disagree += 1
                print(f"  DISAGREE {lesson} {student}: stock {want.get(student)} vs infraprep {got.get(student)}")
    bad = b.scores(ours, lessons[0])
    zeroed = all(v == 0 for s in ("notjson-1", "notjson-2") for v in bad[s].values())
    print(f"scores: {compared - disagree}/{compared} honest submissions identical; "
          f"not-JSON files: stock errors, infraprep reports them and scores zero ({'yes' if zeroed else 'NO'})")
    print(f"stock nbgrader autograde: {total} notebooks in {stock_s:.1f} s = {total / stock_s:.2f} notebooks/s")
    print(f"infraprep autograde ({args.workers} workers, a sandboxed fork server each): {total} notebooks in {ours_s:.1f} s "
          f"= {total / ours_s:.2f} notebooks/s")
    print(f"ratio: {stock_s / ours_s:.2f}x")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if disagree or not zeroed else 0


if __name__ == "__main__":
    sys.exit(main())
