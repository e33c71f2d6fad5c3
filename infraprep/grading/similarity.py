"""Similarity flags: pairs of students an instructor may want to talk to about copying.

Leads for a conversation, never a penalty: each flag comes with its evidence, and nothing here
changes a grade.

**Matching wrong answers on questions with variants** (:data:`WRONG_MATCH`). Every student answers
their own inputs on a variant question (a set-up cell that draws from ``V``, see
:mod:`infraprep.assessment.variants`), so a classmate's number is a wrong answer for anyone else.
For each such question and each pair, a match is: student B's answer is wrong (the grader gave it
less than full points) and equals student A's answer - the one A handed in, or the right answer for
A's inputs - while A's inputs differ from B's. A number matches within 0.2 % (a value retyped from
a classmate's screen is rounded); a letter of a shuffled multiple-choice question counts half, since
letters are easy to share by chance. A student's matches are listed from :data:`MIN_WEIGHT` (two
numbers, or a number and two letters, ...), paired with the classmate whose answers explain most of
them (students with different inputs may share a right answer, a compute-bound kernel's peak for
one: every such classmate is named in the evidence, and only the best paired). The right answer for a student's inputs is computed by running the
course's own set-up and solution cells for that student (the instructor's code, never a student's);
a student's answer is read only where it is a value written out in their answer cell (a literal,
or arithmetic on literals): no student code runs here.

**Near-identical code** (:data:`SAME_CODE`). Code answers (coding tasks) are normalised: comments,
docstrings and layout go, and every name the code binds (variables, arguments, its functions) is
renamed by order of first use, so renaming and reformatting do not hide a copy. Two answers of at
least :data:`MIN_TOKENS` tokens whose normalised forms are :data:`CODE_THRESHOLD` alike or more are
flagged - unless both are that close to the course's own (public) solution: a common source, not
each other.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import io
import keyword
import math
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from .cells import nbgrader_meta
from .course import Course

WRONG_MATCH = "matching wrong answers on questions with variants"
SAME_CODE = "near-identical code"
MIN_WEIGHT = 2.0
LETTER_WEIGHT = 0.5
REL_TOL = 2e-3
CODE_THRESHOLD = 0.92
MIN_TOKENS = 30


@dataclass
class Pair:
    kind: str
    lesson: str
    students: tuple[str, str]
    weight: float
    evidence: list[str] = field(default_factory=list)
    code: tuple[str, str] | None = None   # the two answers, for near-identical code


# ---------------------------------------------------------------- values, without running student code

class _NotConstant(ValueError):
    pass


def _const(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, complex)) or (
            isinstance(node, ast.Constant) and node.value is None):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _const(node.operand)
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv,
                                                            ast.Mod, ast.Pow)):
        left, right = _const(node.left), _const(node.right)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right)):
            raise _NotConstant
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
            raise _NotConstant
        ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
               ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
               ast.Pow: lambda a, b: a ** b}
        try:
            return ops[type(node.op)](left, right)
        except (ZeroDivisionError, OverflowError):
            raise _NotConstant from None
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_const(e) for e in node.elts]
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_const(k): _const(v) for k, v in zip(node.keys, node.values)}
    raise _NotConstant


def written_value(source: str, name: str):
    """The value the cell's last top-level ``name = ...`` writes out (a literal or arithmetic on
    literals), or None: code is never run."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    value = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            try:
                value = _const(node.value)
            except (_NotConstant, RecursionError):
                value = None
    return value


def same_value(a, b, rel: float = REL_TOL) -> bool:
    """Whether two answers are the same value (numbers within ``rel``; letters as sets; lists item by item)."""
    if a is None or b is None:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if not (math.isfinite(a) and math.isfinite(b)):
            return False
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    if isinstance(a, str) and isinstance(b, str):
        return sorted(a.strip().upper()) == sorted(b.strip().upper()) and bool(a.strip())
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and len(a) > 0 and all(same_value(x, y, rel) for x, y in zip(a, b))
    return a == b


def _plain(value):
    """A value from the course's solution, as plain Python (numpy and pandas scalars unwrapped)."""
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (list, dict, str)):
        try:
            return value.item()
        except (ValueError, TypeError):
            return None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (int, float, str, bool, dict)) else None


# ---------------------------------------------------------------- the course's side: inputs and right answers

def variant_truth(source: Path, lesson: str, student: str, secret: str, qids: set[str]) -> dict[str, dict]:
    """For one student: qid -> {"inputs": {name: value}, "right": value, "options": [...] or None},
    from the course's set-up and solution cells run with the student's variants."""
    import nbformat

    from infraprep.assessment import variants

    nb = nbformat.read(str(source), as_version=4)
    ns: dict = {"__name__": "__infraprep_similarity__"}
    out: dict[str, dict] = {q: {"inputs": {}, "right": None, "options": None} for q in qids}
    with variants.grading_identity(student, secret):
        for cell in nb.cells:
            m = nbgrader_meta(cell)
            if cell.cell_type != "code":
                continue
            setup = m.get("locked") and not m.get("grade") and not m.get("solution")
            answer = m.get("solution") and not m.get("grade")
            if not (setup or answer):
                continue
            before = set(ns)
            try:
                exec(compile(cell.source, f"<{m.get('grade_id', 'cell')}>", "exec"), ns)  # the course's own code
            except Exception:  # noqa: BLE001 - a solution that needs a file here: that question is skipped
                continue
            gid = m.get("grade_id", "")
            if setup:
                for name in set(ns) - before | {n for n in ns if re.match(r"q\d+[a-z]?_", n)}:
                    q = name.split("_", 1)[0]
                    if q in out and not name.startswith("_"):
                        value = ns[name]
                        if isinstance(value, variants.Choice):
                            out[q]["options"] = list(value.options)
                            out[q]["inputs"][name] = tuple(value.options)
                        else:
                            out[q]["inputs"][name] = _plain(value) if _plain(value) is not None else repr(value)
            elif gid in out:
                out[gid]["right"] = _plain(ns.get(gid))
    return out


def _letters_text(letters, options) -> str:
    if not isinstance(letters, str) or not options:
        return ""
    picked = [options[ord(ch) - 65] for ch in letters.strip().upper() if 0 <= ord(ch) - 65 < len(options)]
    return "; ".join(f"'{text[:70]}'" for text in picked)


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return repr(value)[:80]


def _inputs_text(inputs: dict) -> str:
    shown = {k: v for k, v in inputs.items() if not isinstance(v, tuple)}
    return ", ".join(f"{k} = {_show(v)}" for k, v in shown.items()) or "shuffled options"


# ---------------------------------------------------------------- reading submissions

def _answers(course: Course, lesson: str) -> dict[str, dict[str, str]]:
    """student -> answer cell id -> its source, from the autograded notebooks."""
    import nbformat

    cd = course.coursedir
    base = Path(cd.root) / cd.autograded_directory
    out: dict[str, dict[str, str]] = {}
    for path in sorted(base.glob(f"*/{lesson}/*.ipynb")):
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:  # noqa: BLE001
            continue
        cells = out.setdefault(path.parent.parent.name, {})
        for cell in nb.cells:
            m = nbgrader_meta(cell)
            if cell.cell_type == "code" and m.get("solution") and not m.get("grade") and m.get("grade_id"):
                cells[m["grade_id"]] = cell.source
    return out


def _wrong(course: Course, lesson: str) -> dict[str, dict[str, bool]]:
    """student -> qid -> whether the test cell qid_tests got less than full points."""
    out: dict[str, dict[str, bool]] = {}
    with course.gradebook() as gb:
        for sub in gb.assignment_submissions(lesson):
            row = out.setdefault(sub.student_id, {})
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.name.endswith("_tests") and grade.max_score:
                        row[grade.name.removesuffix("_tests")] = float(grade.score or 0) < float(grade.max_score) - 1e-9
    return out


# ---------------------------------------------------------------- matching wrong answers

def wrong_matches(course: Course, lesson: str, secret: str | None = None) -> list[Pair]:
    from . import analytics, cohort

    qs = {q.qid: q for q in analytics.questions(course, lesson).values() if q.variant and not q.manual}
    if not qs:
        return []
    secret = cohort.variant_secret(course) if secret is None else secret
    answers, wrong = _answers(course, lesson), _wrong(course, lesson)
    students = sorted(set(answers) & set(wrong))
    cd = course.coursedir
    source = sorted(Path(cd.format_path(cd.source_directory, ".", lesson)).glob("*.ipynb"))
    if not source or len(students) < 2:
        return []
    truth = {s: variant_truth(source[0], lesson, s, secret, set(qs)) for s in students}
    handed = {s: {q: written_value(answers[s].get(q, ""), q) for q in qs} for s in students}
    pairs: dict[tuple[str, str], Pair] = {}
    for b in students:
        found = []  # (question, weight, {source: how})
        for q, question in qs.items():
            value = handed[b][q]
            if not wrong[b].get(q) or value is None or same_value(value, truth[b][q]["right"]):
                continue
            sources = {}
            for a in students:
                if a == b or truth[a][q]["inputs"] == truth[b][q]["inputs"]:
                    continue
                how = next((how for how, v in (("handed in", handed[a][q]),
                                               ("the right answer for their inputs", truth[a][q]["right"]))
                            if same_value(value, v)), None)
                if how:
                    sources[a] = how
            if sources:
                found.append((q, LETTER_WEIGHT if truth[b][q]["options"] is not None else 1.0, sources))
        if sum(w for _, w, _ in found) < MIN_WEIGHT:
            continue
        # the classmate(s) whose answers explain most of b's: several students with different inputs can
        # share a right answer (a compute-bound kernel's peak), so each is named, and only the best kept
        cover: dict[str, float] = {}
        for _, w, sources in found:
            for a in sources:
                cover[a] = cover.get(a, 0.0) + w
        best = max(cover.values())
        for a in sorted(x for x, c in cover.items() if c == best):
            key = tuple(sorted((a, b)))
            pair = pairs.setdefault(key, Pair(WRONG_MATCH, lesson, key, 0.0))
            pair.weight = max(pair.weight, sum(w for _, w, _ in found))
            for q, w, sources in found:
                if a not in sources:
                    continue
                question, value = qs[q], handed[b][q]
                others = sorted(x for x in sources if x != a)
                also = f"; it is also the answer of {', '.join(others)}" if others else ""
                if truth[b][q]["options"] is not None:
                    pair.evidence.append(
                        f"{question.label}: {b} answered {value!r}, wrong in {b}'s order of the options "
                        f"({_letters_text(value, truth[b][q]['options'])}); it is {a}'s answer ({sources[a]}), "
                        f"{_letters_text(value, truth[a][q]['options'])} in {a}'s order{also}")
                else:
                    pair.evidence.append(
                        f"{question.label}: {b} handed in {_show(value)}, wrong for {b}'s inputs "
                        f"({_inputs_text(truth[b][q]['inputs'])}); it is {a}'s answer ({sources[a]}) for {a}'s inputs "
                        f"({_inputs_text(truth[a][q]['inputs'])}){also}")
    return sorted((p for p in pairs.values() if p.weight >= MIN_WEIGHT), key=lambda p: (-p.weight, p.students))


# ---------------------------------------------------------------- near-identical code

class _Renamer(ast.NodeTransformer):
    def __init__(self, bound: set[str]):
        self.bound, self.names = bound, {}

    def _name(self, name: str) -> str:
        if name not in self.bound:
            return name
        return self.names.setdefault(name, f"_v{len(self.names)}")

    def visit_Name(self, node):
        node.id = self._name(node.id)
        return node

    def visit_arg(self, node):
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def _function(self, node):
        node.name = self._name(node.name)
        node.returns = None
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        self.generic_visit(node)
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = _function


def _bound(tree: ast.AST) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return bound


_SKIP = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.ENDMARKER, tokenize.ENCODING}


def normalise(code: str) -> list[str]:
    """The code's tokens with comments, docstrings and layout gone and bound names renamed by first use."""
    try:
        tree = ast.parse(code)
        tree = _Renamer(_bound(tree)).visit(tree)
        text = ast.unparse(tree)
        names = None
    except (SyntaxError, ValueError, RecursionError):
        text, names = code, {}
    tokens = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in _SKIP:
                continue
            if tok.type == tokenize.INDENT:
                tokens.append("<indent>")
            elif tok.type == tokenize.DEDENT:
                tokens.append("<dedent>")
            elif names is not None and tok.type == tokenize.NAME and not keyword.iskeyword(tok.string) \
                    and not hasattr(builtins, tok.string):
                tokens.append(names.setdefault(tok.string, f"_v{len(names)}"))
            else:
                tokens.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return tokens


def likeness(a: list[str], b: list[str]) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() if a and b else 0.0


def code_questions(course: Course, lesson: str) -> dict[str, str]:
    """Coding tasks of a lesson: answer cell id -> the course's solution (its source)."""
    import nbformat

    cd = course.coursedir
    found = {}
    for path in sorted(Path(cd.format_path(cd.source_directory, ".", lesson)).glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            m = nbgrader_meta(cell)
            if cell.cell_type == "code" and m.get("solution") and not m.get("grade") and m.get("grade_id"):
                try:
                    tree = ast.parse(cell.source)
                except SyntaxError:
                    continue
                if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in ast.walk(tree)):
                    found[m["grade_id"]] = cell.source
    return found


def same_code(course: Course, lesson: str) -> tuple[list[Pair], int]:
    """(pairs of near-identical code answers, how many pairs were left out for being the course's solution)."""
    from . import analytics

    tasks = code_questions(course, lesson)
    if not tasks:
        return [], 0
    labels = {q.qid: q.label for q in analytics.questions(course, lesson).values()}
    answers = _answers(course, lesson)
    pairs: dict[tuple[str, str], Pair] = {}
    common = 0
    for q, solution in tasks.items():
        reference = normalise(solution)
        forms = {s: normalise(a.get(q, "")) for s, a in sorted(answers.items())}
        forms = {s: f for s, f in forms.items() if len(f) >= MIN_TOKENS}
        near_solution = {s for s, f in forms.items() if likeness(f, reference) >= CODE_THRESHOLD}
        names = sorted(forms)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                ratio = likeness(forms[a], forms[b])
                if ratio < CODE_THRESHOLD:
                    continue
                if a in near_solution and b in near_solution:
                    common += 1
                    continue
                key = (a, b)
                pair = pairs.setdefault(key, Pair(SAME_CODE, lesson, key, 0.0))
                pair.weight += 1.0
                pair.evidence.append(f"{labels.get(q, q.upper())}: the two answers are {100 * ratio:.0f} % alike "
                                     "once names, comments and layout are set aside")
                pair.code = (answers[a].get(q, ""), answers[b].get(q, ""))
    return sorted(pairs.values(), key=lambda p: (-p.weight, p.students)), common


@dataclass
class Findings:
    pairs: list[Pair] = field(default_factory=list)
    solution_like: int = 0   # pairs of code answers alike only because both are the course's solution

    def by_kind(self) -> dict[str, list[Pair]]:
        out: dict[str, list[Pair]] = {WRONG_MATCH: [], SAME_CODE: []}
        for p in self.pairs:
            out.setdefault(p.kind, []).append(p)
        return out


def find(course: Course, lessons: list[str] | None = None, secret: str | None = None) -> Findings:
    """Every similarity flag of these lessons (default: every lesson in the gradebook)."""
    if lessons is None:
        with course.gradebook() as gb:
            lessons = sorted(a.name for a in gb.assignments)
    found = Findings()
    for lesson in lessons:
        found.pairs += wrong_matches(course, lesson, secret)
        code, common = same_code(course, lesson)
        found.pairs += code
        found.solution_like += common
    return found
