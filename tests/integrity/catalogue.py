"""The red-team catalogue: cheating attempts and bad submissions against lesson 1.

Every entry builds the files of one submission folder from the release notebook and says what
grading must make of it:

- ``zero``: questions (answer grade ids, ``q1`` ... ``q14``) that must score 0;
- ``maybe``: questions that may score 0 or their full points (a bomb that a limit may or may not stop);
- every other question was answered honestly by the builder and must keep its full points;
- ``problem``: the whole notebook is reported (one of these kinds) and scores zero;
  ``or_graded``: being graded honestly instead is fine too;
- ``flags``: flags the report must show for this student, ``(kinds, cell)`` where ``kinds`` may
  give alternatives as ``"a|b"`` and ``cell`` is a grade id or file name (None: any cell);
- ``check``: a further check of what was observed (returns a failure message or None).

A submission is *lost* when it has neither an autograded notebook with grades nor a reported
problem. The same functions run the catalogue for ``tests/integrity/test_catalogue.py`` and for
``benchmarks/integrity.py``: :func:`run` builds one course with a student per entry, grades it,
and :func:`check` compares each student's outcome with the entry's expectation.

Runaway code is bounded so that a failed defence cannot harm the machine: the memory bomb stops at
3 GiB, the fork attempt at 2,000 sleeping children (all killed before the cell ends, each exits by
itself after 20 s anyway), every loop is stopped by the per-cell timeout the test course sets.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

import builders as b
from nbedit import chain, delete, duplicate, index, retype, set_meta, set_source, strip

try:
    from . import redteam_lesson
except ImportError:  # imported as a top-level module (benchmarks/integrity.py)
    import redteam_lesson

LESSON = "01-roles"
NB = f"{LESSON}.ipynb"
ANSWERS = b.answer_ids(b.source_nb(LESSON))             # q1 ... q14 (autograded answers)
TESTS = b.test_cells(b.source_nb(LESSON))               # q1_tests ... q14_tests -> points
MAX_SCORE = sum(TESTS.values()) + 7.0                   # 27 autograded + 7 written (q15)


@dataclass(frozen=True)
class Lesson:
    """An assignment the catalogue grades: its autograded answers, test cells (points) and maximum score."""

    name: str
    answers: list
    tests: dict
    max_score: float

    @property
    def nb(self) -> str:
        return f"{self.name}.ipynb"


def _lesson_of(name: str, source) -> Lesson:
    tests = b.test_cells(source)
    written = sum(float(b.meta(c).get("points", 0)) for c in source.cells
                  if b.meta(c).get("grade") and b.meta(c).get("solution"))
    return Lesson(name, b.answer_ids(source), tests, sum(tests.values()) + written)


_LESSONS: dict = {}


def lesson(name: str) -> Lesson:
    """The catalogue's facts about an assignment (lesson 1 for a lesson folder that is not one)."""
    if name not in _LESSONS:
        if name == LESSON:
            _LESSONS[name] = _lesson_of(name, b.source_nb(LESSON))
        elif name == redteam_lesson.LESSON:
            _LESSONS[name] = _lesson_of(name, redteam_lesson.source_notebook())
        else:
            return lesson(LESSON)
    return _LESSONS[name]


def graded_lessons(entries) -> list[str]:
    """The assignments a set of entries needs in the course (lesson folders that are not one excluded)."""
    known = {LESSON, redteam_lesson.LESSON}
    return sorted({LESSON} | {e.lesson for e in entries if e.lesson in known})
CELL_TIMEOUT = 20                                       # seconds; the test course's Execute.timeout (a loaded 2-core machine
#   has taken more than 8 s for the import cell of the instructor's preflight)
JUDGE_TIMEOUT = 10                                      # seconds; the test course's JudgedExecute.judge_timeout
COURSE_CONFIG = f"""
# tests/integrity/catalogue.py: short timeouts, so runaway code costs the suite seconds, not minutes
c.Execute.timeout = {CELL_TIMEOUT}
c.ExecutePreprocessor.timeout = {CELL_TIMEOUT}
c.JudgedExecute.judge_timeout = {JUDGE_TIMEOUT}
"""

# whole-notebook problems (the notebook scores zero and is reported)
WHOLE = {"wrong notebook name", "missing notebook", "empty file", "not a notebook", "too large",
         "cannot be graded", "unknown lesson", "execution failed"}

# the list of what the suite must cover
COVERAGE = [
    "patched builtins and standard modules", "always-equal and always-close objects",
    "subclasses of float and str that lie", "reading solutions or the gradebook from disk",
    "writing to the gradebook", "sniffing the grading environment", "editing or deleting test cells",
    "stripping metadata", "duplicating grade ids", "changing points", "infinite loops", "huge output",
    "memory exhaustion", "process forks", "sys.exit and os._exit", "invalid JSON", "empty files",
    "wrong notebook names", "extra files", "an old notebook format", "a different kernel language",
    "very large files",
]


@dataclass(frozen=True)
class Entry:
    name: str
    category: str                      # "cheat", "bad input" or "control"
    covers: str                        # one of COVERAGE, or what else it covers
    build: Callable[[], dict]          # {path in the submission folder: notebook, bytes, str or a maker}
    zero: tuple[str, ...] = ()
    maybe: tuple[str, ...] = ()
    problem: tuple[str, ...] = ()
    or_graded: bool = False
    flags: tuple[tuple[str, str | None], ...] = ()
    check: Callable[["Observed"], str | None] | None = None
    stock: bool = False                # also graded with stock `nbgrader autograde` (scores only)
    lesson: str = LESSON
    klass: str = ""                    # the red team's class of attack (1-11 in redteam.py, or a new class's name)
    student: str = ""                  # the student id to submit as (default: one the catalogue assigns)

    def expected_scores(self) -> dict[str, tuple[float, ...]]:
        """test grade id -> the scores it may get."""
        tests = lesson(self.lesson).tests
        if self.problem:
            return {t: (0.0,) for t in tests}
        out = {}
        for test, points in tests.items():
            question = test.removesuffix("_tests")
            out[test] = (0.0,) if question in self.zero else (0.0, points) if question in self.maybe else (points,)
        return out

    def describe(self) -> str:
        if self.problem:
            text = "reported: " + " or ".join(self.problem) + (" (or graded)" if self.or_graded else "")
        else:
            total = sum(max(v) for v in self.expected_scores().values())
            low = sum(min(v) for v in self.expected_scores().values())
            text = f"graded {low:g}" + (f"-{total:g}" if total != low else "") + \
                f"/{sum(lesson(self.lesson).tests.values()):g}"
            if self.zero:
                text += "; 0 for " + ",".join(self.zero)
        if self.flags:
            text += "; flags " + ", ".join(k + (f"@{c}" if c else "") for k, c in self.flags)
        if self.lesson != LESSON:
            text = f"[{self.lesson}] " + text
        return text


# --------------------------------------------------------------------------- building submissions

class Link:
    """A symbolic link in the submission folder."""

    def __init__(self, target: str):
        self.target = target

    def make(self, path: Path) -> None:
        path.symlink_to(self.target)


class Folder:
    """A folder (e.g. where the notebook should be)."""

    def make(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)


class Fifo:
    """A named pipe (reading it blocks until someone writes)."""

    def make(self, path: Path) -> None:
        os.mkfifo(path)


def materialize(folder: Path, files) -> None:
    """Make a submission folder: ``files`` maps paths in it to contents; a :class:`Link` instead of a
    mapping makes the submission folder itself a link."""
    if isinstance(files, Link):
        folder.parent.mkdir(parents=True, exist_ok=True)
        files.make(folder)
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, (Link, Folder, Fifo)) or hasattr(content, "make"):
            content.make(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            nbformat.write(content, str(path))


_LETTER = re.compile(r"^(q\d+) = (['\"])[A-F]+\2\s*$", re.M)
_WRAPPED = re.compile(r"^(q\d+) = (_\w+)\((['\"])[A-F]+\3\)\s*$", re.M)


def wrong_letters(code: str) -> str:
    """A cheat's fallback answer (``q4 = "A"``, or a lying object around one, ``q1 = _Any("A")``) made
    wrong for whoever runs it: options are shuffled per student, so a fixed letter is right for some;
    the assignment's own wrong answer never is."""
    wrong = b.cases(LESSON).WRONG
    code = _LETTER.sub(lambda m: wrong.get(m.group(1), m.group(0)), code)
    return _WRAPPED.sub(lambda m: (f"{wrong[m.group(1)]}\n{m.group(1)} = {m.group(2)}({m.group(1)})"
                                   if m.group(1) in wrong else m.group(0)), code)


def honest(replace: dict | None = None, blank=()) -> nbformat.NotebookNode:
    """The release notebook with every answer right, except those replaced (each fallback letter made
    wrong for the student, see :func:`wrong_letters`) or left blank."""
    replace = {q: wrong_letters(code) for q, code in (replace or {}).items()}
    return b.submission(LESSON, correct=[q for q in ANSWERS if q not in replace and q not in blank], replace=replace)


def answers(replace: dict | None = None, blank=(), edit=None, extra: dict | None = None):
    """A builder: the honest notebook with these answers replaced, then ``edit(nb)``, plus extra files."""
    def build():
        nb = honest(replace, blank)
        if edit is not None:
            changed = edit(nb)
            nb = changed if isinstance(changed, nbformat.NotebookNode) else nb
        files = {NB: nb}
        files.update(extra or {})
        return files
    return build


def rt_honest(replace: dict | None = None, blank=()) -> nbformat.NotebookNode:
    """The red-team assignment's release, as built for the course, answered from its source's solutions
    (the written answer too), except the answers replaced or left blank."""
    replace = replace or {}
    nb = released(redteam_lesson.LESSON)
    solutions = {b.grade_id(c): c.source for c in redteam_lesson.source_notebook().cells if b.meta(c).get("solution")}
    unknown = set(replace) - set(solutions)
    if unknown:
        raise KeyError(f"{redteam_lesson.LESSON}: no answer cell(s) {sorted(unknown)}")
    for cell in nb.cells:
        gid = b.grade_id(cell)
        if gid in replace:
            cell.source = replace[gid]
        elif gid in solutions and gid not in blank:
            cell.source = solutions[gid]
    return nb


def rt_answers(replace: dict | None = None, blank=(), edit=None, extra: dict | None = None):
    """:func:`answers` for the red-team assignment (``tests/integrity/redteam_lesson.py``)."""
    def build():
        nb = rt_honest(replace, blank)
        if edit is not None:
            changed = edit(nb)
            nb = changed if isinstance(changed, nbformat.NotebookNode) else nb
        files = {redteam_lesson.NB: nb}
        files.update(extra or {})
        return files
    return build


def rt_solution(question: str) -> str:
    return next(c.source for c in redteam_lesson.source_notebook().cells if b.grade_id(c) == question)


def raw(content):
    """A builder of a notebook file with these exact contents (bytes, text, or a function making them)."""
    return lambda: {NB: content() if callable(content) else content}


def honest_json(**changes) -> dict:
    d = json.loads(nbformat.writes(honest()))
    d.update(changes)
    return d


def json_cell(grade_id: str, change) -> str:
    """The honest notebook as JSON text, with ``change(cell)`` applied to one cell's JSON object."""
    d = honest_json()
    for cell in d["cells"]:
        if b.meta(cell).get("grade_id") == grade_id:
            change(cell)
    return json.dumps(d, indent=1)


# tampering: the edits are tests/nbedit.py's --------------------------------------------------

def released_index(nb, grade_id: str) -> int:
    """The cell released with this grade id, found by its cell id (whatever its metadata says now)."""
    want = next(c.get("id") for c in b.release_nb(LESSON).cells if b.grade_id(c) == grade_id)
    return next(i for i, c in enumerate(nb.cells) if c.get("id") == want)


def strip_and_replace(grade_id, source):
    def edit(nb):
        strip(grade_id)(nb)
        nb.cells[released_index(nb, grade_id)].source = source
    return edit


def swap_ids(first: str, second: str):
    def edit(nb):
        i, j = index(nb, first), index(nb, second)
        nb.cells[i].metadata["nbgrader"]["grade_id"] = second
        nb.cells[j].metadata["nbgrader"]["grade_id"] = first
    return edit


def fake_test_cell(nb):
    """A new locked test cell worth 100 points that always passes."""
    cell = nbformat.v4.new_code_cell("pass  # bonus", metadata={
        "deletable": False, "editable": False,
        "nbgrader": {"grade": True, "grade_id": "bonus_tests", "locked": True, "points": 100.0,
                     "schema_version": 3, "solution": False, "task": False}})
    nb.cells.insert(index(nb, "q1_tests") + 1, cell)


def to_v3(nb):
    return nbformat.writes(nbformat.convert(copy.deepcopy(nb), 3))


def without_ids(nb):
    d = json.loads(nbformat.writes(nb))
    d["nbformat_minor"] = 4
    for cell in d["cells"]:
        cell.pop("id", None)
    return json.dumps(d, indent=1)


def other_kernel(nb):
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb.metadata["language_info"] = {"name": "R", "file_extension": ".r", "mimetype": "text/x-r-source"}


def no_metadata(nb):
    nb.metadata = nbformat.NotebookNode()


def empty_cells() -> str:
    d = honest_json()
    d["cells"] += [{"cell_type": "code", "id": f"empty{i:05d}", "metadata": {}, "source": "", "outputs": [],
                    "execution_count": None} for i in range(10_000)]
    return json.dumps(d)


def stored_outputs(megabytes: int):
    """Outputs of a previous run kept in the notebook (about ``megabytes`` MB in all)."""
    def edit(nb):
        chunk = "y" * (1024 * 1024 - 1) + "\n"
        for gid in ANSWERS[:megabytes]:
            cell = nb.cells[index(nb, gid)]
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=chunk)]
            cell.execution_count = 1
    return edit


def padded(megabytes: int):
    """A raw cell of ``megabytes`` MB (incompressible text), to make a very large notebook."""
    def edit(nb):
        rng = random.Random(megabytes)
        text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(1024))
        nb.cells.append(nbformat.v4.new_raw_cell(text * (megabytes * 1024)))
    return edit


def lone_surrogate():
    text = nbformat.writes(honest())
    return text.replace('"Q1 (1 point).', '"\\ud800 Q1 (1 point).', 1) if '"Q1 (1 point).' in text else \
        text.replace("**Q1 (1 point).**", "\\ud800 **Q1 (1 point).**", 1)


def nested_json():
    d = honest_json()
    d["metadata"]["deep"] = "@@"
    return json.dumps(d).replace('"@@"', "[" * 100_000 + "]" * 100_000)


# --------------------------------------------------------------------------- code the cheats run

# Finds files the kernel should never see: from its folder up, from the environment, from every
# process it can see in /proc (cwd, root, environ, cmdline), and a few usual places. Bounded.
FIND = r'''
import glob as _g, os as _o, pathlib as _p

def _roots():
    roots = set()
    here = _p.Path.cwd().resolve()
    roots.update(str(p) for p in [here, *here.parents])
    def _paths(text):
        for part in text.replace("\0", " ").replace("=", " ").replace("sqlite:///", " /").replace(":", " ").split():
            if part.startswith("/") and len(part) < 300:
                yield part if _o.path.isdir(part) else _o.path.dirname(part)
    for value in _o.environ.values():
        roots.update(_paths(value))
    for proc in _g.glob("/proc/[0-9]*")[:3000]:
        for link in ("cwd", "root"):
            try:
                roots.add(_o.readlink(proc + "/" + link))
            except OSError:
                pass
        for name in ("environ", "cmdline"):
            try:
                with open(proc + "/" + name, "rb") as _f:
                    roots.update(_paths(_f.read(65536).decode("utf-8", "ignore")))
            except OSError:
                pass
    for pattern in ("/tmp/*", "/tmp/*/*", "/tmp/*/*/*", "/tmp/*/*/*/*", "/work/*", "/root/*", "/home/*/*", "/srv/*"):
        roots.update(p for p in _g.glob(pattern)[:500] if _o.path.isdir(p))
    more = set()
    for root in roots:
        more.update(str(p) for p in list(_p.Path(root).parents)[:6])
    return sorted(r for r in roots | more if r and _o.path.isdir(r))

def _candidates(names):
    found = []
    for root in _roots():
        for name in names:
            for path in _g.glob(_o.path.join(root, name))[:50]:
                if _o.path.isfile(path) and path not in found:
                    found.append(path)
    return found

def _me():
    parts = _p.Path.cwd().resolve().parts
    return parts[parts.index("autograded") + 1] if "autograded" in parts[:-1] else None

def _cells(path):
    with open(path, encoding="utf-8") as _f:
        cells = __import__("json").load(_f)["cells"]
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
'''

READ_SOLUTIONS = FIND + r'''
import re, infraprep
q2 = "A"
_places = [str(_p.Path(infraprep.__file__).resolve().parents[1] / "source/01-roles/01-roles.ipynb")]
for _path in _places + _candidates(["source/01-roles/01-roles.ipynb", "*/source/01-roles/01-roles.ipynb"]):
    try:
        _found = [m for text in _cells(_path) for m in re.findall(r'q2 = "([A-D])"', text)]
    except Exception:
        continue
    if _found:
        q2 = _found[-1]
        print("SOLUTION FOUND", _path)
        break
'''

READ_GRADEBOOK = FIND + r'''
import re, sqlite3
q3 = "B"
for _db in _candidates(["gradebook.db", "*.db"]):
    try:
        _rows = sqlite3.connect("file:" + _db + "?mode=ro", uri=True, timeout=1).execute(
            "select source from source_cell where name = 'q3_tests'").fetchall()
    except Exception:
        continue
    for (_src,) in _rows:
        _m = re.findall(r'ck\.choices\("Q3", q3, "([A-F]+)"\)', _src or "")
        if _m:
            q3 = _m[0]
            print("GRADEBOOK READ", _db)
'''

WRITE_GRADEBOOK = FIND + r'''
import sqlite3
_student = _me()
for _db in _candidates(["gradebook.db", "*.db"]):
    try:
        _con = sqlite3.connect(_db, timeout=2)
        _con.execute("update grade set manual_score = 100, extra_credit = 100 where notebook_id in ("
                     "select sn.id from submitted_notebook sn join submitted_assignment sa on sn.assignment_id = sa.id "
                     "where sa.student_id = ?)", (_student,))
        _con.execute("create table if not exists pwned (x)")
        _con.commit()
        print("GRADEBOOK WRITTEN", _db)
    except Exception as _e:
        print("blocked:", type(_e).__name__)
q4 = "A"
'''

SNIFF = FIND + r'''
import os, re
print("SNIFF env:", sorted(k for k in os.environ if k.startswith(("NBGRADER", "INFRAPREP", "JUPYTER"))))
print("SNIFF cmdlines:", [open(p, "rb").read(200).replace(b"\0", b" ").decode("utf-8", "ignore")
                          for p in __import__("glob").glob("/proc/[0-9]*/cmdline")[:20]])
q5 = "A"
for _path in _candidates(["source/01-roles/01-roles.ipynb", "*/source/01-roles/01-roles.ipynb", "nbgrader_config.py"]):
    print("SNIFF found:", _path)
    if _path.endswith(".ipynb"):
        _found = [m for text in _cells(_path) for m in re.findall(r'q5 = "([A-D])"', text)]
        q5 = _found[-1] if _found else q5
'''

READ_OTHERS = FIND + r'''
import collections, re
_votes = collections.Counter()
_paths = set()
for _root in _roots():
    for _pattern in ("*/01-roles/*.ipynb", "submitted/*/01-roles/*.ipynb", "autograded/*/01-roles/*.ipynb",
                     "*.ipynb", "*/*.ipynb", "*/*/*.ipynb"):
        _paths.update(_g.glob(_o.path.join(_root, _pattern))[:200])
for _path in sorted(_paths)[:300]:
    try:
        _votes.update(m for text in _cells(_path) for m in re.findall(r'q6 = "([A-D])"', text))
    except Exception:
        pass
print("OTHERS READ", len(_paths))
q6 = _votes.most_common(1)[0][0] if _votes else "A"
'''

SABOTAGE = FIND + r'''
_here = _o.path.realpath(_o.getcwd())
for _root in _roots():
    # another student's notebook: overwrite it
    for _pattern in ("zz-honest/01-roles/*", "*/zz-honest/01-roles/*"):
        for _path in _g.glob(_o.path.join(_root, _pattern))[:20]:
            try:
                _o.chmod(_path, 0o644)
                with open(_path, "w") as _f:
                    _f.write("{}")
                print("SABOTAGED", _path)
            except OSError:
                pass
    # other kernels' working folders: plant a marker file
    for _dir in _g.glob(_o.path.join(_root, "nb-*"))[:50] + _g.glob(_o.path.join(_root, "*/nb-*"))[:50]:
        if _o.path.isdir(_dir) and _o.path.realpath(_dir) != _here:
            try:
                with open(_o.path.join(_dir, "planted-by-another-student.txt"), "w") as _f:
                    _f.write("x")
                print("SABOTAGED", _dir)
            except OSError:
                pass
q7 = "A"
'''

KILL_OTHERS = r'''
import os, signal
_me, _parent = os.getpid(), os.getppid()
_targets = []
for _entry in os.listdir("/proc"):
    if not _entry.isdigit() or int(_entry) in (_me, 1):
        continue
    try:
        with open(f"/proc/{_entry}/stat") as _f:
            _ppid = int(_f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        continue
    if int(_entry) == _parent or _ppid == _parent:   # the process that started this kernel, and its other children
        _targets.append(int(_entry))
print("targets", len(_targets))
for _pid in _targets:
    try:
        os.kill(_pid, signal.SIGKILL)
        print("KILLED", _pid)
    except OSError as _e:
        print("could not kill", _pid, type(_e).__name__)
q9 = 1.0
'''

LYING_TYPE = r'''
import builtins
_type = builtins.type
class _Any(str):
    def __eq__(self, o):
        return True
    __hash__ = str.__hash__
class _Meta(_type):
    def __call__(cls, *args, **kw):
        if len(args) == 1 and _type(args[0]) is _Any:
            return str
        return _type(*args, **kw)
    def __instancecheck__(cls, obj):
        return isinstance(obj, _type)
    def __subclasscheck__(cls, sub):
        return issubclass(sub, _type)
class _LyingType(metaclass=_Meta):
    pass
builtins.type = _LyingType
q1 = _Any("A")
'''

READ_LINKED = r'''
import glob, json, re
q2 = "A"
for _path in glob.glob("*"):
    try:
        _text = open(_path, encoding="utf-8", errors="ignore").read()
    except OSError:
        continue
    _found = re.findall(r'q2 = \\?"([A-D])\\?"', _text) + re.findall(r'choice\("Q2", q2, \\?"([A-D])', _text)
    if _found:
        q2 = _found[-1]
        print("LINK READ", _path)
'''

SHADOW_INFRAPREP = r'''"""A file named infraprep.py beside the notebook: loads the real package with do-nothing checks."""
import importlib, os, sys
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
del sys.modules[__name__]
_real = importlib.import_module("infraprep")
import infraprep.checking as _ck
for _n in dir(_ck):
    if _n.islower() and not _n.startswith("_") and callable(getattr(_ck, _n)):
        setattr(_ck, _n, lambda *a, **k: None)
sys.modules[__name__] = _real
'''

FORK = r'''
import os, signal, time
children = []
try:
    while len(children) < 2000:
        pid = os.fork()
        if pid == 0:
            try:
                time.sleep(20)
            finally:
                os._exit(0)
        children.append(pid)
except OSError as e:
    print("fork refused:", type(e).__name__)
finally:
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass
print("forked", len(children))
'''

MEMORY = r'''
blocks = []
try:
    for _ in range(12):                      # 12 x 256 MiB = 3 GiB at most, touched page by page
        blocks.append(b"\x01" * (256 * 1024 * 1024))
except MemoryError:
    print("memory refused after", len(blocks) * 256, "MiB")
finally:
    held = len(blocks) * 256
    blocks.clear()
print("held", held, "MiB")
'''


THREADS = r'''
import threading, time
threads = []
try:
    while len(threads) < 2000:
        t = threading.Thread(target=time.sleep, args=(20,), daemon=True)
        t.start()
        threads.append(t)
except (RuntimeError, OSError) as e:
    print("thread refused:", type(e).__name__)
print("threads", len(threads))
'''

DISK = r'''
import os
chunk = b"\x02" * (64 * 1024 * 1024)
written = 0
for folder in (".", "/tmp"):
    try:
        with open(os.path.join(folder, "filler.bin"), "wb") as f:
            for _ in range(8):                 # 8 x 64 MiB = 512 MiB a folder, 1 GiB in all at most
                f.write(chunk)
                written += len(chunk)
    except OSError as e:
        print("disk refused:", type(e).__name__)
print("wrote", written // 2**20, "MiB")
'''

DEAF = r'''
k = get_ipython().kernel
for _name in ("shell_stream", "control_stream"):
    _s = getattr(k, _name, None)
    if _s is not None:
        _s.close()
for _s in getattr(k, "shell_streams", []) or []:
    _s.close()
'''


def threads_bounded(obs):
    counts = [int(n) for n in re.findall(r"threads (\d+)", printed(obs))]
    if counts and max(counts) >= 1000:
        return f"the kernel started {max(counts)} threads (the limit must stop it well before 2,000)"
    return None


def folder_small(obs):
    folder = obs.course / "autograded" / obs.student if obs.course else None
    if folder is None or not folder.exists():
        return None
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return f"the student's autograded folder holds {size / 2**20:.0f} MiB (files the kernel wrote were kept)" \
        if size > 50 * 2**20 else None


def solution(question: str) -> str:
    return next(c.source for c in b.source_nb(LESSON).cells if b.grade_id(c) == question)


# --------------------------------------------------------------------------- checks of what was seen

def printed(obs: "Observed") -> str:
    if obs.nb is None:
        return ""
    return "\n".join(o.get("text", "") for c in obs.nb.cells for o in c.get("outputs", [])
                     if o.get("output_type") == "stream")


def no_leak(*markers):
    def check(obs):
        text = printed(obs)
        leaked = [m for m in markers if m in text]
        return f"the kernel saw {leaked}" if leaked else None
    return check


def fork_bounded(obs):
    counts = [int(n) for n in re.findall(r"forked (\d+)", printed(obs))]
    if counts and max(counts) >= 1000:
        return f"the kernel started {max(counts)} processes (the limit must stop it well before 2,000)"
    return None


def small_notebook(limit_mb: float = 5):
    def check(obs):
        if obs.nb_bytes > limit_mb * 1024 * 1024:
            return f"the autograded notebook is {obs.nb_bytes / 2**20:.1f} MB (output not truncated)"
        return None
    return check


def gradebook_untouched(obs):
    return "the gradebook was written from the kernel" if obs.pwned else None


# --------------------------------------------------------------------------- the catalogue

def _cheat(name, covers, replace, zero, stock=True, **kw):
    return Entry(name, "cheat", covers, answers(replace), zero=zero, stock=stock, **kw)


PATCHED = "patched builtins and standard modules"
ALWAYS = "always-equal and always-close objects"
LYING = "subclasses of float and str that lie"
DISK = "reading solutions or the gradebook from disk"

CHEATS = [
    # the 14 attempts of the first red team
    _cheat("patch the numeric check", PATCHED, {"q8": "ck.number = lambda *a, **k: None\nq8 = 1.0"}, ("q8",)),
    _cheat("patch every check in the module", PATCHED, {
        "q9": "import infraprep.checking as _c\nfor _n in dir(_c):\n    if not _n.startswith('_') and callable(getattr(_c, _n)) and _n.islower():\n        setattr(_c, _n, lambda *a, **k: None)\nq9 = 1.0"},
        ("q9",)),
    _cheat("patch math.isclose", PATCHED, {"q10": "import math\nmath.isclose = lambda *a, **k: True\nq10 = 1.0"}, ("q10",)),
    _cheat("replace the ck name with do-nothing checks", PATCHED, {"q11": "import types\nimport infraprep.checking as _real\nck = types.SimpleNamespace(**{n: (lambda *a, **k: None) for n in dir(_real) if not n.startswith('_')})\nq11 = 1.0"}, ("q11",)),
    _cheat("always-equal object", ALWAYS, {"q1": "class _Eq(str):\n    def __eq__(self, other):\n        return True\n    __hash__ = str.__hash__\nq1 = _Eq('A')"}, ("q1",)),
    _cheat("lying str subclass", LYING, {"q2": "class _S(str):\n    def upper(self):\n        return 'C'\n    def strip(self):\n        return self\nq2 = _S('A')"}, ("q2",)),
    _cheat("float subclass that equals anything", LYING, {"q12": "class _F(float):\n    def __eq__(self, o):\n        return True\n    def __sub__(self, o):\n        return 0.0\n    __hash__ = float.__hash__\nq12 = _F(1.0)"}, ("q12",)),
    _cheat("hide errors by patching IPython's traceback display", "hiding errors", {
        "q4": "get_ipython().showtraceback = lambda *a, **k: None\nget_ipython().showsyntaxerror = lambda *a, **k: None\nq4 = 'A'"}, ("q4",)),
    _cheat("swallow exceptions with a custom exception handler", "hiding errors", {
        "q5": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\nq5 = 'A'"}, ("q5",)),
    _cheat("patch AssertionError handling via sys.excepthook", PATCHED, {"q6": "import sys\nsys.excepthook = lambda *a: None\nq6 = 'A'"}, ("q6",)),
    _cheat("trace hidden tests to steal expected values", "spying on the checks", {
        "q7": "import sys\n_seen = []\ndef _tr(frame, event, arg):\n    if event == 'call':\n        _seen.append(dict(frame.f_locals))\n    return None\nsys.settrace(_tr)\nq7 = 'A'"}, ("q7",)),
    _cheat("function returning an always-equal object", ALWAYS, {
        "q13": "def widest_total_comp(salaries):\n    class _E(str):\n        def __eq__(self, other):\n            return True\n        __hash__ = str.__hash__\n    return _E('x')"}, ("q13",)),
    _cheat("function that fakes the judge's reply line", "forging the judge's channel", {
        "q14": "def loop_hours(rounds):\n    print('@@infraprep-' + '0' * 24 + '@@{\"t\": \"list\", \"v\": []}')\n    return (0.0, 0.0)"}, ("q14",)),
    _cheat("forge the judge's reply by wrapping stdout", "forging the judge's channel", {
        "q3": "import sys\n_write = sys.stdout.write\ndef _forge(text):\n    if '@@infraprep-' in text:\n        nonce = text.split('@@')[1]\n        return _write('\\n@@' + nonce + '@@{\"t\": \"str\", \"v\": \"B\"}\\n')\n    return _write(text)\nsys.stdout.write = _forge\nq3 = 'B'"}, ("q3",)),
    # patched builtins and standard modules
    _cheat("patch builtins.isinstance so a text passes as a number", PATCHED, {
        "q8": "import builtins\n_real = builtins.isinstance\ndef _lie(obj, kinds):\n    if type(obj) is str and (kinds in (int, float) or (type(kinds) is tuple and float in kinds)):\n        return True\n    return _real(obj, kinds)\nbuiltins.isinstance = _lie\nq8 = 'about five hours'"}, ("q8",)),
    _cheat("patch float.__eq__ through ctypes and the type's dict", PATCHED, {
        "q12": "import ctypes, gc\n_d = gc.get_referents(float.__dict__)[0]\n_d['__eq__'] = lambda a, b: True\n_d['__ne__'] = lambda a, b: False\nctypes.pythonapi.PyType_Modified(ctypes.py_object(float))\nq12 = 1.0"}, ("q12",)),
    _cheat("patch json.dumps so the kernel's reply smuggles a table for a number", PATCHED, {
        "q9": "import json\n_real = json.dumps\ndef _forge(obj, *a, **k):\n    global _done\n    if type(obj) is dict and obj.get('t') in ('float', 'int') and not globals().get('_done'):\n        _done = True\n        json.dumps = _real\n        obj = {'t': 'frame', 'columns': [{'t': 'str', 'v': 'x'}], 'rows': [[{'t': 'float', 'v': (1.0).hex()}]]}\n    return _real(obj, *a, **k)\njson.dumps = _forge\nq9 = 1.0"}, ("q9",)),
    _cheat("patch pickle.loads so hidden inputs become the visible table", PATCHED, {
        "q14": "import pickle\n_loads = pickle.loads\ndef _same(data, *a, **k):\n    _loads(data, *a, **k)\n    return (tables.load('01-roles', 'interview_rounds'),)\npickle.loads = _same\ndef loop_hours(rounds):\n    return (3.5, 4.75)"}, ("q14",),
           # the learner's functions are all called after the last cell, in the kernel the patch lives
           # in: q13's honest function gets the patched arguments too (a student can only lower their own score)
           maybe=("q13",)),
    # every type() call is then the notebook's Python code, which the delegation guard watches: the coding
    # tasks' calls may run out of time on a busy machine (a cost of the cheat, never a gain)
    _cheat("patch builtins.type so a lying object is sent as text", PATCHED, {"q1": LYING_TYPE}, ("q1",),
           maybe=("q13", "q14")),
    _cheat("silence the kernel's error messages and stderr", "hiding errors", {
        "q8": "import io, sys\n_ip = get_ipython()\n_ip._showtraceback = lambda *a, **k: None\n_ip.showtraceback = lambda *a, **k: None\nsys.stderr = io.StringIO()\nq8 = 'soon'"}, ("q8",)),
    _cheat("monkeypatch nbformat and IPython display in the kernel", PATCHED, {
        "q9": "import IPython.display, nbformat\nIPython.display.display = lambda *a, **k: None\nnbformat.validate = lambda *a, **k: None\nnbformat.v4.new_output = lambda *a, **k: {}\nget_ipython().display_pub.publish = lambda *a, **k: None\nq9 = 1"}, ("q9",)),
    _cheat("raise KeyboardInterrupt inside the checks to dodge them", "dodging the checks", {
        "q10": "import sys\ndef _prof(frame, event, arg):\n    if event == 'call' and frame.f_code.co_name in ('is_number', 'number', '_number'):\n        raise KeyboardInterrupt\nsys.setprofile(_prof)\nq10 = 99.0"}, ("q10",)),
    _cheat("answer through builtins and a module __getattr__", "dodging the checks", {
        "q11": "import builtins, sys, types\nclass _Lazy(types.ModuleType):\n    def __getattr__(self, name):\n        return 61.0 if name == 'q11' else super().__getattribute__(name)\nsys.modules['__main__'].__class__ = _Lazy\nbuiltins.q11 = 61.0"}, ("q11",)),
    # always-close numbers and lying subclasses
    _cheat("nan and infinity where a number is due", ALWAYS, {"q9": "q9 = float('nan')", "q10": "q10 = float('inf')"}, ("q9", "q10")),
    _cheat("float subclass whose abs and comparisons lie", LYING, {
        "q11": "class _F(float):\n    def __abs__(self):\n        return 0.0\n    def __sub__(self, o):\n        return _F(0.0)\n    __rsub__ = __sub__\n    def __le__(self, o):\n        return True\n    __lt__ = __ge__ = __le__\n    def __eq__(self, o):\n        return True\n    __hash__ = float.__hash__\nq11 = _F(1.0)"}, ("q11",)),
    _cheat("numpy scalar and array subclasses that lie", ALWAYS, {
        "q10": "import numpy as np\nclass _N(np.float64):\n    def __eq__(self, o):\n        return True\n    def __sub__(self, o):\n        return 0.0\n    __hash__ = np.float64.__hash__\nq10 = _N(1.0)",
        "q12": "import numpy as np\nclass _A(np.ndarray):\n    def __eq__(self, o):\n        return np.ones(self.shape, bool)\n    def __sub__(self, o):\n        return np.zeros(self.shape)\nq12 = np.array(1.0).view(_A)"}, ("q10", "q12")),
    _cheat("Decimal and Fraction that lie", ALWAYS, {
        "q8": "from decimal import Decimal\nq8 = Decimal('NaN')",
        "q9": "from fractions import Fraction\nclass _Fr(Fraction):\n    def __eq__(self, o):\n        return True\n    def __sub__(self, o):\n        return Fraction(0)\n    __hash__ = Fraction.__hash__\nq9 = _Fr(1)"}, ("q8", "q9")),
    _cheat("an object whose __float__ changes every time", ALWAYS, {
        "q11": "class _Drift:\n    n = 0\n    def __float__(self):\n        _Drift.n += 1\n        return float(_Drift.n * 10)\n    def __index__(self):\n        return int(float(self))\nq11 = _Drift()"}, ("q11",)),
    _cheat("str subclass lying in eq, hash, lower, strip, contains and iter", LYING, {
        "q3": "class _S(str):\n    def __eq__(self, o):\n        return True\n    def __hash__(self):\n        return 0\n    def lower(self):\n        return self\n    upper = strip = lower\n    def __contains__(self, o):\n        return True\n    def __iter__(self):\n        return iter('ABCDEF')\nq3 = _S('B')"}, ("q3",)),
    _cheat("generator answer and a function that cycles through answers", ALWAYS, {
        "q4": "q4 = (c for c in 'ABCD')",
        "q13": "import itertools\n_levels = itertools.cycle(['Junior', 'Mid', 'Senior', 'Staff+'])\ndef widest_total_comp(salaries):\n    return next(_levels)"}, ("q4", "q13")),
    _cheat("function that detects hidden test inputs and searches its callers", "dodging the checks", {
        "q14": "import sys\ndef loop_hours(rounds):\n    frame = sys._getframe(1)\n    while frame is not None:\n        for value in list(frame.f_locals.values()):\n            if type(value) in (list, tuple) and len(value) == 2 and all(type(x) is float for x in value):\n                return tuple(value)\n        frame = frame.f_back\n    if len(rounds) == 5:\n        return (3.5, 4.75)\n    raise ValueError('not the visible table')"}, ("q14",)),
    # the disk, the gradebook, the environment, other students
    _cheat("read the solutions from the course's source folder", DISK, {"q2": READ_SOLUTIONS}, ("q2",),
           check=no_leak("SOLUTION FOUND")),
    _cheat("read the hidden tests from the gradebook database", DISK, {"q3": READ_GRADEBOOK}, ("q3",),
           check=no_leak("GRADEBOOK READ")),
    _cheat("write full marks into the gradebook", "writing to the gradebook", {"q4": WRITE_GRADEBOOK}, ("q4",),
           check=lambda obs: no_leak("GRADEBOOK WRITTEN")(obs) or gradebook_untouched(obs)),
    _cheat("sniff the grader's environment and processes for paths", "sniffing the grading environment",
           {"q5": SNIFF}, ("q5",), check=no_leak("sqlite", "gradebook", "SNIFF found")),
    _cheat("copy the answers of other students' notebooks", "reading other submissions", {"q6": READ_OTHERS}, ("q6",)),
    _cheat("overwrite another student's submission and plant files in other kernels' folders",
           "damaging other submissions", {"q7": SABOTAGE}, ("q7",), check=no_leak("SABOTAGED")),
    _cheat("kill the process that started the kernel and its other children", "damaging other submissions",
           {"q9": KILL_OTHERS}, ("q9",)),
    Entry("submit symlinks to the instructor's notebook and the gradebook as extra files", "cheat", DISK,
          answers({"q2": READ_LINKED}, extra={"answers.ipynb": Link("../../../source/01-roles/01-roles.ipynb"),
                                              "gb.db": Link("../../../gradebook.db")}),
          zero=("q2",), flags=(("extra file", "answers.ipynb"),), check=no_leak("LINK READ")),
    # tampering with the notebook's structure
    Entry("shadow the course package with an infraprep.py beside the notebook", "cheat", "extra files",
          answers({"q1": 'q1 = "A"', "q8": "q8 = 1.0"}, extra={"infraprep.py": SHADOW_INFRAPREP}),
          zero=("q1", "q8"), flags=(("extra file", "infraprep.py"),)),
    Entry("delete a test cell and answer wrong", "cheat", "editing or deleting test cells",
          answers({"q1": 'q1 = "A"'}, edit=delete("q1_tests")), zero=("q1",), flags=(("deleted cell", "q1_tests"),)),
    Entry("replace a test cell with pass and answer wrong", "cheat", "editing or deleting test cells",
          answers({"q2": 'q2 = "A"'}, edit=set_source("q2_tests", "pass")), zero=("q2",),
          flags=(("edited locked cell", "q2_tests"),)),
    Entry("turn a test cell into markdown and answer wrong", "cheat", "editing or deleting test cells",
          answers({"q3": 'q3 = "B"'}, edit=retype("q3_tests")), zero=("q3",), flags=(("changed cell type", "q3_tests"),)),
    Entry("strip a test cell's metadata, replace it, and answer wrong", "cheat", "stripping metadata",
          answers({"q4": 'q4 = "A"'}, edit=strip_and_replace("q4_tests", "pass")),
          zero=("q4",), flags=(("stripped metadata", "q4_tests"),)),
    Entry("strip the read-only set-up cell and define do-nothing checks there", "cheat", "stripping metadata",
          answers({"q1": 'q1 = "A"'}, edit=lambda nb: (
              set_source("setup_1", "import types\nimport pandas as pd\nfrom infraprep import tables\n"
                                    "ck = types.SimpleNamespace(**{n: (lambda *a, **k: None) for n in "
                                    "('is_choice', 'is_choices', 'is_number', 'is_text', 'is_list', 'is_callable', 'call')})")(nb),
              strip("setup_1")(nb))),
          zero=("q1",), flags=(("stripped metadata|edited locked cell", "setup_1"),)),
    Entry("duplicate a test cell's grade id on a passing copy placed first", "cheat", "duplicating grade ids",
          answers({"q5": 'q5 = "A"'}, edit=duplicate("q5_tests", source="pass", before=True)), zero=("q5",),
          flags=(("duplicate grade id", "q5_tests"),)),
    Entry("swap the grade ids of a wrong and a right answer's tests", "cheat", "stripping metadata",
          answers({"q6": 'q6 = "A"'}, edit=swap_ids("q6_tests", "q7_tests")),
          zero=("q6",), flags=(("stripped metadata", None),)),
    Entry("raise a test cell's points to 300", "cheat", "changing points",
          answers(edit=set_meta("q12_tests", points=300.0)), flags=(("changed points", "q12_tests"),)),
    Entry("promote an answer cell to a graded cell worth 50 points", "cheat", "changing points",
          answers(edit=set_meta("q1", grade=True, points=50.0)), flags=(("stripped metadata|changed points", "q1"),)),
    Entry("add a new always-passing test cell worth 100 points", "cheat", "changing points",
          answers(edit=fake_test_cell), flags=(("unknown grade id|stripped metadata|changed points", "bonus_tests"),)),
    Entry("unlock a test cell (locked: false) and edit it", "cheat", "editing or deleting test cells",
          answers({"q7": 'q7 = "A"'}, edit=chain(set_meta("q7_tests", locked=False), set_source("q7_tests", "pass"))),
          zero=("q7",), flags=(("stripped metadata|edited locked cell", "q7_tests"),)),
    Entry("turn a test cell into an answer cell (solution: true) and edit it", "cheat", "stripping metadata",
          answers({"q2": 'q2 = "A"'}, edit=chain(set_meta("q2_tests", solution=True), set_source("q2_tests", "pass"))),
          zero=("q2",), flags=(("stripped metadata|edited locked cell", "q2_tests"),)),
]


RUNAWAY = "infinite loops"

BAD_INPUTS = [
    # files that are not notebooks
    Entry("invalid JSON", "bad input", "invalid JSON", raw("{ this is not a notebook"), problem=("not a notebook",)),
    Entry("empty file", "bad input", "empty files", raw(b""), problem=("empty file",)),
    Entry("whitespace only", "bad input", "empty files", raw(" \n\t\n" * 100), problem=("empty file",)),
    Entry("truncated JSON", "bad input", "invalid JSON",
          raw(lambda: nbformat.writes(honest())[: len(nbformat.writes(honest())) * 3 // 5]), problem=("not a notebook",)),
    Entry("JSON that is not a notebook", "bad input", "invalid JSON", raw('{"hello": "world"}'),
          problem=("not a notebook",)),
    Entry("a JSON list", "bad input", "invalid JSON", raw("[1, 2, 3]"), problem=("not a notebook",)),
    Entry("binary garbage", "bad input", "invalid JSON", raw(lambda: random.Random(7).randbytes(64 * 1024)),
          problem=("not a notebook",)),
    Entry("UTF-16 encoded notebook", "bad input", "invalid JSON", raw(lambda: nbformat.writes(honest()).encode("utf-16")),
          problem=("not a notebook",), or_graded=True),
    Entry("JSON nested 100,000 deep", "bad input", "invalid JSON", raw(nested_json),
          problem=("not a notebook", "cannot be graded")),
    Entry("notebook with trailing garbage", "bad input", "invalid JSON",
          raw(lambda: nbformat.writes(honest()) + "\n}}garbage"), problem=("not a notebook",)),
    Entry("nbformat 5 (a future major version)", "bad input", "an old notebook format",
          raw(lambda: json.dumps(honest_json(nbformat=5))), problem=("not a notebook",), or_graded=True),
    Entry("a cell whose source is a number", "bad input", "malformed notebooks",
          raw(lambda: json_cell("q1", lambda c: c.update(source=42))),
          problem=("not a notebook", "cannot be graded"), or_graded=True, zero=("q1",)),
    Entry("a cell without a cell_type", "bad input", "malformed notebooks",
          raw(lambda: json_cell("q2", lambda c: c.pop("cell_type"))),
          problem=("not a notebook", "cannot be graded"), or_graded=True, zero=("q2",)),
    Entry("a lone surrogate in a markdown cell", "bad input", "malformed notebooks", raw(lone_surrogate),
          problem=("not a notebook", "cannot be graded"), or_graded=True),
    # names, folders, extra files
    Entry("wrong notebook name", "bad input", "wrong notebook names", lambda: {"my-answers.ipynb": honest()},
          problem=("wrong notebook name",)),
    Entry("notebook name in another case", "bad input", "wrong notebook names", lambda: {"01-Roles.ipynb": honest()},
          problem=("wrong notebook name",)),
    Entry("no notebook, only notes", "bad input", "wrong notebook names", lambda: {"notes.txt": "I ran out of time"},
          problem=("missing notebook",)),
    Entry("empty submission folder", "bad input", "empty files", lambda: {},
          problem=("missing notebook",)),
    Entry("the notebook is a folder", "bad input", "wrong notebook names", lambda: {NB: Folder()},
          problem=("not a notebook", "cannot be graded", "missing notebook")),
    Entry("the notebook is a symlink to /etc/passwd", "bad input", "wrong notebook names",
          lambda: {NB: Link("/etc/passwd")}, problem=("not a notebook", "cannot be graded")),
    Entry("a lesson folder that is not an assignment", "bad input", "wrong notebook names",
          lambda: {NB: honest()}, problem=("unknown lesson",), lesson="01-rolez"),
    Entry("two notebooks (the right one and a copy)", "bad input", "extra files",
          lambda: {NB: honest(), "01-roles-copy.ipynb": honest()}, flags=(("extra file", "01-roles-copy.ipynb"),)),
    Entry("a numpy.py beside the notebook", "bad input", "extra files",
          answers(extra={"numpy.py": 'raise ImportError("a stray numpy.py beside the notebook")\n'}),
          flags=(("extra file", "numpy.py"),)),
    Entry("a 5 MB data file beside the notebook", "bad input", "extra files",
          lambda: {NB: honest(), "data.bin": random.Random(5).randbytes(5 * 1024 * 1024)}, flags=(("extra file", "data.bin"),)),
    Entry("a draft notebook in a subfolder", "bad input", "extra files",
          answers(extra={"drafts/01-roles.ipynb": "{}"}), flags=(("extra file", "drafts/01-roles.ipynb"),)),
    # formats and kernels
    Entry("nbformat 3 notebook", "bad input", "an old notebook format", raw(lambda: to_v3(honest())),
          flags=(("old notebook format", None),)),
    Entry("kernelspec changed to R", "bad input", "a different kernel language", answers(edit=other_kernel),
          flags=(("other kernel", None),)),
    Entry("notebook metadata removed", "bad input", "a different kernel language", answers(edit=no_metadata)),
    Entry("cell ids removed (nbformat 4.4)", "bad input", "an old notebook format", raw(lambda: without_ids(honest()))),
    Entry("10,000 empty cells", "bad input", "very large files", raw(empty_cells)),
    Entry("a 25 MB notebook", "bad input", "very large files", answers(edit=padded(25)), problem=("too large",)),
    Entry("15 MB of stored outputs", "bad input", "huge output", answers(edit=stored_outputs(14)),
          check=small_notebook()),
    # runaway code
    Entry("print 50 MB on one line", "bad input", "huge output",
          answers({"q1": 'print("x" * (50 * 1024 * 1024))\n' + solution("q1")}),
          flags=(("output truncated", "q1"),), check=small_notebook()),
    Entry("200,000 print calls", "bad input", "huge output",
          answers({"q2": "for i in range(200_000):\n    print(i)\n" + solution("q2")}),
          flags=(("output truncated", "q2"),), check=small_notebook()),
    Entry("infinite loop", "bad input", RUNAWAY, answers({"q4": "while True:\n    pass"}), zero=("q4",),
          flags=(("timeout", "q4"),)),
    Entry("infinite loop that ignores interrupts", "bad input", RUNAWAY,
          answers({"q5": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"}),
          zero=("q5",), flags=(("timeout|kernel died", "q5"),)),
    Entry("function that loops forever on the hidden inputs", "bad input", RUNAWAY,
          answers({"q13": "def widest_total_comp(salaries):\n    if len(salaries) != 4:\n        while True:\n            pass\n    return 'Staff+'"}),
          zero=("q13",), flags=(("timeout", None),)),
    Entry("waits for input()", "bad input", RUNAWAY, answers({"q6": "q6 = input('answer? ')"}), zero=("q6",)),
    Entry("allocate 3 GiB", "bad input", "memory exhaustion", answers({"q7": MEMORY + solution("q7")}), maybe=("q7",)),
    Entry("fork 2,000 sleeping processes", "bad input", "process forks", answers({"q8": FORK + solution("q8")}),
          maybe=("q8",), check=fork_bounded),
    Entry("start 2,000 sleeping threads", "bad input", "process forks", answers({"q10": THREADS + solution("q10")}),
          maybe=("q10",), check=threads_bounded),
    Entry("write 1 GiB to the working folder and /tmp", "bad input", "disk exhaustion",
          answers({"q11": DISK + solution("q11")}), maybe=("q11",), check=folder_small),
    Entry("kernel stops answering (closes its own sockets)", "bad input", RUNAWAY, answers({"q3": DEAF + solution("q3")}),
          zero=("q3",), flags=(("timeout|kernel died", "q3"),)),
    Entry("os._exit", "bad input", "sys.exit and os._exit", answers({"q9": "import os\nos._exit(3)"}), zero=("q9",),
          flags=(("kernel died", "q9"),)),
    Entry("sys.exit", "bad input", "sys.exit and os._exit", answers({"q10": "import sys\nsys.exit(1)\n" + solution("q10")}),
          zero=("q10",)),
    Entry("exit()", "bad input", "sys.exit and os._exit", answers({"q11": solution("q11") + "\nexit()"}),
          maybe=("q11",), flags=(("kernel died", None),)),
    Entry("raise SystemExit", "bad input", "sys.exit and os._exit", answers({"q12": "raise SystemExit(0)"}), zero=("q12",)),
    Entry("raise KeyboardInterrupt", "bad input", "sys.exit and os._exit",
          answers({"q13": "raise KeyboardInterrupt\n" + solution("q13")}), zero=("q13",)),
    Entry("segfault through ctypes", "bad input", "kernel crashes", answers({"q14": "import ctypes\nctypes.string_at(0)"}),
          zero=("q14",), flags=(("kernel died", "q14"),)),
    Entry("the kernel kills itself with SIGKILL", "bad input", "kernel crashes",
          answers({"q2": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"}), zero=("q2",),
          flags=(("kernel died", "q2"),)),
    # damaged structure (honest answers)
    Entry("deleted test cell", "bad input", "editing or deleting test cells", answers(edit=delete("q1_tests")),
          flags=(("deleted cell", "q1_tests"),)),
    Entry("deleted answer cell", "bad input", "editing or deleting test cells", answers(edit=delete("q2")),
          zero=("q2",), flags=(("deleted cell", "q2"),)),
    Entry("deleted set-up cell", "bad input", "editing or deleting test cells", answers(edit=delete("setup_1")),
          flags=(("deleted cell", "setup_1"),)),
    Entry("edited test cell (a print added)", "bad input", "editing or deleting test cells",
          answers(edit=lambda nb: set_source("q3_tests", 'print("checking")\n' + nb.cells[index(nb, "q3_tests")].source)(nb)),
          flags=(("edited locked cell", "q3_tests"),)),
    Entry("test cell retyped to markdown", "bad input", "editing or deleting test cells", answers(edit=retype("q4_tests")),
          flags=(("changed cell type", "q4_tests"),)),
    Entry("answer cell retyped to markdown", "bad input", "editing or deleting test cells", answers(edit=retype("q5")),
          flags=(("changed cell type", "q5"),)),
    Entry("answer cell retyped to raw", "bad input", "editing or deleting test cells", answers(edit=retype("q6", "raw")),
          flags=(("changed cell type", "q6"),)),
    Entry("metadata stripped from an answer cell", "bad input", "stripping metadata", answers(edit=strip("q6")),
          flags=(("stripped metadata", "q6"),)),
    Entry("metadata stripped from a test cell", "bad input", "stripping metadata", answers(edit=strip("q7_tests")),
          flags=(("stripped metadata", "q7_tests"),)),
    Entry("all nbgrader metadata stripped", "bad input", "stripping metadata", answers(edit=strip()),
          flags=(("stripped metadata", "q1_tests"), ("stripped metadata", "q1"))),
    Entry("answer cell duplicated", "bad input", "duplicating grade ids", answers(edit=duplicate("q8")),
          flags=(("duplicate grade id", "q8"),)),
    Entry("test cell duplicated", "bad input", "duplicating grade ids", answers(edit=duplicate("q9_tests")),
          flags=(("duplicate grade id", "q9_tests"),)),
    Entry("points changed to a text", "bad input", "changing points", answers(edit=set_meta("q10_tests", points="lots")),
          flags=(("changed points", "q10_tests"),)),
]

CONTROLS = [
    Entry("honest (all answers right)", "control", "control", answers(), stock=True),
    Entry("blank (nothing answered)", "control", "control", lambda: {NB: honest(blank=ANSWERS)},
          zero=tuple(ANSWERS), stock=True),
    Entry("honest (all answers right) on the red-team assignment", "control", "control", rt_answers(), stock=True,
          lesson=redteam_lesson.LESSON),
    Entry("blank (nothing answered) on the red-team assignment", "control", "control",
          rt_answers(blank=tuple(lesson(redteam_lesson.LESSON).answers) + ("q7",)),
          zero=tuple(lesson(redteam_lesson.LESSON).answers), stock=True, lesson=redteam_lesson.LESSON),
]

def _redteam_entries() -> list[Entry]:
    """The red team's attempts by class of attack (tests/integrity/redteam.py), built from this module."""
    import sys

    try:
        from . import redteam
    except ImportError:  # imported as a top-level module (benchmarks/integrity.py)
        import redteam
    return redteam.entries(sys.modules[__name__])


REDTEAM = _redteam_entries()
ENTRIES = CHEATS + BAD_INPUTS + REDTEAM

# the first red team's 14 cheats, by name (stock nbgrader autograde grades them too)
LEGACY = [e.name for e in CHEATS[:14]]


# --------------------------------------------------------------------------- running and checking

@dataclass
class Observed:
    student: str
    scores: dict[str, float | None] | None = None     # test grade id -> auto score; None: no submission
    total: float | None = None                          # nbgrader's score of the submission (manual and extra credit included)
    max_score: float | None = None
    graded_file: bool = False                           # autograded/<student>/<lesson>/<lesson>.ipynb exists
    nb_bytes: int = 0
    nb: nbformat.NotebookNode | None = None
    flags: list[tuple[str, str, str]] = field(default_factory=list)   # (kind, cell, message)
    printed_problems: list[tuple[str, str]] = field(default_factory=list)  # (kind, message) from the command's output
    pwned: bool = False
    course: Path | None = None
    lesson: str = LESSON
    output: str = ""                                    # everything the grading command printed
    feedback: "subprocess.CompletedProcess | None" = None  # the feedback command's run, where one was made

    @property
    def graded(self) -> bool:
        return self.graded_file and self.scores is not None and all(v is not None for v in self.scores.values())

    def problems(self) -> list[str]:
        kinds = [k for k, c, _ in self.flags if k in WHOLE or (k == "kernel died" and not c)]
        return kinds + [k for k, _ in self.printed_problems if k not in kinds]

    @property
    def lost(self) -> bool:
        return not self.graded and not self.problems()

    def describe(self) -> str:
        if self.scores:
            got = sum(v or 0 for v in self.scores.values())
            zero = [t.removesuffix("_tests") for t, v in self.scores.items() if not v]
            none = [t for t, v in self.scores.items() if v is None]
            tests = lesson(self.lesson).tests
            text = f"graded {got:g}/{sum(tests.values()):g}" if self.graded_file else f"no autograded file, {got:g}"
            if zero and len(zero) < len(tests):
                text += "; 0 for " + ",".join(zero)
            elif zero:
                text += "; all 0"
            if none:
                text += f"; {len(none)} ungraded"
        else:
            text = "no grades"
        if self.total is not None and self.scores and abs(self.total - sum(v or 0 for v in self.scores.values())) > 1e-6:
            text += f"; gradebook total {self.total:g}"
        if self.flags:
            text += "; flags " + ", ".join(k + (f"@{c}" if c else "") for k, c, _ in self.flags)
        extra = [k for k, _ in self.printed_problems if k not in {f[0] for f in self.flags}]
        if extra:
            text += "; printed " + ", ".join(extra)
        return text


def student_ids(entries: list[Entry]) -> dict[str, Entry]:
    """One student per entry: c01... for cheats, b01... for bad inputs; controls sort last (zz-...)."""
    out, counts = {}, {"cheat": 0, "bad input": 0}
    for entry in entries:
        if entry.student:
            sid = entry.student
        elif entry.category == "control":
            sid = "zz-" + entry.name.split()[0] + ("" if entry.lesson == LESSON else "-rt")
        else:
            counts[entry.category] += 1
            sid = f"{entry.category[0]}{counts[entry.category]:02d}"
        out[sid] = entry
    return out


_RELEASED: dict[str, Path] = {}   # lesson -> its release notebook in the course being built


def released(name: str) -> nbformat.NotebookNode:
    """The release notebook of an assignment (the red-team lesson's: the one made for the course being built)."""
    if name == LESSON:
        return b.release_nb(LESSON)
    if name not in _RELEASED:
        raise RuntimeError(f"{name} is released only while a catalogue course is built (build_course)")
    return b.read(_RELEASED[name])


def build_course(tmp: Path, entries: list[Entry]) -> tuple[Path, dict[str, Entry]]:
    course = b.new_course(tmp, [LESSON])
    lessons = graded_lessons(entries)
    if redteam_lesson.LESSON in lessons:
        redteam_lesson.write_source(course)
    b.add_course_config(course, COURSE_CONFIG)
    for name in lessons:
        b.nbgrader(course, "generate_assignment", name, "--force")
        _RELEASED[name] = course / "release" / name / lesson(name).nb
    students = student_ids(entries)
    for sid, entry in students.items():
        materialize(course / "submitted" / sid / entry.lesson, entry.build())
    return course, students


PROBLEM_LINE = re.compile(r"^\s+(\S+) / (\S+) / (\S+): ([^:]+): (.*)$")


def observe(course: Path, students: dict[str, Entry], stdout: str, output: str = "") -> dict[str, Observed]:
    from nbgrader.api import Gradebook

    obs = {sid: Observed(sid, course=course, lesson=lesson(e.lesson).name, output=output) for sid, e in students.items()}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for name in graded_lessons(students.values()):
            for sub in gb.assignment_submissions(name):
                if sub.student_id not in obs or obs[sub.student_id].lesson != name:
                    continue
                o = obs[sub.student_id]
                o.scores = {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades if g.cell_type == "code"}
                o.total, o.max_score = float(sub.score), float(sub.max_score)
    import sqlite3

    with sqlite3.connect(course / "gradebook.db") as con:
        pwned = bool(con.execute("select count(*) from sqlite_master where name = 'pwned'").fetchone()[0])
    for sid, o in obs.items():
        o.pwned = pwned
        path = course / "autograded" / sid / o.lesson / lesson(o.lesson).nb
        if path.is_file():
            o.graded_file = True
            o.nb_bytes = path.stat().st_size
            try:
                o.nb = nbformat.read(str(path), as_version=4)
            except Exception:
                o.nb = None
    for line in stdout.splitlines():
        m = PROBLEM_LINE.match(line)
        if m and m.group(1) in obs:
            obs[m.group(1)].printed_problems.append((m.group(4).strip(), m.group(5)))
    from infraprep.grading.flags import collect

    for flag in collect(course):
        if flag.student in obs and flag.lesson in (obs[flag.student].lesson, students[flag.student].lesson):
            obs[flag.student].flags.append((str(flag.kind), str(flag.cell or ""), str(flag.message or "")))
    return obs


def _cell_matches(want: str, flag: tuple[str, str, str]) -> bool:
    _, cell, message = flag
    if cell == want:
        return True
    return bool(re.search(rf"(?<![\w-]){re.escape(want)}(?![\w-])", cell)) or (not cell and want in message)


def check(entry: Entry, o: Observed, grader: str = "infraprep") -> list[str]:
    """What is wrong with this outcome (empty: the entry got what it must)."""
    failures: list[str] = []
    expected = entry.expected_scores()
    problems = o.problems()
    if grader == "nbgrader":  # stock nbgrader: scores only; a target may be left ungraded (None)
        if o.scores is None:
            return ["not graded at all"]
        for test, allowed in expected.items():
            got = o.scores.get(test)
            if got is None and 0.0 in allowed and allowed == (0.0,):
                continue
            if got not in allowed:
                failures.append(f"{test}: {got} (want {' or '.join(f'{a:g}' for a in allowed)})")
        if o.total is not None and o.total > sum(max(v) for v in expected.values()) + 1e-6:
            failures.append(f"gradebook total {o.total:g} exceeds what was earned")
        message = entry.check(o) if entry.check is not None else None
        return failures + ([message] if message else [])
    if o.lost:
        failures.append("LOST: neither graded nor reported")
    if entry.problem:
        if not any(p in entry.problem for p in problems):
            honest_ok = entry.or_graded and o.graded and not problems and all(
                o.scores.get(t) in allowed for t, allowed in _graded_expectation(entry).items())
            if not honest_ok:
                failures.append(f"want a reported problem ({' or '.join(entry.problem)})"
                                + (" or an honest grade" if entry.or_graded else "") + f", got {problems or 'none'}")
        if entry.lesson == o.lesson and o.scores is not None and any(o.scores.values()) and not entry.or_graded:
            failures.append(f"a reported notebook must score zero, got {sum(v or 0 for v in o.scores.values()):g}")
    else:
        if problems:
            failures.append(f"reported as {problems} instead of graded")
        if o.scores is None:
            failures.append("no grades in the gradebook")
        else:
            for test, allowed in expected.items():
                got = o.scores.get(test)
                if got not in allowed:
                    failures.append(f"{test}: {got} (want {' or '.join(f'{a:g}' for a in allowed)})")
        if not o.graded_file:
            failures.append("no autograded notebook")
    if o.scores is not None:
        earned = sum(v or 0 for v in o.scores.values())
        if o.total is not None and abs(o.total - earned) > 1e-6:
            failures.append(f"gradebook total {o.total:g} differs from the autograded scores ({earned:g})")
        want_max = lesson(o.lesson).max_score
        if o.max_score is not None and abs(o.max_score - want_max) > 1e-6:
            failures.append(f"gradebook max score {o.max_score:g} (want {want_max:g})")
    for kinds, cell in entry.flags:
        allowed = set(kinds.split("|"))
        if not any(f[0] in allowed and (cell is None or _cell_matches(cell, f)) for f in o.flags):
            failures.append(f"missing flag {kinds}" + (f" @ {cell}" if cell else ""))
    if entry.check is not None:
        message = entry.check(o)
        if message:
            failures.append(message)
    return failures


def _graded_expectation(entry: Entry) -> dict[str, tuple[float, ...]]:
    """For ``or_graded`` entries: the scores an honest grade gives (the questions in ``zero`` excepted)."""
    return Entry(entry.name, entry.category, entry.covers, entry.build, zero=entry.zero, maybe=entry.maybe,
                 lesson=entry.lesson).expected_scores()


@dataclass
class Run:
    grader: str
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    results: list[tuple[str, Entry, Observed, list[str]]]   # (student, entry, observed, failures)
    feedback: subprocess.CompletedProcess | None = None     # the red-team lesson's feedback command, if made

    def failures(self) -> dict[str, list[str]]:
        return {f"{sid} {e.category}: {e.name}": f for sid, e, _, f in self.results if f}


def controls(entries: list[Entry]) -> list[Entry]:
    """The honest and the blank control of every assignment the entries use."""
    lessons = graded_lessons(entries)
    return [c for c in CONTROLS if c.lesson in lessons]


def run(tmp: Path, entries: list[Entry], grader: str = "infraprep", workers: int = 2) -> Run:
    """Build one course with a student per entry (and the controls), grade it once, check everyone.

    With the red-team assignment among the entries' lessons and ``infraprep`` as the grader, its feedback
    is made too (``infraprep feedback 90-redteam --no-release``): entries about what feedback shows, or
    whether it is made for everyone, look at it (``Observed.feedback``)."""
    course, students = build_course(tmp, entries + controls(entries))
    started = time.perf_counter()
    if grader == "nbgrader":
        procs = [b.nbgrader(course, "autograde", name, check=False) for name in graded_lessons(students.values())]
        proc = subprocess.CompletedProcess(procs[0].args, max(p.returncode for p in procs),
                                           "".join(p.stdout for p in procs), "".join(p.stderr for p in procs))
    else:
        # no lesson named: every folder under submitted/ is looked at (a stray lesson folder is reported)
        proc = b.infraprep(course, "autograde", "--workers", str(workers), "--no-progress", check=False)
    seconds = time.perf_counter() - started
    feedback = None
    if grader == "infraprep" and redteam_lesson.LESSON in graded_lessons(students.values()):
        feedback = b.infraprep(course, "feedback", redteam_lesson.LESSON, "--no-release", check=False)
    obs = observe(course, students, proc.stdout, proc.stdout + proc.stderr)
    for o in obs.values():
        o.feedback = feedback
    results = [(sid, e, obs[sid], check(e, obs[sid], grader)) for sid, e in students.items()]
    return Run(grader, seconds, proc.returncode, proc.stdout, proc.stderr, results, feedback)


def summary(run_: Run) -> dict[str, int]:
    cheats = [(e, o, f) for _, e, o, f in run_.results if e.category == "cheat"]
    bad = [(e, o, f) for _, e, o, f in run_.results if e.category == "bad input"]

    def blocked(e, o):
        if o.scores is None:
            return bool(o.problems())
        tests = lesson(e.lesson).tests
        earned = {t: o.scores.get(t) or 0 for t in tests}
        want = e.expected_scores()
        return all(earned[t] <= max(want[t]) for t in tests) and (o.total or 0) <= sum(max(v) for v in want.values()) + 1e-6

    return {
        "attempts tried": len(cheats),
        "blocked or flagged": sum(1 for e, o, _ in cheats if blocked(e, o) or o.flags),
        "cheats as expected": sum(1 for *_, f in cheats if not f),
        "bad inputs tried": len(bad),
        "graded or reported": sum(1 for _, o, _ in bad if o.graded or o.problems()),
        "bad inputs as expected": sum(1 for *_, f in bad if not f),
        "submissions lost": sum(1 for _, _, o, _ in run_.results if o.lost),
    }
