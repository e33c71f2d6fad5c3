"""Flow 1, for every lecture notebook that exists: what a learner sees in JupyterLab.

Open the lesson from the landing notebook's link; the kernel starts on its own; Run All Cells; no error;
every chart is an image; every widget renders and answers when used; the practice quiz gives feedback.
"""

from __future__ import annotations

import re

import pytest

import builders as b
import jlab

LESSONS = jlab.lessons_with_lecture()
LANDING = "notebooks/00-start-here.ipynb"


def test_every_lecture_notebook_is_in_the_catalogue():
    # Lessons are found through lessons.csv, so a notebook missing from it would silently go untested.
    catalogue = {lesson.lesson_id for lesson in jlab.all_lessons()}
    notebooks = {path.stem for path in b.lecture_notebooks()} - {"00-start-here"}
    assert notebooks <= catalogue, f"lecture notebooks not in lessons.csv: {sorted(notebooks - catalogue)}"
    assert "01-roles" in {lesson.lesson_id for lesson in LESSONS}


def open_from_landing(page, lab, lesson: jlab.Lesson):
    """Open the landing notebook and click the lesson's link in its rendered markdown."""
    jlab.open_path(page, lab, LANDING)
    link = page.locator(".jp-RenderedMarkdown a", has_text=f"Lesson {lesson.number} · {lesson.title}")
    assert link.count() == 1, (f"the landing notebook has no link to lesson {lesson.number} "
                               f"({lesson.lesson_id}); regenerate it with `make landing`")
    link.click()
    return jlab.notebook_panel(page, f"notebooks/{lesson.lesson_id}.ipynb")


def screenshot_lesson(page, panel, lesson: jlab.Lesson, artifacts) -> None:
    """Screenshots after Run All: the viewport at the first chart, the first widget and the quiz, and the
    whole lesson as one tall image (artifacts/browser/lesson-NN*.png)."""
    stem = f"lesson-{lesson.lesson_id[:2]}"
    for name, target in (("", panel.locator('.jp-OutputArea-output[data-mime-type="image/png"] img').first),
                         ("-widgets", jlab.widget_outputs(panel).first),
                         ("-quiz", panel.locator(jlab.QUIZ_ROW).first)):
        jlab.bring_to_top(target)
        page.screenshot(path=str(artifacts / f"{stem}{name}.png"))
    scroller = panel.locator(".jp-WindowedPanel-outer")
    height = scroller.evaluate("e => e.scrollHeight")
    size = page.viewport_size
    try:
        page.set_viewport_size({"width": size["width"], "height": min(height + 200, 16_000)})
        scroller.evaluate("e => e.scrollTo(0, 0)")
        jlab.settle(panel.locator(".jp-Cell").last)
        page.screenshot(path=str(artifacts / f"{stem}-full.png"))
    finally:
        page.set_viewport_size(size)


SIX_DECIMALS = re.compile(r"^-?(\d+)\.(\d{6})$")
E_NOTATION = re.compile(r"^-?\d+(?:\.\d+)?e[+-]\d+$", re.I)


def machine_printed(text: str) -> bool:
    """pandas' default float format: six decimals padded with zeros or with more significant figures
    than a table shows (``120.000000``, ``3.141593``), or e-notation (``2.00e+03``). Six decimals can
    also be four significant figures of a small number (``0.004619``): that is how people write it."""
    if E_NOTATION.match(text):
        return True
    found = SIX_DECIMALS.match(text)
    if not found:
        return False
    significant = (found.group(1) + found.group(2)).lstrip("0")
    return found.group(2).endswith("0") or len(significant) > 4


def raw_numbers(panel) -> list[str]:
    """Table cells that show a number as a machine prints it (see :func:`machine_printed`)."""
    cells = panel.locator(".jp-OutputArea-output table td, .jp-OutputArea-output table th").all_text_contents()
    return [text.strip() for text in cells if machine_printed(text.strip())]


def too_wide(page, panel) -> list[str]:
    """Images in the outputs drawn wider than the output area that holds them, so the page shrinks them
    and their labels with them. An image's drawn width is its ``width`` attribute when the output sets
    one (a high-resolution figure shown at half its pixels), else its own width in pixels."""
    return panel.evaluate("""p => {
        const out = [];
        for (const img of p.querySelectorAll('.jp-OutputArea-output img')) {
            const area = img.closest('.jp-OutputArea-output').getBoundingClientRect().width;
            const drawn = Number(img.getAttribute('width')) || img.naturalWidth;
            if (drawn > area + 1) out.push(`${drawn} px in ${Math.round(area)} px`);
        }
        return out;
    }""")


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.lesson_id for lesson in LESSONS])
def test_lesson_runs_and_its_charts_and_widgets_work(page, lab, artifacts, lesson):
    nb = b.read(lesson.notebook)
    shown = jlab.shown_values(nb)  # {cell index: ("chart" | "widget", the call on its last line)}
    charts = sum(kind == "chart" for kind, _ in shown.values())
    widget_cells = sum(kind == "widget" for kind, _ in shown.values())
    assert charts >= 2 and widget_cells >= 1, f"{lesson.lesson_id}: the guide asks for ≥ 2 charts and ≥ 1 widget"

    panel = open_from_landing(page, lab, lesson)
    jlab.run_all(page, panel)

    assert jlab.error_outputs(panel) == [], f"{lesson.lesson_id}: cells show errors after Run All"
    assert jlab.unexecuted_cells(panel) == 0, f"{lesson.lesson_id}: Run All did not reach every cell"
    # Each chart cell shows its own image and each widget cell its own widget: checked cell by cell, so
    # the page must hold every cell (it does unless the notebook's windowing mode is changed to "full").
    attached = jlab.attached_cells(panel)
    assert attached == len(nb.cells), f"{lesson.lesson_id}: the page holds {attached} of {len(nb.cells)} cells"
    missing = jlab.cells_not_showing(page, panel, shown)
    assert not missing, f"{lesson.lesson_id}: of {charts} chart and {widget_cells} widget cells, {missing}"
    assert jlab.broken_widgets(panel) == [], f"{lesson.lesson_id}: widgets not rendered"
    outputs = jlab.widget_outputs(panel)
    assert page.get_by_text("Jupyter news").count() == 0, "JupyterLab's news prompt is showing"

    # Pages a learner enjoys reading: tables show numbers as people write them, figures fit the page.
    raw = raw_numbers(panel)
    assert not raw, f"{lesson.lesson_id}: tables show numbers as machines print them: {raw[:5]}"
    wide = too_wide(page, panel)
    assert not wide, f"{lesson.lesson_id}: figures wider than the notebook at 1,400 px: {wide[:5]}"

    # The practice quiz: pick an answer, press Check, read the verdict; the score line counts the attempt.
    quiz = panel.locator(".jp-OutputArea-output", has=page.locator(jlab.QUIZ_ROW)).last
    assert quiz.count() == 1, f"{lesson.lesson_id}: no practice quiz (radio buttons and a Check button)"
    row = quiz.locator(jlab.QUIZ_ROW).first
    feedback = row.locator(".widget-html-content").last
    assert feedback.text_content().strip() == ""
    row.locator(".widget-radio-box label").first.click()
    row.locator("button.widget-button", has_text="Check").click()
    page.wait_for_function("e => /Correct|Not quite/.test(e.textContent)", arg=feedback.element_handle())
    assert re.search(r"attempted 1\b", quiz.text_content()), "the quiz's score line did not count the attempt"

    # Every other widget with a control answers when used: its shown result changes.
    driven = []
    for index in range(outputs.count()):
        output = outputs.nth(index)
        if output.locator(jlab.QUIZ_ROW).count():
            continue
        before = jlab.widget_result(output)
        action = jlab.drive_widget(page, output)
        if not action:
            continue
        try:
            jlab.wait_for_change(page, output, before)
        except Exception as error:  # noqa: BLE001 - reworded for the learner-facing failure
            raise AssertionError(f"{lesson.lesson_id}: widget #{index + 1} did not change after I {action}") from error
        driven.append(action)
    assert driven, f"{lesson.lesson_id}: no widget besides the quiz has a control to try"
    assert jlab.error_outputs(panel) == [], f"{lesson.lesson_id}: using the widgets produced errors"

    screenshot_lesson(page, panel, lesson, artifacts)
