import pandas as pd
import pytest

from infraprep import tables


def test_load_returns_numbers_as_numbers_and_text_as_strings():
    salaries = tables.load("01-roles", "salaries")
    assert pd.api.types.is_integer_dtype(salaries["base_low_usd"])
    assert pd.api.types.is_string_dtype(salaries["level"])
    assert salaries["level"].dtype == "string"


def test_load_gives_a_fresh_copy_each_time():
    first = tables.load("01-roles", "salaries")
    first.loc[0, "base_low_usd"] = -1
    assert tables.load("01-roles", "salaries").loc[0, "base_low_usd"] == 140_000


def test_unknown_lesson_and_table_name_what_exists():
    with pytest.raises(tables.TableNotFound, match="known lessons: .*01-roles"):
        tables.load("99-nope", "x")
    with pytest.raises(tables.TableNotFound, match="it has: .*salaries"):
        tables.load("01-roles", "salary")
    with pytest.raises(tables.TableNotFound, match="no artefact"):
        tables.artefact("01-roles", "missing.log")


def test_lessons_table_lists_the_nine_lessons_in_order():
    lessons = tables.lessons()
    assert list(lessons["number"]) == list(range(1, 10))
    assert lessons["lesson_id"].iloc[0] == "01-roles"
    assert all(lid.startswith(f"{n:02d}-") for n, lid in zip(lessons["number"], lessons["lesson_id"]))


def test_every_lesson_data_folder_has_references_that_cover_its_sources():
    for folder in sorted(p for p in tables.DATA_DIR.iterdir() if p.is_dir()):
        lesson = folder.name
        if not (folder / "references.csv").exists():
            continue  # a lesson still being written; the lesson's own tests require it
        keys = set(tables.references(lesson)["key"])
        assert len(keys) == len(tables.references(lesson)), f"{lesson}: duplicate reference keys"
        for name in tables.available(lesson):
            frame = tables.load(lesson, name)
            if "source" in frame.columns:
                cited = {k.strip() for cell in frame["source"].dropna() for k in str(cell).split(";")}
                assert cited <= keys, f"{lesson}/{name}.csv cites unknown sources {sorted(cited - keys)}"
