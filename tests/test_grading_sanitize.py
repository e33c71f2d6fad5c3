"""What a student writes in markdown is judged as nbconvert renders it, and a graded notebook always
renders: no link or image leads to script however its URL is spelled, an attachment that is not
there (or was dropped) leaves no reference, and execution counts are what nbformat allows.

Fast: no course, no kernel; the notebook is sanitized and rendered by nbconvert's HTML exporter (the
classic template, which nbgrader's formgrade page extends) as the formgrader and feedback render it.
"""

from __future__ import annotations

import copy

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbconvert.exporters.exporter import ResourcesDict
from nbformat import v4

from infraprep.grading import flags
from infraprep.grading.sanitize import (
    SanitizeFeedback, SanitizeStudentContent, markdown_problems, safe_markdown, url_allowed,
)
from integrity.redteam import script_in

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
SVG = "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSI0IiBoZWlnaHQ9IjQiLz4="

# Each hides a script URL from a reading of the markdown text; the renderer decodes it.
HOSTILE = [
    "[a](javascript\\:alert(1))",                                   # a backslash escape
    "[a](javascript&#58;alert(1)) [b](&#x6a;avascript:alert(1))",    # character references
    "[a](&#106;&#97;vascript:alert(1)) [b](javascript&colon;alert(1))",
    "[a](java&Tab;script:alert(1)) [b](&#x6A&#x61vascript:alert(1))",
    "[a][r]\n\n[r]: javascript\\:alert(1)",                          # a reference definition
    "![i](javascript\\:alert(1)) ![j](data\\:text/html;base64,PHNjcmlwdD4=)",
    "[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![i](data:image/svg+xml;base64," + SVG + ")",
    "<javascript:alert(1)> <a href='javascript:alert(1)'>x</a> <img src=x onerror=alert(1)>",
    "[a](<javascript:alert(1)>) [b](VBScript:msgbox(1)) [c]( JaVaScRiPt:alert(1) )",
    "\\[[a](javascript:alert(1))\\] [b](javascript\\\\:alert(1))",
    "> - [a](javascript&amp;#58;alert(1))\n>   ![b](javascript&#x5c;:x)",
]

HONEST = ("# My answer\n\nA checkpoint saves *everything* since the last one: see "
          "[the notes](https://example.org/notes?a=1&b=2#part), [a page](lesson.html), [a section](#top) "
          "or <https://example.org> and mail <mailto:me@example.org>.\n\n"
          "![a sketch](attachment:sketch.png) ![inline](data:image/png;base64," + PNG + ")\n\n"
          "| GPUs | hours |\n|:--|--:|\n| 8 | 24 |\n\n- [x] done\n- [ ] not yet\n\n"
          "```python\nprint('x < y')\n```\n\n$E = mc^2$ and javascript: is a language, ~~not~~ really.")


def notebook(*cells):
    nb = v4.new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def sanitized(nb, cls=SanitizeStudentContent):
    return cls().preprocess(copy.deepcopy(nb), ResourcesDict())[0]


_EXPORTER: list[HTMLExporter] = []


def rendered(nb) -> str:
    if not _EXPORTER:
        _EXPORTER.append(HTMLExporter(template_name="classic"))
    return _EXPORTER[0].from_notebook_node(nb)[0]


def template_scripts() -> set[str]:
    from integrity.redteam import _template_scripts

    return _template_scripts()


@pytest.mark.parametrize("text", HOSTILE)
def test_no_markdown_link_or_image_leads_to_script_however_it_is_spelled(text):
    nb = notebook(v4.new_markdown_cell(text))
    nb.cells[0].metadata["nbgrader"] = {"grade_id": "q7", "solution": True, "grade": True, "points": 1}
    escaped = copy.deepcopy(nb)
    escaped.cells[0].source = safe_markdown(text)  # what the renderer decodes a second time
    assert script_in(rendered(nb), template_scripts()) or script_in(rendered(escaped), template_scripts()), \
        "the case must be hostile without the check"
    clean = sanitized(nb)
    assert not script_in(rendered(clean), template_scripts())
    assert not script_in(rendered(sanitized(clean, SanitizeFeedback)), template_scripts())
    if script_in(rendered(escaped), template_scripts()):  # raw HTML alone is escaped, and so harmless
        assert [f["cell"] for f in flags.of_notebook(clean) if f["kind"] == flags.MARKUP_NOT_SHOWN] == ["q7"]


def test_honest_markdown_reads_and_renders_as_written():
    nb = notebook(v4.new_markdown_cell(HONEST, attachments={"sketch.png": {"image/png": PNG}}))
    clean = sanitized(nb)
    assert clean.cells[0].source == safe_markdown(HONEST)
    assert not flags.of_notebook(clean)
    page = rendered(clean)
    assert 'href="https://example.org/notes?a=1&amp;b=2#part"' in page and 'href="lesson.html"' in page
    assert f'src="data:image/png;base64,{PNG}"' in page and "<table>" in page and "javascript: is a language" in page
    assert sanitized(clean, SanitizeFeedback).cells[0].source == clean.cells[0].source


def test_url_allow_list():
    for url in ("https://a.org/x", "http://a.org", "mailto:me@a.org", "notes.html", "../x/y.png", "#part", "//a.org",
                "a/b:c", "?q=a:b"):
        assert url_allowed(url), url
    for url in ("javascript:x", " java\tscript:x", "JAVASCRIPT:x", "vbscript:x", "data:text/html,x", "file:///etc/passwd",
                "data:image/svg+xml;base64," + SVG, "javascript\\:x", "x:y"):
        assert not url_allowed(url), url
    assert url_allowed("data:image/png;base64," + PNG, image=True)
    assert not url_allowed("data:image/png;base64," + PNG) and not url_allowed("mailto:me@a.org", image=True)


@pytest.mark.parametrize("attachments", [{}, {"diagram.svg": {"image/svg+xml": SVG}},
                                         {"diagram.svg": {"image/png": "not base64 \" onerror=x"}}])
def test_an_image_of_an_attachment_that_is_not_there_or_was_dropped_leaves_no_reference(attachments):
    nb = notebook(v4.new_markdown_cell("My answer.\n\n![diagram](attachment:diagram.svg)", attachments=attachments))
    clean = sanitized(nb)
    assert "attachments" not in clean.cells[0]
    assert markdown_problems(clean.cells[0].source) == []
    assert "My answer." in rendered(clean) and "diagram" in rendered(clean)
    assert flags.of_notebook(clean)[0]["kind"] == flags.MARKUP_NOT_SHOWN


def test_the_instructors_locked_cell_stays_as_written_unless_it_cannot_be_rendered():
    locked = {"grade_id": "intro", "locked": True, "solution": False, "grade": False}
    own = v4.new_markdown_cell('Read <b class="x">this</b> first.')
    own.metadata["nbgrader"] = locked
    pictured = v4.new_markdown_cell("![the cluster](attachment:cluster.png)")  # its attachment was removed
    pictured.metadata["nbgrader"] = dict(locked, grade_id="picture")
    clean = sanitized(notebook(own, pictured))
    assert clean.cells[0].source == own.source
    page = rendered(clean)
    assert '<b class="x">this</b>' in page and 'src="attachment:' not in page and "the cluster" in page


@pytest.mark.parametrize("count", ['<img src=x onerror="alert(23)">', -7, 1.5, True, "3", [1], {"a": 1}])
def test_every_execution_count_is_what_nbformat_allows_whatever_the_messages_said(count):
    cell = v4.new_code_cell("q1 = 1", outputs=[v4.new_output("execute_result", {"text/plain": "1"}, execution_count=1),
                                               v4.new_output("stream", text="ok\n")])
    nb = notebook(v4.new_code_cell("x = 1", execution_count=4), cell)
    cell["execution_count"] = count
    cell.outputs[0]["execution_count"] = count
    cell.outputs[1]["execution_count"] = count
    clean = sanitized(nb)
    nbformat.validate(clean)
    assert clean.cells[0].execution_count == 4
    assert clean.cells[1].execution_count is None and clean.cells[1].outputs[0].execution_count is None
    assert "alert(23)" not in rendered(clean) and not script_in(rendered(clean), template_scripts())


def test_a_notebook_with_what_the_schema_refuses_validates_once_sanitized():
    nb = notebook(v4.new_markdown_cell("text"), v4.new_code_cell("x"), v4.new_raw_cell("<b>raw</b>"))
    nb.cells[0]["outputs"] = []
    nb.cells[0]["execution_count"] = 1
    nb.cells[1]["attachments"] = {"a.png": {"image/png": PNG}}
    nb.cells[1]["source"] = ["x", " = 1"]
    nb.cells[2]["id"] = nb.cells[1]["id"]
    nb.cells.append(nbformat.from_dict({"cell_type": "widget", "source": "<script>x</script>", "metadata": {}}))
    nb.metadata["kernelspec"] = {"name": 3}
    clean = sanitized(nb)
    nbformat.validate(clean)
    assert clean.cells[1].source == "x = 1" and clean.cells[3].cell_type == "raw"
    assert len({c.id for c in clean.cells}) == 4
    assert not script_in(rendered(clean), template_scripts())


def test_feedback_corrects_a_notebook_marked_sanitized_by_an_earlier_grader():
    nb = notebook(v4.new_markdown_cell(safe_markdown("[a](javascript\\:alert(1)) ![b](attachment:gone.png)")),
                  v4.new_code_cell("x", execution_count=2))
    nb.cells[1]["execution_count"] = -2
    nb.metadata["infraprep"] = {"sanitized": True}
    clean = sanitized(nb, SanitizeFeedback)
    nbformat.validate(clean)
    assert not script_in(rendered(clean), template_scripts())
