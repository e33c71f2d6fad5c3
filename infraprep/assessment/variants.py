"""Per-student variants of graded questions: one mechanism for every lesson.

Every student answers their own version of each quantitative question, sees the options of a
multiple-choice question in their own order, and has their coding tasks checked on hidden cases
drawn for them. All of it comes from one seeded generator keyed by the student's identity, the
assignment and the question::

    V = variants.Assignment("02-gpu")          # in the assignment's first set-up cell
    r = V.rng("q4")                             # this student's generator for Q4
    q4_gpu = r.choice(["B200", "H200 SXM", "MI300X"])
    V.show("q4", GPU=q4_gpu)                    # "Your inputs for Q4: GPU = MI300X"

    q1_mc = V.mcq("q1", ["...", "...", "..."])  # options shuffled for this student
    q1_mc                                       # shows "A. ...", "B. ..." in the notebook

The hidden test, run by the grader, computes the expected answer from the same draws
(``q4_gpu``, ``q1_mc.letter_of("...")``), made again in the grader's own process from the student
id in the gradebook: nothing the notebook does to its identity or its inputs changes them.

**Identity.** In a kernel, the student is ``INFRAPREP_STUDENT`` if set, else ``JUPYTERHUB_USER``,
else a local identity saved in ``~/.infraprep/identity.json`` (``INFRAPREP_HOME``) on first use. A
cohort may add a secret: each student then gets a *variant key*, ``HMAC(secret, student)``, in
``INFRAPREP_VARIANT_KEY``, so nobody can compute a classmate's inputs from the public code. Hidden
cases of coding tasks are drawn from a seed that also holds the secret itself, which never enters
a student's kernel. While grading, the grader sets the identity of the judge
(:func:`grading_identity`) and passes the student's id and key to the sandboxed kernel.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import secrets
import string
import unicodedata
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ENV_STUDENT", "ENV_KEY", "Identity", "IdentityError", "identity", "key_for", "valid_identity",
    "grading_identity", "Assignment", "Choice", "new_local_round", "local_identity",
]

ENV_STUDENT = "INFRAPREP_STUDENT"
ENV_KEY = "INFRAPREP_VARIANT_KEY"
ENV_HUB = "JUPYTERHUB_USER"
IDENTITY_FILE = "identity.json"
_IDENTITY_FIRST, _IDENTITY_REST = frozenset("_@+"), frozenset("_.@+-")
LETTERS = string.ascii_uppercase


class IdentityError(ValueError):
    """A student identity that cannot be used (empty, too long, or with characters outside the rule)."""


def valid_identity(value: str) -> bool:
    """Whether ``value`` can be a student identity: 1-64 letters (of any script, with their accents),
    digits or ``_ . @ + -``, not starting with ``.``, ``-`` or an accent (nbgrader student ids, Unix user
    names and JupyterHub names, ``josé.müller`` included, all fit). Nothing else: no space, markup,
    path separator, control or format character."""
    if type(value) is not str or not 1 <= len(value) <= 64:
        return False
    for index, char in enumerate(value):
        kind = unicodedata.category(char)[0]
        if kind in "LN" or char in (_IDENTITY_REST if index else _IDENTITY_FIRST) or (index and kind == "M"):
            continue
        return False
    return True


def _checked(value: str, where: str) -> str:
    if not valid_identity(value):
        raise IdentityError(f"{where}={value!r} cannot be a student identity: use 1 to 64 letters, digits "
                            "or _ . @ + - (not starting with . or -)")
    return value


@dataclass(frozen=True)
class Identity:
    """Who the variants are drawn for: the student id, the variant key, and the grader-only secret
    (empty outside the grader). ``origin`` says where the id came from, for messages."""

    student: str
    key: str
    secret: str = ""
    origin: str = ""


def key_for(student: str, secret: str = "", round_: int = 0) -> str:
    """The variant key of ``student``: ``HMAC-SHA256(secret, student)`` (hex, 32 characters) with a
    cohort secret, the id itself without one; a practice round above 0 is appended (``#r2``)."""
    _checked(student, "student")
    key = hmac.new(secret.encode(), student.encode(), hashlib.sha256).hexdigest()[:32] if secret else student
    return f"{key}#r{round_}" if round_ else key


# ---------------------------------------------------------------------------- the learner's identity

def _home():
    from .. import userdata

    return userdata.home()


def local_identity(create: bool = True) -> dict:
    """The saved local identity ``{"student": ..., "round": N}`` (made on first use)."""
    from .. import userdata

    path = _home() / IDENTITY_FILE
    data = userdata.read_json(path, default=dict,
                              valid=lambda d: isinstance(d, dict) and valid_identity(d.get("student", ""))
                              and isinstance(d.get("round", 0), int))
    if not data and create:
        data = {"student": "learner-" + secrets.token_hex(4), "round": 0}
        userdata.write_json(path, data)
    return data


def new_local_round() -> dict:
    """Start a fresh practice round of the local identity: every variant changes."""
    from .. import userdata

    data = local_identity()
    data = {"student": data["student"], "round": int(data.get("round", 0)) + 1}
    userdata.write_json(_home() / IDENTITY_FILE, data)
    return data


_grading: Identity | None = None


@contextmanager
def grading_identity(student: str, secret: str = "", key: str | None = None):
    """Inside the block, :func:`identity` is the graded student's (for the grader's judge only)."""
    global _grading
    _checked(student, "student")
    previous = _grading
    _grading = Identity(student, key if key is not None else key_for(student, secret), secret, "grader")
    try:
        yield _grading
    finally:
        _grading = previous


def identity() -> Identity:
    """The current student: the grader's (while it judges), else the environment's, else the saved local one."""
    if _grading is not None:
        return _grading
    env = os.environ
    for name in (ENV_STUDENT, ENV_HUB):
        value = env.get(name, "").strip()
        if value:
            student = _checked(value, name)
            key = env.get(ENV_KEY, "").strip() or key_for(student)
            return Identity(student, key, "", name)
    data = local_identity()
    return Identity(data["student"], key_for(data["student"], round_=int(data.get("round", 0))), "", "local")


# ---------------------------------------------------------------------------- drawing

def _seed(*parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(("infraprep-variant", *parts)).encode()).digest()
    return int.from_bytes(digest[:16], "big")


def _fmt(value: Any) -> str:
    from ..formatting import fmt

    return fmt(value)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Inputs:
    """A question's inputs as shown to the student (a small table in the notebook)."""

    def __init__(self, question: str, values: dict[str, Any]):
        self.question, self.values = question, dict(values)

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| {name} | {_fmt(value)} |" for name, value in self.values.items())
        return f"**Your inputs for {self.question.upper()}**\n\n| input | value |\n|---|---:|\n{rows}"

    def __repr__(self) -> str:
        return f"Your inputs for {self.question.upper()}: " + "; ".join(
            f"{name} = {_fmt(value)}" for name, value in self.values.items())


class Choice:
    """A multiple-choice question's options in this student's order. It does not know which option is
    right: the hidden test names it (:meth:`letter_of`), so nothing in the kernel can reveal it."""

    def __init__(self, question: str, options: Sequence[str], order: Sequence[int], multiple: bool = False):
        self.question = question
        self.options = [options[i] for i in order]
        self.multiple = multiple
        self.letters = LETTERS[: len(self.options)]

    def letter_of(self, *fragments: str) -> str:
        """The letter (or letters, sorted, for several fragments) of the options containing each fragment."""
        found = []
        for fragment in fragments:
            hits = [LETTERS[i] for i, text in enumerate(self.options) if fragment.lower() in text.lower()]
            if len(hits) != 1:
                raise ValueError(f"{self.question}: {fragment!r} matches {len(hits)} options, not exactly one")
            found.append(hits[0])
        return "".join(sorted(found))

    def _repr_markdown_(self) -> str:
        lines = [f"- **{letter}.** {text}" for letter, text in zip(self.letters, self.options)]
        how = ('Answer with a string of letters, e.g. `"AC"`.' if self.multiple
               else 'Answer with one letter, e.g. `"B"`.')
        return "\n".join(lines) + f"\n\n{how}"

    def __repr__(self) -> str:
        return "\n".join(f"{letter}. {text}" for letter, text in zip(self.letters, self.options))


_SHOWN: list[list[Inputs]] = []


@contextmanager
def recording_shown():
    """Collect, in the list it yields, the inputs :meth:`Assignment.show` is asked to show meanwhile."""
    shown: list[Inputs] = []
    _SHOWN.append(shown)
    try:
        yield shown
    finally:
        _SHOWN[:] = [kept for kept in _SHOWN if kept is not shown]


class Assignment:
    """The variants of one assignment for the current student (see the module docstring)."""

    def __init__(self, assignment: str, who: Identity | None = None):
        self.assignment = assignment
        self.identity = who or identity()

    @property
    def student(self) -> str:
        return self.identity.student

    def rng(self, question: str, name: str = "") -> random.Random:
        """This student's generator for ``question`` (``name`` for further independent draws)."""
        return random.Random(_seed(self.identity.key, self.assignment, question, name))

    def hidden_rng(self, question: str, name: str = "") -> random.Random:
        """A generator for a question's hidden cases: its seed holds the cohort secret, which the
        student's kernel never has, so with a secret nobody can compute their hidden cases ahead."""
        return random.Random(_seed(self.identity.key, self.identity.secret, "hidden", self.assignment, question, name))

    def pick(self, question: str, options: Iterable[Any], name: str = "") -> Any:
        """One of ``options``, drawn for this student (e.g. one of two interchangeable versions)."""
        items = list(options)
        if not items:
            raise ValueError(f"{question}: nothing to pick from")
        return self.rng(question, name or "pick").choice(items)

    def mcq(self, question: str, options: Sequence[str], multiple: bool = False) -> Choice:
        """The options of a multiple-choice question in this student's order."""
        if len(options) < 2 or len(set(options)) != len(options):
            raise ValueError(f"{question}: give at least two distinct options")
        order = list(range(len(options)))
        self.rng(question, "options").shuffle(order)
        return Choice(question, list(options), order, multiple)

    def show(self, question: str, **values: Any) -> None:
        """Show this student's inputs for ``question`` in the notebook (nothing outside a kernel; in the
        grader's judge, kept by :func:`recording_shown`, to check what the notebook shows)."""
        if _SHOWN:
            _SHOWN[-1].append(Inputs(question, values))
        if _in_kernel():
            from IPython.display import display

            display(Inputs(question, values))
