"""infraprep.estimates.career: loop lengths, interview weight, pay midpoints, vesting and offers."""

import pandas as pd
import pytest

from infraprep import tables
from infraprep.estimates import career


def test_the_seed_loop_is_210_to_285_minutes():
    rounds = tables.load("01-roles", "interview_rounds")
    assert career.loop_minutes(rounds) == (210, 285)
    assert career.loop_hours(rounds) == (3.5, 4.75)


def test_loop_length_counts_every_round_and_rejects_impossible_ones():
    rounds = pd.DataFrame({"duration_min_min": [30, 90, 60], "duration_max_min": [30, 90, 75]})
    assert career.loop_minutes(rounds) == (180, 195)
    assert career.loop_hours(rounds) == (3.0, 3.25)
    with pytest.raises(ValueError, match="shortest <= longest"):
        career.loop_minutes(pd.DataFrame({"duration_min_min": [60], "duration_max_min": [45]}))
    with pytest.raises(ValueError, match="at least one round"):
        career.loop_minutes(rounds.head(0))


def test_interview_weight_splits_each_round_among_its_lessons():
    rounds = pd.DataFrame({"round": ["a", "b"], "duration_min_min": [40, 30], "duration_max_min": [60, 30],
                           "lessons": ["01-roles; 02-gpu", "02-gpu"]})
    weight = career.interview_weight(rounds).set_index("lesson")
    assert weight.loc["01-roles", "minutes"] == 25 and weight.loc["02-gpu", "minutes"] == 55
    assert weight["share"].sum() == pytest.approx(1)
    seed = career.interview_weight(tables.load("01-roles", "interview_rounds")).set_index("lesson")
    # behavioural (30-45 min) is lesson 7's alone: 37.5 of 247.5 minutes
    assert seed.loc["07-rapid-fire", "minutes"] == pytest.approx(37.5)
    assert seed["minutes"].sum() == pytest.approx(247.5)


def test_plan_against_interviews_covers_every_lesson_of_either_table():
    plan = pd.DataFrame({"lesson": ["01-roles", "01-roles", "09-system-design"], "hours": [2, 2, 4]})
    rounds = pd.DataFrame({"round": ["a"], "duration_min_min": [60], "duration_max_min": [60], "lessons": ["02-gpu"]})
    frame = career.plan_against_interviews(plan, rounds).set_index("lesson")
    assert list(frame.index) == ["01-roles", "02-gpu", "09-system-design"]
    assert frame.loc["01-roles", "hours_share"] == 0.5 and frame.loc["02-gpu", "hours"] == 0
    assert frame.loc["02-gpu", "interview_share"] == 1 and frame.loc["09-system-design", "interview_share"] == 0


def test_salary_midpoints_and_spread_from_the_seed_table():
    salaries = tables.load("01-roles", "salaries")
    mids = career.salary_midpoints(salaries).set_index("level")
    assert mids.loc["Senior", "base_mid_usd"] == 300_000 and mids.loc["Senior", "total_mid_usd"] == 650_000
    assert mids.loc["Senior", "non_base_share"] == pytest.approx(1 - 300 / 650)
    spread = career.total_comp_spread(salaries)
    assert spread.idxmax() == "Staff+" and spread["Junior"] == 100_000


def test_vesting_with_a_cliff_and_monthly_steps():
    even, back = (25, 25, 25, 25), (5, 15, 40, 40)
    assert career.vested_fraction(11, even) == 0
    assert career.vested_fraction(12, even) == 0.25
    assert career.vested_fraction(18, even) == pytest.approx(0.375)
    assert career.vested_fraction(18, back) == pytest.approx(0.125)
    assert career.vested_fraction(30, back) == pytest.approx(0.40)
    assert career.vested_fraction(60, back) == 1
    assert career.vested_fraction(3, even, cliff_months=0) == pytest.approx(0.0625)
    assert career.vested_value(400_000, back, 18) == pytest.approx(50_000)
    with pytest.raises(ValueError, match="add up to 100"):
        career.vested_fraction(12, (25, 25, 25))
    with pytest.raises(ValueError, match="months"):
        career.vested_fraction(-1, even)


def test_offer_by_year_for_the_lessons_offer_a():
    offer = tables.load("01-roles", "offers").set_index("offer").loc["Offer A"]
    assert offer.vesting == "Back-loaded 5/15/40/40"
    frame = career.offer_by_year(offer.base_usd, offer.bonus_target_pct, offer.equity_grant_usd, (5, 15, 40, 40),
                                 [offer.sign_on_year1_usd, offer.sign_on_year2_usd])
    assert list(frame["total_usd"]) == [373_000, 413_000, 493_000, 493_000]
    assert list(frame["equity_usd"]) == [30_000, 90_000, 240_000, 240_000]
    assert career.headline_total(offer.base_usd, offer.bonus_target_pct, offer.equity_grant_usd) == 403_000
    with pytest.raises(ValueError, match="base_usd"):
        career.offer_by_year(0, 10, 100_000, (25, 25, 25, 25))
