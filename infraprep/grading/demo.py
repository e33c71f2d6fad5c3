"""A whole small cohort, end to end, in a temporary copy of the course (``make cohort-demo``).

roster -> cohort -> release -> simulated students (right, half right, blank, broken file, late, one
who never submits, and a few more so the item analysis has something to say, among them a planted
copy: gus hands in ada's numbers, hal hands in ada's code with the names changed, while ivy and jon
are honest look-alikes) -> collect -> parallel autograde -> feedback -> export (plain and Canvas)
-> report with item analysis and similarity flags.

    python -m infraprep.grading.demo [--lesson 02-gpu] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .cells import nbgrader_meta

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
    parser.add_argument("--lesson", default="02-gpu")
    parser.add_argument("--keep", type=Path, help="work here (kept) instead of a temporary folder")
    args = parser.parse_args(argv)
    lesson = args.lesson

    tmp = (args.keep or Path(tempfile.mkdtemp(prefix="infraprep-demo-"))).resolve()
    course = tmp / "course"
    (course / "source").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    with (course / "nbgrader_config.py").open("a", encoding="utf-8") as config:  # the cohort is played in the past
        config.write("\nc.SafeCollect.clock_slack = 10**9  # submissions are simulated at their times\n")
    shutil.copytree(ROOT / "source" / lesson, course / "source" / lesson, dirs_exist_ok=True)
    os.environ["INFRAPREP_EXCHANGE"] = str(tmp / "exchange")
    os.environ["INFRAPREP_DB"] = f"sqlite:///{course / 'gradebook.db'}"
    roster = tmp / "roster.csv"
    people = ["ada", "ben", "cho", "dev", "eli", "fay", "gus", "hal", "ivy", "jon", "kim"]
    roster.write_text("id,name,email\n" + "".join(f"{p},{p.title()} Example,{p}@example.org\n" for p in people))
    print(f"demo course: {course}\nroster: {', '.join(people)}")

    _run(course, "cohort", "create", "demo", "--roster", str(roster), "--start", "2026-01-08")
    cohort = course / "cohorts" / "demo"
    (cohort / "schedule.csv").write_text(f"lesson,due\n{lesson},2026-01-15 23:59:00\n")
    _run(course, "release", lesson, "--cohort", "demo")

    source = ROOT / "source" / lesson / f"{lesson}.ipynb"
    release = cohort / "release" / lesson / f"{lesson}.ipynb"
    import nbformat

    ids = [nbgrader_meta(c)["grade_id"] for c in nbformat.read(str(source), as_version=4).cells
           if nbgrader_meta(c).get("solution")]
    plays = {
        "ada": (answered(source, release, "all", replace=_own_code(lesson)), "2026-01-14 09:00:00 UTC",
                "answers everything, with code of her own"),
        "ben": (answered(source, release, ids[: len(ids) // 2]), "2026-01-15 20:00:00 UTC", "answers half"),
        "cho": (answered(source, release), "2026-01-15 22:00:00 UTC", "submits the blank notebook"),
        "dev": ("{ a file that is not a notebook", "2026-01-15 23:00:00 UTC", "submits a broken file"),
        "eli": (answered(source, release, "all"), "2026-01-17 08:00:00 UTC", "answers everything, two days late"),
        "kim": (answered(source, release, ids[: 2 * len(ids) // 3]), "2026-01-15 18:00:00 UTC", "answers two thirds"),
    }
    from infraprep.grading.cohort import open_course, variant_secret
    from infraprep.grading.simulate import copied_answers

    demo = open_course(course, "demo")
    variant_qs = [q for q in ("q1", "q4", "q5") if q in ids] if lesson == "02-gpu" else []
    if variant_qs:
        donor = _donor(source, lesson, "gus", ["ada", "eli", "kim"], variant_secret(demo), variant_qs)
        copied = copied_answers(source, lesson, donor, variant_secret(demo), variant_qs)
        plays["gus"] = (answered(source, release, ids[len(ids) // 2:], replace=copied), "2026-01-15 21:00:00 UTC",
                        f"hands in {donor}'s numbers for {', '.join(q.upper() for q in copied)} (a planted copy)")
        plays["hal"] = (answered(source, release, ids[: len(ids) // 3], replace=_renamed_code(lesson)),
                        "2026-01-15 21:30:00 UTC", "hands in ada's Q12 code with the names changed (a planted copy)")
        look_alike = {"q5": "q5 = 1000.0", "q12": _course_solution(source, "q12")}
        plays["ivy"] = (answered(source, release, ids[: len(ids) // 2], replace=look_alike), "2026-01-15 19:00:00 UTC",
                        "guesses 1,000 for Q5 and writes the textbook Q12 (an honest look-alike)")
        plays["jon"] = (answered(source, release, ids[len(ids) // 3:], replace=look_alike), "2026-01-15 19:30:00 UTC",
                        "guesses 1,000 for Q5 too and writes the textbook Q12 (an honest look-alike)")
    course_id = demo.course_id
    print()
    for student, (nb, when, what) in sorted(plays.items()):
        submit_as_student(tmp / "exchange", course_id, student, lesson, nb, tmp / "homes" / student, when)
        print(f"{student} {what}")
    print("fay never submits")

    _run(course, "collect", lesson, "--cohort", "demo")
    _run(course, "autograde", lesson, "--cohort", "demo")
    _run(course, "feedback", lesson, "--cohort", "demo")
    _run(course, "export", "--cohort", "demo", "-o", str(tmp / "grades.csv"))
    print((tmp / "grades.csv").read_text())
    _run(course, "export", "--cohort", "demo", "--format", "canvas", "-o", str(tmp / "grades-canvas.csv"))
    print((tmp / "grades-canvas.csv").read_text())
    _run(course, "report", "--cohort", "demo", "-o", str(tmp / "report"))
    print(_at_a_glance(tmp / "report"))
    print(f"\nopen {tmp / 'report' / 'report.html'} to see the cohort's report; in JupyterLab: "
          f"from IPython.display import HTML; HTML(filename={str(tmp / 'report' / 'fragment.html')!r})")
    return 0


def _donor(source: Path, lesson: str, copier: str, candidates: list[str], secret: str, qs: list[str]) -> str:
    """The first classmate whose inputs differ from the copier's on every variant question (with the
    same inputs, a copied number would simply be right, and no evidence of anything)."""
    from infraprep.grading.similarity import variant_truth

    mine = variant_truth(source, lesson, copier, secret, set(qs))
    for who in candidates:
        theirs = variant_truth(source, lesson, who, secret, set(qs))
        if all(theirs[q]["inputs"] != mine[q]["inputs"] for q in qs):
            return who
    return candidates[0]


def _course_solution(source: Path, answer: str) -> str:
    import nbformat

    for cell in nbformat.read(str(source), as_version=4).cells:
        if nbgrader_meta(cell).get("grade_id") == answer:
            return cell.source
    raise KeyError(answer)


ADA_Q12 = """\
def ecc_bus_ids(text):
    pattern = re.compile(r"^\\|\\s+\\d+\\s+.+?\\|\\s+(\\S+)\\s+\\S+\\s+\\|\\s+(\\d+)\\s+\\|$", re.M)
    bad = []
    for found in pattern.finditer(text):
        bus, count = found.group(1), int(found.group(2))
        if count > 0:
            bad.append(bus)
    return bad
q12 = ecc_bus_ids
"""

HAL_Q12 = """\
def ecc_bus_ids(smi):
    # GPUs with uncorrected ECC errors
    rx = re.compile(r"^\\|\\s+\\d+\\s+.+?\\|\\s+(\\S+)\\s+\\S+\\s+\\|\\s+(\\d+)\\s+\\|$", re.M)
    out = []
    for hit in rx.finditer(smi):
        bus_id, errors = hit.group(1), int(hit.group(2))
        if errors > 0:   # only the ones with errors
            out.append(bus_id)
    return out

q12 = ecc_bus_ids
"""


def _own_code(lesson: str) -> dict[str, str]:
    return {"q12": ADA_Q12} if lesson == "02-gpu" else {}


def _renamed_code(lesson: str) -> dict[str, str]:
    return {"q12": HAL_Q12} if lesson == "02-gpu" else {}


def _at_a_glance(report: Path) -> str:
    """The report's item analysis and similarity flags, as text for the terminal."""
    import csv

    lines = ["", "item analysis (report/items.csv): difficulty (share of points earned), discrimination "
             "(correlation with the other questions' score), mark"]
    with (report / "items.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            mark = row["flags"] or ("-" if row["difficulty"] else "not graded yet")
            lines.append(f"  {row['question']:<52} {row['difficulty'] or '-':>6} {row['discrimination'] or '-':>7}  {mark}")
    import html
    import re

    page = (report / "report.html").read_text(encoding="utf-8")
    found = re.findall(r"<li><b>(.*?)</b> \((.*?)\)<ul>(.*?)</ul>", page, flags=re.S)
    lines.append("similarity flags (leads for a conversation, never a penalty):")
    for pair, lesson, evidence in found:
        lines.append(f"  {html.unescape(pair)} ({lesson})")
        for item in re.findall(r"<li>(.*?)</li>", evidence, flags=re.S):
            lines.append(f"    - {html.unescape(item)}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
