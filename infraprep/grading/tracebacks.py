"""Coloured tracebacks in grading kernels, the same text for less CPU.

A submission that is blank or broken raises in most of its cells, and IPython formats every error
as a coloured traceback. With IPython 9 and stack_data each one costs about 11 ms of CPU here
(against 0.2 ms for a cell that runs well), nearly all of it rebuilt from scratch every time:

- stack_data highlights the failing lines with a *new subclass* of pygments' Python lexer per
  traceback, so pygments compiles the lexer's regular expressions again each time (about 7 ms);
- IPython builds a new ``Terminal256Formatter`` per traceback, which matches every colour of the
  theme to the terminal's 256 colours again (about 4 ms);
- ``inspect.getmodule``, asked about a notebook cell's frame (IPython and stack_data ask several
  times a traceback), looks for its file among *all* loaded modules, every time, and finds nothing:
  with the fork server's 1,300-odd modules that is about 0.5 ms a call.

:func:`install` (run once in the fork server, before it forks any kernel) keeps one lexer class and
one formatter per distinct style, and remembers which files belong to no module until another
module is loaded. The lexer marks the same tokens as stack_data's; a formatter's output depends
only on its style's rules and its options, which make the cache key; ``getmodule`` answers what it
would have answered. So the traceback a learner sees in their feedback is character for character
the one stock nbgrader's kernel prints (tested in tests/test_grading_tracebacks.py).
"""

from __future__ import annotations

_INSTALLED = False


def _range_lexer():
    from pygments.lexers import get_lexer_by_name

    class RangeLexer(type(get_lexer_by_name("python3"))):
        """Python, with the tokens inside ``ranges`` (character offsets) marked as the executing node."""

        def __init__(self, ranges, **options):
            super().__init__(**options)
            self.ranges = ranges

        def get_tokens(self, text, unfiltered=False):
            length = 0
            for ttype, value in super().get_tokens(text, unfiltered):
                if any(start <= length < end for start, end in self.ranges):
                    ttype = ttype.ExecutingNode
                length += len(value)
                yield ttype, value

    return RangeLexer


def _pygmented_with_ranges(lexer_class):
    def pygmented_with_ranges(formatter, code, ranges):
        import pygments

        try:
            highlighted = pygments.highlight(code, lexer_class(ranges, stripnl=False), formatter)
        except Exception:  # noqa: BLE001 - as stack_data does: plain code rather than no traceback
            highlighted = code
        return highlighted.splitlines()

    return pygmented_with_ranges


def _style_key(style) -> tuple:
    """What a Terminal256Formatter's output depends on in a style class: its rules and colours."""
    rules = tuple(sorted((str(token), str(rule)) for token, rule in style.styles.items()))
    colours = tuple(str(getattr(style, name, None)) for name in
                    ("background_color", "highlight_color", "line_number_color", "line_number_background_color"))
    return rules + colours


def _cached_formatter_class(base):
    """A subclass of ``base`` whose instances are shared: one per distinct style and options.
    (Its own subclasses, if a library makes any, behave like ``base``'s.)"""
    cache: dict[tuple, object] = {}

    class CachedTerminal256Formatter(base):
        def __new__(cls, **options):
            if cls is not CachedTerminal256Formatter:
                return super().__new__(cls)
            try:
                key = (_style_key(options.get("style")),) + tuple(
                    sorted((k, repr(v)) for k, v in options.items() if k != "style"))
            except Exception:  # noqa: BLE001 - a style given by name, or anything unusual: not cached
                return super().__new__(cls)
            if key not in cache:
                cache[key] = super().__new__(cls)
            return cache[key]

        def __init__(self, **options):
            if getattr(self, "_infraprep_ready", False):
                return  # a cached formatter: already set up with these very options
            super().__init__(**options)
            self._infraprep_ready = True

    CachedTerminal256Formatter.__name__ = CachedTerminal256Formatter.__qualname__ = base.__name__
    return CachedTerminal256Formatter


def _remembering_getmodule(getmodule):
    """``inspect.getmodule``, remembering the files it found in no module while ``sys.modules`` stays the same.

    Only for objects without ``__module__`` and ``__name__`` (frames, tracebacks, code objects): for
    those the answer depends on nothing but the file and the loaded modules."""
    import inspect
    import sys

    misses: dict[str, tuple] = {}

    def remembering_getmodule(object, _filename=None):  # noqa: A002 - inspect's own parameter name
        if inspect.ismodule(object) or hasattr(object, "__module__") or hasattr(object, "__name__"):
            return getmodule(object, _filename)
        try:
            file = inspect.getabsfile(object, _filename)
        except (TypeError, FileNotFoundError):
            return getmodule(object, _filename)
        loaded = (len(sys.modules), next(reversed(sys.modules), None))
        if misses.get(file) == loaded:
            return None
        found = getmodule(object, _filename)
        if found is None:
            misses[file] = loaded
        return found

    remembering_getmodule.__wrapped__ = getmodule
    return remembering_getmodule


def install() -> None:
    """Make IPython's coloured tracebacks cheap in this process (idempotent; a no-op if the libraries differ)."""
    global _INSTALLED
    if _INSTALLED:
        return
    try:
        import IPython.core.ultratb  # noqa: F401 - loaded now, so every fork inherits it
        import stack_data.core
        from pygments.formatters import terminal256
    except ImportError:
        return
    if not hasattr(stack_data.core, "_pygmented_with_ranges") or "Terminal256Formatter" not in vars(terminal256):
        return
    lexer_class = _range_lexer()
    lexer_class([], stripnl=False)  # pygments compiles a lexer class's rules on its first use: now, once
    stack_data.core._pygmented_with_ranges = _pygmented_with_ranges(lexer_class)
    # IPython imports the formatter inside the function that makes it, from this module
    terminal256.Terminal256Formatter = _cached_formatter_class(terminal256.Terminal256Formatter)
    import inspect

    inspect.getmodule = _remembering_getmodule(inspect.getmodule)
    _INSTALLED = True
