"""Make a graded notebook safe to look at: nothing a student wrote runs as script anywhere.

The autograded notebook is what nbgrader's formgrader shows the instructor (with the instructor's
session), what feedback is rendered from, and what the course's report reads. A student controls
most of it: their markdown (raw HTML passes through nbconvert's renderer), every output of their
kernel (``text/html``, ``application/javascript``, SVG), raw cells, cell ids, attachments and metadata
(cell tags and the notebook's title become HTML attributes and text). :class:`SanitizeStudentContent`
runs right after the kernel, for ``nbgrader autograde`` and ``infraprep autograde`` alike, and again
before feedback is rendered:

- markdown the student could edit: ``&`` and ``<`` are escaped (so no tag and no entity trick
  survives; the text reads the same), and ``javascript:``, ``vbscript:`` and non-image ``data:`` URLs
  are neutralised; attachments keep only PNG, JPEG and GIF images with valid base64;
- outputs keep plain text, errors and PNG/JPEG/GIF images (base64 checked); HTML, JavaScript, SVG,
  Markdown, LaTeX and widget views become a one-line note;
- raw cells become escaped text; cell metadata keeps only nbgrader's; invalid cell ids are replaced;
- the notebook's metadata keeps only what grading uses (kernelspec, language, nbgrader, infraprep).

The instructor's own locked cells (restored from the gradebook before the kernel runs) are left as written.
"""

from __future__ import annotations

import html
import re
import uuid

from nbgrader.preprocessors import NbGraderPreprocessor

_SCHEME = re.compile(r"j\s*a\s*v\s*a\s*s\s*c\s*r\s*i\s*p\s*t\s*:|v\s*b\s*s\s*c\s*r\s*i\s*p\s*t\s*:|"
                     r"l\s*i\s*v\s*e\s*s\s*c\s*r\s*i\s*p\s*t\s*:|d\s*a\s*t\s*a\s*:(?!image/(?:png|jpe?g|gif);base64,)",
                     re.IGNORECASE)
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_CELL_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
IMAGES = ("image/png", "image/jpeg", "image/gif")
KEPT_OUTPUT = ("text/plain",) + IMAGES
KEPT_NOTEBOOK = ("kernelspec", "language_info", "nbgrader", "infraprep")


def safe_markdown(text: str) -> str:
    """Student markdown with no way to run script: ``&`` and ``<`` escaped, script-bearing URLs neutralised."""
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    return _SCHEME.sub("blocked:", text)


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
        count = output.get("execution_count")
        clean["execution_count"] = count if type(count) is int else None
    return clean


class SanitizeStudentContent(NbGraderPreprocessor):
    """Strip everything that could run as script from a graded notebook (see the module docstring)."""

    trust_mark = False  # see SanitizeFeedback

    def preprocess(self, nb, resources):
        from nbformat.notebooknode import from_dict

        escape = not (self.trust_mark and (nb.metadata.get("infraprep") or {}).get("sanitized"))
        seen: set[str] = set()
        for cell in nb.cells:
            meta = (cell.get("metadata") or {}).get("nbgrader") or {}
            cell["metadata"] = from_dict({"nbgrader": meta} if meta else {})
            cell_id = cell.get("id")
            if "id" in cell and (type(cell_id) is not str or not _CELL_ID.fullmatch(cell_id) or cell_id in seen):
                cell["id"] = uuid.uuid4().hex[:8]
            if "id" in cell:
                seen.add(cell["id"])
            kind = cell.get("cell_type")
            if kind == "raw":
                cell["source"] = html.escape(str(cell.get("source", "")))
            elif kind == "markdown":
                if not meta.get("locked") and escape:
                    cell["source"] = safe_markdown(str(cell.get("source", "")))
                attachments = cell.get("attachments") or {}
                cell["attachments"] = from_dict({
                    name: {mime: value for mime, value in (bundle or {}).items() if mime in IMAGES and _image(value)}
                    for name, bundle in attachments.items() if isinstance(bundle, dict)})
                if not cell["attachments"]:
                    cell.pop("attachments", None)
            elif kind == "code":
                cell["outputs"] = [from_dict(safe_output(o)) for o in cell.get("outputs", []) if isinstance(o, dict)]
        kept = {key: nb.metadata[key] for key in KEPT_NOTEBOOK if key in nb.metadata}
        kept["language_info"] = {"name": "python"}
        nb["metadata"] = from_dict(kept)
        nb.metadata.setdefault("infraprep", {})["sanitized"] = True
        return nb, resources


class SanitizeFeedback(SanitizeStudentContent):
    """The same, before feedback is rendered: a notebook this course's grader already sanitized keeps
    its (escaped) markdown as it is; anything else - a notebook autograded before this step existed,
    or by another tool - is sanitized in full. (Only the grader writes ``autograded/``, and the
    grader drops whatever ``infraprep`` metadata a submission brings, see :mod:`.tamper`.)"""

    trust_mark = True
