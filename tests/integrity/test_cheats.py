"""The first red team's cheats live on in the catalogue: tests/integrity/test_catalogue.py grades them
(with `infraprep autograde` and with stock `nbgrader autograde`) together with every other entry."""

from __future__ import annotations

from . import catalogue
from .cheats import CHEATS


def test_the_first_fourteen_cheats_are_in_the_catalogue_and_graded_by_both_graders():
    assert len(CHEATS) == 14
    stock = {e.name for e in catalogue.ENTRIES if e.stock and e.category == "cheat"}
    for cheat in CHEATS:
        assert cheat.name in stock, cheat.name
        assert cheat.replace and set(cheat.replace) == set(cheat.targets), cheat.name
