"""Plain data across the kernel boundary: encode in the student's kernel, decode in the grader.

The student's kernel sends only a tagged JSON tree (numbers, text, lists, dicts,
tables). Anything else arrives as an opaque *foreign* value named after its type,
so an object with a lying ``__eq__`` or a ``float`` subclass is never re-created
in the grader: :mod:`infraprep.checking` refuses it as "not plain data".

``KERNEL_CODE`` is the source run inside the kernel (in a private namespace, not
the learner's). ``decode`` runs in the grader.
"""

from __future__ import annotations

import json
from typing import Any

# Source executed in the kernel. It defines `_enc` and the entry points used by the judge, each
# returning its payload as one string, the nonce then JSON: `_fetch_many(ns, nonce, names)` (every
# name a hidden test reads, at once) and `_call(ns, nonce, name, payload)`.
KERNEL_CODE = r'''
import base64 as _b64, json as _json, pickle as _pickle, sys as _sys

_LIMIT = 200_000

def _enc(value, budget, depth=0):
    budget[0] -= 1
    if budget[0] < 0 or depth > 30:
        return {"t": "other", "type": "too large"}
    kind = type(value)
    if value is None:
        return {"t": "none"}
    if value is Ellipsis:
        return {"t": "ellipsis"}
    if kind is bool:
        return {"t": "bool", "v": value}
    if kind is int:
        return {"t": "int", "v": str(value)}
    if kind is float:
        return {"t": "float", "v": value.hex()}
    if kind is str:
        return {"t": "str", "v": value[:_LIMIT]}
    if kind in (list, tuple):
        return {"t": "list", "v": [_enc(x, budget, depth + 1) for x in value]}
    if kind in (set, frozenset):
        return {"t": "set", "v": [_enc(x, budget, depth + 1) for x in value]}
    if kind is dict:
        return {"t": "dict", "v": [[_enc(k, budget, depth + 1), _enc(v, budget, depth + 1)] for k, v in value.items()]}
    module = getattr(kind, "__module__", "") or ""
    if module.startswith("numpy"):
        np = _sys.modules.get("numpy")
        if np is not None and type(value) in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                              np.uint16, np.uint32, np.uint64, np.float16, np.float32, np.float64):
            return _enc(value.item(), budget, depth + 1)
        if np is not None and kind is np.ndarray:
            return {"t": "list", "v": [_enc(x, budget, depth + 1) for x in value.tolist()]}
    if module.startswith("pandas"):
        pd = _sys.modules.get("pandas")
        if pd is not None and kind is pd.Series:
            return {"t": "list", "v": [_enc(x, budget, depth + 1) for x in value.tolist()]}
        if pd is not None and kind is pd.DataFrame:
            return {"t": "frame",
                    "columns": [_enc(c, budget, depth + 1) for c in value.columns.tolist()],
                    "rows": [[_enc(x, budget, depth + 2) for x in row] for row in value.astype(object).values.tolist()]}
        if pd is not None and value is pd.NA:
            return {"t": "none"}
    if callable(value):
        return {"t": "callable", "type": kind.__name__}
    return {"t": "other", "type": kind.__name__}

def _tag(nonce, payload):
    return nonce + _json.dumps(payload)

def _fetch_many(ns, nonce, names):
    return _tag(nonce, {"t": "many", "v": [[n, _enc(ns[n], [_LIMIT]) if n in ns else {"t": "missing"}] for n in names]})


def _error_name(exc):
    """The name of a built-in exception class the error is (a learner's own class names say nothing
    the grader may repeat: they could carry the hidden inputs)."""
    import builtins as _bi
    for klass in type(exc).__mro__:
        if getattr(_bi, klass.__name__, None) is klass:
            return klass.__name__
    return "Exception"

def _trip(forbid):
    """Make the course's own functions for this job fail while the learner's function runs."""
    saved = []
    def _tripwire(*a, **k):
        globals()["__infraprep_tripped__"] = 1
        raise RuntimeError("infraprep: the course's own function for this job was called")
    for dotted in forbid:
        parts, obj = dotted.split("."), None
        for cut in range(len(parts), 0, -1):
            module = _sys.modules.get(".".join(parts[:cut]))
            if module is not None:
                obj = module
                for part in parts[cut:]:
                    obj = getattr(obj, part, None)
                break
        func = getattr(obj, "__func__", obj)
        code = getattr(func, "__code__", None)
        if code is None or code.co_freevars:
            continue
        saved.append((func, code))
        func.__code__ = _tripwire.__code__
    return saved

def _untrip(saved):
    tripped = False
    for func, code in saved:
        func.__code__ = code
        if func.__globals__.pop("__infraprep_tripped__", None):
            tripped = True
    return tripped

def _call(ns, nonce, name, payload, forbid=()):
    func = ns.get(name)
    args = _pickle.loads(_b64.b64decode(payload))
    saved = _trip(forbid) if forbid else []
    try:
        result = func(*args)
    except BaseException as exc:
        if _untrip(saved):
            return _tag(nonce, {"t": "raised", "type": "UsesCoursesOwnFunction"})
        return _tag(nonce, {"t": "raised", "type": _error_name(exc)})
    if _untrip(saved):
        return _tag(nonce, {"t": "raised", "type": "UsesCoursesOwnFunction"})
    return _tag(nonce, _enc(result, [_LIMIT]))
'''


def expression(entry: str, nonce: str, *args) -> str:
    """A Python *expression* that runs ``KERNEL_CODE`` in a private namespace of the kernel (its only
    handle on the learner's names is ``__ns``) and evaluates to the tagged payload of ``entry(__ns, nonce, *args)``.

    The judge sends it as a Jupyter ``user_expressions`` entry, which the kernel evaluates after the
    request's code has run and returns in the execute reply: no output, no extra cell."""
    call = f"{entry}(__ns, {nonce!r}, " + ", ".join(repr(a) for a in args) + ")"  # args: str, list or tuple
    source = KERNEL_CODE + "\n__infraprep_result = " + call
    return (f"(lambda __g: (exec({source!r}, __g), __g['__infraprep_result'])[1])"
            "({'__ns': get_ipython().user_ns})")


def refers_expression(nonce: str, name: str, forbidden: tuple[str, ...]) -> str:
    """A user expression asking whether the kernel's ``name`` reaches any of ``forbidden`` (dotted
    names): :mod:`infraprep.assessment.delegation`'s source runs in a private namespace of the kernel
    and the answer comes back tagged like the other entry points (``{"t": "str"}`` or ``{"t": "none"}``)."""
    import inspect

    from infraprep.assessment import delegation

    source = (inspect.getsource(delegation) + "\nimport json as _json\n"
              f"_f = __ns.get({name!r})\n"
              f"_hit = refers_to(_f, {list(forbidden)!r}) if _f is not None else None\n"
              f"__infraprep_result = {nonce!r} + _json.dumps({{'t': 'none'}} if _hit is None else {{'t': 'str', 'v': _hit}})")
    return (f"(lambda __g: (exec({source!r}, __g), __g['__infraprep_result'])[1])"
            "({'__ns': get_ipython().user_ns, '__name__': '__infraprep_delegation__'})")


def parse_expression(result: Any, nonce: str) -> Any:
    """The payload of a ``user_expressions`` result (``{"status", "data": {"text/plain": repr}}``) that
    :func:`expression` made; None if it failed or does not carry ``nonce``. The text is the kernel's
    ``repr`` of a string, read back with :func:`ast.literal_eval` (never evaluated)."""
    import ast

    if type(result) is not dict or result.get("status") != "ok":
        return None
    text = (result.get("data") or {}).get("text/plain")
    if type(text) is not str:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if type(value) is not str or not value.startswith(nonce):
        return None
    try:
        return json.loads(value[len(nonce):])
    except (ValueError, RecursionError, MemoryError):  # nested past the decoder's depth, too large: refused,
        return {"t": "other", "type": "malformed"}     # for this one answer only


class ForeignValue:
    """Stands in, in the grader, for a kernel object that is not plain data."""

    type_name = "object"

    def __repr__(self) -> str:
        return f"<{self.type_name} from the learner's kernel>"


_FOREIGN: dict[str, type] = {}
_FOREIGN_NAMES = 256  # distinct type names given a class of their own, per job; the rest read "object"


def foreign(type_name: str) -> ForeignValue:
    """A placeholder whose class carries the kernel type's name (so messages read 'got LyingFloat').
    A kernel chooses its type names, so at most ``_FOREIGN_NAMES`` of them get a class, and
    :func:`forget_foreign` drops them all between jobs: one notebook's names cost the next nothing."""
    safe = "".join(ch for ch in type_name if ch.isalnum() or ch == "_")[:60] or "object"
    if safe not in _FOREIGN and len(_FOREIGN) >= _FOREIGN_NAMES:
        safe = "object"
    if safe not in _FOREIGN:
        _FOREIGN[safe] = type(safe, (ForeignValue,), {"type_name": safe})
    return _FOREIGN[safe]()


def forget_foreign() -> None:
    """Drop the placeholder classes made so far (the judge's process does, before each job)."""
    _FOREIGN.clear()


def scrub(tree: Any, depth: int = 0) -> Any:
    """The tree with every non-plain value's type name replaced by "object": a learner's function run
    on hidden inputs could name a class it made after the inputs, and grading messages repeat type names."""
    if depth > 40:
        return {"t": "other", "type": "object"}
    if type(tree) is dict:
        out = {k: scrub(v, depth + 1) for k, v in tree.items()}
        if out.get("t") in ("other", "callable", "raised"):
            out["type"] = "object" if out.get("t") != "raised" else out.get("type", "Exception")
        return out
    if type(tree) is list:
        return [scrub(v, depth + 1) for v in tree]
    return tree


class Missing(Exception):
    """The kernel has no such name (as a NameError would say)."""


def decode(tree: Any) -> Any:
    """Rebuild grader-side plain data from the kernel's tagged tree."""
    if type(tree) is not dict or "t" not in tree:
        return foreign("malformed")
    tag = tree["t"]
    if tag == "none":
        return None
    if tag == "ellipsis":
        return Ellipsis
    if tag == "bool" and type(tree.get("v")) is bool:
        return tree["v"]
    if tag == "int":
        try:
            return int(str(tree.get("v")))
        except ValueError:
            return foreign("malformed")
    if tag == "float":
        try:
            return float.fromhex(str(tree.get("v")))
        except ValueError:
            return foreign("malformed")
    if tag == "str" and type(tree.get("v")) is str:
        return tree["v"]
    if tag == "list" and type(tree.get("v")) is list:
        return [decode(x) for x in tree["v"]]
    if tag == "set" and type(tree.get("v")) is list:
        items = [decode(x) for x in tree["v"]]
        try:
            return set(items)
        except TypeError:
            return foreign("set")
    if tag == "dict" and type(tree.get("v")) is list:
        out = {}
        for pair in tree["v"]:
            if type(pair) is not list or len(pair) != 2:
                return foreign("malformed")
            key = decode(pair[0])
            try:
                out[key] = decode(pair[1])
            except TypeError:
                return foreign("dict")
        return out
    if tag == "frame":
        import pandas as pd

        columns = [decode(c) for c in tree.get("columns", [])]
        rows = [[decode(x) for x in row] for row in tree.get("rows", [])]
        if any(len(row) != len(columns) for row in rows):
            return foreign("malformed")
        return pd.DataFrame(rows, columns=columns)
    if tag == "missing":
        raise Missing()
    return foreign(str(tree.get("type", "object")))
