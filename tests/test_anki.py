"""Anki export: a real .apkg (zip + SQLite collection) with one note per exported question and stable ids."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import pytest

from infraprep.practice import anki, bank


def _open_collection(apkg: Path, tmp_path: Path) -> sqlite3.Connection:
    with zipfile.ZipFile(apkg) as archive:
        names = archive.namelist()
        assert "collection.anki2" in names
        archive.extract("collection.anki2", tmp_path / "x")
    return sqlite3.connect(tmp_path / "x" / "collection.anki2")


def test_whole_bank_exports_one_note_per_question(tmp_path):
    questions = bank.load_bank()
    path = anki.export_apkg(tmp_path / "bank.apkg", questions)
    db = _open_collection(path, tmp_path)
    assert db.execute("select count(*) from notes").fetchone()[0] == len(questions)
    assert db.execute("select count(*) from cards").fetchone()[0] == len(questions)
    fields = [row[0].split("\x1f") for row in db.execute("select flds from notes")]
    assert sorted(f[-1] for f in fields) == sorted(questions["id"].astype(str))


def test_a_filter_exports_only_its_questions(tmp_path):
    subset = bank.filter_bank(lesson=4, difficulty=["medium", "hard"])
    path = anki.export_apkg(tmp_path / "k8s.apkg", subset, name="Prep::Kubernetes")
    db = _open_collection(path, tmp_path)
    assert db.execute("select count(*) from notes").fetchone()[0] == len(subset) > 0
    tags = {tag for (row,) in db.execute("select tags from notes") for tag in row.split()}
    assert "04-kubernetes" in tags and "easy" not in tags
    assert {"02-gpu", "03-distributed"}.isdisjoint(tags)


def test_ids_are_stable_between_exports(tmp_path):
    subset = bank.filter_bank(lesson=1).head(5)
    guids = []
    for name in ("a", "b"):
        path = anki.export_apkg(tmp_path / name / "deck.apkg", subset)
        db = _open_collection(path, tmp_path / name)
        guids.append(sorted(g for (g,) in db.execute("select guid from notes")))
        mids = {m for (m,) in db.execute("select mid from notes")}
        assert mids == {anki.MODEL_ID}
    assert guids[0] == guids[1] and len(set(guids[0])) == 5
    assert anki.deck_id("Prep::X") == anki.deck_id("Prep::X") != anki.deck_id("Prep::Y")


def test_the_deck_is_named_and_html_is_escaped(tmp_path):
    subset = bank.filter_bank(contains="resources stanza")
    assert len(subset) == 1
    deck = anki.build_deck(subset, name="Prep::Test")
    assert deck.name == "Prep::Test" and deck.deck_id == anki.deck_id("Prep::Test")
    assert "<" not in deck.notes[0].fields[1].replace("&lt;", "")


def test_empty_filter_and_duplicate_ids_are_refused(tmp_path):
    with pytest.raises(ValueError, match="matched nothing"):
        anki.export_apkg(tmp_path / "none.apkg", bank.filter_bank(contains="no such words anywhere"))
    twice = bank.filter_bank(lesson=2).head(2)
    twice.loc[1, "id"] = twice.loc[0, "id"]
    with pytest.raises(ValueError, match="unique"):
        anki.build_deck(twice)


def test_a_new_lessons_bank_file_joins_the_bank_deck_and_flashcards(tmp_path, monkeypatch):
    """Lessons 8 and 9 add bank/08-inference.csv and bank/09-system-design.csv: the loader, the
    lesson filter, the Anki deck and the flashcards pick a new file up, in course order."""
    import importlib
    import shutil
    from datetime import date

    from infraprep import tables
    from infraprep.widgets.practice import FlashcardWidget

    data = tmp_path / "data"
    shutil.copytree(tables.DATA_DIR / bank.LESSON, data / bank.LESSON)
    lessons = (tables.DATA_DIR / "lessons.csv").read_text(encoding="utf-8")
    if "08-inference" not in lessons:
        lessons += '8,08-inference,Inference serving at scale,"Serving LLMs"\n'
    (data / "lessons.csv").write_text(lessons, encoding="utf-8")
    rows = bank.load_bank().head(22).copy()
    rows["id"] = [f"inf-{i:03d}" for i in range(1, 23)]
    rows["lesson_id"] = "08-inference"
    rows["question"] = [f"Inference question {i}?" for i in range(1, 23)]
    rows.to_csv(data / bank.LESSON / "bank" / "08-inference.csv", index=False)
    monkeypatch.setattr(tables, "DATA_DIR", data)
    try:
        importlib.reload(bank)
        assert bank.LESSONS.index("08-inference") > bank.LESSONS.index("06-storage-networking")
        whole = bank.load_bank()
        assert (whole["lesson_id"] == "08-inference").sum() == 22
        assert whole["lesson_id"].cat.categories.tolist() == list(bank.LESSONS)
        assert len(bank.filter_bank(whole, lesson=8)) == 22
        assert bank.file_problems()["08-inference.csv"] == []
        path = anki.export_apkg(tmp_path / "all.apkg", whole)
        db = _open_collection(path, tmp_path)
        tags = {tag for (row,) in db.execute("select tags from notes") for tag in row.split()}
        assert "08-inference" in tags and db.execute("select count(*) from notes").fetchone()[0] == len(whole)
        cards = FlashcardWidget(bank.filter_bank(whole, lesson=8), path=tmp_path / "c.json", today=date(2026, 12, 1))
        assert cards.current() == "inf-001" and cards.reveal()
    finally:
        monkeypatch.undo()
        importlib.reload(bank)
    assert "08-inference" not in bank.LESSONS or (tables.DATA_DIR / bank.LESSON / "bank" / "08-inference.csv").exists()
