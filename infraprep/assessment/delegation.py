"""Does a learner's function hand its job to the course package's own function for that job?

A coding task such as "write ``peak_busbw(text)``" must not pass by calling
``infraprep.parsers.nccl_tests_summary``. :func:`refers_to` looks at everything a function can reach
without running it: the names and attribute names its code (and every nested function, lambda and
comprehension in it) uses, looked up in its globals, closure cells, defaults and builtins; the text
constants it holds (what ``getattr(module, "name")`` or ``importlib.import_module("...")`` would
use); and, recursively, every function it reaches that is not part of a library. Aliases
(``f = parsers.nccl_tests_summary``), ``from ... import ... as``, module objects, ``getattr`` with
a literal or a string built from literal parts, and helper functions that do the delegating all
count. It runs where the function lives: in the learner's kernel, sent there by the grader.

``forbidden`` names functions by their dotted path (``"infraprep.parsers.nccl_tests_summary"``).
This module imports nothing from the course, so its source can be sent into a kernel as is.
"""

from __future__ import annotations

import sys
import types

__all__ = ["refers_to", "resolve"]

_LIBRARY_PREFIXES = ("numpy", "pandas", "yaml", "re", "json", "math", "statistics", "collections",
                     "itertools", "functools", "builtins", "operator", "datetime", "io", "csv")


def resolve(dotted: str):
    """The object a dotted path names (``package.module.function``), or None if it cannot be imported."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is None:
            try:
                module = __import__(".".join(parts[:cut]), fromlist=["_"])
            except Exception:  # noqa: BLE001 - not a module at this depth
                continue
        obj = module
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            return None
        return obj
    return None


def _code_objects(code: types.CodeType):
    stack = [code]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))


def _strings(code: types.CodeType) -> set[str]:
    """Text constants, split on dots too, plus every concatenation of two adjacent ones."""
    found: set[str] = set()
    for current in _code_objects(code):
        texts = [c for c in current.co_consts if type(c) is str]
        for text in texts:
            found.add(text)
            found.update(text.split("."))
        for a, b in zip(texts, texts[1:]):
            found.add(a + b)
    return found


def _names(code: types.CodeType) -> set[str]:
    names: set[str] = set()
    for current in _code_objects(code):
        names.update(current.co_names)
        names.update(current.co_freevars)
        names.update(current.co_varnames)
    return names


def _is_library(obj) -> bool:
    module = getattr(obj, "__module__", None) or getattr(obj, "__name__", "") or ""
    return isinstance(module, str) and module.split(".")[0] in _LIBRARY_PREFIXES


def refers_to(func, forbidden, _depth: int = 0, _seen: set | None = None) -> str | None:
    """The dotted name of the first function of ``forbidden`` that ``func`` can reach, else None."""
    targets = {}
    for dotted in forbidden:
        obj = resolve(dotted)
        if obj is not None:
            targets[id(obj)] = dotted
            wrapped = getattr(obj, "__wrapped__", None)
            if wrapped is not None:
                targets[id(wrapped)] = dotted
    if not targets:
        return None
    return _walk(func, targets, forbidden, 0, set() if _seen is None else _seen)


def _walk(obj, targets: dict, forbidden, depth: int, seen: set) -> str | None:
    if id(obj) in targets:
        return targets[id(obj)]
    if depth > 6 or id(obj) in seen:
        return None
    seen.add(id(obj))
    if isinstance(obj, types.MethodType):
        return _walk(obj.__func__, targets, forbidden, depth, seen)
    if isinstance(obj, (staticmethod, classmethod)):
        return _walk(obj.__func__, targets, forbidden, depth, seen)
    if isinstance(obj, type):
        for value in list(vars(obj).values()):
            hit = _walk(value, targets, forbidden, depth + 1, seen)
            if hit:
                return hit
        return None
    if hasattr(obj, "func") and callable(getattr(obj, "func", None)) and not isinstance(obj, types.FunctionType):
        hit = _walk(obj.func, targets, forbidden, depth + 1, seen)  # functools.partial and the like
        if hit:
            return hit
    if not isinstance(obj, types.FunctionType):
        call = getattr(type(obj), "__call__", None)
        if isinstance(call, types.FunctionType) and not _is_library(type(obj)):
            return _walk(call, targets, forbidden, depth + 1, seen)
        return None
    code = obj.__code__
    names, strings = _names(code), _strings(code)
    reachable = []
    scope = dict(getattr(obj, "__builtins__", {}) if isinstance(getattr(obj, "__builtins__", None), dict) else {})
    scope.update(obj.__globals__)
    for name in names:
        if name in scope:
            reachable.append(scope[name])
    for cell in obj.__closure__ or ():
        try:
            reachable.append(cell.cell_contents)
        except ValueError:
            pass
    reachable.extend(obj.__defaults__ or ())
    reachable.extend((obj.__kwdefaults__ or {}).values())
    words = names | strings
    for dotted in forbidden:  # a module path or a function name spelled out in text (importlib, getattr)
        parts = dotted.split(".")
        if dotted in strings or (parts[-1] in strings and ".".join(parts[:-1]) in strings | {p for p in parts}):
            return dotted
    for value in reachable:
        if id(value) in targets:
            return targets[id(value)]
        if isinstance(value, types.ModuleType):
            for dotted in forbidden:  # module.attr chains: every part after this module must be used
                parts = dotted.split(".")
                mod = value.__name__
                if dotted.startswith(mod + "."):
                    rest = dotted[len(mod) + 1:].split(".")
                    if all(part in words for part in rest):
                        return dotted
                if parts[-1] in words and mod.split(".")[0] == parts[0]:
                    # the function re-exported by a package (``estimates.cheapest_layout`` for
                    # ``infraprep.estimates.design.cheapest_layout``), or by any module on the way
                    obj2 = getattr(value, parts[-1], None)
                    if obj2 is not None and id(obj2) in targets:
                        return dotted
            continue
        if _is_library(value):
            continue
        if callable(value) or isinstance(value, type):
            hit = _walk(value, targets, forbidden, depth + 1, seen)
            if hit:
                return hit
    return None
