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

def _prepare(ns, name, payload):
    """The learner's function and the call's arguments."""
    return ns.get(name), _pickle.loads(_b64.b64decode(payload))

def _result_payload(value):
    return _json.dumps(_enc(value, [_LIMIT]))

def _raised_payload(exc):
    return _json.dumps({"t": "raised", "type": _error_name(exc)})

def _refers(ns, nonce, name, forbidden):
    """Whether the kernel's ``name`` reaches one of ``forbidden`` (refers_to: assessment.delegation's source,
    run into these globals beside this code)."""
    func = ns.get(name)
    hit = refers_to(func, list(forbidden)) if func is not None else None
    return _tag(nonce, {"t": "none"} if hit is None else {"t": "str", "v": hit})
'''


# The judge's guard, run in the kernel with no built-ins at all: every name in it is a parameter or a local,
# so nothing a notebook rebinds (exec, get_ipython, builtins, a module's attributes, the judge's own globals)
# changes what it does. It checks the primitives it is handed (the interpreter's own exec, __import__,
# sys.setprofile, ... by their C-level names, which no Python object can fake); anything else means the
# kernel was tampered with, and the call fails. For a call of a learner's function it watches, through a
# profile hook, every Python frame that runs: a frame of a forbidden course function (by its file and
# qualified name, so a copy of its code object or a second copy of its module counts) or of code with the
# same bytecode (a recompiled copy) trips the call. The hook's state is in its defaults, which only an
# audited assignment can change; an audit hook (which cannot be removed) refuses, while the hook watches,
# any change of the profile or trace function not made by the guard, any assignment of a function's code
# or defaults, and ctypes; and the guard checks at the end that its own hook is still the one installed.
# The reply is the nonce, then a fixed text for a tripped call, else the payload.
GUARD_CODE = r"""
def main(E, B, F, T, nonce, entry, args, watch, prints, source):
    BFT = T([].append)
    tampered = '{"t": "raised", "type": "EscapesTheGradersChecks"}'
    delegated = '{"t": "raised", "type": "UsesCoursesOwnFunction"}'
    imp = B.get("__import__")
    if not (T(imp) is BFT and imp.__name__ == "__import__"):
        return nonce + tampered
    sys = imp("sys")
    sp, gp, gf, aud = sys.setprofile, sys.getprofile, sys._getframe, sys.addaudithook
    for f, name in ((sp, "setprofile"), (gp, "getprofile"), (gf, "_getframe"), (aud, "addaudithook")):
        if not (T(f) is BFT and f.__name__ == name):
            return nonce + tampered
    be = B.get("BaseException")
    if not (T(be) is T and not (be.__flags__ & 512) and be.__name__ == "BaseException"):
        return nonce + tampered
    ns = F.__globals__
    G = {"__builtins__": B, "__name__": "__infraprep__"}
    E(source, G)
    if entry != "_call":
        return G[entry](ns, nonce, *args)
    prepare, payload, raised = G["_prepare"], G["_result_payload"], G["_raised_payload"]
    func, call_args = prepare(ns, args[0], args[1])
    if not watch and not prints:
        try:
            out = payload(func(*call_args))
        except be as exc:
            out = raised(exc)
        return "".join((nonce, out))
    hit = (x for x in (0,))
    has_qual = "co_qualname" in T(gf(0).f_code).__dict__

    def hook(frame, event, arg, hit=hit, watch=watch, prints=prints, join="".join, bjoin=b"".join, qual=has_qual):
        if event == "call":
            code = frame.f_code
            if bjoin((code.co_code,)) in prints:
                for _ in hit:
                    pass
                return
            name = join((code.co_filename,))
            q = join((code.co_qualname if qual else code.co_name,))
            for suffix, quals in watch:
                if name.endswith(suffix) and (q in quals or q.split(".<locals>.", 1)[0] in quals):
                    for _ in hit:
                        pass

    here = gf(0).f_code

    def audit(event, a, gp=gp, gf=gf, T=T, FT=T(hook), hook_code=hook.__code__, here=here, be=be):
        if event == "sys.setprofile" or event == "sys.settrace" or event == "object.__setattr__" or event[:7] == "ctypes.":
            p = gp()
            if not (T(p) is FT and p.__code__ is hook_code):
                return
            if event == "object.__setattr__":
                if a[1] == "__code__" or a[1] == "__defaults__" or a[1] == "__kwdefaults__":
                    raise be("infraprep: not while the grader calls your function")
                return
            if event[:7] == "ctypes." or gf(1).f_code is not here:
                raise be("infraprep: not while the grader calls your function")

    aud(audit)
    failed = 0
    sp(hook)
    try:
        try:
            out = payload(func(*call_args))
        except be as exc:
            out = raised(exc)
    except be:
        failed = 1
    still = gp() is hook
    sp(None)
    if not still:
        return "".join((nonce, tampered))
    for _ in hit:
        return "".join((nonce, "{}")) if failed else "".join((nonce, out))
    return "".join((nonce, delegated))
"""

# how the expression reaches the interpreter's own type and exec without a name: a lambda's globals are
# the learner's namespace, its __builtins__ the built-ins that namespace runs with (checked in the guard)
_BOOT = ("(lambda F, T: (lambda B: (lambda E: (lambda G: (E({guard!r}, G), G['main'](E, B, F, T, {nonce!r}, "
         "{entry!r}, {args}, {watch}, {prints}, {source!r}))[1])({{'__builtins__': {{}}}}) if T(E) is T([].append) "
         "and E.__name__ == 'exec' else {nonce!r} + '{{\"t\": \"raised\", \"type\": \"EscapesTheGradersChecks\"}}')"
         "(B.get('exec') if T(B) is T({{}}) else None))(F.__builtins__))((lambda: 0), (0).__class__.__class__)")


def _boot(entry: str, nonce: str, args: tuple, source: str, watch: tuple = (), prints: tuple = ()) -> str:
    return _BOOT.format(guard=GUARD_CODE, nonce=nonce, entry=entry, args=repr(tuple(args)), watch=repr(watch),
                        prints=repr(prints), source=source)


def signatures(forbid) -> tuple[tuple, tuple]:
    """What the guard watches for, worked out in the grader from its own copy of the course: for each
    forbidden function (and what it wraps), its file's path from the package's parent and its qualified
    and plain names; and its bytecode (a copy compiled elsewhere has the same)."""
    import inspect
    from pathlib import Path

    import infraprep
    from infraprep.assessment.delegation import resolve

    root = Path(infraprep.__file__).resolve().parent.parent
    watch, prints = [], []
    for dotted in forbid:
        obj = resolve(dotted)
        seen = 0
        while obj is not None and seen < 5:
            seen += 1
            func = getattr(obj, "__func__", obj)
            code = getattr(func, "__code__", None)
            if isinstance(code, type(signatures.__code__)):
                path = Path(code.co_filename).resolve()
                try:
                    rel = path.relative_to(root).as_posix()
                except ValueError:
                    rel = path.name
                qual = getattr(code, "co_qualname", getattr(func, "__qualname__", code.co_name))
                watch.append(("/" + rel, (qual, code.co_name)))
                if len(code.co_code) >= 24:
                    prints.append(code.co_code)
            obj = inspect.unwrap(func) if getattr(func, "__wrapped__", None) is not None else None
            if obj is func:
                break
    return tuple(watch), tuple(dict.fromkeys(prints))


def expression(entry: str, nonce: str, *args) -> str:
    """A Python *expression* that runs ``KERNEL_CODE`` in a private namespace of the kernel (its only
    handle on the learner's names is the namespace it is given) and evaluates to the tagged payload of
    ``entry(namespace, nonce, *args)``; for ``_call`` (name, pickled arguments, forbidden dotted names or
    their :func:`signatures` as ``{"watch", "prints"}``) the learner's function runs under the judge's guard
    (:data:`GUARD_CODE`).

    The judge sends it as a Jupyter ``user_expressions`` entry, which the kernel evaluates after the
    request's code has run and returns in the execute reply: no output, no extra cell. It names nothing
    the learner's namespace could rebind (no exec, no get_ipython)."""
    if entry == "_call":
        name, payload = args[0], args[1]
        given = args[2] if len(args) > 2 else ()
        if type(given) is dict:  # worked out already (the judge's process does, see judgeproc)
            watch, prints = tuple(given.get("watch") or ()), tuple(given.get("prints") or ())
        else:
            watch, prints = signatures(tuple(given))
        return _boot("_call", nonce, (name, payload), KERNEL_CODE, watch, prints)
    return _boot(entry, nonce, tuple(args), KERNEL_CODE)


def refers_expression(nonce: str, name: str, forbidden: tuple[str, ...]) -> str:
    """A user expression asking whether the kernel's ``name`` reaches any of ``forbidden`` (dotted
    names): :mod:`infraprep.assessment.delegation`'s source runs in a private namespace of the kernel
    and the answer comes back tagged like the other entry points (``{"t": "str"}`` or ``{"t": "none"}``)."""
    import inspect

    from infraprep.assessment import delegation

    return _boot("_refers", nonce, (name, tuple(forbidden)), KERNEL_CODE + "\n" + inspect.getsource(delegation))


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
