"""Every lesson's sources, checked the same way: a dated, unique, linkable references.csv, and every
``source`` cell of every table naming keys that are in it."""

from __future__ import annotations

import datetime as dt

import pytest

from infraprep import tables

LESSONS = list(tables.lessons()["lesson_id"])
ROOT = tables.DATA_DIR.parents[1]


def _keys(cell) -> list[str]:
    return [k.strip() for k in str(cell).split(";") if k.strip()]


def _source_columns(frame):
    return [c for c in frame.columns if c == "source" or c.endswith("_source")]


@pytest.mark.parametrize("lesson", LESSONS)
def test_references_are_complete_unique_and_dated(lesson):
    assert "references" in tables.available(lesson), f"{lesson} has no references.csv"
    refs = tables.references(lesson)
    assert list(refs.columns) == ["key", "title", "publisher", "url", "accessed"]
    assert refs["key"].notna().all() and refs["key"].is_unique, refs["key"][refs["key"].duplicated()].tolist()
    assert refs["title"].notna().all() and refs["publisher"].notna().all()
    # a public https page, or the course's own document by its path in this repository
    bad = [u for u in refs["url"] if not (str(u).startswith("https://") or (ROOT / str(u)).is_file())]
    assert not bad, f"{lesson}: neither an https URL nor a file of the course: {bad}"
    today = dt.date.today()
    for key, accessed in zip(refs["key"], refs["accessed"]):
        day = dt.date.fromisoformat(str(accessed))          # raises on anything but YYYY-MM-DD
        assert day <= today, f"{lesson}: {key} accessed in the future ({day})"


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_source_cell_names_a_reference_of_its_lesson(lesson):
    keys = set(tables.references(lesson)["key"])
    for name in set(tables.available(lesson)) - {"references"}:
        frame = tables.load(lesson, name)
        for column in _source_columns(frame):
            for cell in frame[column].dropna():
                for key in _keys(cell):
                    assert key in keys, f"{lesson}/{name}.{column}: {key!r} is not in references.csv"


def test_a_missing_key_is_caught(monkeypatch):
    # the check above must be able to fail: a table citing a key its lesson does not have

    real = tables.load
    lesson = LESSONS[0]
    name = next(n for n in tables.available(lesson) if n != "references" and _source_columns(real(lesson, n)))

    def fake(lesson_, name_):
        frame = real(lesson_, name_).copy()
        if name_ == name:
            frame.loc[frame.index[0], _source_columns(frame)[0]] = "no-such-source"
        return frame

    monkeypatch.setattr(tables, "load", fake)
    with pytest.raises(AssertionError, match="no-such-source"):
        test_every_source_cell_names_a_reference_of_its_lesson(lesson)
