"""Flows 2 and 3, for every released assignment: a learner answers, validates, fetches and submits;
the instructor collects and autogrades, and the score is what the answers deserve.
"""

from __future__ import annotations

import re

import pytest

import builders as b
import jlab

ASSIGNMENTS = jlab.lessons_with_release()
IDS = [lesson.lesson_id for lesson in ASSIGNMENTS]


def answer_two_questions(page, panel, assignment: str):
    """Type a correct answer into the first question and a wrong-form one into another; Run All.

    Run All stops at the first failing cell, which must be the wrong-form answer's visible test
    (questions in between, if any, get their correct answers too)."""
    right, wrong = jlab.correct_answer(assignment), jlab.wrong_form_answer(assignment)
    for answer in [right, *jlab.answers_between(assignment, right, wrong)]:
        jlab.type_into_cell(page, panel, answer.cell, answer.code)
    jlab.type_into_cell(page, panel, wrong.cell, wrong.code)
    jlab.run_all(page, panel)
    assert not jlab.cell_has_error(panel, right.cell) and not jlab.cell_has_error(panel, right.test_cell), (
        f"{assignment}: the correct answer to {right.question} fails: {jlab.cell_output(panel, right.test_cell)!r}")
    assert jlab.cell_has_error(panel, wrong.test_cell), f"{assignment}: the visible test accepted {wrong.code!r}"
    message = jlab.cell_output(panel, wrong.test_cell)
    assert wrong.question in message and "WrongForm" in message, message[-500:]
    return right, wrong


@pytest.mark.parametrize("lesson", ASSIGNMENTS, ids=IDS)
def test_validate_names_the_failing_test(page, lab, artifacts, lesson):
    assignment = lesson.lesson_id
    path = f"release/{assignment}/{assignment}.ipynb"
    panel = jlab.open_path(page, lab, path)
    right, wrong = answer_two_questions(page, panel, assignment)
    jlab.save(page, panel)

    panel.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate", exact=True).click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    page.wait_for_function("e => !/Validating/.test(e.innerText)", arg=dialog.element_handle(), timeout=120_000)
    text = dialog.inner_text()
    page.screenshot(path=str(artifacts / f"validate-{assignment[:2]}.png"))
    assert "Validation Results" in text and "The following cell failed" in text, text[:1000]
    assert f"WrongForm: {wrong.question}:" in text, f"the dialog does not name the failing {wrong.question}: {text[:1000]}"
    assert f'("{right.question}"' not in text and f"{right.question}:" not in text, (
        f"the dialog reports the correctly answered {right.question} as failing")
    dialog.get_by_role("button", name=re.compile("^ok$", re.I)).click()
    dialog.wait_for(state="detached")


def released(lab, assignment: str) -> None:
    """The instructor generates the student version (into the gradebook) and publishes it to the exchange."""
    lab.nbgrader("generate_assignment", assignment, "--force")
    lab.nbgrader("release_assignment", assignment, "--force")


def assignment_list(page):
    """Nbgrader → Assignment List: the learner's Assignments tab."""
    jlab.menu(page, "Nbgrader", "Assignment List")
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Assignments")
    tab.click()  # make it the current tab, whatever JupyterLab restored meanwhile
    return page.locator(f'[id="{tab.get_attribute("data-id")}"]')


@pytest.mark.parametrize("lesson", ASSIGNMENTS, ids=IDS)
def test_fetch_submit_collect_autograde(page, lab, artifacts, lesson):
    assignment = lesson.lesson_id
    released(lab, assignment)
    page.goto(lab.home())
    page.locator(".jp-Launcher").wait_for(timeout=90_000)  # JupyterLab has started and restored its layout

    # The learner fetches the assignment from the Assignments tab and opens its notebook from there.
    listing = assignment_list(page)
    released_row = listing.locator("#released_assignments_list .list_item:not(.nested_list_item)", has_text=assignment)
    released_row.get_by_role("button", name="Fetch").click()
    fetched_row = listing.locator("#fetched_assignments_list .list_item:not(.nested_list_item)", has_text=assignment)
    fetched_row.wait_for()
    fetched = [p for p in lab.course.glob(f"*/{assignment}/{assignment}.ipynb")
               if p.parts[-3] not in ("source", "release")]
    assert len(fetched) == 1, f"fetch did not put {assignment}.ipynb in the course folder: {fetched}"
    path = fetched[0].relative_to(lab.course).as_posix()
    fetched_row.locator("a.assignment-notebooks-link").click()
    listing.locator("#fetched_assignments_list .nested_list_item a", has_text=re.compile(f"^{assignment}$")).click()
    panel = jlab.notebook_panel(page, path)

    # One correct answer, saved; then Submit from the Assignments tab.
    right = jlab.correct_answer(assignment)
    jlab.type_into_cell(page, panel, right.cell, right.code)
    jlab.save(page, panel)
    listing = assignment_list(page)
    listing.locator("#fetched_assignments_list .list_item:not(.nested_list_item)", has_text=assignment).get_by_role("button", name="Submit").click()
    submitted = listing.locator("#submitted_assignments_list .list_item:not(.nested_list_item)", has_text=assignment)
    submitted.wait_for(timeout=60_000)
    page.screenshot(path=str(artifacts / f"assignments-{assignment[:2]}.png"))

    # The instructor collects and autogrades; the gradebook holds exactly the points of that one answer.
    lab.nbgrader("collect", assignment)
    graded = lab.nbgrader("autograde", assignment)
    scores = b.scores(lab.course, assignment)
    assert len(scores) == 1, scores
    (student, cells), = scores.items()
    test_id = b.grade_id(b.release_nb(assignment).cells[right.test_cell])
    assert cells[test_id] == right.points > 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    assert sum(cells.values()) == right.points, f"{student}: unexpected points {cells}"

    # ... and the instructor sees the same score in the formgrader, in the browser.
    tests = b.test_cells(b.source_nb(assignment))
    page.goto(lab.page_url(f"formgrader/gradebook/{assignment}/{assignment}"))
    row = page.locator("tr", has_text="Submission #1")
    row.wait_for()
    page.screenshot(path=str(artifacts / f"formgrader-{assignment[:2]}.png"))
    shown = [(float(got), float(out_of)) for got, out_of in re.findall(r"(\d+(?:\.\d+)?) / (\d+(?:\.\d+)?)", row.inner_text())]
    assert len(shown) >= 2, row.inner_text()
    (overall, _), code = shown[0], shown[1]
    assert overall == right.points and code == (right.points, sum(tests.values())), row.inner_text()


def test_self_check_shows_a_row_a_question(page, lab, artifacts):
    """The last cell of an assignment grades the saved notebook: one answer right and one wrong are two rows."""
    assignment = "01-roles"
    path = f"release/{assignment}/{assignment}.ipynb"
    panel = jlab.open_path(page, lab, path)
    right, wrong = answer_two_questions(page, panel, assignment)
    jlab.save(page, panel)
    last = panel.locator(".jp-Notebook .jp-Cell").count() - 1
    assert "selfcheck.run" in (jlab.cell(panel, last).locator(".cm-content").text_content() or "")
    jlab.run_cell(page, panel, last)
    output = jlab.cell(panel, last).locator(".jp-OutputArea")
    page.wait_for_function("e => /total/.test(e.textContent)", arg=output.element_handle(), timeout=300_000)
    jlab.cell(panel, last).scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "self-check-01.png"))
    rows = {line.split()[0]: line for line in output.text_content().splitlines() if line[:1] == "Q"}
    assert "correct" in rows[right.question], rows.get(right.question)
    assert rows[wrong.question].split()[1] == "0" and wrong.question in rows[wrong.question], rows.get(wrong.question)
