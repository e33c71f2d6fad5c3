"""Builders that make notebooks, submissions and course directories in code; every test uses these.

A *submission* is made from the release notebook of an assignment: answer cells
are filled from the source notebook (the instructor's solutions), left blank, or
replaced by given code. Cells are matched by their nbgrader ``grade_id``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import nbformat

from infraprep.grading.cells import nbgrader_meta

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source"
RELEASE = ROOT / "release"
NOTEBOOKS = ROOT / "notebooks"
BIN = Path(sys.executable).parent


def assignments() -> list[str]:
    """Assignment ids that have a source notebook (``source/<id>/<id>.ipynb``)."""
    return sorted(p.parent.name for p in SOURCE.glob("*/*.ipynb") if p.stem == p.parent.name)


def lecture_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def source_nb(assignment: str) -> nbformat.NotebookNode:
    return read(SOURCE / assignment / f"{assignment}.ipynb")


def release_nb(assignment: str) -> nbformat.NotebookNode:
    return read(RELEASE / assignment / f"{assignment}.ipynb")


meta = nbgrader_meta


def grade_id(cell) -> str | None:
    return meta(cell).get("grade_id")


def answer_ids(nb) -> list[str]:
    """Autograded answer cells (solution, not graded by hand), in notebook order."""
    return [grade_id(c) for c in nb.cells if meta(c).get("solution") and not meta(c).get("grade")]


def test_cells(nb) -> dict[str, float]:
    """Autograded test cells: grade id -> points."""
    return {grade_id(c): float(meta(c)["points"]) for c in nb.cells
            if meta(c).get("grade") and not meta(c).get("solution") and c.cell_type == "code"}


def written_ids(nb) -> list[str]:
    return [grade_id(c) for c in nb.cells if meta(c).get("grade") and meta(c).get("solution")]


def submission(
    assignment: str,
    correct: Iterable[str] | str = (),
    replace: Mapping[str, str] | None = None,
) -> nbformat.NotebookNode:
    """A student notebook from the release: answers in ``correct`` taken from the source
    (``"all"`` for every answer, written ones included), answers in ``replace`` set to the given code,
    everything else left as released (blank)."""
    release, source = release_nb(assignment), source_nb(assignment)
    solutions = {grade_id(c): c.source for c in source.cells if meta(c).get("solution")}
    wanted = set(solutions) if correct == "all" else set(correct)
    replace = dict(replace or {})
    unknown = (wanted | set(replace)) - set(solutions)
    if unknown:
        raise KeyError(f"{assignment}: no answer cell(s) {sorted(unknown)}")
    for cell in release.cells:
        gid = grade_id(cell)
        if gid in replace:
            cell.source = replace[gid]
        elif gid in wanted:
            cell.source = solutions[gid]
    return release


def hidden_lines(assignment: str) -> list[str]:
    """Every non-trivial line (over 6 characters) inside a hidden-test region of the source notebook."""
    from infraprep.grading.cells import split_hidden

    return [line.strip() for cell in source_nb(assignment).cells
            for line in split_hidden(cell.source)[1].splitlines() if len(line.strip()) > 6]


def visible_text(path: Path) -> str:
    """Text a reader of an HTML file can see or select: styles and tags removed, entities decoded."""
    import html
    import re

    raw = re.sub(r"<style.*?</style>", " ", path.read_text(encoding="utf-8"), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


def new_course(tmp: Path, assignments_to_copy: Iterable[str]) -> Path:
    """A fresh nbgrader course directory under ``tmp`` with this course's config and the given sources."""
    course = tmp / "course"
    (course / "source").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    for assignment in assignments_to_copy:
        shutil.copytree(SOURCE / assignment, course / "source" / assignment)
    return course


def nbgrader_env(course: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # nbgrader shells out to `alembic`
    env["INFRAPREP_DB"] = f"sqlite:///{course / 'gradebook.db'}"
    env["INFRAPREP_EXCHANGE"] = str(course.parent / "exchange")
    env.pop("JUPYTER_CONFIG_DIR", None)
    return env


# nbgrader's own command, started without jsonschema's `iri` checker, as the infraprep command is
# (infraprep/grading/fastpaths.py: 1.3 s of start-up per command, used by no notebook schema).
NBGRADER_MAIN = ("import sys; from infraprep.grading import fastpaths; fastpaths.skip_iri_grammars(); "
                 "sys.argv[0] = 'nbgrader'; from nbgrader.apps.nbgraderapp import main; sys.exit(main())")


def nbgrader(course: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``course``; raise with its output if it fails."""
    proc = subprocess.run([str(BIN / "python"), "-c", NBGRADER_MAIN, *args], cwd=course, env=nbgrader_env(course),
                          capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def submit(course: Path, student: str, assignment: str, nb) -> Path:
    """Place a notebook (or raw text/bytes) as ``submitted/<student>/<assignment>/<assignment>.ipynb``."""
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{assignment}.ipynb"
    if isinstance(nb, (str, bytes)):
        path.write_bytes(nb.encode() if isinstance(nb, str) else nb)
    else:
        nbformat.write(nb, str(path))
    return path


def scores(course: Path, assignment: str) -> dict[str, dict[str, float]]:
    """student -> {grade_id: auto score} for autograded test cells, read from the course gradebook."""
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(assignment):
            cells = {}
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.cell_type == "code":
                        cells[grade.name] = grade.auto_score
            out[sub.student_id] = cells
    return out


def gradebook_rows(course: Path, assignment: str) -> dict[str, dict]:
    """student -> {(kind, cell name): what nbgrader saved}: every grade (auto score, needs manual grading)
    and every comment (auto comment) of the assignment's submissions, read from the course gradebook."""
    from nbgrader.api import Gradebook

    out: dict[str, dict] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(assignment):
            rows = {}
            for nb in sub.notebooks:
                rows.update({("grade", g.name): (g.auto_score, g.needs_manual_grade) for g in nb.grades})
                rows.update({("comment", c.name): c.auto_comment for c in nb.comments})
            out[sub.student_id] = rows
    return out


# ---------------------------------------------------------------- cohorts (the instructor's workflow)

ROSTER_HEADER = "id,name,email\n"


def write_roster(path: Path, students: Iterable[str]) -> Path:
    """A valid roster CSV for these student ids (``<id>@example.org``)."""
    rows = [f"{s},Student {s.title()},{s}@example.org\n" for s in students]
    path.write_text(ROSTER_HEADER + "".join(rows), encoding="utf-8")
    return path


def infraprep(course: Path, *args: str, check: bool = True, env: Mapping[str, str] | None = None,
              timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the ``infraprep`` command in ``course`` (with the course's test gradebook and exchange)."""
    full_env = nbgrader_env(course)
    full_env.update(env or {})
    proc = subprocess.run([str(BIN / "infraprep"), *args], cwd=course, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"infraprep {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def student_submit(exchange: Path, course_id: str, student: str, assignment: str, nb, home: Path,
                   when: str | None = None) -> Path:
    """Play a student: fetch ``assignment`` from the exchange into ``home``, put ``nb`` (a notebook,
    or raw text/bytes) in place of the released notebook, and submit it with nbgrader's exchange.
    ``when`` (e.g. ``"2026-01-15 10:00:00 UTC"``) is the submission's time (its entry's name and
    timestamp.txt; collect takes it only with a ``SafeCollect.clock_slack`` reaching back that far).
    Returns the submission's folder in the exchange's inbound."""
    from infraprep.grading.simulate import submit_as_student

    return submit_as_student(exchange, course_id, student, assignment, nb, home, when)


def gradebook_scores(db_url: str, assignment: str, course_id: str = "default_course") -> dict[str, dict[str, float]]:
    """Like :func:`scores`, for any gradebook URL: student -> {grade_id: auto score} of code test cells."""
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, float]] = {}
    with Gradebook(db_url, course_id) as gb:
        for sub in gb.assignment_submissions(assignment):
            out[sub.student_id] = {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades
                                   if g.cell_type == "code"}
    return out


def add_course_config(course: Path, text: str) -> Path:
    """Append settings (Python lines of an nbgrader config, e.g. ``c.Execute.timeout = 8``) to the
    course's ``nbgrader_config.py``; they override the course's own settings."""
    path = course / "nbgrader_config.py"
    with path.open("a", encoding="utf-8") as f:
        f.write("\n" + text.strip() + "\n")
    return path


# ---------------------------------------------------------------- per-student variants

def value_answers(assignment: str) -> list[str]:
    """Answer cells whose answer is a value (a number, letters, a list...), not a function or a table:
    the questions a copied value can answer (the copy test's subject)."""
    import ast

    out = []
    for cell in source_nb(assignment).cells:
        gid = grade_id(cell)
        if not (meta(cell).get("solution") and not meta(cell).get("grade") and cell.cell_type == "code"):
            continue
        tree = ast.parse(cell.source)
        if not any(isinstance(node, (ast.FunctionDef, ast.ClassDef)) for node in ast.walk(tree)):
            out.append(gid)
    return out


def literal_answers(assignment: str, student: str, questions: Iterable[str] | None = None) -> dict[str, str]:
    """``{answer id: "qN = <literal>"}``: student's correct answers written out as literal values, as a
    classmate who copied them would hand them in. The source's set-up cells and solutions run here,
    with the variants drawn for ``student`` (the grader's identity), each answer taken as plain data."""
    from infraprep.assessment import variants

    wanted = set(questions) if questions is not None else set(value_answers(assignment))
    namespace: dict = {"__name__": "__copy_test__"}
    out: dict[str, str] = {}
    with variants.grading_identity(student):
        for cell in source_nb(assignment).cells:
            m = meta(cell)
            if cell.cell_type != "code":
                continue
            if m.get("locked") and not m.get("grade") and not m.get("solution"):
                exec(compile(cell.source, "<setup>", "exec"), namespace)
            elif m.get("solution") and not m.get("grade"):
                exec(compile(cell.source, f"<{grade_id(cell)}>", "exec"), namespace)
                gid = grade_id(cell)
                if gid in wanted:
                    out[gid] = f"{gid} = {_literal(namespace[gid])}"
    return out


def _literal(value) -> str:
    """Python source of a plain value (numpy and pandas scalars and lists as plain Python)."""
    import numpy as np

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return repr(float(value))
    return repr(value)


def cases(assignment: str):
    """The assignment's test cases module, ``tests/notebooks/cases/<assignment>.py`` (``WRONG``:
    an answer for every question that must score zero for every student; ``NEAR_MISSES``: answers that
    make the documented typical mistake, computed from the student's own inputs, each scoring zero)."""
    import importlib.util

    path = ROOT / "tests" / "notebooks" / "cases" / f"{assignment.replace('-', '_')}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"cases_{assignment.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def delegations(assignment: str) -> dict[str, str]:
    """``{answer id: code}``: for every coding task whose hidden test names the package's own function
    for the job (``forbid=[...]``), the solution with that function's body handing the job to it
    through ``importlib`` and ``getattr`` (an alias the delegation check must see through); the rest
    of the answer cell (``q18 = spot_run_cost``...) is kept."""
    import ast

    from infraprep.grading.cells import split_hidden

    nb = source_nb(assignment)
    answers = {grade_id(c): c.source for c in nb.cells
               if meta(c).get("solution") and not meta(c).get("grade") and c.cell_type == "code"
               and any(isinstance(n, ast.FunctionDef) for n in ast.parse(c.source).body)}
    out = {}
    for cell in nb.cells:
        answer = (grade_id(cell) or "").removesuffix("_tests")
        if answer not in answers or not (meta(cell).get("grade") and cell.cell_type == "code"):
            continue
        for node in ast.walk(ast.parse(split_hidden(cell.source)[1] or "pass")):
            if isinstance(node, ast.Call) and any(k.arg == "forbid" for k in node.keywords):
                forbid = next(k.value for k in node.keywords if k.arg == "forbid")
                names = [e.value for e in getattr(forbid, "elts", []) if isinstance(e, ast.Constant)]
                if not names:
                    continue
                module, _, name = names[0].rpartition(".")
                half = len(name) // 2
                tree = ast.parse(answers[answer])
                for statement in tree.body:
                    if isinstance(statement, ast.FunctionDef):
                        statement.body = ast.parse(f"return getattr(_course, {name[:half]!r} + {name[half:]!r})"
                                                   "(*args, **kwargs)").body
                        statement.args = ast.parse("def f(*args, **kwargs): pass").body[0].args
                        break
                out[answer] = (f"import importlib\n_course = importlib.import_module({module!r})\n"
                               + ast.unparse(tree))
    return out
