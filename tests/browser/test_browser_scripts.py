"""Nothing a student wrote runs as script where an instructor or a student looks.

A submission plants script every way a notebook can carry it - raw HTML and event handlers in its
markdown, ``javascript:`` links, displayed HTML, JavaScript and SVG outputs, a raw cell, cell tags and
a notebook title - and is graded by both graders. Then the pages people open are opened in Chromium:
the formgrader's page for the submission (served with the instructor's session), its feedback page
and the cohort report. Each payload, if it ran, would set ``window.__pwned`` or open a dialog; none may,
and no element may keep an event handler or a ``javascript:`` URL.
"""

from __future__ import annotations

import html.parser
import json
import re

import nbformat
import pytest

import builders as b

LESSON = "01-roles"
MARK_NAME = "__pwned"
MARK = f"window.{MARK_NAME} = (window.{MARK_NAME} || 0) + 1"
MARKDOWN = f"""My answer.

<img src="x" onerror="{MARK}"> <script>{MARK}</script> <svg onload="{MARK}"></svg>
<iframe src="javascript:parent.__pwned=1"></iframe> <a href="javascript:{MARK}">click</a>
[a link](javascript:{MARK}) [another](  JaVa	Script:{MARK}) ![img](x" onerror="{MARK})
<details open ontoggle="{MARK}">x</details> &lt;img src=x onerror={MARK}&gt; $\\href{{javascript:{MARK}}}{{x}}$
"""
OUTPUTS = f"""
from IPython.display import HTML, Javascript, Markdown, SVG, display
display(HTML('<img src="x" onerror="{MARK}"><script>{MARK}</script>'))
display(Javascript('{MARK}'))
display(Markdown('<img src="x" onerror="{MARK}">'))
display({{"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" onload="{MARK}"/>',
          "text/html": '<b onmouseover="{MARK}">hover</b>'}}, raw=True)
display({{"image/png": 'AAAA" onerror="{MARK}'}}, raw=True)
q1 = "A"
"""


def payload_notebook():
    nb = b.submission(LESSON, "all", replace={"q1": OUTPUTS})
    for cell in nb.cells:
        if b.grade_id(cell) in b.written_ids(nb):
            cell.source = MARKDOWN
    nb.cells.append(nbformat.v4.new_markdown_cell(MARKDOWN))
    raw = nbformat.v4.new_raw_cell(f'<script>{MARK}</script><img src=x onerror="{MARK}">')
    raw.metadata["format"] = "text/html"
    nb.cells.append(raw)
    nb.cells[-1].metadata["tags"] = [f'"><script>{MARK}</script>']
    nb.metadata["title"] = f"</title><script>{MARK}</script>"
    return nb


# What a graded notebook may hand to a renderer: outputs shown as text or as a picture.
INERT_OUTPUTS = {"text/plain", "image/png", "image/jpeg", "image/gif"}
SCRIPTED_TAGS = {"script", "iframe", "frame", "object", "embed", "svg", "math", "style", "link", "meta", "base",
                 "form", "template"}


class _Scripted(html.parser.HTMLParser):
    """Elements of rendered HTML that can run script: scripted tags, event handlers, script URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in SCRIPTED_TAGS:
            self.found.append(f"a <{tag}> element")
        for name, value in attrs:
            url = re.sub(r"[\x00-\x20\x7f]+", "", value or "").lower()
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            elif name in ("href", "src", "action", "formaction", "xlink:href", "srcdoc", "data") and (
                    url.startswith(("javascript:", "vbscript:")) or
                    (url.startswith("data:") and not re.match(r"data:image/(png|jpe?g|gif);base64,", url))):
                self.found.append(f"<{tag} {name}={url[:30]}>")

    handle_startendtag = handle_starttag


def live_markup(nb) -> list[str]:
    """What in a graded notebook could run as script once shown, by the formgrader, nbconvert or
    JupyterLab: an output other than text or a PNG/JPEG/GIF image (or with display metadata), HTML
    that the cells render to (nbconvert's cell template, markdown rendered as the formgrader does)
    with a scripted element or attribute, or the payload kept in any metadata (tags, title).
    The student's code is text here, as everywhere it is shown: highlighted and escaped."""
    from nbconvert import HTMLExporter

    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            kinds = set(output.get("data", {})) - INERT_OUTPUTS
            if kinds or output.get("metadata"):
                found.append(f"cell {index}: an output with {sorted(kinds) or 'display metadata'}")
        if MARK_NAME in json.dumps(cell.get("metadata", {})):
            found.append(f"cell {index}: the payload in its metadata")
    if MARK_NAME in json.dumps(nb.metadata):
        found.append("the payload in the notebook's metadata")
    body, _ = HTMLExporter(template_name="basic").from_notebook_node(nb)
    parser = _Scripted()
    parser.feed(body)
    parser.close()
    return found + parser.found


def _ran(page) -> list[str]:
    return page.evaluate("""() => {
        const found = [];
        if (window.__pwned) found.push('a payload ran ' + window.__pwned + ' time(s)');
        for (const el of document.querySelectorAll('*')) {
            for (const attr of el.attributes) {
                const name = attr.name.toLowerCase(), value = (attr.value || '').replace(/\\s/g, '').toLowerCase();
                if (name.startsWith('on') && value.includes('__pwned')) found.push(el.tagName + ' keeps ' + name);
                if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(name) && value.startsWith('javascript:'))
                    found.push(el.tagName + ' keeps a javascript: ' + name);
            }
            if (el.tagName === 'SCRIPT' && (el.textContent || '').includes('__pwned')) found.push('a script element with the payload');
        }
        return found;
    }""")


def _open(page, url: str, dialogs: list) -> list[str]:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)  # let onload/onerror handlers and MathJax run, if they would
    return _ran(page) + [f"a dialog opened: {d}" for d in dialogs]


@pytest.mark.parametrize("grader", ["infraprep", "nbgrader"])
def test_no_student_script_runs_in_the_formgrader_feedback_or_report(page, lab, artifacts, grader):
    course = lab.course
    student = f"mallory-{grader}"
    lab.nbgrader("generate_assignment", LESSON, "--force")
    b.submit(course, student, LESSON, payload_notebook())
    if grader == "infraprep":
        b.infraprep(course, "autograde", LESSON, "--student", student, "--no-progress")
    else:
        lab.nbgrader("autograde", LESSON, "--student", student)
    b.infraprep(course, "feedback", LESSON, "--no-release")
    b.infraprep(course, "report", "-o", str(course / "report"))

    from nbgrader.api import Gradebook

    with Gradebook(lab.env["INFRAPREP_DB"]) as gb:
        submission = gb.find_submission_notebook(LESSON, LESSON, student).id
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pages = {
        "formgrader submission": lab.page_url(f"formgrader/submissions/{submission}/?index=0"),
        "formgrader students": lab.page_url("formgrader/manage_students"),
        "feedback": (course / "feedback" / student / LESSON / f"{LESSON}.html").as_uri(),
        "report": (course / "report" / "report.html").as_uri(),
    }
    found = {}
    for name, url in pages.items():
        found[name] = _open(page, url, dialogs)
        page.screenshot(path=str(artifacts / f"scripts-{grader}-{name.replace(' ', '-')}.png"), full_page=True)
    assert not any(found.values()), f"student script survived: { {k: v for k, v in found.items() if v} }"
    # and the graded notebook on disk carries none of it either, wherever another tool would show it
    graded = nbformat.read(str(course / "autograded" / student / LESSON / f"{LESSON}.ipynb"), as_version=4)
    assert live_markup(graded) == []
