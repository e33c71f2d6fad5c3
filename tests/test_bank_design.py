"""Lesson 9's rapid-fire questions: tagged, sourced, hard enough, and their worked numbers match the formulas."""

import re

import pytest

from infraprep import estimates, tables
from infraprep.practice import bank

LESSON = "09-system-design"


@pytest.fixture(scope="module")
def questions():
    return tables.load("07-rapid-fire", f"bank/{LESSON}")


def test_at_least_twenty_tagged_and_sourced(questions):
    assert len(questions) >= 20
    assert list(questions.columns) == list(bank.COLUMNS)
    assert set(questions["lesson_id"]) == {LESSON}
    assert set(questions["round"]) <= set(bank.ROUNDS) and set(questions["difficulty"]) <= set(bank.DIFFICULTIES)
    assert (questions["difficulty"] == "hard").mean() >= 0.4
    assert set(questions["source"]) <= set(tables.references("07-rapid-fire")["key"])
    assert questions["id"].str.startswith("sys-").all() and questions["id"].is_unique
    assert LESSON in bank.LESSONS
    assert bank.problems(bank.load_bank(), tables.references("07-rapid-fire")) == []


def _answer(questions, qid):
    return str(questions.set_index("id").loc[qid, "answer"])


def _numbers(text):
    return [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*\.?\d*", text)]


RATE = 419 / (16_384 * 54)


def test_worked_numbers_match_the_formulas(questions):
    a = lambda qid: _answer(questions, qid)  # noqa: E731
    assert "7.8" in a("sys-002") and estimates.expected_interruptions_per_day(16_384, RATE) == pytest.approx(7.8, abs=0.05)
    assert "3.1 hours" in a("sys-002") and estimates.job_mtbf_hours(16_384, RATE) == pytest.approx(3.1, abs=0.05)
    assert "30 minutes" in a("sys-003") and estimates.job_mtbf_hours(100_000, RATE) * 60 == pytest.approx(30, abs=0.5)
    assert "(47 stops" in a("sys-003") and estimates.expected_interruptions_per_day(100_000, RATE) == pytest.approx(47, abs=0.5)
    causes = tables.load(LESSON, "interruptions").set_index("component")["interruptions"]
    assert "148 of 419" in a("sys-004") and causes["Faulty GPU"] == 148 and causes.sum() == 419
    it = estimates.it_power_w(16_384, 10.2e3, 8)
    assert "20.9 MW" in a("sys-009") and it / 1e6 == pytest.approx(20.9, abs=0.05)
    assert "27.2 MW" in a("sys-009") and estimates.facility_power_w(it, 1.3) / 1e6 == pytest.approx(27.2, abs=0.05)
    fabric = estimates.three_tier_fabric(16_384, 64)
    assert "512 leaves, 512 spines and 256 core" in a("sys-013")
    assert (fabric["leaves"], fabric["spines"], fabric["cores"]) == (512, 512, 256)
    assert "746,496" in a("sys-014") and 144 ** 3 // 4 == 746_496 and "10,368" in a("sys-014")
    with pytest.raises(ValueError):
        estimates.fabric_tiers(100_000, 64)
    assert estimates.fabric_tiers(100_000, 144) == 3
    size = estimates.checkpoint_bytes(405e9)
    assert "5.7 TB" in a("sys-015") and size / 1e12 == pytest.approx(5.7, abs=0.05)
    assert "about 3 s" in a("sys-015") and estimates.checkpoint_write_time_s(size, 2e12) == pytest.approx(3, abs=0.2)
    assert "28 s" in a("sys-015") and estimates.checkpoint_write_time_s(size, 200e9) == pytest.approx(28, abs=0.5)
    assert "346 MB" in a("sys-016") and size / 16_384 / 1e6 == pytest.approx(346, abs=0.5)
    naive = estimates.restore_read_bytes(405e9, 128)
    assert "104 TB" in a("sys-018") and 2 * 405e9 * 128 / 1e12 == pytest.approx(104, abs=0.5)
    assert "4.9 TB" in a("sys-018") and (naive - 2 * 405e9 * 128) / 1e12 == pytest.approx(4.9, abs=0.05)
    assert "1,520" in a("sys-019") and estimates.littles_law_concurrency(200, 0.1 + 300 * 0.025) == pytest.approx(1520)
    p5 = tables.load("05-cloud", "instances").set_index("instance").loc["p5.48xlarge"]
    assert "$7 a GPU-hour" in questions.set_index("id").loc["sys-020", "question"] and "2 × $7 = $14" in a("sys-020")
    assert round(p5["on_demand_usd_per_hour"] / p5["gpus"]) == 7  # 55.04 ÷ 8 = 6.88
    assert "$0.78" in a("sys-020") and estimates.cost_per_million_tokens(2 * 7, 5000) == pytest.approx(0.78, abs=0.005)
    assert "61 GB/s" in a("sys-024") and estimates.loader_bandwidth_bytes_s(250, 120e3, 2048) / 1e9 == pytest.approx(61, abs=0.5)
    assert "94 prefixes" in a("sys-024") and estimates.prefixes_needed(2048 * 250, 5500) == 94
    assert "3,800 GETs/s" in a("sys-024") and 61.44e9 / 16e6 == pytest.approx(3800, rel=0.02)
    tokens_s = estimates.training_tokens_per_s(405e9, 16_384, 989e12, 0.40)
    assert "2.7M tokens/s" in a("sys-025") and tokens_s / 1e6 == pytest.approx(2.7, abs=0.05)
    assert "11 MB/s" in a("sys-025") and tokens_s * 4 / 1e6 == pytest.approx(11, abs=0.5)
