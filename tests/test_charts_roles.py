from matplotlib.figure import Figure

from infraprep import tables
from infraprep.charts import roles


def _bars(ax):
    return [p for p in ax.patches if p.get_width() > 0]


def test_compensation_ranges_draws_one_base_and_one_total_bar_per_level():
    salaries = tables.load("01-roles", "salaries")
    fig = roles.compensation_ranges(salaries)
    assert isinstance(fig, Figure)
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


def test_interview_loop_shows_min_to_max_minutes_and_the_total():
    rounds = tables.load("01-roles", "interview_rounds")
    ax = roles.interview_loop(rounds).axes[0]
    spans = [(b.get_x(), b.get_x() + b.get_width()) for b in _bars(ax)]
    assert sorted(spans) == sorted(zip(rounds["duration_min_min"], rounds["duration_max_min"]))
    assert "210–285 minutes" in ax.get_title()
    assert ax.get_xlabel() == "minutes"


def test_plan_timeline_puts_each_task_in_its_week():
    plan = tables.load("01-roles", "prep_plan")
    ax = roles.plan_timeline(plan).axes[0]
    centres = sorted(round(b.get_x() + b.get_width() / 2) for b in _bars(ax))
    assert centres == sorted(plan["week"])
