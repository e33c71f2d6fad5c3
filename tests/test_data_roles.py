"""Lesson 1's tables agree with the seed text's numbers."""

import re
from pathlib import Path

import pytest

from infraprep import tables

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed"

SEED_SALARIES = {  # level: (base low, base high, total low, total high), USD, 2025
    "Junior": (140_000, 180_000, 180_000, 280_000),
    "Mid": (180_000, 250_000, 300_000, 500_000),
    "Senior": (250_000, 350_000, 500_000, 800_000),
    "Staff+": (300_000, 450_000, 700_000, 1_500_000),
}
SEED_ROUNDS = {"Phone screen": (45, 60), "Coding": (45, 60), "System design": (45, 60),
               "Domain deep dive": (45, 60), "Behavioural": (30, 45)}


def test_salaries_match_the_seed():
    frame = tables.load("01-roles", "salaries").set_index("level")
    assert list(frame.index) == list(SEED_SALARIES)
    for level, numbers in SEED_SALARIES.items():
        row = frame.loc[level]
        assert (row.base_low_usd, row.base_high_usd, row.total_low_usd, row.total_high_usd) == numbers
    assert set(frame["year"]) == {2025}
    assert frame.loc["Staff+", "total_open_ended"] and not frame.loc["Senior", "total_open_ended"]
    assert (frame["base_low_usd"] < frame["base_high_usd"]).all()
    assert (frame["total_low_usd"] >= frame["base_low_usd"]).all()


def test_interview_rounds_match_the_seed():
    frame = tables.load("01-roles", "interview_rounds").set_index("round")
    assert {r: (row.duration_min_min, row.duration_max_min) for r, row in frame.iterrows()} == SEED_ROUNDS


def test_other_tables_have_the_seed_shape():
    assert len(tables.load("01-roles", "role_variants")) == 4
    assert len(tables.load("01-roles", "signals")) == 5
    assert len(tables.load("01-roles", "employers")) == 5
    assert len(tables.load("01-roles", "responsibilities")) == 5
    plan = tables.load("01-roles", "prep_plan")
    assert sorted(plan["week"].unique()) == [1, 2, 3]
    assert plan["task_id"].is_unique


@pytest.mark.skipif(not SEED.is_dir(), reason="the course plan's seed folder is not beside this checkout")
def test_salaries_parsed_from_the_seed_text_itself():
    text = "\n".join(p.read_text(encoding="utf-8") for p in SEED.glob("*.txt"))
    found = {}
    for level, numbers in re.findall(r"^(Junior|Mid|Senior|Staff\+) \([^)]*\)((?:\$[\d.]+[KM]–\$[\d.]+[KM]\+?){2})", text, re.M):
        values = [float(v[:-1]) * (1e3 if v.endswith("K") else 1e6) for v in re.findall(r"[\d.]+[KM]", numbers)]
        found[level] = tuple(int(v) for v in values)
    assert found == SEED_SALARIES
