"""Lesson 5 charts: each returns a Figure whose plotted data come from the estimates."""

import pytest
from matplotlib.figure import Figure

from infraprep import estimates, tables
from infraprep.charts import cloud

H100 = 989e12


def test_cost_time_vs_gpus_plots_flat_cost_and_falling_time():
    counts = (8, 64, 512)
    fig = cloud.cost_time_vs_gpus(7e9, 1e12, H100, 0.4, 2.0, gpu_counts=counts, mark=64)
    assert isinstance(fig, Figure)
    left, right = fig.axes[0], fig.axes[1]
    times = left.lines[0].get_ydata()
    costs = right.lines[0].get_ydata()
    expected = [estimates.training_run(7e9, 1e12, g, H100, 0.4, 2.0) for g in counts]
    assert list(times) == pytest.approx([e["wall_time_days"] for e in expected])
    assert list(costs) == pytest.approx([e["cost_usd"] for e in expected])
    assert costs[0] == pytest.approx(costs[-1])


def test_cost_time_vs_mfu_is_inverse():
    fig = cloud.cost_time_vs_mfu(7e9, 1e12, 64, H100, 2.0, mfus=(0.2, 0.4))
    costs = fig.axes[0].lines[0].get_ydata()
    assert costs[0] == pytest.approx(2 * costs[1])
    # the right axis reads the same curve in days: its scale is days per dollar of this run
    run = estimates.training_run(7e9, 1e12, 64, H100, 0.2, 2.0)
    left_top, right_top = fig.axes[0].get_ylim()[1], fig.axes[1].get_ylim()[1]
    assert right_top / left_top == pytest.approx(run["wall_time_days"] / run["cost_usd"])


def test_spot_vs_on_demand_crosses_at_break_even():
    fig = cloud.spot_vs_on_demand(100, 8, 3.0, 0.6, 1.0, 0.5, rates_per_hour=[0.0, 0.3, 0.6, 0.9])
    ax = fig.axes[0]
    spot = ax.lines[0].get_ydata()
    on_demand = ax.lines[1].get_ydata()[0]
    assert on_demand == pytest.approx(100 * 8 * 3.0)
    assert spot[0] == pytest.approx(0.4 * on_demand)
    assert spot[2] == pytest.approx(on_demand)  # λ* = d / (τ/2 + R) = 0.6
    assert spot[3] > on_demand


def test_price_per_gpu_hour_skips_unpriced_rows():
    inst = tables.load("05-cloud", "instances")
    fig = cloud.price_per_gpu_hour(inst)
    ax = fig.axes[0]
    priced = inst.dropna(subset=["on_demand_usd_per_hour"])
    widths = sorted(p.get_width() for p in ax.patches if p.get_width() > 0)
    assert widths == pytest.approx(sorted(priced["on_demand_usd_per_hour"] / priced["gpus"]))
    assert "no verified price" in ax.get_title()
    with pytest.raises(ValueError):
        cloud.price_per_gpu_hour(inst[inst["on_demand_usd_per_hour"].isna()])


def test_price_per_exaflop_bars_follow_the_estimates():
    inst, gpus, neo = (tables.load("05-cloud", n) for n in ("instances", "gpus", "neoclouds"))
    fig = cloud.price_per_exaflop(inst, gpus, neo, mfu=0.4)
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert widths == sorted(widths)  # cheapest first
    labels = [t.get_text() for t in ax.get_yticklabels()]
    p5 = labels.index("p5.48xlarge (H100 80GB)")
    assert widths[p5] == pytest.approx(estimates.usd_per_useful_exaflop(55.04 / 8, H100, 0.4))
    assert len(widths) == inst["on_demand_usd_per_hour"].notna().sum() + len(neo)
    assert fig.get_size_inches()[0] <= 8.5
    with pytest.raises(ValueError):
        cloud.price_per_exaflop(inst, gpus[gpus["gpu_model"] != "H100 80GB"])


def test_own_vs_rent_crosses_each_rental_price_at_break_even():
    args = (270_000, 8, 5, 10.2, 0.085, 1.56)
    fig = cloud.own_vs_rent(*args, {"on demand": 6.88, "neocloud": 2.95}, utilisations=(0.2, 0.5, 1.0))
    ax = fig.axes[0]
    own = ax.lines[0]
    assert list(own.get_ydata()) == pytest.approx(
        [estimates.on_prem_gpu_hour_usd(*args, utilisation=u)["total"] for u in (0.2, 0.5, 1.0)])
    marks = [line for line in ax.lines if len(line.get_xdata()) == 1]
    assert [m.get_xdata()[0] for m in marks] == pytest.approx(
        [estimates.on_prem_break_even_utilisation(p, *args) for p in (6.88, 2.95)])
