"""The red-team catalogue (tests/integrity/catalogue.py), graded once, with a summary table for the docs.

Builds one course with a student per entry of tests/integrity/catalogue.py (cheating attempts and
bad submissions, plus an honest and a blank control), grades it with ``infraprep autograde``
(and, with ``--stock``, the cheats again with stock ``nbgrader autograde``), checks every entry's
expected outcome, and prints:

- the summary: attempts tried, blocked or flagged, bad inputs tried, graded or reported,
  submissions lost (neither an autograded notebook with grades nor a reported problem);
- a table of every entry: what it must get, what it got, and whether that is what it must get.

Exits 1 if any entry misses its expectation.

    .venv/bin/python benchmarks/integrity.py [--workers 2] [--stock] [--keep DIR] [--only TEXT]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "integrity")]

import catalogue as cat  # noqa: E402  (the catalogue the tests grade)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table(run: cat.Run, width: int = 70) -> str:
    rows = [("student", "category", "entry", "expected", "observed", "ok")]
    for sid, entry, obs, failures in run.results:
        rows.append((sid, entry.category, _cut(entry.name, 48), _cut(entry.describe(), width),
                     _cut(obs.describe(), width), "yes" if not failures else "NO"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary_table(runs: list[cat.Run]) -> str:
    lines = ["| grader | attempts tried | blocked or flagged | bad inputs tried | graded or reported | submissions lost | entries as expected | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for run in runs:
        s = cat.summary(run)
        expected = sum(1 for *_, f in run.results if not f)
        bad = f"{s['bad inputs tried']}" if run.grader == "infraprep" else "-"
        handled = f"{s['graded or reported']}" if run.grader == "infraprep" else "-"
        lines.append(f"| {run.grader} | {s['attempts tried']} | {s['blocked or flagged']} | {bad} | {handled} | "
                     f"{s['submissions lost']} | {expected}/{len(run.results)} | {run.seconds:.0f} |")
    return "\n".join(lines)


def class_table(runs: list[cat.Run]) -> str:
    """The red team's entries (tests/integrity/redteam.py) by class: tried, as they must be, got through."""
    lines = ["| class | grader | attempts | as they must be | got through |", "|---|---|---:|---:|---:|"]
    for run in runs:
        by_class: dict[str, list[int]] = {}
        for _, entry, _, failures in run.results:
            if entry.klass:
                counts = by_class.setdefault(entry.klass, [0, 0])
                counts[0 if not failures else 1] += 1
        for klass in sorted(by_class, key=lambda k: (not k[0].isdigit(), int(k.split()[0]) if k[0].isdigit() else 0, k)):
            ok, bad = by_class[klass]
            lines.append(f"| {klass} | {run.grader} | {ok + bad} | {ok} | {bad} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stock", action="store_true", help="also grade the cheats with stock nbgrader autograde")
    parser.add_argument("--keep", type=Path, help="build the courses here and keep them (default: a temporary folder)")
    parser.add_argument("--only", help="only entries whose name contains this text")
    args = parser.parse_args(argv)

    entries = [e for e in cat.ENTRIES if not args.only or args.only.lower() in e.name.lower()]
    base = args.keep or Path(tempfile.mkdtemp(prefix="infraprep-integrity-"))
    runs = []
    try:
        graders = ["infraprep"] + (["nbgrader"] if args.stock else [])
        for grader in graders:
            chosen = entries if grader == "infraprep" else [e for e in entries if e.stock]
            folder = base / grader
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            started = time.perf_counter()
            run = cat.run(folder, chosen, grader, workers=args.workers)
            runs.append(run)
            print(f"\n== {grader} autograde: {len(run.results)} submissions "
                  f"({sum(e.category == 'cheat' for e in chosen)} cheats, "
                  f"{sum(e.category == 'bad input' for e in chosen)} bad inputs, {len(cat.CONTROLS)} controls), "
                  f"graded in {run.seconds:.1f} s ({time.perf_counter() - started:.1f} s with building)")
            if run.returncode != 0:
                print(f"   the command failed ({run.returncode}):\n{run.stderr[-2000:]}")
            print(table(run))
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    print("\n" + summary_table(runs))
    if any(e.klass for run in runs for _, e, _, _ in run.results):
        print("\n" + class_table(runs))
    missed = {(run.grader, name): failures for run in runs for name, failures in run.failures().items()}
    if missed:
        print(f"\n{len(missed)} entr{'y' if len(missed) == 1 else 'ies'} missed the expectation:")
        for (grader, name), failures in missed.items():
            print(f"  [{grader}] {name}: {'; '.join(failures)}")
        return 1
    print("\nevery entry got the outcome it must")
    return 0


if __name__ == "__main__":
    sys.exit(main())
