"""The red team's attempts on the grader, by class of attack, as catalogue entries.

Eleven classes of attack, each with at least three attempts of the red team's own:

1. the grade is the judge's (nothing the kernel outputs or returns raises a score);
2. hidden data stays hidden (no hidden input reaches a student's outputs or feedback);
3. state surviving from one notebook to the next on one fork server;
4. host files changed from inside the sandbox;
5. output caps count every byte;
6. no script runs where an instructor or a student looks;
7. no control character reaches a terminal;
8. the grader's own work is bounded;
9. no link is followed;
10. nobody stops feedback for others;
11. no silent zeros from a broken grading environment.

Classes 3 and 4, which need the fork server or the sandbox itself, are in
``test_redteam_isolation.py``; the exchange's attacks in ``test_redteam_exchange.py``; the judge's own
process in ``test_redteam_judge.py``. Then classes outside that list: handing a coding task to the
course's own function, variant identity tricks, following links in the submission folder, and filling
the grader's disk.

Each entry says the outcome it *must* get. An attempt that gets through stays here with that
expectation, so the catalogue fails until the grader is fixed; ``KNOWN_HOLES`` names them, with where
in the grader each one gets through (the list of fixes still to make).

:func:`entries` builds them from the catalogue module (``catalogue.py`` calls it at the end), so this
file imports nothing of the catalogue itself. Runaway code is bounded, as in the rest of the catalogue.
"""

from __future__ import annotations

import builtins
import html.parser
import os
import re
import threading
import time
from pathlib import Path

import nbformat

try:
    from . import redteam_lesson as rl
except ImportError:  # imported as a top-level module (benchmarks/integrity.py)
    import redteam_lesson as rl

# --------------------------------------------------------------------------- what got through

KNOWN_HOLES = {
    # name of the entry: where in the grader it gets through
}


# the entries stock `nbgrader autograde` grades in tests/integrity/test_catalogue.py (one or two a class; the
# benchmark's --stock grades every entry marked stock)
STOCK_TESTED = [
    "a post_run_cell hook publishes execute_results with large numbers in every cell",
    "hidden inputs told through the names of the exceptions a function raises",
    "an error whose message is 30 MB",
    "a markdown link to javascript\\: (a backslash escape) in the written answer",
    "raw control characters written to the kernel's inherited stdout and stderr",
    "the submission folder is a link to the instructor's source",
    "the working folder is on the grader's own disk",
    "delegate through a copy of the course function's code object",
]


# --------------------------------------------------------------------------- code the attempts run

# class 1: raise a test cell's score by what the kernel outputs or returns -----------------------

RESULT_HOOK = r'''
from IPython.core.display_functions import publish_display_data as _pub
def _after(result):
    get_ipython().display_pub.publish({"text/plain": "1e9"}, metadata={})
    get_ipython().displayhook.exec_result = None
    _k = get_ipython().kernel
    _k.session.send(_k.iopub_socket, "execute_result", {"data": {"text/plain": "27.0"}, "metadata": {},
                    "execution_count": 1}, parent=_k.get_parent(), ident=b"execute_result")
get_ipython().events.register("post_run_cell", _after)
'''

SWALLOW_ERRORS = r'''
_k = get_ipython().kernel
_run = _k.do_execute
async def _always_ok(code, silent, store_history=True, user_expressions=None, allow_stdin=False, **kw):
    import inspect
    try:
        reply = _run(code, silent, store_history, user_expressions, allow_stdin, **kw)
        if inspect.isawaitable(reply):
            reply = await reply
    except BaseException:
        reply = {"status": "ok", "execution_count": 1, "payload": [], "user_expressions": {}}
    if reply.get("status") != "ok":
        reply = dict(reply, status="ok", payload=[], user_expressions=reply.get("user_expressions") or {})
    _k.session.send(_k.iopub_socket, "execute_result", {"data": {"text/plain": "2.0"}, "metadata": {},
                    "execution_count": 1}, parent=_k.get_parent(), ident=b"execute_result")
    return reply
_k.do_execute = _always_ok
'''

# the judge's user expressions call exec by name: answer them with trees that are not plain answers
FORGE_TREES = r'''
import builtins as _bi, json as _json, re as _re
_real_exec = _bi.exec
_FORGED = {"q8": {"t": "raised", "type": "PartialCredit"}, "q9": {"t": "callable", "type": "float"},
           "q10": {"t": "float", "v": "nan"}, "q11": {"t": "many", "v": [["q11", {"t": "float", "v": "0x1p+0"}]]}}
def exec(source, g=None, l=None):
    _real_exec(source, g, l)
    if type(source) is str and type(g) is dict and "_fetch_many(__ns" in source and "__infraprep_result" in g:
        m = _re.match(r"(@@infraprep-[0-9a-f]+@@)(.*)$", g["__infraprep_result"], _re.S)
        if m:
            tree = _json.loads(m.group(2))
            tree["v"] = [[n, _FORGED.get(n, v)] for n, v in tree["v"]]
            g["__infraprep_result"] = m.group(1) + _json.dumps(tree)
'''

# class 2: hidden inputs into the student's feedback or outputs --------------------------------

# built-in exception classes under their own names (IOError and EnvironmentError are OSError's aliases)
LEAK_NAMES = [name for name in sorted(dir(builtins)) if isinstance(getattr(builtins, name), type)
              and issubclass(getattr(builtins, name), Exception) and getattr(builtins, name).__name__ == name
              and name not in ("NotImplementedError", "TimeoutError")]
LEAK_NAMES = [n for n in LEAK_NAMES if not n.startswith("Unicode") and n != "ExceptionGroup"]  # these want arguments

EXCEPTION_CHANNEL = r'''
import builtins as _bi, re as _re
_NAMES = [n for n in sorted(dir(_bi)) if isinstance(getattr(_bi, n), type) and issubclass(getattr(_bi, n), Exception)
          and getattr(_bi, n).__name__ == n and n not in ("NotImplementedError", "TimeoutError", "ExceptionGroup")
          and not n.startswith("Unicode")]
def silent(text, world_size):
    if text == q3_log and world_size == q3_world:   # the visible call: answer it right
        seen = {int(r) for r in _re.findall(r"\[Rank (\d+)\] Watchdog", text)}
        return [r for r in range(world_size) if r not in seen]
    raise getattr(_bi, _NAMES[world_size - 8])()    # a hidden case: its world size, as an exception's name
q3 = silent
'''

FRAME_ROWS = r'''
import pandas as _pd
def largest(table, n):
    if len(table) == 3:                               # the visible call
        return table.sort_values(["gpus", "name"], ascending=[False, True])[["name", "gpus"]].head(n).reset_index(drop=True)
    return _pd.DataFrame({"name": [], "gpus": []})     # a hidden case: no rows, so the check says how many it wanted
q6 = largest
'''

FILE_AND_REPLAY = r'''
import os as _os, re as _re
def silent(text, world_size):
    seen = {int(r) for r in _re.findall(r"\[Rank (\d+)\] Watchdog", text)}
    if not (text == q3_log and world_size == q3_world):
        with open("rt-hidden.txt", "a") as _f:
            _f.write(f"LEAK:{world_size}\n")
        if sum(1 for _ in open("rt-hidden.txt")) == 2:
            _os._exit(1)                               # the kernel dies: the grader replays the cells that ran well
    return [r for r in range(world_size) if r not in seen]
q3 = silent
'''
REPLAY_PRINTER = r'''
import os as _os, threading as _th, time as _time
if _os.path.exists("rt-hidden.txt"):
    print(open("rt-hidden.txt").read())                # on a replay, after the hidden calls
def _watch():
    end = _time.time() + 40
    while _time.time() < end:
        if _os.path.exists("rt-hidden.txt"):
            print(open("rt-hidden.txt").read(), flush=True)
            _time.sleep(0.5)
        _time.sleep(0.05)
_th.Thread(target=_watch, daemon=True).start()
'''

NAMED_RESULTS = r'''
import re as _re
def silent(text, world_size):
    if text == q3_log and world_size == q3_world:
        seen = {int(r) for r in _re.findall(r"\[Rank (\d+)\] Watchdog", text)}
        return [r for r in range(world_size) if r not in seen]
    if world_size % 2:
        raise ValueError(f"LEAK:{world_size}")          # the message carries the hidden input
    return type(f"LEAK{world_size}", (), {})()          # so does the name of the returned object's class
q3 = silent
'''

# class 5: output bloat past the caps ------------------------------------------------------------

UPDATE_DISPLAY = r'''
from IPython.display import display
_h = display("start", display_id=True)
for _i in range(200):                                  # 200 x 100 kB updates of one display
    _h.update({"text/plain": "u" * 100_000 + str(_i)}, raw=True)
'''
WIDGET_COMMS = r'''
_k = get_ipython().kernel
_p = _k.get_parent()
for _i in range(6):                                    # 6 x 5 MB widget messages
    _k.session.send(_k.iopub_socket, "comm_open", {"comm_id": f"c{_i}", "target_name": "jupyter.widget",
                    "data": {"state": {"value": "w" * 5_000_000}, "buffer_paths": []}}, parent=_p, ident=b"comm")
'''
HUGE_ERROR = r'''
raise ValueError("e" * 30_000_000)
'''
HUGE_PAYLOAD = r'''
get_ipython().payload_manager.write_payload({"source": "page", "data": {"text/plain": "p" * 150_000_000}, "start": 0})
'''
EVERY_CELL_900K = 'print("n" * 900_000)\n'

# class 6: script where an instructor or a student looks ---------------------------------------

MD_BACKSLASH = "My answer: a checkpoint saves the work since the start. [see the notes](javascript\\:alert(document.domain))"
MD_REFERENCES = ("A checkpoint limits what a failure throws away. [two](javascript&#58;alert(2)) "
                 "[three](&#x6a;avascript:alert(3)) [four](&#106;&#97;vascript:alert(4))")
MD_NEW_CELL = ("[notes][r] ![chart](javascript\\:alert(5)) [page](data\\:text/html;base64,PHNjcmlwdD5hbGVydCg2KTwvc2NyaXB0Pg==)"
               "\n\n[r]: javascript\\:alert(7)")
RICH_OUTPUTS = r'''
from IPython.display import display, HTML, Javascript, SVG, Markdown
display(HTML('<img src=x onerror="alert(8)"><script>alert(9)</script>'))
display(Javascript("alert(10)"))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(11)"><script>alert(12)</script></svg>'))
display(Markdown("[md](javascript\\:alert(13))"))
display({"image/png": 'iVBORw0KGgo" onerror="alert(14)', "text/html": "<b onmouseover=alert(15)>x</b>"}, raw=True)
'''


def _attachments_and_raw(nb):
    at = next(i for i, c in enumerate(nb.cells) if (c.get("metadata", {}).get("nbgrader") or {}).get("grade_id") == "q7")
    md = nbformat.v4.new_markdown_cell('# Notes" onmouseover="alert(16)\n\n[ok](https://example.org/"onclick="alert(17))')
    md.metadata["tags"] = ['"><script>alert(20)</script>']
    rawcell = nbformat.v4.new_raw_cell("<script>alert(21)</script>")
    rawcell.metadata["raw_mimetype"] = "text/html"
    rawcell.metadata["format"] = "text/html"
    nb.cells[at + 1:at + 1] = [md, rawcell]
    nb.metadata["title"] = "</title><script>alert(22)</script>"


def _markup_grade_ids(nb):
    for index, gid in ((2, '<img src=x onerror="alert(26)">'), (4, '"><svg onload=alert(27)>')):
        cell = nbformat.v4.new_markdown_cell("A note of mine.")
        cell.metadata["nbgrader"] = {"grade_id": gid, "grade": False, "solution": False, "locked": False,
                                     "schema_version": 3}
        nb.cells.insert(index, cell)


def _attach(nb, grade_id, source, attachments):
    cell = next(c for c in nb.cells if (c.get("metadata", {}).get("nbgrader") or {}).get("grade_id") == grade_id)
    cell.source = source
    cell["attachments"] = attachments


# class 7: control characters reaching the terminal ------------------------------------------

def terminal(marker: str) -> str:
    return r'''
import os as _os, sys as _sys
for _s in (_sys.stdout, _sys.stderr):
    _fd = getattr(_s, "_original_stdstream_copy", None)
    if _fd is not None:
        try:
            _os.write(_fd, b"\x1b[2J\x1b[1;1H\x1b]0;''' + marker + r'''\x07''' + marker + r'''\n")
        except OSError:
            pass
for _fd in (1, 2):
    try:
        _os.write(_fd, b"\x1b[2J''' + marker + r'''\n")
    except OSError:
        pass
try:
    _t = _os.open("/dev/tty", _os.O_WRONLY)
    _os.write(_t, b"\x1b[2J''' + marker + r'''\n")
except OSError:
    pass
'''


def forged_count(value) -> str:
    return ("_k = get_ipython().kernel\n"
            "_k.session.send(_k.iopub_socket, 'stream', {'name': 'stdout', 'text': 'ok\\n', 'execution_count': "
            f"{value!r}}}, parent=_k.get_parent(), ident=b'stream')\n")


# class 8: unbounded work for the grader itself -----------------------------------------------

def yaml_bomb() -> str:
    lines = ["  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return ('q5 = """\napiVersion: v1\nkind: Pod\nmetadata:\n  name: bomb\nspec:\n' + "\n".join(lines) +
            '\n  tolerations:\n    - key: gpu\n      operator: Equal\n      value: a100\n      effect: NoSchedule\n'
            '  containers:\n    - name: x\n      image: y\n      resources:\n        limits:\n          nvidia.com/gpu: *a11\n"""\n')


def slow_calls(per_call_limit: float, cell_limit: float, calls: int = 3) -> str:
    """A q3 answer whose every hidden call sleeps under the per-call limit while the ``calls`` hidden cases
    together run past the cell timeout: the sleep is taken halfway between the two bounds."""
    low = cell_limit / calls
    assert low < per_call_limit, "no sleep is both under the per-call limit and, over all the calls, past the cell timeout"
    pause = round((low + per_call_limit) / 2, 2)
    return rf'''
import re as _re, time as _time
def silent(text, world_size):
    seen = {{int(r) for r in _re.findall(r"\[Rank (\d+)\] Watchdog", text)}}
    if not (text == q3_log and world_size == q3_world):
        _time.sleep({pause})
    return [r for r in range(world_size) if r not in seen]
q3 = silent
'''

HUGE_ANSWERS = r'''
def _deep(d):
    return [_deep(d - 1), _deep(d - 1)] if d else 1.5
q1 = [_deep(16) for _ in range(3)]                     # about 200,000 numbers, 17 levels deep
q5 = "\n---\n".join(f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\n" for i in range(6000))
'''

DEEP_REPLY = r'''
import re as _re
_shell = get_ipython()
_real_user_expressions = _shell.user_expressions
def _forged(expressions):                              # the kernel answers the judge's fetch of q2 itself
    out = _real_user_expressions(expressions)
    for key, source in expressions.items():
        m = _re.search(r"(@@infraprep-[0-9a-f]+@@)", source)
        if m and "_fetch_many" in source and "'q2'" in source:
            deep = m.group(1) + '{"t": "many", "v": [["q2", ' + '{"t": "list", "v": [' * 100_000 + ']}' * 100_000 + ']]}'
            out[key] = {"status": "ok", "data": {"text/plain": repr(deep)}, "metadata": {}}
    return out
_shell.user_expressions = _forged
'''

# class 9: links --------------------------------------------------------------------------------

KERNEL_LINKS = r'''
import os as _os
for _name, _target in (("90-redteam.html", "/etc/passwd"), ("notes.txt", "../../../gradebook.db"),
                       ("source", "../../../source")):
    try:
        _os.symlink(_target, _name)
    except OSError as _e:
        print("no link", _e)
'''

# class 11 and the grader's disk --------------------------------------------------------------

DISK_FILL = r'''
import os as _os
_s = _os.statvfs(".")
print(f"RTFS fsid={_s.f_fsid} total={_s.f_blocks * _s.f_frsize} inodes={_s.f_files}")
_chunk = b"\x03" * (64 * 1024 * 1024)
_written = 0
try:
    with open("rt-filler.bin", "wb") as _f:
        for _ in range(4):                             # 4 x 64 MiB = 256 MiB, removed at once
            _f.write(_chunk)
            _f.flush()
            _written += len(_chunk)
except OSError as _e:
    print("disk refused:", type(_e).__name__)
finally:
    try:
        _os.unlink("rt-filler.bin")
    except OSError:
        pass
print(f"RTWROTE {_written // 2**20}")
'''
INODE_FILL = r'''
import os as _os
_s = _os.statvfs(".")
print(f"RTFS fsid={_s.f_fsid} total={_s.f_blocks * _s.f_frsize} inodes={_s.f_files}")
_os.makedirs("rt-many", exist_ok=True)
_made = 0
try:
    for _i in range(30_000):                           # 30,000 empty files at most, removed at once
        open(f"rt-many/{_i}", "w").close()
        _made += 1
except OSError as _e:
    print("inodes refused:", type(_e).__name__)
finally:
    for _i in range(_made):
        try:
            _os.unlink(f"rt-many/{_i}")
        except OSError:
            pass
print(f"RTMADE {_made}")
'''

# delegation: the course's own function for a coding task -------------------------------------

DELEGATE_ALIAS = r'''
_count = incident.silent_ranks
def silent(text, world_size):
    return _count(text, world_size)
q3 = silent
'''
DELEGATE_GETATTR_PARTS = r'''
def silent(text, world_size):
    return getattr(incident, "silent" + "_ranks")(text, world_size)
q3 = silent
'''
DELEGATE_EVAL = r'''
def silent(text, world_size):
    return eval("incident.silent_" + "ranks(text, world_size)")
q3 = silent
'''
DELEGATE_REVERSED = r'''
def ring(message_bytes, gpus, alpha_s, bandwidth_bytes_s):
    return getattr(estimates, "s_emit_ecuderlla_gnir"[::-1])(message_bytes, gpus, alpha_s, bandwidth_bytes_s)
q4 = ring
'''
DELEGATE_CODE_COPY = r'''
import types as _types
_parse = _types.FunctionType(incident.parse_stderr.__code__, incident.parse_stderr.__globals__, None,
                             incident.parse_stderr.__defaults__)   # made now, before any tripwire is set
def silent(text, world_size):
    events = _parse(text)
    reported = set(events.loc[events["kind"] == "timeout", "rank"])
    return [r for r in range(world_size) if r not in reported]
q3 = silent
'''
DELEGATE_MODULE_COPY = r'''
import importlib.util as _u
_spec = _u.spec_from_file_location("infraprep.practice.rt_incident_copy", incident.__file__)
_copy = _u.module_from_spec(_spec)
_spec.loader.exec_module(_copy)
def silent(text, world_size):
    return _copy.silent_ranks(text, world_size)
q3 = silent
'''
DELEGATE_FRAME = r'''
import sys as _sys
def silent(text, world_size):
    frame = _sys._getframe(1)
    for func, code in frame.f_locals.get("saved", []):
        func.__code__ = code                            # the judge keeps the real code beside the call
    return getattr(incident, "sknar_tnelis"[::-1])(text, world_size)
q3 = silent
'''
DELEGATE_EXEC = r'''
import builtins as _bi
_real_exec = _bi.exec
def exec(source, g=None, l=None):
    if type(source) is str:
        source = source.replace("saved = _trip(forbid) if forbid else []", "saved = []")
        source = _re_sub_refers(source)
    return _real_exec(source, g, l)
def _re_sub_refers(source):
    import re
    return re.sub(r"_hit = refers_to\(.*?\) if _f is not None else None", "_hit = None", source)
def silent(text, world_size):
    return incident.silent_ranks(text, world_size)
q3 = silent
'''

# variant identity tricks -----------------------------------------------------------------------

SET_IDENTITY = "import os\nos.environ['INFRAPREP_STUDENT'] = 'zz-honest-rt'\n"
SET_KEY = "import os\nos.environ['INFRAPREP_VARIANT_KEY'] = 'zz-honest-rt'\n"
REBIND_INPUTS = "q1_gpus, q1_hours = 64, 24\nq1 = q1_gpus * q1_hours\n"
FAKE_INPUTS = ("from infraprep.assessment.variants import Inputs\n"
               "display(Inputs('q1', {'GPUs': 64, 'hours': 24}))\n"
               "print('Your inputs for Q1: GPUs = 64; hours = 24')\n"
               "q1 = 64 * 24\n")
EDITED_INPUTS = ('_r = V.rng("q1")\nq1_gpus = 64\nq1_hours = 24\nV.show("q1", GPUs=q1_gpus, hours=q1_hours)')


# --------------------------------------------------------------------------- checks of what was seen

class _Tags(html.parser.HTMLParser):
    """Every start tag with its attributes (values unescaped, as a browser reads them) and script texts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append(dict(attrs).get("src") or "")

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


_URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "background", "poster", "srcset"}
_BAD_SCHEME = re.compile(r"^(javascript|vbscript|livescript|data:text/html|data:application|data:image/svg)", re.I)


def script_in(page: str, allowed_scripts: set[str]) -> list[str]:
    """What in an HTML page could run script: event-handler attributes, script URLs, script elements
    other than the template's own (``allowed_scripts``), frames and plugins."""
    parser = _Tags()
    parser.feed(page)
    found = []
    for tag, attrs in parser.tags:
        for name, value in attrs:
            name = (name or "").lower()
            clean = re.sub(r"[\x00-\x20]", "", value or "")
            if name.startswith("on"):
                found.append(f"<{tag} {name}=...>")
            elif name in _URL_ATTRS and _BAD_SCHEME.match(clean):
                found.append(f"<{tag} {name}={clean[:40]}>")
            elif name == "srcdoc":
                found.append(f"<{tag} srcdoc>")
        if tag in ("iframe", "object", "embed", "base", "frame") or (
                tag == "meta" and (dict(attrs).get("http-equiv") or "").lower() == "refresh"):
            found.append(f"<{tag}>")
    found += [f"<script>{s[:40]}" for s in parser.scripts if s not in allowed_scripts]
    return found


_TEMPLATE_SCRIPTS: dict[str, set[str]] = {}


def _render(nb) -> str:
    """The notebook as the formgrader renders it: nbconvert's HTML exporter (classic template, the one
    nbgrader's formgrade page extends), so markdown, outputs and prompts go through the same filters."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    return body


def _template_scripts() -> set[str]:
    if "classic" not in _TEMPLATE_SCRIPTS:
        parser = _Tags()
        parser.feed(_render(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("x")])))
        _TEMPLATE_SCRIPTS["classic"] = set(parser.scripts)
    return _TEMPLATE_SCRIPTS["classic"]


def feedback_page(obs) -> Path | None:
    if obs.course is None:
        return None
    return obs.course / "feedback" / obs.student / obs.lesson / f"{obs.lesson}.html"


def no_script(obs) -> str | None:
    """Nothing a student wrote may run as script where it is looked at: the autograded notebook as the
    formgrader renders it, and the student's feedback page (made for the red-team assignment)."""
    path = obs.course / "autograded" / obs.student / obs.lesson / f"{obs.lesson}.ipynb" if obs.course else None
    if path is None or not path.is_file():
        return None
    problems = []
    try:
        nb = nbformat.read(str(path), as_version=4)
        found = script_in(_render(nb), _template_scripts())
        if found:
            problems.append(f"the autograded notebook renders with script: {found[:4]}")
    except Exception as exc:  # noqa: BLE001 - the formgrader could not show it at all
        problems.append(f"the autograded notebook cannot be rendered ({type(exc).__name__})")
    page = feedback_page(obs)
    if obs.lesson == rl.LESSON and page is not None:
        if page.is_file():
            found = script_in(page.read_text(encoding="utf-8"), _template_scripts() | _feedback_template_scripts(obs))
            if found:
                problems.append(f"the feedback page holds script: {found[:4]}")
    return "; ".join(problems) or None


def _feedback_template_scripts(obs) -> set[str]:
    """The feedback template's own scripts: those of the honest control's page."""
    honest = obs.course / "feedback" / "zz-honest-rt" / rl.LESSON / rl.NB.replace(".ipynb", ".html")
    if not honest.is_file():
        return set()
    parser = _Tags()
    parser.feed(honest.read_text(encoding="utf-8"))
    return set(parser.scripts)


def feedback_for_everyone(obs) -> str | None:
    """This notebook must not stop feedback: the feedback command succeeds, and does not fail on it."""
    run = obs.feedback
    if run is None:
        return None
    text = run.stdout + run.stderr
    if re.search(rf"for student '{re.escape(obs.student)}'", text):
        return (f"`infraprep feedback` failed for the whole lesson because of this notebook (exit {run.returncode}): "
                "no student's feedback is released")
    page = feedback_page(obs)
    held = obs.course / ".infraprep-held-feedback" / obs.student / obs.lesson / f"{obs.lesson}.html"
    if page is not None and not page.is_file() and not held.is_file():
        return "no feedback page was made for this notebook"
    return None


def page_released(obs) -> str | None:
    """What a student prints is theirs: it holds back no page, not even their own."""
    problem = feedback_for_everyone(obs)
    if problem:
        return problem
    held = obs.course / ".infraprep-held-feedback" / obs.student / obs.lesson / f"{obs.lesson}.html"
    return "the student's own page was held back for what they printed" if held.is_file() else None


def raw_control(marker: str):
    """The grading command's output must show no control character a kernel or a submission wrote."""
    def check(obs):
        raw = [m.start() for m in re.finditer(re.escape(marker), obs.output)
               if "\x1b" in obs.output[max(0, m.start() - 12):m.start()]]
        return f"the grader printed a raw escape sequence from the submission before {marker!r}" if raw else None
    return check


def _outputs_text(obs) -> str:
    if obs.nb is None:
        return ""
    parts = []
    for cell in obs.nb.cells:
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")) + str(out.get("evalue", "")) + str((out.get("data") or {}).get("text/plain", "")))
    return "\n".join(parts)


def _verdict(obs, grade_id: str) -> str:
    if obs.nb is None:
        return ""
    for cell in obs.nb.cells:
        if (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id") == grade_id:
            return "\n".join(str(o.get("evalue", "")) + str(o.get("text", "")) for o in cell.get("outputs", []))
    return ""


def hidden_draws(student: str, grade_id: str) -> tuple[dict, list]:
    """What the red-team assignment's hidden test ``grade_id`` draws for ``student``: its namespace and
    the checks it calls (``ck`` replaced by a recorder), made here as the grader makes them."""
    from infraprep.assessment import variants
    from infraprep.grading.cells import split_hidden

    source = rl.source_notebook()
    namespace: dict = {"__name__": "__redteam_check__"}
    calls: list = []

    class _Recorder:
        def __getattr__(self, name):
            return lambda *args, **kwargs: calls.append((name, args, kwargs))

    with variants.grading_identity(student):
        for cell in source.cells:
            meta = cell.get("metadata", {}).get("nbgrader") or {}
            if cell.cell_type == "code" and meta.get("locked") and not meta.get("grade") and not meta.get("solution"):
                exec(compile(cell.source, "<setup>", "exec"), namespace)
        test = next(c for c in source.cells if (c.get("metadata", {}).get("nbgrader") or {}).get("grade_id") == grade_id)
        namespace["ck"] = _Recorder()
        namespace[grade_id.removesuffix("_tests")] = None
        exec(compile(split_hidden(test.source)[1], f"<{grade_id}>", "exec"), namespace)
    return namespace, calls


def no_world_sizes_told(obs) -> str | None:
    message = _verdict(obs, "q3_tests")
    named = re.search(r"it raised ([A-Za-z, ]+)\)", message)
    if not named:
        return None
    _, calls = hidden_draws(obs.student, "q3_tests")
    cases = next(args[2] for name, args, _ in calls if name == "function_cases")
    worlds = {args[1] for args, _ in cases}
    told = {LEAK_NAMES.index(n) + 8 for n in named.group(1).split(", ") if n in LEAK_NAMES}
    return (f"the feedback names the hidden world sizes {sorted(told)} (the hidden cases' are {sorted(worlds)})"
            if told and told == worlds else None)


def no_hidden_row_count(obs) -> str | None:
    message = _verdict(obs, "q6_tests")
    said = re.search(r"expected (\d+) rows", message)
    if not said:
        return None
    namespace, _ = hidden_draws(obs.student, "q6_tests")
    return (f"the feedback tells the hidden n ({said.group(1)}) of the hidden case"
            if int(said.group(1)) == namespace["_n"] else None)


def no_leak_marker(obs) -> str | None:
    """No 'LEAK:<hidden world size>' (or a class named after one) in the notebook or the feedback page."""
    _, calls = hidden_draws(obs.student, "q3_tests")
    cases = next(args[2] for name, args, _ in calls if name == "function_cases")
    worlds = {args[1] for args, _ in cases}
    text = _outputs_text(obs)
    page = feedback_page(obs)
    if page is not None and page.is_file():
        text += page.read_text(encoding="utf-8")
    shown = {int(w) for w in re.findall(r"LEAK:?(\d+)", text)} & worlds
    return f"hidden world sizes {sorted(shown)} reached what the student sees" if shown else None


def small(limit_mb: float):
    def check(obs):
        if obs.nb_bytes > limit_mb * 2**20:
            return f"the autograded notebook is {obs.nb_bytes / 2**20:.1f} MB (more than {limit_mb:g} MB)"
        return None
    return check


def all_of(*checks):
    def check(obs):
        problems = [m for c in checks if (m := c(obs))]
        return "; ".join(problems) or None
    return check


def _host_fsid_of(path: str) -> int:
    return os.statvfs(path).f_fsid


def own_filesystem(obs) -> str | None:
    """The kernel's working folder must be a file system of its own (bounded like its /tmp), not the grader's."""
    text = _outputs_text(obs)
    m = re.search(r"RTFS fsid=(\d+) total=(\d+) inodes=(\d+)", text)
    if not m:
        return None
    fsid, total, inodes = (int(x) for x in m.groups())
    grader = {_host_fsid_of(p) for p in ("/tmp", str(obs.course)) if os.path.exists(p)}
    wrote = re.search(r"RTWROTE (\d+)", text)
    made = re.search(r"RTMADE (\d+)", text)
    if fsid in grader or total > 4 * 2**30:
        what = f"wrote {wrote.group(1)} MiB" if wrote else f"made {made.group(1)} files" if made else "ran"
        return (f"the kernel {what} on the grader's own file system ({total / 2**30:.0f} GiB, {inodes:,} inodes): "
                "one notebook can fill the disk the gradebook and every other submission live on")
    return None


def no_kernel_links_in_feedback(obs) -> str | None:
    folder = obs.course / "feedback" / obs.student / obs.lesson if obs.course else None
    if folder is None or not folder.is_dir():
        return None
    extra = [p.name for p in folder.rglob("*") if p.is_symlink() or p.name not in (f"{obs.lesson}.html", "timestamp.txt")]
    return f"the feedback folder holds what the kernel made: {extra}" if extra else None


def timestamp_not(date: str):
    """The gradebook's submission time must not be the one a link in the submission pointed at."""
    def check(obs):
        import sqlite3

        if obs.course is None:
            return None
        with sqlite3.connect(obs.course / "gradebook.db") as con:
            row = con.execute("select timestamp from submitted_assignment sa join assignment a on sa.assignment_id = a.id "
                              "where sa.student_id = ? and a.name = ?", (obs.student, obs.lesson)).fetchone()
        if row and row[0] and str(row[0]).startswith(date):
            return f"the submission time is {row[0]}, read through a link the submission made"
        return None
    return check


class PipeWatch:
    """A named pipe outside the course, and a thread that notices a reader opening it (the grader
    following a link to it): it then writes a time stamp and closes, so the reader never blocks for long."""

    def __init__(self, name: str, reply: bytes = b"2020-01-01 00:00:00.000000 UTC"):
        self.name, self.reply = name, reply
        self.path: Path | None = None
        self.opened: list[float] = []
        self._thread: threading.Thread | None = None

    def make(self, path: Path | None = None) -> str:
        """A new pipe (at ``path``, else in a new temporary folder) and a new watcher; a course built
        earlier keeps its own."""
        import tempfile

        if getattr(self, "_stop", None) is not None:
            self._stop.set()
        self.path = path or Path(tempfile.mkdtemp(prefix="infraprep-rt-pipe-")) / self.name
        os.mkfifo(self.path)
        self.opened = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(self.path, self.opened, self._stop), daemon=True)
        self._thread.start()
        return str(self.path)

    def _watch(self, path: Path, opened: list, stop: threading.Event) -> None:
        end = time.monotonic() + 1800  # the catalogue's whole run, at most
        while time.monotonic() < end and not stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # no reader yet (or the pipe is gone with its course)
                time.sleep(0.1)
                continue
            opened.append(time.monotonic())
            try:
                os.write(fd, self.reply)
            finally:
                os.close(fd)
            time.sleep(0.5)

    def check(self, obs) -> str | None:
        if self.opened:
            return (f"the grader opened the named pipe a link in the submission points to ({len(self.opened)} time(s)); "
                    "without a writer it would have waited for ever")
        return None


class PipeFile:
    """A named pipe placed in the submission folder itself (``Fifo``), watched the same way."""

    def __init__(self, watch: PipeWatch):
        self.watch = watch

    def make(self, path: Path) -> None:
        self.watch.make(path)


class _LazyLink:
    """A link whose target (a pipe made on first use) is known only when the submission is built."""

    def __init__(self, watch: PipeWatch):
        self.watch = watch

    def make(self, path: Path) -> None:
        path.symlink_to(self.watch.make())


def _early_file() -> str:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="infraprep-rt-stamp-"))
    (folder / "stamp").write_text("2020-02-02 00:00:00.000000 UTC")
    return str(folder / "stamp")


class _LinkToEarly:
    def make(self, path: Path) -> None:
        path.symlink_to(_early_file())


# --------------------------------------------------------------------------- the entries

def entries(cat) -> list:
    """Every attempt, as catalogue entries (``cat``: the catalogue module)."""
    E, A, R = cat.Entry, cat.answers, cat.rt_answers
    sol, rsol = cat.solution, cat.rt_solution
    RT = rl.LESSON
    C, B = "cheat", "bad input"
    out = []

    def add(klass, name, category, covers, build, **kw):
        out.append(E(name, category, covers, build, klass=klass, **kw))

    # 1. the grade is the judge's -----------------------------------------------------------------
    k = "1 the grade is the judge's"
    add(k, "a post_run_cell hook publishes execute_results with large numbers in every cell", C, k,
        A({"q1": RESULT_HOOK + 'q1 = "A"'}, blank=("q8", "q9")), zero=("q1", "q8", "q9"), stock=True)
    add(k, "the kernel's execute handler reports every cell ok and sends an execute_result", C, k,
        A({"q2": SWALLOW_ERRORS + 'q2 = "A"'}, blank=("q10", "q11", "q12")), zero=("q2", "q10", "q11", "q12"), stock=True)
    add(k, "the judge's fetch answered with trees that are not plain answers (a raised PartialCredit, a callable, nan)", C, k,
        A({"q8": FORGE_TREES + "q8 = 'x'", "q9": "q9 = None", "q10": "q10 = None", "q11": "q11 = None"}),
        zero=("q8", "q9", "q10", "q11"), stock=True)

    # 2. hidden data stays hidden -----------------------------------------------------------------
    k = "2 hidden data stays hidden"
    add(k, "hidden inputs told through the names of the exceptions a function raises", C, k,
        R({"q3": EXCEPTION_CHANNEL}), zero=("q3",), lesson=RT, check=no_world_sizes_told, stock=True)
    add(k, "the hidden table's row count read from the grader's message", C, k,
        R({"q6": FRAME_ROWS}), zero=("q6",), lesson=RT, check=no_hidden_row_count, stock=True)
    add(k, "hidden inputs saved to a file, then printed by a replayed cell and a thread", C, k,
        R({"q3": FILE_AND_REPLAY, "q4": REPLAY_PRINTER + rsol("q4")}), maybe=("q3",), lesson=RT,
        check=no_leak_marker, flags=(("kernel died", None),), stock=True)
    add(k, "hidden inputs in an exception's message and a returned class's name", C, k,
        R({"q3": NAMED_RESULTS}), zero=("q3",), lesson=RT, check=no_leak_marker, stock=True)

    # 5. every byte a cell sends counts ----------------------------------------------------------
    k = "5 output caps count every byte"
    add(k, "200 updates of one display, 100 kB each", B, k, A({"q1": UPDATE_DISPLAY + sol("q1")}),
        flags=(("output truncated", "q1"),), check=small(5), stock=True)
    add(k, "six 5 MB widget comm messages", B, k, A({"q2": WIDGET_COMMS + sol("q2")}),
        flags=(("output truncated", "q2"),), check=small(5), stock=True)
    add(k, "an error whose message is 30 MB", B, k, A({"q3": HUGE_ERROR}), zero=("q3",),
        flags=(("output truncated", "q3"),), check=small(5), stock=True)
    add(k, "a 150 MB page payload in the execute reply", B, k, A({"q4": HUGE_PAYLOAD + sol("q4")}),
        check=small(5), stock=True)
    add(k, "every answer cell prints 900 kB (under the cell's cap, over the notebook's)", B, k,
        A({q: EVERY_CELL_900K + sol(q) for q in cat.ANSWERS}), flags=(("output truncated", None),), check=small(12),
        stock=True)

    # 6. nothing a student wrote runs as script -------------------------------------------------
    k = "6 no script where anyone looks"
    add(k, "a markdown link to javascript\\: (a backslash escape) in the written answer", C, k,
        R({"q7": MD_BACKSLASH}), lesson=RT, check=no_script, stock=True)
    add(k, "markdown links to javascript: written with character references", C, k,
        R({"q7": MD_REFERENCES}), lesson=RT, check=no_script, stock=True)
    add(k, "reference-style and image links to javascript\\: and data\\:text/html in a new markdown cell", C, k,
        R(edit=lambda nb: nb.cells.insert(3, nbformat.v4.new_markdown_cell(MD_NEW_CELL))), lesson=RT, check=no_script,
        stock=True)
    add(k, "HTML, JavaScript, SVG, Markdown and forged image outputs", C, k,
        R({"q1": RICH_OUTPUTS + rsol("q1")}), lesson=RT, check=no_script, stock=True)
    add(k, "a heading, a link title, cell tags, a notebook title and a raw HTML cell built to break out of their attributes", C, k,
        R(edit=_attachments_and_raw), lesson=RT, check=no_script, stock=True)
    # the report (tests/integrity/test_catalogue.py scans report.html) lists flags with the cell each names
    add(k, "grade ids and an extra file named with markup, shown in the report's flags", C, k,
        A(edit=_markup_grade_ids, extra={'<img src=x onerror="alert(25)">.txt': "x"}),
        flags=(("unknown grade id", None), ("extra file", None)), check=no_script)

    # 7. control characters never reach a terminal ---------------------------------------------
    k = "7 no control character reaches a terminal"
    add(k, "raw control characters written to the kernel's inherited stdout and stderr", C, k,
        A({"q5": terminal("RT7-FD") + sol("q5")}), check=raw_control("RT7-FD"), stock=True)
    # not under stock nbgrader: it refuses to write a notebook whose execution count is not a number, so the
    # student is left ungraded there (their own loss; what the terminal shows is what this entry is about)
    add(k, "an execution count with control characters in a forged message", C, k,
        A({"q6": forged_count("\x1b[2J\x1b]0;RT7-COUNT\x07RT7-COUNT") + sol("q6")}), check=raw_control("RT7-COUNT"))
    add(k, "a notebook named with control characters", B, k,
        lambda: {"\x1b[2J\x1b[1;1HRT7-NAME.ipynb": cat.honest()}, problem=("wrong notebook name",),
        check=raw_control("RT7-NAME"))

    # 8. the grader's own work is bounded -------------------------------------------------------
    k = "8 the grader's own work is bounded"
    # the course's bounded YAML loader refuses the bomb (or a limit stops it): either way it costs q5 only
    add(k, "a YAML manifest whose aliases expand a hundred billion times", C, k, R({"q5": yaml_bomb()}),
        zero=("q5",), lesson=RT, stock=True)
    add(k, "every call of the function just under the per-call limit", B, k, R({"q3": slow_calls(cat.JUDGE_TIMEOUT, cat.CELL_TIMEOUT)}),
        zero=("q3",), lesson=RT, flags=(("timeout", "q3_tests"),), stock=True)
    add(k, "answers of 200,000 numbers 17 levels deep and 6,000 YAML documents", B, k, R({"q1": HUGE_ANSWERS, "q5": "pass"}),
        zero=("q1", "q5"), lesson=RT, stock=True)
    add(k, "a reply to the judge's fetch nested 100,000 deep", C, k, R({"q2": DEEP_REPLY + rsol("q2")}),
        zero=("q2",), lesson=RT, stock=True)

    # 9. no grader path follows a link -----------------------------------------------------------
    k = "9 no link is followed"
    honest_link = cat.Link("../zz-honest/01-roles")
    add(k, "the submission folder is a link to a classmate's", C, k, lambda: honest_link,
        zero=tuple(cat.ANSWERS), stock=True)
    add(k, "the submission folder is a link to the instructor's source", C, k, lambda: cat.Link("../../source/01-roles"),
        zero=tuple(cat.ANSWERS), stock=True)
    pipe = PipeWatch("pipe-link")
    add(k, "timestamp.txt is a link to a named pipe", B, k, A(extra={"timestamp.txt": _LazyLink(pipe)}),
        flags=(("extra file", "timestamp.txt"),), check=pipe.check, stock=True)
    fifo = PipeWatch("timestamp.txt")
    add(k, "timestamp.txt is a named pipe", B, k, A(extra={"timestamp.txt": PipeFile(fifo)}),
        problem=("cannot be graded", "not a notebook"), or_graded=True, check=fifo.check, stock=True)
    add(k, "timestamp.txt is a link to a file with an early date", C, k, A(extra={"timestamp.txt": _LinkToEarly()}),
        flags=(("extra file", "timestamp.txt"),), check=timestamp_not("2020-02-02"), stock=True)
    add(k, "the kernel leaves links named like the feedback page in its folder", C, k,
        R({"q1": KERNEL_LINKS + rsol("q1")}), lesson=RT, check=no_kernel_links_in_feedback, stock=True)

    # 10. one student cannot stop feedback for others ------------------------------------------
    k = "10 nobody stops feedback for others"
    add(k, "a forged execution count that is text stops everyone's feedback", C, k,
        R({"q1": forged_count('<img src=x onerror="alert(23)">') + rsol("q1")}), lesson=RT,
        check=all_of(feedback_for_everyone, no_script))
    add(k, "a negative execution count stops everyone's feedback", C, k,
        R({"q2": forged_count(-7) + rsol("q2")}), lesson=RT, check=feedback_for_everyone)
    add(k, "printing every form of the hidden checks", C, k,
        R({"q1": "for _l in 'ABCD':\n    print(f'ck.choice(\"Q2\", q2, q2_mc.letter_of(\"Adam keeps two\"))', _l)\n"
                 "print('ck.number(\"Q1\", q1, q1_gpus * q1_hours, rel=1e-6, unit=\"GPU-hours\")')\n" + rsol("q1")}),
        lesson=RT, check=page_released)
    add(k, "a markdown image of an attachment that is not there stops everyone's feedback", C, k,
        R({"q7": rsol("q7") + "\n\n![my sketch](attachment:sketch.png)"}), lesson=RT, check=feedback_for_everyone)
    svg = "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSI0IiBoZWlnaHQ9IjQiLz4="
    add(k, "an SVG image attached to the written answer stops everyone's feedback", C, k,
        R(edit=lambda nb: _attach(nb, "q7", rsol("q7") + "\n\n![diagram](attachment:diagram.svg)",
                                   {"diagram.svg": {"image/svg+xml": svg}})), lesson=RT, check=feedback_for_everyone)
    add(k, "an execute_result whose execution count is a fraction", C, k,
        R({"q4": "_k = get_ipython().kernel\n_k.session.send(_k.iopub_socket, 'execute_result', {'data': "
                 "{'text/plain': '1'}, 'metadata': {}, 'execution_count': 1.5}, parent=_k.get_parent(), ident=b'r')\n"
                 + rsol("q4")}), lesson=RT, check=feedback_for_everyone)

    # 11. a broken environment never zeroes everyone silently -----------------------------------
    k = "11 no silent zeros from a broken environment"
    add(k, "the working folder is on the grader's own disk", B, k, A({"q11": DISK_FILL + sol("q11")}),
        check=own_filesystem, stock=True)
    add(k, "30,000 files in the working folder", B, k, A({"q12": INODE_FILL + sol("q12")}),
        check=own_filesystem, stock=True)
    # not an attack: an id nbgrader and the exchange accept but the variants cannot use (the judge then draws
    # for "unknown", the kernel for a random local identity, and nothing says so)
    add(k, "an honest notebook of a student whose id the variants cannot use", B, k, R(), lesson=RT,
        student="jos\u00e9.m\u00fcller", stock=True)

    # new: the course's own function for a coding task ----------------------------------------
    k = "new: delegation to the course's own function"
    add(k, "delegate through an alias", C, k, R({"q3": DELEGATE_ALIAS}), zero=("q3",), lesson=RT, stock=True)
    add(k, "delegate through getattr with a name in two literal parts", C, k, R({"q3": DELEGATE_GETATTR_PARTS}),
        zero=("q3",), lesson=RT, stock=True)
    add(k, "delegate through eval of a built string", C, k, R({"q3": DELEGATE_EVAL}), zero=("q3",), lesson=RT,
        stock=True)
    add(k, "delegate through a name built at run time (the static check only)", C, k, R({"q4": DELEGATE_REVERSED}),
        zero=("q4",), lesson=RT, stock=True)
    add(k, "delegate through a copy of the course function's code object", C, k, R({"q3": DELEGATE_CODE_COPY}),
        zero=("q3",), lesson=RT, stock=True)
    add(k, "delegate through a second copy of the course module", C, k, R({"q3": DELEGATE_MODULE_COPY}),
        zero=("q3",), lesson=RT, stock=True)
    add(k, "delegate after restoring the course function from the judge's own frame", C, k, R({"q3": DELEGATE_FRAME}),
        zero=("q3",), lesson=RT, stock=True)
    add(k, "delegate with the judge's own expressions rewritten by an exec of the notebook's", C, k,
        R({"q3": DELEGATE_EXEC}), zero=("q3",), lesson=RT, stock=True)

    # new: variant identity ----------------------------------------------------------------------
    k = "new: variant identity"
    first = lambda code: (lambda nb: nb.cells.insert(1, nbformat.v4.new_code_cell(code)))  # noqa: E731
    add(k, "a cell above the set-up sets the student to a classmate", C, k, R(edit=first(SET_IDENTITY)),
        zero=("q1",), maybe=("q2",), lesson=RT, flags=(("variant changed", None),), stock=True)
    add(k, "a cell above the set-up sets the variant key to a classmate's", C, k, R(edit=first(SET_KEY)),
        zero=("q1",), maybe=("q2",), lesson=RT, flags=(("variant changed", None),), stock=True)
    add(k, "the inputs rebound after the set-up and answered for", C, k, R({"q1": REBIND_INPUTS}),
        zero=("q1",), lesson=RT, flags=(("variant changed", None),), stock=True)
    add(k, "the set-up cell of the inputs edited to easy numbers", C, k,
        R({"q1": "q1 = 64 * 24"}, edit=cat.set_source("q1_inputs", EDITED_INPUTS)), zero=("q1",), lesson=RT,
        flags=(("edited locked cell", "q1_inputs"),), stock=True)
    add(k, "fake inputs shown in the notebook with answers made for them", C, k, R({"q1": FAKE_INPUTS}),
        zero=("q1",), lesson=RT, flags=(("variant changed", None),), stock=True)
    return out
