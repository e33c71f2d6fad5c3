"""Every student's variant must be answerable: the instructor's solutions pass every test, hidden ones
included, for any student id, not only for the few ids the round trips draw.

A question whose inputs are drawn per student can break for some draws only: a hidden-case generator
that builds an impossible case, a tolerance that a float artefact of the right formula falls outside,
an input combination the formula does not allow. Those students would lose the question through no
fault of their own. The other way round, a typical mistake may pass for some draws only. This sweep
runs each source notebook (solutions and hidden tests) in this process, once per student id, and
names the question and the ids where a test cell raised; then it puts in each question's wrong
answer and typical mistake (tests/notebooks/cases/) and names the ids for which one still passed.

    .venv/bin/python tests/notebooks/variants_sweep.py [--students 1000] [ASSIGNMENT ...]

runs the deep sweep; ``test_variants_sweep.py`` runs a short one in the suite.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import builders as b  # noqa: E402

from infraprep.assessment import variants  # noqa: E402


def _runnable_cells(assignment: str, replace: dict[str, str] | None = None) -> list[tuple[str, object]]:
    """(name, compiled code) of each code cell to run: the self-check cell is left out (it grades the
    saved notebook with the grader, which the round trips test), and ``replace`` swaps answers in."""
    cells = []
    for index, cell in enumerate(b.source_nb(assignment).cells):
        if cell.cell_type != "code" or "selfcheck.run(" in cell.source:
            continue
        name = b.grade_id(cell) or f"cell {index}"
        source = (replace or {}).get(name, cell.source)
        cells.append((name, compile(source, f"{assignment} {name}", "exec")))
    return cells


def _run_each(assignment: str, students: Iterable[str], replace: dict[str, str] | None, stop: bool):
    """For each student: (student, {cell name: the error it raised}, [test cells that passed])."""
    import matplotlib

    matplotlib.use("Agg")
    cells = _runnable_cells(assignment, replace)
    saved = os.environ.get(variants.ENV_STUDENT)
    try:
        for student in students:
            os.environ[variants.ENV_STUDENT] = student
            namespace = {"__name__": "__main__"}
            errors, passed = {}, []
            for name, code in cells:
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        exec(code, namespace)  # noqa: S102 - the course's own source notebook
                except Exception as error:  # noqa: BLE001 - every kind of failure is reported
                    errors[name] = f"{type(error).__name__}: {str(error)[:160]}"
                    if stop:
                        break
                else:
                    if name.endswith("_tests"):
                        passed.append(name)
            yield student, errors, passed
    finally:
        if saved is None:
            os.environ.pop(variants.ENV_STUDENT, None)
        else:
            os.environ[variants.ENV_STUDENT] = saved


def sweep(assignment: str, students: Iterable[str], replace: dict[str, str] | None = None) -> dict[str, list[str]]:
    """{cell name: [student ids whose run raised there, with the error]} for the ids given; a run stops
    at its first error. Empty when every student's variant passes every test."""
    failed: dict[str, list[str]] = {}
    for student, errors, _ in _run_each(assignment, students, replace, stop=True):
        for name, error in errors.items():
            failed.setdefault(name, []).append(f"{student}: {error}")
    return failed


def accepted(assignment: str, students: Iterable[str], answers: dict[str, str]) -> dict[str, list[str]]:
    """{question: [student ids]} where the answer given in ``answers`` (a wrong answer or a typical
    mistake, computed from that student's own inputs) still passed its test. Every cell runs, so each
    question is judged on its own."""
    passed_by: dict[str, list[str]] = {}
    for student, _, passed in _run_each(assignment, students, answers, stop=False):
        for name in passed:
            question = name.removesuffix("_tests")
            if question in answers:
                passed_by.setdefault(question, []).append(student)
    return passed_by


def mistake_sets(assignment: str) -> list[dict[str, str]]:
    """The assignment's wrong answers and its typical mistakes (tests/notebooks/cases/), as two sets."""
    case = b.cases(assignment)
    return [answers for answers in (dict(getattr(case, name, {}) or {}) for name in ("WRONG", "NEAR_MISSES")) if answers]


def student_ids(count: int, start: int = 0) -> list[str]:
    return [f"sweep{n:05d}" for n in range(start, start + count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="default: every assignment with a source")
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--start", type=int, default=0, help="first id number (sweep00000 onwards)")
    args = parser.parse_args(argv)
    os.environ.setdefault("INFRAPREP_HOME", tempfile.mkdtemp(prefix="infraprep-sweep-"))
    bad = 0
    for assignment in args.assignments or b.assignments():
        started = time.perf_counter()
        ids = student_ids(args.students, args.start)
        failed = sweep(assignment, ids)
        let_through: dict[str, list[str]] = {}
        for mistakes in mistake_sets(assignment):
            for question, who in accepted(assignment, ids, mistakes).items():
                let_through.setdefault(question, []).extend(who)
        took = time.perf_counter() - started
        print(f"{assignment}: {args.students:,} students in {took:.0f} s: solutions failed "
              f"{sum(map(len, failed.values())):,} times, mistakes accepted {sum(map(len, let_through.values())):,} "
              "times", flush=True)
        for name, errors in failed.items():
            bad += len(errors)
            print(f"  solutions, {name}: {len(errors):,} students, e.g. {errors[0]}")
        for question, who in let_through.items():
            bad += len(who)
            print(f"  the mistake in {question} passed for {len(who):,} students, e.g. {who[0]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
