"""A cohort's roster: one student a row (id, name, email), checked before anything uses it."""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..assessment.variants import valid_identity
from .escape import printable

REQUIRED = ("id", "name", "email")
_MARKUP = set('<>"`&\\')
_EMAIL = re.compile(r"^[^@\s,;<>\"`&]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class RosterError(ValueError):
    """A roster that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    email: str

    @property
    def first_name(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def last_name(self) -> str:
        parts = self.name.split(" ", 1)
        return parts[1] if len(parts) > 1 else ""


def read_roster(path: str | Path) -> list[Student]:
    """Students of a roster CSV with the columns ``id``, ``name`` and ``email`` (others are ignored).

    Raises :class:`RosterError` naming the line for a missing column, an empty or unusable id
    (ids become folder names, nbgrader student ids and variant identities: letters of any script,
    digits, ``_ . -``, starting with a letter or a digit), a duplicate id,
    a bad email, or a row with the wrong number of fields.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise RosterError(f"{path.name} line 1: empty roster (expected the header {','.join(REQUIRED)})") from None
        missing = [col for col in REQUIRED if col not in header]
        if missing:
            raise RosterError(f"{path.name} line 1: missing column(s) {', '.join(repr(m) for m in missing)}")
        where = {col: header.index(col) for col in REQUIRED}
        students: list[Student] = []
        first_seen: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            if not any(field.strip() for field in row):
                continue
            if len(row) != len(header):
                raise RosterError(f"{path.name} line {line}: {len(row)} fields, the header has {len(header)}")
            sid, name, email = (row[where[col]].strip() for col in REQUIRED)
            if not valid_identity(sid) or not sid[0].isalnum() or "+" in sid or "@" in sid:
                raise RosterError(f"{path.name} line {line}: bad student id {sid!r} "
                                  "(letters, digits, '_', '.', '-'; at most 64)")
            if sid in first_seen:
                raise RosterError(f"{path.name} line {line}: duplicate id {sid!r} (first on line {first_seen[sid]})")
            if not name:
                raise RosterError(f"{path.name} line {line}: empty name for {sid!r}")
            bad = sorted({ch for ch in name if ch in _MARKUP or unicodedata.category(ch) in ("Cc", "Cf")})
            if bad:  # names are shown in the formgrader's and the report's pages and in terminals
                raise RosterError(f"{path.name} line {line}: the name of {sid!r} holds {printable(''.join(bad))!r}, "
                                  "which a name does not need (markup or control characters)")
            if not _EMAIL.match(email):
                raise RosterError(f"{path.name} line {line}: bad email {email!r} for {sid!r}")
            first_seen[sid] = line
            students.append(Student(sid, name, email))
    if not students:
        raise RosterError(f"{path.name}: no students")
    return students


def write_roster(path: str | Path, students: list[Student]) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REQUIRED)
        for s in students:
            writer.writerow([s.id, s.name, s.email])
