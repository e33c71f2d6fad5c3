"""Export the question bank (or a filter of it) as an Anki deck (``.apkg``) with genanki.

Ids are stable so re-importing an updated deck updates cards instead of
duplicating them: the note model has a fixed id, the deck id is derived from the
deck's name, and every note's GUID from the question's ``id`` in the bank.
Each note is tagged with its lesson, round and difficulty, so Anki can filter
the same way :func:`infraprep.practice.bank.filter_bank` does.
"""

from __future__ import annotations

import hashlib
import html
import os
from pathlib import Path

import genanki
import pandas as pd

from .bank import load_bank

__all__ = ["MODEL_ID", "DEFAULT_DECK", "deck_id", "build_deck", "export_apkg"]

#: Fixed for ever: changing it would make Anki treat every card as new.
MODEL_ID = 1_724_070_707
DEFAULT_DECK = "AI Infrastructure Interview Prep::Rapid fire"

MODEL = genanki.Model(
    MODEL_ID,
    "infraprep rapid-fire card",
    fields=[{"name": "Question"}, {"name": "Answer"}, {"name": "Lesson"}, {"name": "Round"},
            {"name": "Difficulty"}, {"name": "Id"}],
    templates=[{
        "name": "Question -> answer",
        "qfmt": "<div class='tags'>{{Lesson}} · {{Round}} · {{Difficulty}}</div><div class='q'>{{Question}}</div>",
        "afmt": "{{FrontSide}}<hr id='answer'><div class='a'>{{Answer}}</div>",
    }],
    css=".card{font-family:sans-serif;font-size:20px;text-align:left;max-width:40em;margin:auto}"
        ".tags{font-size:12px;color:#777}.a{color:#1f4e8c}",
)


def deck_id(name: str) -> int:
    """A stable deck id from the deck's name (same name, same id, on every machine)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return (int.from_bytes(digest[:8], "big") % (1 << 30)) + (1 << 30)


def _tag(text: str) -> str:
    return str(text).strip().replace(" ", "_")


def build_deck(questions: pd.DataFrame, name: str = DEFAULT_DECK) -> genanki.Deck:
    """A genanki Deck holding one note per row of ``questions`` (bank columns)."""
    if questions["id"].astype(str).duplicated().any():
        raise ValueError("question ids must be unique to give stable note GUIDs")
    deck = genanki.Deck(deck_id(name), name)
    for row in questions.itertuples(index=False):
        fields = [html.escape(str(row.question)), html.escape(str(row.answer)), str(row.lesson_id),
                  str(row.round), str(row.difficulty), str(row.id)]
        deck.add_note(genanki.Note(
            model=MODEL,
            fields=fields,
            guid=genanki.guid_for("infraprep", str(row.id)),
            tags=[_tag(row.lesson_id), _tag(row.round), _tag(row.difficulty)],
        ))
    return deck


def export_apkg(path: str | os.PathLike, questions: pd.DataFrame | None = None, name: str = DEFAULT_DECK) -> Path:
    """Write ``questions`` (default: the whole bank) to an ``.apkg`` file; returns its path."""
    frame = load_bank() if questions is None else questions
    if len(frame) == 0:
        raise ValueError("no questions to export: the filter matched nothing")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    genanki.Package(build_deck(frame, name)).write_to_file(str(target))
    return target
