"""Answer checks for the graded assignments: one place for every lesson.

Graded notebooks call these functions from their test cells:

- *form* checks (visible to the learner) say whether an answer has the right
  shape: a letter among the allowed options, a finite number, a list of text...
- *correctness* checks (inside ``### BEGIN HIDDEN TESTS``) compare with the
  instructor's answer.

A failed check raises :class:`AnswerError` whose message names the question
and the kind of mistake (not answered, wrong type, wrong option, off by a
factor of 1000, ...) and never the expected answer.  IPython shows only that
message, not a traceback, so the hidden test's source never appears in a
learner's output or in feedback (see jupyter/nbgrader#917).

Student values are first reduced to plain built-in data (``bool``, ``int``,
``float``, ``str`` and lists/dicts of them) before any comparison, so an
object that claims to equal everything, or a ``float`` subclass that lies,
cannot pass a check.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "AnswerError", "NotAnswered", "WrongForm", "WrongAnswer", "PartialCredit", "partial",
    "is_choice", "is_choices", "is_number", "is_text", "is_list", "is_callable", "call",
    "choice", "choices", "number", "rounded_up", "text", "same_items", "equal", "function_cases", "frame", "delegates",
]

_MISSING = (Ellipsis, None)


class AnswerError(AssertionError):
    """A check failed. Shown to the learner as one line: ``Q3: <reason>``."""

    kind = "answer"

    def __init__(self, question: str, reason: str):
        self.question = question
        self.reason = reason
        super().__init__(f"{question}: {reason}")

    def _render_traceback_(self) -> list[str]:  # IPython hook: no frames, no source lines
        return [f"{type(self).__name__}: {self}"]


# what the judge's guard in the kernel says instead of an error name (infraprep.grading.kernelcodec)
DELEGATED, GUARD_ESCAPED = "UsesCoursesOwnFunction", "EscapesTheGradersChecks"


def _said_safely(error: AnswerError) -> AnswerError:
    """Mark a message whose words the check chose alone (nothing a learner's function returned or raised
    on a hidden input picked them): the judge repeats it even after calls on hidden inputs."""
    error.hidden_safe = True
    return error


def _guard_message(question: str, label: str, error_name: str) -> AnswerError | None:
    """The message for a call the judge's guard stopped, or None for an ordinary error."""
    if error_name == DELEGATED:
        return _said_safely(WrongAnswer(question, f"{label} hands the job to the course's own function for it; "
                                                  "write the logic yourself"))
    if error_name == GUARD_ESCAPED:
        return _said_safely(WrongAnswer(question, f"{label} turns off or gets around the grader's checks (tracing "
                                                  "hooks, threads, the kernel's built-ins); write the logic yourself"))
    return None


class NotAnswered(AnswerError):
    kind = "not answered"


class WrongForm(AnswerError):
    kind = "wrong form"


class WrongAnswer(AnswerError):
    kind = "wrong answer"


class PartialCredit(AnswerError):
    """Part of a question's points: the grader saves ``fraction`` of the cell's points."""

    kind = "partial credit"

    def __init__(self, question: str, fraction: float, reason: str):
        self.fraction = min(1.0, max(0.0, float(fraction)))
        super().__init__(question, reason)


def partial(question: str, earned: float, total: float, reason: str) -> None:
    """Hidden check helper: award ``earned`` of ``total`` parts (nothing to do when all are earned)."""
    if total <= 0 or earned >= total:
        return
    raise PartialCredit(question, earned / total, f"{reason} ({earned:g} of {total:g} parts right)")


# --------------------------------------------------------------------------- plain data

def _plain(value: Any, question: str, depth: int = 0) -> Any:
    """Reduce ``value`` to plain built-in data, refusing anything else.

    Only exact built-in types are accepted (``type(x) is float``, not a subclass),
    so the comparisons below run the interpreter's own code, never the learner's.
    """
    if depth > 20:
        raise WrongForm(question, "the answer is nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is complex:
        raise WrongForm(question, "expected a real number, got a complex number")
    if kind in (list, tuple):
        return [_plain(item, question, depth + 1) for item in value]
    if kind in (set, frozenset):
        return [_plain(item, question, depth + 1) for item in sorted(value, key=repr)]
    if kind is dict:
        return {_plain(k, question, depth + 1): _plain(v, question, depth + 1) for k, v in value.items()}
    module = getattr(kind, "__module__", "")
    if module.startswith("numpy"):
        try:
            import numpy as np
        except ImportError:  # pragma: no cover - numpy comes with pandas
            np = None
        if np is not None and isinstance(value, np.generic):
            if isinstance(value, np.bool_):
                return bool(value)
            if isinstance(value, np.integer):
                return int(value)
            if isinstance(value, np.floating):
                return float(value)
        if np is not None and isinstance(value, np.ndarray):
            return [_plain(item, question, depth + 1) for item in value.tolist()]
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(value, pd.Series):
            return [_plain(item, question, depth + 1) for item in value.tolist()]
        if value is pd.NA:
            return None
    raise WrongForm(question, f"expected plain Python data (a number, text, list or dict), got {kind.__name__}")


def _missing(question: str, value: Any) -> None:
    if value is Ellipsis or value is None:
        raise NotAnswered(question, "not answered yet: replace the ... (or None) with your answer and run the cell")


def _letters(question: str, value: Any) -> str:
    _missing(question, value)
    plain = _plain(value, question)
    if type(plain) is not str:
        raise WrongForm(question, f"answer with a letter in quotes, like \"B\"; got a {type(plain).__name__}")
    return plain.strip().upper()


def _number(question: str, value: Any) -> float:
    _missing(question, value)
    plain = _plain(value, question)
    if type(plain) is bool or type(plain) not in (int, float):
        raise WrongForm(question, f"expected a number, got {type(plain).__name__}: write it without quotes or units")
    number = float(plain)
    if not math.isfinite(number):
        raise WrongForm(question, "expected a finite number, got infinity or NaN")
    return number


# --------------------------------------------------------------------------- form checks (visible)

def is_choice(question: str, value: Any, options: str) -> None:
    """Visible check: ``value`` is one letter among ``options`` (e.g. ``"ABCD"``)."""
    letter = _letters(question, value)
    if len(letter) != 1 or letter not in options.upper():
        raise WrongForm(question, f"answer with one letter among {', '.join(options.upper())}")


def is_choices(question: str, value: Any, options: str) -> None:
    """Visible check: ``value`` is a string or list of distinct letters among ``options``."""
    letters = _letter_set(question, value)
    wrong = sorted(letters - set(options.upper()))
    if wrong:
        raise WrongForm(question, f"{', '.join(wrong)} is not an option; choose among {', '.join(options.upper())}")
    if not letters:
        raise WrongForm(question, "choose at least one letter")


def is_number(question: str, value: Any, unit: str = "") -> None:
    """Visible check: ``value`` is a finite real number (in ``unit``, which is only mentioned)."""
    _number(question, value)


def is_text(question: str, value: Any, allowed: Iterable[str] | None = None) -> None:
    """Visible check: ``value`` is non-empty text, optionally one of ``allowed`` (case-insensitive)."""
    _missing(question, value)
    plain = _plain(value, question)
    if type(plain) is not str or not plain.strip():
        raise WrongForm(question, "expected non-empty text in quotes")
    if allowed is not None:
        options = [a.lower() for a in allowed]
        if plain.strip().lower() not in options:
            raise WrongForm(question, f"expected one of: {', '.join(allowed)}")


def is_list(question: str, value: Any, length: int | None = None, item: type | None = None) -> None:
    """Visible check: ``value`` is a list (or tuple) of ``length`` items of type ``item``."""
    _missing(question, value)
    plain = _plain(value, question)
    if type(plain) is not list:
        raise WrongForm(question, f"expected a list, got {type(plain).__name__}")
    if length is not None and len(plain) != length:
        raise WrongForm(question, f"expected a list of {length} items, got {len(plain)}")
    if item is not None:
        for entry in plain:
            ok = (type(entry) in (int, float) and type(entry) is not bool) if item is float else type(entry) is item
            if not ok:
                raise WrongForm(question, f"every item should be {item.__name__}; found {type(entry).__name__}")


def call(question: str, func: Any, *args: Any) -> Any:
    """Visible helper: call the learner's function; "not written yet" if it raises NotImplementedError."""
    is_callable(question, func)
    try:
        return func(*args)
    except NotImplementedError:
        raise NotAnswered(question, "your function is not written yet (it raises NotImplementedError)") from None
    except Exception as exc:
        stopped = _guard_message(question, "your function", type(exc).__name__)
        if stopped is not None:
            raise stopped from None
        raise WrongForm(question, f"your function raised {type(exc).__name__}: {exc}") from None


def is_callable(question: str, value: Any) -> None:
    """Visible check: ``value`` is a function the learner defined."""
    _missing(question, value)
    if not callable(value):
        raise WrongForm(question, f"expected a function, got {type(value).__name__}")


# --------------------------------------------------------------------------- correctness checks (hidden)

def choice(question: str, value: Any, correct: str) -> None:
    """Hidden check: one letter, equal to ``correct``."""
    letter = _letters(question, value)
    if letter != correct.strip().upper():
        raise WrongAnswer(question, f"option {letter} is not the best answer; reread the section and try again")


def _letter_set(question: str, value: Any) -> set[str]:
    _missing(question, value)
    plain = _plain(value, question)
    if type(plain) is str:
        items = [c for c in plain.upper() if c.isalpha()]
    elif type(plain) is list and all(type(x) is str for x in plain):
        items = [x.strip().upper() for x in plain]
    else:
        raise WrongForm(question, "answer with letters, e.g. \"AC\" or [\"A\", \"C\"]")
    if len(items) != len(set(items)):
        raise WrongForm(question, "a letter appears twice")
    return set(items)


def choices(question: str, value: Any, correct: str | Iterable[str]) -> None:
    """Hidden check: the set of letters equals ``correct`` (order does not matter)."""
    given = _letter_set(question, value)
    wanted = {c.upper() for c in correct if c.strip()}
    if given == wanted:
        return
    missing, extra = len(wanted - given), len(given - wanted)
    parts = []
    if extra:
        parts.append(f"{extra} of your letters {'is' if extra == 1 else 'are'} wrong")
    if missing:
        parts.append(f"{missing} correct letter{'s are' if missing > 1 else ' is'} missing")
    raise WrongAnswer(question, " and ".join(parts))


_FACTORS = [
    (1e3, "a factor of 1,000: check the unit prefix (k/M/G/T)"),
    (1e6, "a factor of a million: check the unit prefix"),
    (1e9, "a factor of a billion: check the unit prefix"),
    (1e12, "a factor of 10^12: check the unit prefix"),
    (1024, "a factor of 1,024: decimal vs binary units (GB vs GiB)?"),
    (8, "a factor of 8: bits vs bytes?"),
    (100, "a factor of 100: a fraction vs a percentage?"),
    (60, "a factor of 60: minutes vs seconds or hours?"),
    (3600, "a factor of 3,600: seconds vs hours?"),
    (24, "a factor of 24: hours vs days?"),
    (1000 / 1024, "about 2.4%: decimal vs binary units?"),
    (2, "a factor of 2: one direction vs both, or a missing factor 2 in the formula?"),
    (10, "a factor of 10: check the order of magnitude"),
]


def _diagnose(got: float, want: float, rel: float) -> str:
    if want != 0 and got == -want:
        return "the sign is wrong"
    if want != 0 and got != 0 and (got > 0) == (want > 0):
        ratio = abs(got / want)
        for factor, reason in _FACTORS:
            for r in (factor, 1 / factor):
                if abs(ratio - r) <= max(rel, 0.01) * r:
                    return f"off by {reason}"
        direction = "too large" if abs(got) > abs(want) else "too small"
        return f"{direction}; recheck the formula and the inputs"
    return "not within the tolerance; recheck the formula and the inputs"


def number(question: str, value: Any, correct: float, rel: float = 0.01, abs_tol: float = 0.0, unit: str = "") -> None:
    """Hidden check: ``value`` is within ``rel`` (relative) or ``abs_tol`` of ``correct``.

    On failure the message names the likely mistake (unit prefix, bits vs
    bytes, percent vs fraction, factor of 2, sign) but never the expected value.
    """
    got = _number(question, value)
    want = float(correct)
    if math.isclose(got, want, rel_tol=rel, abs_tol=abs_tol):
        return
    hint = f" (answer in {unit})" if unit else ""
    raise WrongAnswer(question, _diagnose(got, want, rel) + hint)


def rounded_up(question: str, value: Any, quantity: float, unit: str = "") -> None:
    """Hidden check for a count rounded up to a whole number: ``value`` is ⌈``quantity``⌉.

    ``quantity`` is the unrounded figure (tokens an expert must hold, say). When it is a whole
    number up to floating-point error, either whole number next to it is accepted: the right formula
    written in another order can land a hair above it (``1.1 * 5 / 5`` is ``1.1000000000000003``)
    and round up once more, and that is not the learner's mistake. Rounding down, or forgetting
    a factor, is still rejected.

    >>> rounded_up("Q1", 3380, 3379.2)
    >>> rounded_up("Q1", 4507, 4506.000000000001)   # a float artefact of 4,506 exactly
    >>> rounded_up("Q1", 3379, 3379.2)
    Traceback (most recent call last):
    ...
    infraprep.checking.WrongAnswer: Q1: too small; recheck the formula and the inputs
    """
    got = _number(question, value)
    exact = float(quantity)
    whole = round(exact)
    if abs(exact - whole) <= 1e-9 * max(1.0, abs(exact)):
        accepted = {whole, whole + 1}
    else:
        accepted = {math.ceil(exact)}
    if got in accepted:
        return
    hint = f" (answer in {unit})" if unit else ""
    raise WrongAnswer(question, _diagnose(got, float(min(accepted)), 0.0) + hint)


def text(question: str, value: Any, accepted: Iterable[str]) -> None:
    """Hidden check: text equal (case- and space-insensitive) to one of ``accepted``."""
    _missing(question, value)
    plain = _plain(value, question)
    if type(plain) is not str:
        raise WrongForm(question, "expected text in quotes")
    norm = " ".join(plain.lower().split())
    if norm not in {" ".join(a.lower().split()) for a in accepted}:
        raise WrongAnswer(question, "that is not the expected name; check spelling against the lesson's tables")


def same_items(question: str, value: Any, expected: Iterable[Any], ordered: bool = False) -> None:
    """Hidden check: the same items as ``expected`` (text compared case-insensitively)."""
    _missing(question, value)
    plain = _plain(value, question)
    if type(plain) is not list:
        raise WrongForm(question, f"expected a list, got {type(plain).__name__}")

    def norm(x: Any) -> Any:
        return " ".join(x.lower().split()) if type(x) is str else x

    got = [norm(x) for x in plain]
    want = [norm(x) for x in _plain(list(expected), question)]
    if ordered:
        if got == want:
            return
        if sorted(map(repr, got)) == sorted(map(repr, want)):
            raise WrongAnswer(question, "the right items, in the wrong order")
    elif sorted(map(repr, got)) == sorted(map(repr, want)):
        return
    # what is wrong, never how many items the (hidden) expected list holds
    missing = any(w not in got for w in want)
    extra = any(g not in want for g in got)
    parts = (["some expected items are missing"] if missing else []) + (["some items are not expected"] if extra else [])
    raise WrongAnswer(question, " and ".join(parts) or "the items are not the expected ones")


def _close(a: Any, b: Any, rel: float) -> bool:
    """Structural equality of plain data; floats compare with relative tolerance ``rel``."""
    ta, tb = type(a), type(b)
    if ta in (int, float) and tb in (int, float) and ta is not bool and tb is not bool:
        return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)
    if ta is not tb:
        return False
    if ta is list:
        return len(a) == len(b) and all(_close(x, y, rel) for x, y in zip(a, b))
    if ta is dict:
        return a.keys() == b.keys() and all(_close(a[k], b[k], rel) for k in a)
    if ta is str:
        return a.strip() == b.strip()
    return a == b


def equal(question: str, value: Any, expected: Any, rel: float = 1e-6, what: str = "your result") -> None:
    """Hidden check: plain-data equality, numbers within ``rel``."""
    _missing(question, value)
    if not _close(_plain(value, question), _plain(expected, question), rel):
        raise WrongAnswer(question, f"{what} is not what was expected")


def function_cases(
    question: str,
    func: Any,
    cases: Sequence[tuple[tuple, Any]],
    rel: float = 1e-6,
    name: str | None = None,
    forbid: Iterable[str] = (),
) -> None:
    """Hidden check: ``func(*args) == expected`` for every ``(args, expected)`` in ``cases``.

    Reports how many hidden cases fail, and whether one raised, never the inputs, the expected outputs
    or anything the learner's code chose on them (such as the name of the error it raised). ``forbid``: dotted names of the course package's own functions
    for the same job (``"infraprep.parsers.nccl_tests_summary"``); a function that reaches one of them
    scores zero with a message saying why (:mod:`infraprep.assessment.delegation`).
    """
    is_callable(question, func)
    label = name or getattr(func, "__name__", "your function")
    forbid = tuple(forbid)
    if forbid:
        from infraprep.assessment.delegation import resolve

        missing = [name for name in forbid if resolve(name) is None]
        if missing:  # the course's own mistake: fail loudly (the preflight stops grading), never pass quietly
            raise RuntimeError(f"{question}: forbid= names what does not exist: {', '.join(missing)}")
        hit = delegates(func, forbid)
        if hit:
            raise _said_safely(WrongAnswer(question, f"{label} hands the job to the course's own "
                                                     f"{hit.rsplit('.', 1)[-1]}(); write the logic yourself"))
    failed, errors = 0, []
    run = func.guarded(forbid) if forbid and hasattr(func, "guarded") else func
    for args, expected in cases:
        try:
            got = run(*args)
        except NotImplementedError:
            raise _said_safely(NotAnswered(question, f"{label} is not written yet (it raises NotImplementedError)")) from None
        except Exception as exc:  # the learner's code failed: say so, never what it raised (it could tell the input)
            failed += 1
            errors.append(type(exc).__name__)
            continue
        try:
            ok = _close(_plain(got, question), _plain(expected, question), rel)
        except WrongForm:
            ok = False
        failed += not ok
    for stop in (DELEGATED, GUARD_ESCAPED):
        if stop in errors:
            raise _guard_message(question, label, stop)
    if failed:
        detail = " (it raised an error on at least one of them)" if errors else ""
        raise _said_safely(WrongAnswer(question, f"{label} gives a wrong result on {failed} of {len(cases)} "
                                                 f"hidden cases{detail}"))


def delegates(func: Any, forbid: Iterable[str]) -> str | None:
    """The first of ``forbid`` (dotted names) that ``func`` can reach, else None: asked of the kernel
    for a learner's function the grader judges (it lives there), worked out here otherwise."""
    ask = getattr(func, "refers_to", None)
    if ask is not None:
        return ask(tuple(forbid))
    from infraprep.assessment.delegation import refers_to

    return refers_to(func, tuple(forbid))


def frame(question: str, value: Any, expected: Any, check_order: bool = False, rel: float = 1e-6) -> None:
    """Hidden check: a pandas DataFrame with the expected columns and values. Messages never tell a property
    of the expected table (its rows, their number, its values): only how the learner's differs."""
    import pandas as pd

    _missing(question, value)
    if type(value) is not pd.DataFrame:
        raise WrongForm(question, f"expected a pandas DataFrame, got {type(value).__name__}")
    if list(value.columns) != list(expected.columns):
        raise WrongAnswer(question, "the columns are not the expected ones (names and order)")
    if len(value) != len(expected):
        raise WrongAnswer(question, "the table differs from the expected one (its rows are not the expected ones)")
    got_rows = [[_plain(x, question) for x in row] for row in value.astype(object).itertuples(index=False)]
    want_rows = [[_plain(x, question) for x in row] for row in expected.astype(object).itertuples(index=False)]
    if not check_order:
        got_rows, want_rows = sorted(got_rows, key=repr), sorted(want_rows, key=repr)
    if not _close(got_rows, want_rows, rel):
        if sorted(got_rows, key=repr) == sorted(want_rows, key=repr):
            raise WrongAnswer(question, "the right rows in the wrong order")
        raise WrongAnswer(question, "some values differ from the expected table")
