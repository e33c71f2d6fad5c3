import re

import pytest
from matplotlib.figure import Figure

from infraprep import tables
from infraprep.charts import roles
from infraprep.estimates import career

LESSON = "01-roles"


def _bars(ax):
    return [p for p in ax.patches if p.get_width() > 0 and p.get_height() > 0]


def _fits_the_notebook(fig, width_px=1400):
    return fig.get_figwidth() * fig.dpi <= width_px


def test_compensation_ranges_draws_one_base_and_one_total_bar_per_level():
    salaries = tables.load(LESSON, "salaries")
    fig = roles.compensation_ranges(salaries)
    assert isinstance(fig, Figure) and _fits_the_notebook(fig)
    ax = fig.axes[0]
    bars = _bars(ax)
    assert len(bars) == 2 * len(salaries)
    spans = sorted((round(b.get_x()), round(b.get_x() + b.get_width())) for b in bars)
    expected = sorted(
        [(r.base_low_usd, r.base_high_usd) for r in salaries.itertuples()]
        + [(r.total_low_usd, r.total_high_usd) for r in salaries.itertuples()]
    )
    assert spans == expected
    assert [t.get_text() for t in ax.get_yticklabels()] == list(reversed(list(salaries["level"])))
    assert ax.xaxis.get_major_formatter()(200_000, 0) == "$200K"
    assert ax.xaxis.get_major_formatter()(1_500_000, 0) == "$1.5M"
    assert "2025" in ax.get_title()
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"Base salary", "Total compensation (incl. equity)"}
    assert any(t.get_text() == "+" for t in ax.texts)  # the open-ended Staff+ top


@pytest.mark.parametrize("hours, text", [(3.5, "3.5"), (4.75, "4.75"), (5.0, "5"), (385 / 60, "6.42")])
def test_hours_are_written_exactly(hours, text):
    assert roles.hours_text(hours) == text


def test_interview_loop_title_gives_the_hours_a_graded_answer_would():
    rounds = tables.load(LESSON, "interview_rounds")
    ax = roles.interview_loop(rounds).axes[0]
    spans = [(b.get_x(), b.get_x() + b.get_width()) for b in _bars(ax)]
    assert sorted(spans) == sorted(zip(rounds["duration_min_min"], rounds["duration_max_min"]))
    assert "210–285 minutes" in ax.get_title()
    low, high = (float(x) for x in re.search(r"\(([\d.]+)–([\d.]+) h\)", ax.get_title()).groups())
    # the title must agree with career.loop_hours to within any graded tolerance (4.8 h would not)
    assert (low, high) == career.loop_hours(rounds) == (3.5, 4.75)
    assert ax.get_xlabel() == "minutes"


def test_loop_styles_lays_each_employers_stages_end_to_end():
    loops = tables.load(LESSON, "loop_styles")
    fig = roles.loop_styles(loops)
    assert _fits_the_notebook(fig)
    ax = fig.axes[0]
    types = list(dict.fromkeys(loops["employer_type"]))
    assert [t.get_text() for t in ax.get_yticklabels()] == list(reversed(types))
    for i, name in enumerate(types):
        y = len(types) - 1 - i
        segments = sorted((b for b in _bars(ax) if abs(b.get_y() + b.get_height() / 2 - y) < 1e-6), key=lambda b: b.get_x())
        stages = loops[loops["employer_type"] == name].sort_values("order")
        assert [b.get_width() for b in segments] == list(stages["minutes_high"].astype(float))
        assert segments[-1].get_x() + segments[-1].get_width() == stages["minutes_high"].sum()
        low, high = stages["minutes_low"].sum() / 60, stages["minutes_high"].sum() / 60
        assert any(t.get_text().startswith(f"{roles.hours_text(low)}–{roles.hours_text(high)} h") for t in ax.texts)
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert legend == set(loops["kind"])


def test_plan_vs_interviews_compares_shares_lesson_by_lesson():
    frame = career.plan_against_interviews(tables.load(LESSON, "prep_plan"), tables.load(LESSON, "interview_rounds"))
    ax = roles.plan_vs_interviews(frame).axes[0]
    heights = sorted(round(b.get_height(), 6) for b in _bars(ax))
    expected = sorted(round(v * 100, 6) for v in list(frame["hours_share"]) + list(frame["interview_share"]))
    assert heights == expected
    assert [t.get_text() for t in ax.get_xticklabels()] == sorted(frame["lesson"])
    assert len(frame) == 9 and f"{frame['hours'].sum():.0f} hours" in ax.get_title()


def test_public_pay_draws_ranges_as_bars_and_medians_as_points():
    figures = tables.load(LESSON, "public_pay")
    fig = roles.public_pay(figures, tables.load(LESSON, "salaries"))
    ax = fig.axes[0]
    posted = figures[figures["kind"].str.startswith("posted")]
    bars = [b for b in _bars(ax) if b.get_height() < 1]  # the shaded seed spans are full-height
    assert sorted((round(b.get_x()), round(b.get_x() + b.get_width())) for b in bars) == \
        sorted(zip(posted["low_usd"], posted["high_usd"]))
    points = sorted(float(line.get_xdata()[0]) for line in ax.lines if len(line.get_xdata()))
    assert points == sorted(figures.loc[~figures["kind"].str.startswith("posted"), "high_usd"].astype(float))
    ranges = [t.get_text() for t in ax.texts if "–" in t.get_text()]
    assert len(ranges) == len(posted) and all(r.count(r"\$") == 2 for r in ranges)  # escaped: not read as mathtext
    assert all(str(d) in " ".join(t.get_text() for t in ax.get_yticklabels()) for d in figures["as_of"])


def test_offer_years_stacks_each_years_pay():
    offers = tables.load(LESSON, "offers")
    frames = {o.offer: career.offer_by_year(o.base_usd, o.bonus_target_pct, o.equity_grant_usd,
                                            (5, 15, 40, 40) if o.offer == "Offer A" else (25, 25, 25, 25),
                                            [o.sign_on_year1_usd, o.sign_on_year2_usd]) for o in offers.itertuples()}
    ax = roles.offer_years(frames).axes[0]
    tops = {}
    for bar in _bars(ax):
        key = round(bar.get_x() + bar.get_width() / 2, 6)
        tops[key] = max(tops.get(key, 0), bar.get_y() + bar.get_height())
    assert sorted(round(v) for v in tops.values()) == sorted(round(v) for f in frames.values() for v in f["total_usd"])
    assert ax.yaxis.get_major_formatter()(500_000, 0) == "$500K"
