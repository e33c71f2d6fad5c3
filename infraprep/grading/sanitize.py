"""Make a graded notebook safe to look at: nothing a student wrote runs as script anywhere.

The autograded notebook is what nbgrader's formgrader shows the instructor (with the instructor's
session), what feedback is rendered from, and what the course's report reads. A student controls
most of it: their markdown (raw HTML passes through nbconvert's renderer), every output of their
kernel (``text/html``, ``application/javascript``, SVG), raw cells, cell ids, attachments and metadata
(cell tags and the notebook's title become HTML attributes and text). :class:`SanitizeStudentContent`
runs right after the kernel, for ``nbgrader autograde`` and ``infraprep autograde`` alike, and again
before feedback is rendered:

- markdown the student could edit: ``&`` and ``<`` are escaped (so no tag and no entity trick
  survives; the text reads the same); then the cell is rendered by the renderer nbconvert uses (the
  formgrader's page and feedback), with its attachments, and what comes out must pass an allow-list
  (:func:`markdown_problems`: the tags and attributes markdown makes, URLs that are relative, a
  ``#fragment``, ``http``, ``https`` or ``mailto``, and ``data:`` only for a PNG, JPEG or GIF image).
  URLs are judged as decoded by the renderer and the browser, never in the markdown text, where
  backslash escapes and character references hide them. A cell that fails is shown with its link and
  image syntax escaped (the text reads the same, nothing is a link), else as a code block, and is
  flagged. Attachments keep only PNG, JPEG and GIF images with valid base64, so a reference to an
  attachment that is not there (or was an SVG) fails the check too and is escaped with the rest;
- outputs keep plain text, errors and PNG/JPEG/GIF images (base64 checked); HTML, JavaScript, SVG,
  Markdown, LaTeX and widget views become a one-line note;
- raw cells become escaped text; cell metadata keeps only nbgrader's; invalid cell ids are replaced;
  every cell keeps only the keys nbformat's schema allows it, and every execution count (a cell's or an
  output's, whatever the kernel's messages said) is a non-negative integer or None, so the graded
  notebook always validates and renders;
- the notebook's metadata keeps only what grading uses (kernelspec, language, nbgrader, infraprep).

The instructor's own locked cells (restored from the gradebook before the kernel runs) are left as written.
"""

from __future__ import annotations

import html
import html.parser
import re
import uuid

from nbgrader.preprocessors import NbGraderPreprocessor

from . import flags

_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_CELL_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
IMAGES = ("image/png", "image/jpeg", "image/gif")
KEPT_OUTPUT = ("text/plain",) + IMAGES
KEPT_NOTEBOOK = ("kernelspec", "language_info", "nbgrader", "infraprep")


def safe_markdown(text: str) -> str:
    """Student markdown with no raw HTML and no entity of its own: ``&`` and ``<`` escaped (what its
    links point to is judged on the rendered cell, see :func:`shown_safely`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


# What nbconvert's markdown renderer makes of markdown (raw HTML aside): tag -> attributes it may carry.
_ANY_ATTRS = {"class", "id", "title"}
MARKDOWN_TAGS = {
    **{tag: set() for tag in ("p", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "hr", "br",
                              "table", "thead", "tbody", "tr", "dl", "dt", "dd", "span", "div", "sup", "sub")},
    **{f"h{level}": set() for level in range(1, 7)},
    "a": {"href"}, "img": {"src", "alt"}, "li": set(), "th": {"style"}, "td": {"style"},
    "ol": {"start"}, "input": {"type", "disabled", "checked"},
}
_STYLE = re.compile(r"text-align:\s*(left|center|right)\s*;?", re.IGNORECASE)
_URL_SCHEME = re.compile(r"([^/?#]*?):")
_IMAGE_DATA = re.compile(r"data:image/(png|jpeg|jpg|gif);base64,[A-Za-z0-9+/=]*", re.IGNORECASE)


def url_allowed(value: str, image: bool = False) -> bool:
    """Whether a (decoded) ``href``/``src`` leads nowhere script runs: relative, a ``#fragment``,
    ``http``, ``https``, ``mailto`` (links), ``data:`` for a PNG, JPEG or GIF image (images). Judged
    as a browser reads it: control characters and blanks anywhere are dropped first, and anything
    before a ``:`` that comes before the first ``/``, ``?`` or ``#`` counts as a scheme."""
    url = re.sub(r"[\x00-\x20\x7f]+", "", value or "")
    found = _URL_SCHEME.match(url)
    if found is None:
        return True
    scheme = found.group(1).lower()
    if scheme in ("http", "https") or (scheme == "mailto" and not image):
        return True
    return image and scheme == "data" and _IMAGE_DATA.fullmatch(url) is not None


class _Checked(html.parser.HTMLParser):
    """What in rendered markdown is outside :data:`MARKDOWN_TAGS` or leads to a URL :func:`url_allowed` refuses."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        allowed = MARKDOWN_TAGS.get(tag)
        if allowed is None:
            self.problems.append(f"a <{tag}> element")
            return
        for name, value in attrs:
            value = value or ""
            if name not in allowed and name not in _ANY_ATTRS:
                self.problems.append(f"a {name} attribute on <{tag}>")
            elif name in ("href", "src") and not url_allowed(value, image=tag == "img"):
                self.problems.append(f"a {'link' if tag == 'a' else 'source'} to {value[:40]!r}")
            elif name == "style" and not _STYLE.fullmatch(value.strip()):
                self.problems.append(f"a style on <{tag}>")
            elif name == "type" and value != "checkbox":
                self.problems.append(f"an <{tag}> of type {value[:20]!r}")
            elif name == "class" and "mermaid" in value.lower():
                self.problems.append("a diagram drawn by script")

    handle_startendtag = handle_starttag

    def handle_comment(self, data):
        self.problems.append("an HTML comment")

    def handle_decl(self, decl):
        self.problems.append("an HTML declaration")

    def handle_pi(self, data):
        self.problems.append("an HTML processing instruction")

    def unknown_decl(self, data):
        self.problems.append("an HTML declaration")


def render_markdown(source: str, attachments: dict | None = None) -> str:
    """A markdown cell as nbconvert's HTML exporter renders it (the formgrader's page, feedback: its
    ``markdown2html``), less the anchor links it adds to headings (always ``href="#..."``)."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    renderer = IPythonRenderer(escape=False, attachments=dict(attachments or {}), exclude_anchor_links=True)
    return MarkdownWithMath(renderer=renderer).render(source)


def markdown_problems(source: str, attachments: dict | None = None) -> list[str]:
    """What in a markdown cell, once rendered, could run script or stop the page (``[]``: nothing)."""
    try:
        rendered = render_markdown(source, attachments)
    except Exception as exc:  # noqa: BLE001 - e.g. nbconvert's InvalidNotebook for a missing attachment
        return [f"{exc}"[:80] or type(exc).__name__]
    checked = _Checked()
    checked.feed(rendered)
    checked.close()
    return list(dict.fromkeys(checked.problems))


def _renders(source: str, attachments: dict) -> bool:
    try:
        render_markdown(source, attachments)
    except Exception:  # noqa: BLE001 - whatever stops the renderer stops the page
        return False
    return True


def _inert(text: str) -> str:
    """The markdown with nothing that makes a link, an image or a tag: ``\\``, ``[``, ``]`` and ``<``
    backslash-escaped (they then read as themselves)."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace("<", "\\<")


def _code_block(text: str) -> str:
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence}\n{text}\n{fence}"


NOT_SHOWN = "*(This cell's markdown could not be shown safely.)*"


def shown_safely(source: str, attachments: dict | None = None) -> tuple[str, list[str]]:
    """``(source, problems)``: the markdown unchanged if it renders within the allow-list (problems
    ``[]``); else, with the problems found, the first of these that does: the text with its link, image
    and tag syntax escaped, the text as a code block, a fixed note."""
    problems = markdown_problems(source, attachments)
    if not problems:
        return source, []
    for shown in (_inert(source), _code_block(source), NOT_SHOWN):
        if not markdown_problems(shown, attachments):
            return shown, problems
    return NOT_SHOWN, problems


def _image(value) -> bool:
    return isinstance(value, str) and _BASE64.fullmatch(value) is not None


def safe_output(output: dict) -> dict:
    """An output with only what renders as text or as an image (see the module docstring)."""
    kind = output.get("output_type")
    if kind == "stream":
        return {"output_type": "stream", "name": "stderr" if output.get("name") == "stderr" else "stdout",
                "text": str(output.get("text", ""))}
    if kind == "error":
        return {"output_type": "error", "ename": str(output.get("ename", "")), "evalue": str(output.get("evalue", "")),
                "traceback": [str(line) for line in output.get("traceback", []) or []]}
    data = output.get("data") or {}
    kept = {}
    for mime in KEPT_OUTPUT:
        value = data.get(mime)
        if isinstance(value, list):
            value = "".join(str(v) for v in value)
        if mime == "text/plain" and value is not None:
            kept[mime] = str(value)
        elif mime in IMAGES and _image(value):
            kept[mime] = value
    dropped = sorted(set(data) - set(kept))
    if dropped and "text/plain" not in kept:
        kept["text/plain"] = f"[{', '.join(dropped)} output not shown in graded notebooks]"
    clean = {"output_type": kind if kind in ("display_data", "execute_result") else "display_data",
             "data": kept, "metadata": {}}
    if clean["output_type"] == "execute_result":
        clean["execution_count"] = execution_count(output.get("execution_count"))
    return clean


def execution_count(value) -> int | None:
    """An execution count as nbformat's schema allows it: a non-negative integer, else None."""
    return value if type(value) is int and value >= 0 else None


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(str(part) for part in source) if isinstance(source, list) else str(source)


class SanitizeStudentContent(NbGraderPreprocessor):
    """Strip everything that could run as script from a graded notebook (see the module docstring)."""

    trust_mark = False  # see SanitizeFeedback

    def preprocess(self, nb, resources):
        from nbformat.notebooknode import from_dict

        escape = not (self.trust_mark and (nb.metadata.get("infraprep") or {}).get("sanitized"))
        with_ids = nb.get("nbformat", 4) == 4 and nb.get("nbformat_minor", 0) >= 5
        seen: set[str] = set()
        problems: list[tuple[str, list[str]]] = []
        for index, cell in enumerate(nb.cells):
            meta = (cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}).get("nbgrader") or {}
            meta = meta if isinstance(meta, dict) else {}
            kind = cell.get("cell_type")
            clean = {"cell_type": kind if kind in ("code", "markdown") else "raw",
                     "metadata": {"nbgrader": meta} if meta else {}, "source": _source(cell)}
            cell_id = cell.get("id")
            if "id" in cell or with_ids:
                valid = type(cell_id) is str and _CELL_ID.fullmatch(cell_id) and cell_id not in seen
                clean["id"] = cell_id if valid else uuid.uuid4().hex[:8]
                seen.add(clean["id"])
            if clean["cell_type"] == "raw":
                clean["source"] = html.escape(clean["source"]) if escape or kind != "raw" else clean["source"]
            elif kind == "markdown":
                bundles = cell.get("attachments") if isinstance(cell.get("attachments"), dict) else {}
                attachments = {}
                for name, bundle in bundles.items():
                    images = {mime: value for mime, value in (bundle if isinstance(bundle, dict) else {}).items()
                              if mime in IMAGES and _image(value)}
                    if images:
                        attachments[str(name)] = images
                if attachments:
                    clean["attachments"] = attachments
                if not meta.get("locked"):
                    shown, found = shown_safely(safe_markdown(clean["source"]) if escape else clean["source"], attachments)
                elif "attachment:" in clean["source"] and not _renders(clean["source"], attachments):
                    # the instructor's own cell is left as written, unless it cannot be rendered at all
                    # (an attachment it shows was removed from the submission)
                    shown, found = shown_safely(clean["source"], attachments)
                else:
                    shown, found = clean["source"], []
                clean["source"] = shown
                if found:
                    problems.append((str(meta.get("grade_id") or clean.get("id") or f"cell {index + 1}"), found))
            else:
                clean["outputs"] = [safe_output(o) for o in cell.get("outputs", []) or [] if isinstance(o, dict)]
                clean["execution_count"] = execution_count(cell.get("execution_count"))
            nb.cells[index] = from_dict(clean)
        kept = {key: nb.metadata[key] for key in KEPT_NOTEBOOK if key in nb.metadata}
        kept["language_info"] = {"name": "python"}
        spec = kept.get("kernelspec")
        if not (isinstance(spec, dict) and type(spec.get("name")) is str and type(spec.get("display_name")) is str):
            kept.pop("kernelspec", None)
        nb["metadata"] = from_dict(kept)
        if not isinstance(nb.metadata.get("infraprep"), dict):
            nb.metadata["infraprep"] = from_dict({})
        nb.metadata.infraprep["sanitized"] = True
        for cell, found in problems:
            flags.add(nb, flags.MARKUP_NOT_SHOWN, cell, "this markdown is shown with its links, images and tags as "
                      f"plain text: {'; '.join(found[:3])}")
        return nb, resources


class SanitizeFeedback(SanitizeStudentContent):
    """The same, before feedback is rendered: a notebook this course's grader already sanitized keeps
    its (escaped) markdown as it is; anything else - a notebook autograded before this step existed,
    or by another tool - is sanitized in full. (Only the grader writes ``autograded/``, and the
    grader drops whatever ``infraprep`` metadata a submission brings, see :mod:`.tamper`.)"""

    trust_mark = True
