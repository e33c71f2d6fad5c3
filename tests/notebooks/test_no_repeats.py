"""No graded question repeats a practice item or a lecture's worked example.

The practice quizzes and the rapid-fire bank show their answers; the lectures work their examples
through. A graded question that reuses one is answered by copying. So, for every assignment:

- no multiple-choice question shares two or more options with a practice-quiz item, and no prompt
  reads like a practice or bank question (the same wording, give or take a few words);
- for twenty students, the numbers a quantitative question draws never all appear together as the
  literal inputs of one worked example (a call into ``infraprep.estimates``) in the lessons' lectures,
  when two or more of them are distinctive (not a small count, a power of two or a unit factor).
"""

from __future__ import annotations

import ast
import difflib
import math
import re

import pytest

import builders as b
from infraprep import tables

STUDENTS = [f"student-{i:02d}" for i in range(20)]
# numbers too common to make an example recognisable (counts, powers of two, unit factors)
COMMON = {float(n) for n in [*range(0, 13), 16, 24, 32, 48, 60, 64, 100, 128, 256, 512, 1000, 1024, 3600, 8760]}


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9.%]+", " ", str(text).lower()).split())


def practice_items() -> list[tuple[str, set[str]]]:
    items = []
    for lesson in tables.lessons()["lesson_id"].astype(str):
        if "practice" in tables.available(lesson):
            for row in tables.load(lesson, "practice").itertuples(index=False):
                options = {_norm(getattr(row, k)) for k in ("a", "b", "c", "d") if str(getattr(row, k, "") or "").strip()}
                items.append((_norm(row.question), options))
    from infraprep.practice import bank

    items += [(_norm(q), set()) for q in bank.load_bank()["question"]]
    return items


def mcq_options(assignment: str) -> dict[str, list[str]]:
    out = {}
    for cell in b.source_nb(assignment).cells:
        if cell.cell_type != "code" or not b.meta(cell).get("locked"):
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "mcq" and len(node.args) >= 2:
                question = node.args[0].value if isinstance(node.args[0], ast.Constant) else b.grade_id(cell)
                out[question] = [e.value for e in getattr(node.args[1], "elts", []) if isinstance(e, ast.Constant)]
    return out


def prompts(assignment: str) -> dict[str, str]:
    return {b.grade_id(c).removesuffix("_prompt"): c.source for c in b.source_nb(assignment).cells
            if c.cell_type == "markdown" and (b.grade_id(c) or "").endswith("_prompt")}


@pytest.mark.parametrize("assignment", b.assignments())
def test_no_question_repeats_a_practice_item(assignment):
    items = practice_items()
    for question, options in mcq_options(assignment).items():
        mine = {_norm(o) for o in options}
        for stem, theirs in items:
            shared = mine & theirs
            assert len(shared) < 2, f"{assignment} {question}: options repeat a practice item ({stem[:60]}): {shared}"
    for question, text in prompts(assignment).items():
        stem = _norm(re.sub(r"\*\*Q\d+[^*]*\*\*", "", text))
        for theirs, _ in items:
            if len(theirs) > 40 and len(stem) > 40:
                ratio = difflib.SequenceMatcher(None, stem, theirs).ratio()
                assert ratio < 0.8, f"{assignment} {question}: the prompt reads like a practice item: {theirs[:80]}"


def worked_examples() -> list[set[float]]:
    """The numeric literals of every call into ``infraprep.estimates`` in the lectures (one set a call)."""
    found = []
    for path in b.lecture_notebooks():
        for cell in b.read(path).cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and "estimates" in ast.unparse(node.func):
                    numbers = {float(n.value) for n in ast.walk(node) if isinstance(n, ast.Constant)
                               and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)}
                    if len(numbers) >= 2:
                        found.append(numbers)
    return found


def drawn_numbers(assignment: str, student: str) -> dict[str, set[float]]:
    """Per question, the numbers its set-up cells draw for ``student`` (names ``qN_...``)."""
    from infraprep.assessment import variants

    namespace: dict = {"__name__": "__repeat_test__"}
    with variants.grading_identity(student):
        for cell in b.source_nb(assignment).cells:
            m = b.meta(cell)
            if cell.cell_type == "code" and m.get("locked") and not m.get("grade") and not m.get("solution"):
                exec(compile(cell.source, "<setup>", "exec"), namespace)
    out: dict[str, set[float]] = {}
    for name, value in namespace.items():
        match = re.match(r"(q\d+)_", name)
        if match and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out.setdefault(match.group(1), set()).add(float(value))
    return out


@pytest.mark.parametrize("assignment", b.assignments())
def test_no_quantitative_question_repeats_a_worked_example(assignment):
    examples = worked_examples()
    for student in STUDENTS:
        for question, numbers in drawn_numbers(assignment, student).items():
            if len(numbers - COMMON) < 2:
                continue
            same = next((ex for ex in examples if numbers <= ex), None)
            assert same is None, (f"{assignment} {question}: {student}'s inputs {sorted(numbers)} are a lecture's "
                                  f"worked example {sorted(same)}")
