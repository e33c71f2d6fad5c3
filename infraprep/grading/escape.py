"""Student-made text shown to people: control characters visible, never executed.

File names, student ids, problem messages and flags reach the grader's terminal and logs. A name
with ``ESC[1A ESC[2K`` in it would erase lines of the coordinator's output; one with bidirectional
overrides would show a different name than the file's. :func:`printable` writes every such
character as an escape (``\\x1b``, ``\\u202e``), so what is printed is what is there.
"""

from __future__ import annotations

import unicodedata

__all__ = ["printable"]

_BIDI = {"\u061c", "\u200e", "\u200f", "\u2028", "\u2029", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: object, keep_newlines: bool = False) -> str:
    """``text`` with control, format and bidirectional characters written as escapes (newlines kept
    with ``keep_newlines``), so it cannot move the cursor, recolour or reorder a terminal's output."""
    out = []
    for char in str(text):
        if keep_newlines and char == "\n":
            out.append(char)
        elif char in _BIDI or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co"):
            out.append(_escaped(char))
        else:
            out.append(char)
    return "".join(out)
