"""Career arithmetic for lesson 1: how long an interview loop is, where its minutes fall across the
course's lessons, pay ranges by level, and what a job offer pays year by year.

Units: US dollars (USD); minutes and hours as the names say; vesting schedules as yearly
percentages of the grant (``(25, 25, 25, 25)``, ``(5, 15, 40, 40)``) that add up to 100.

Vesting rule used throughout (state it when you quote a number): nothing vests before the cliff;
after it, each year's share vests in equal monthly steps, and at the cliff every step due so far
vests at once. Real plans vest monthly, quarterly or half-yearly; the yearly totals are the same.
Sources: the lesson's ``vesting.csv`` (Amazon 5/15/40/40, Google's front-loaded 33/33/22/12,
OpenAI's removed cliff) and ``salaries.csv`` (the seed's 2025 ranges).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ._validate import count, non_negative, positive

__all__ = [
    "loop_minutes", "loop_hours", "interview_weight", "plan_against_interviews",
    "salary_midpoints", "total_comp_spread",
    "vested_fraction", "vested_value", "offer_by_year", "headline_total",
]

LOW, HIGH = "duration_min_min", "duration_max_min"


# ---------------------------------------------------------------------------- interview loops

def loop_minutes(rounds: pd.DataFrame, low: str = LOW, high: str = HIGH) -> tuple[int, int]:
    """Total minutes of a loop if every round runs to its shortest, and to its longest length.

    ``rounds`` is shaped like ``01-roles/interview_rounds`` (one row a round). The seed's five
    rounds give (210, 285).
    """
    if len(rounds) == 0:
        raise ValueError("a loop needs at least one round")
    lows, highs = rounds[low].astype(float), rounds[high].astype(float)
    if (lows < 0).any() or (highs < lows).any():
        raise ValueError("every round needs 0 <= shortest <= longest minutes")
    return int(round(lows.sum())), int(round(highs.sum()))


def loop_hours(rounds: pd.DataFrame, low: str = LOW, high: str = HIGH) -> tuple[float, float]:
    """:func:`loop_minutes` in hours: the seed's loop is (3.5, 4.75)."""
    shortest, longest = loop_minutes(rounds, low, high)
    return shortest / 60, longest / 60


def _lessons(cell) -> list[str]:
    return [part.strip() for part in str(cell).split(";") if part.strip()]


def interview_weight(rounds: pd.DataFrame) -> pd.DataFrame:
    """How the loop's minutes spread over the course's lessons.

    Each round's midpoint length is split equally among the lessons its ``lessons`` column names
    (a simplification: a design round draws on every lesson it lists, not on each a little).
    Returns ``lesson, minutes, share`` (share of the whole loop, 0–1), in lesson order.
    """
    minutes: dict[str, float] = {}
    for row in rounds.itertuples(index=False):
        names = _lessons(row.lessons)
        if not names:
            raise ValueError(f"round {row.round!r} names no lesson")
        middle = (float(getattr(row, LOW)) + float(getattr(row, HIGH))) / 2
        for name in names:
            minutes[name] = minutes.get(name, 0.0) + middle / len(names)
    frame = pd.DataFrame(sorted(minutes.items()), columns=["lesson", "minutes"])
    frame["share"] = frame["minutes"] / frame["minutes"].sum()
    return frame


def plan_against_interviews(plan: pd.DataFrame, rounds: pd.DataFrame) -> pd.DataFrame:
    """Study hours a lesson gets in the plan against its share of interview time.

    Returns ``lesson, hours, hours_share, interview_share`` for every lesson in either table
    (a lesson the loop never draws on has interview_share 0, and the other way round).
    """
    hours = plan.groupby("lesson")["hours"].sum().astype(float)
    if (hours < 0).any() or hours.sum() <= 0:
        raise ValueError("plan hours must be positive")
    weight = interview_weight(rounds).set_index("lesson")["share"]
    lessons = sorted(set(hours.index) | set(weight.index))
    frame = pd.DataFrame({"lesson": lessons})
    frame["hours"] = [float(hours.get(name, 0.0)) for name in lessons]
    frame["hours_share"] = frame["hours"] / frame["hours"].sum()
    frame["interview_share"] = [float(weight.get(name, 0.0)) for name in lessons]
    return frame


# ---------------------------------------------------------------------------- pay ranges

def salary_midpoints(salaries: pd.DataFrame) -> pd.DataFrame:
    """Midpoints of the base and total ranges by level, and the share of total pay that is not base.

    ``salaries`` is shaped like ``01-roles/salaries``. Returns
    ``level, base_mid_usd, total_mid_usd, non_base_share`` (share 0–1).
    """
    frame = pd.DataFrame({"level": salaries["level"].astype(str)})
    frame["base_mid_usd"] = (salaries["base_low_usd"] + salaries["base_high_usd"]).astype(float) / 2
    frame["total_mid_usd"] = (salaries["total_low_usd"] + salaries["total_high_usd"]).astype(float) / 2
    if (frame["total_mid_usd"] <= 0).any():
        raise ValueError("total compensation must be positive")
    frame["non_base_share"] = 1 - frame["base_mid_usd"] / frame["total_mid_usd"]
    return frame.reset_index(drop=True)


def total_comp_spread(salaries: pd.DataFrame) -> pd.Series:
    """Width of each level's total-compensation range (high − low, USD), indexed by level."""
    spread = (salaries["total_high_usd"] - salaries["total_low_usd"]).astype(float)
    spread.index = salaries["level"].astype(str)
    if (spread < 0).any():
        raise ValueError("a range's top is below its bottom")
    return spread


# ---------------------------------------------------------------------------- offers

def _schedule(year_pcts: Sequence[float]) -> list[float]:
    pcts = [non_negative("vesting percentage", p) for p in year_pcts]
    if not pcts:
        raise ValueError("a vesting schedule needs at least one year")
    if abs(sum(pcts) - 100) > 1e-6:
        raise ValueError(f"a vesting schedule must add up to 100%, got {sum(pcts):g}%")
    return pcts


def vested_fraction(months: float, year_pcts: Sequence[float], cliff_months: int = 12) -> float:
    """Share of a grant (0–1) vested after ``months`` months of service.

    Nothing before ``cliff_months``; after it, each year's share in equal monthly steps (whole
    months count). Example: (25, 25, 25, 25) with a 12-month cliff after 18 months → 0.375;
    (5, 15, 40, 40) → 0.125; after 11 months → 0 either way.
    """
    pcts = _schedule(year_pcts)
    served = int(non_negative("months", months))
    cliff = count("cliff_months", cliff_months, minimum=0)
    if served < cliff:
        return 0.0
    full_years, extra = divmod(min(served, 12 * len(pcts)), 12)
    vested = sum(pcts[:full_years])
    if full_years < len(pcts):
        vested += pcts[full_years] * extra / 12
    return vested / 100


def vested_value(grant_usd: float, year_pcts: Sequence[float], months: float, cliff_months: int = 12) -> float:
    """USD (at the grant's value) vested after ``months`` of service: grant × :func:`vested_fraction`."""
    return non_negative("grant_usd", grant_usd) * vested_fraction(months, year_pcts, cliff_months)


def offer_by_year(
    base_usd: float,
    bonus_target_pct: float,
    equity_grant_usd: float,
    year_pcts: Sequence[float],
    sign_on_usd: Sequence[float] = (),
    years: int | None = None,
) -> pd.DataFrame:
    """What an offer pays in each year: base, target bonus, equity vesting that year (at grant
    value), sign-on, total (all USD).

    ``sign_on_usd`` lists the sign-on paid in year 1, year 2, ... . No raises, refreshers or stock
    moves are assumed: say so when you quote it. ``years`` defaults to the vesting length.
    """
    base = positive("base_usd", base_usd)
    bonus = base * non_negative("bonus_target_pct", bonus_target_pct) / 100
    grant = non_negative("equity_grant_usd", equity_grant_usd)
    pcts = _schedule(year_pcts)
    span = count("years", years if years is not None else len(pcts))
    sign_on = [non_negative("sign_on_usd", s) for s in sign_on_usd]
    rows = []
    for year in range(1, span + 1):
        equity = grant * (pcts[year - 1] if year <= len(pcts) else 0.0) / 100
        extra = sign_on[year - 1] if year <= len(sign_on) else 0.0
        rows.append({"year": year, "base_usd": base, "bonus_usd": bonus, "equity_usd": equity,
                     "sign_on_usd": extra, "total_usd": base + bonus + equity + extra})
    return pd.DataFrame(rows)


def headline_total(base_usd: float, bonus_target_pct: float, equity_grant_usd: float, vesting_years: int = 4) -> float:
    """The single "total compensation" figure recruiters quote: base + target bonus + grant ÷ years.

    It hides the vesting shape and the sign-on; compare it with :func:`offer_by_year`.
    """
    base = positive("base_usd", base_usd)
    return (base * (1 + non_negative("bonus_target_pct", bonus_target_pct) / 100)
            + non_negative("equity_grant_usd", equity_grant_usd) / count("vesting_years", vesting_years))
