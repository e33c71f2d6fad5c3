"""The first red team's 14 cheating attempts, now part of the catalogue (tests/integrity/catalogue.py).

Kept importable: ``CHEATS`` lists them as before (name, answer-cell replacements, targeted questions).
The catalogue's entries are the reference; tests/integrity/test_catalogue.py grades them.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import catalogue


@dataclass(frozen=True)
class Cheat:
    name: str
    replace: dict[str, str]
    targets: tuple[str, ...]


def _replacements(entry: catalogue.Entry) -> dict[str, str]:
    nb = entry.build()[catalogue.NB]
    release = {catalogue.b.grade_id(c): c.source for c in catalogue.b.release_nb(catalogue.LESSON).cells}
    source = {catalogue.b.grade_id(c): c.source for c in catalogue.b.source_nb(catalogue.LESSON).cells}
    return {gid: cell.source for cell in nb.cells if (gid := catalogue.b.grade_id(cell)) in entry.zero
            and cell.source not in (release.get(gid), source.get(gid))}


CHEATS = [Cheat(e.name, _replacements(e), e.zero) for e in catalogue.CHEATS if e.name in catalogue.LEGACY]
