"""Stored notebooks are clean, and every graded assignment follows the course's rules (docs/lesson-guide.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import builders as b
from infraprep.grading.cells import split_hidden

ALL_NOTEBOOKS = sorted(
    list(b.NOTEBOOKS.glob("*.ipynb")) + list(b.SOURCE.glob("*/*.ipynb")) + list(b.RELEASE.glob("*/*.ipynb"))
)
VISIBLE_CHECKS = re.compile(r"\bck\.(is_choice|is_choices|is_number|is_text|is_list|is_callable|call)\(")
HIDDEN_CHECKS = re.compile(r"\bck\.(choice|choices|number|text|same_items|equal|function_cases|frame)\(")


def _id(path: Path) -> str:
    return str(path.relative_to(b.ROOT))


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_id)
def test_stored_without_outputs_and_with_python3_kernel(path):
    nb = b.read(path)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} has stored outputs"
            assert cell.execution_count is None, f"cell {index} has an execution count"


@pytest.mark.parametrize("assignment", b.assignments())
def test_assignment_meets_the_course_minimums(assignment):
    nb = b.source_nb(assignment)
    tests = b.test_cells(nb)
    written = b.written_ids(nb)
    assert len(tests) >= 12, "at least 12 autograded questions"
    assert written, "at least one manually graded written answer"
    assert all(points > 0 for points in tests.values()), "points on every graded cell"
    sources = {b.grade_id(c): c.source for c in nb.cells if b.grade_id(c)}
    numeric = sum("ck.number(" in split_hidden(sources[t])[1] for t in tests)
    assert numeric >= 4, "at least 4 quantitative questions checked with a tolerance"
    prompts = [c.source for c in nb.cells if b.meta(c).get("locked") and c.cell_type == "markdown"]
    coding = sum(bool(re.search(r"^\*\*Q\d+ \([^)]*coding[^)]*\)", p, re.M)) for p in prompts)
    assert coding >= 2, "at least 2 coding tasks (prompt header like '**Q13 (4 points, coding).**')"
    for written_id in written:
        solution = sources[written_id]
        assert "BEGIN SOLUTION" in solution and re.search(r"rubric", solution, re.I), f"{written_id} needs a rubric"


@pytest.mark.parametrize("assignment", b.assignments())
def test_every_answer_has_its_test_cell_and_tests_check_form_visibly(assignment):
    nb = b.source_nb(assignment)
    ids = [b.grade_id(c) for c in nb.cells]
    tests = b.test_cells(nb)
    for answer in b.answer_ids(nb):
        assert f"{answer}_tests" in tests, f"answer {answer} has no test cell {answer}_tests"
        assert ids.index(f"{answer}_tests") > ids.index(answer)
    for cell in nb.cells:
        if b.grade_id(cell) in tests:
            visible, hidden = split_hidden(cell.source)
            assert hidden.strip(), f"{b.grade_id(cell)}: correctness must be checked in hidden tests"
            assert not HIDDEN_CHECKS.search(visible), f"{b.grade_id(cell)}: a correctness check is visible"
            assert not re.search(r"^\s*assert\b", visible, re.M), f"{b.grade_id(cell)}: no bare asserts"
            assert VISIBLE_CHECKS.search(visible), f"{b.grade_id(cell)}: a visible form check is missing"


def test_landing_notebook_links_every_lesson_that_exists():
    from infraprep import tables

    landing = b.read(b.NOTEBOOKS / "00-start-here.ipynb")
    text = "\n".join(c.source for c in landing.cells if c.cell_type == "markdown")
    for lesson in tables.lessons().itertuples(index=False):
        exists = (b.NOTEBOOKS / f"{lesson.lesson_id}.ipynb").exists()
        line = next((l for l in text.splitlines() if f"Lesson {lesson.number} " in l), None)
        assert line is not None, f"lesson {lesson.number} missing from the landing notebook"
        if exists:
            assert f"]({lesson.lesson_id}.ipynb)" in line, f"lesson {lesson.number} exists but is not linked"
        else:
            assert "coming" in line.lower(), f"lesson {lesson.number} does not exist yet: mark it 'coming'"


LECTURES = [p for p in b.lecture_notebooks() if p.stem != "00-start-here"]


@pytest.mark.parametrize("path", LECTURES, ids=_id)
def test_lecture_has_takeaways_references_charts_and_widgets(path):
    nb = b.read(path)
    lesson = path.stem
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert re.search(r"^#+ .*Key takeaways", markdown, re.M | re.I), "a 'Key takeaways' section"
    assert re.search(r"^#+ .*References", markdown, re.M), "a 'References' section"
    assert re.search(rf"references\((LESSON|['\"]{lesson}['\"])\)", code), "references rendered from the lesson's CSV"
    assert len(re.findall(r"\w*charts?\.\w+\(|\b\w+_chart\(|\bplot_\w+\(", code)) >= 2, "at least two charts"
    assert "PracticeQuiz" in code, "a practice self-check quiz"
    assert re.search(r"\bwidgets\b|Explorer|Calculator|Planner|Matcher|Tracker|Sizer", code), "an ipywidgets piece"


@pytest.mark.parametrize("assignment", b.assignments())
def test_every_assignment_ends_with_the_self_check(assignment):
    from infraprep.assessment.selfcheck import CELL

    for nb in (b.source_nb(assignment), b.release_nb(assignment)):
        last = nb.cells[-1]
        assert last.cell_type == "code" and last.source == CELL.format(lesson=assignment)
        assert not b.meta(last), "the self-check cell is the learner's, not a graded or locked one"


@pytest.mark.parametrize("assignment", b.assignments())
def test_multiple_choice_options_give_nothing_away(assignment):
    """Options are listed alphabetically in the source, and no set-up cell names the right one."""
    import ast

    for cell in b.source_nb(assignment).cells:
        m = b.meta(cell)
        if not (m.get("locked") and not m.get("grade") and not m.get("solution") and cell.cell_type == "code"):
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "mcq" and len(node.args) >= 2:
                options = [e.value for e in getattr(node.args[1], "elts", []) if isinstance(e, ast.Constant)]
                if options:
                    assert options == sorted(options, key=str.casefold), (
                        f"{assignment} {b.grade_id(cell)}: list the options alphabetically")
        assert "letter_of(" not in cell.source, f"{assignment} {b.grade_id(cell)}: a set-up cell names an answer"
