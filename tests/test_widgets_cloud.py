"""Lesson 5 widget: the training-cost calculator, driven without a browser."""

import math

import pytest

from infraprep import estimates, tables
from infraprep.widgets.cloud import MODEL_SIZES_B, TOKEN_COUNTS_B, BuyOrRentCalculator, TrainingCostCalculator


@pytest.fixture(scope="module")
def calc():
    return TrainingCostCalculator(draw=False)


def test_defaults_to_a_priced_h100_instance(calc):
    row = tables.load("05-cloud", "instances").set_index("instance").loc[calc.value("instance")]
    assert row["gpu_model"].startswith("H100")
    assert calc.value("usd_per_gpu_hour") == pytest.approx(row["on_demand_usd_per_hour"] / row["gpus"], abs=0.001)
    assert calc.peak_flop_s_per_gpu() == pytest.approx(989e12)


def test_estimate_matches_the_formulas(calc):
    calc.set(instance="p4d.24xlarge", params_b=13, tokens_b=1000, gpus=256, mfu=0.4,
             spot_discount=0.6, node_interruptions_per_hour=0.002, checkpoint_interval_h=1.0, restart_h=0.25)
    price = calc.value("usd_per_gpu_hour")
    assert price == pytest.approx(21.957642 / 8, abs=0.001)
    got = calc.estimate()
    run = estimates.training_run(13e9, 1e12, 256, 312e12, 0.4, price)
    assert got["gpu_hours"] == pytest.approx(run["gpu_hours"])
    assert got["cost_usd"] == pytest.approx(run["cost_usd"])
    assert got["nodes"] == 32
    assert got["job_interruptions_per_hour"] == pytest.approx(0.064)
    spot = estimates.spot_expected_cost_usd(run["wall_time_h"], 256, price, 0.6, 0.064, 1.0, 0.25)
    assert got["spot_cost_usd"] == pytest.approx(spot)
    assert got["spot_saving_usd"] == pytest.approx(run["cost_usd"] - spot)


def test_own_price_overrides_the_table(calc):
    calc.set(instance="p5.48xlarge", usd_per_gpu_hour=2.5)
    assert calc.value("usd_per_gpu_hour") == 2.5
    assert calc.estimate()["cost_usd"] == pytest.approx(calc.estimate()["gpu_hours"] * 2.5)


def test_hopeless_spot_settings_give_nan_and_say_so(calc):
    calc.set(node_interruptions_per_hour=0.5, checkpoint_interval_h=4.0, gpus=1024)
    assert math.isnan(calc.estimate()["spot_cost_usd"])
    assert "would not finish" in calc.summary_html()


def test_unknown_setting_is_an_error(calc):
    with pytest.raises(ValueError, match="unknown"):
        calc.set(gpu_count=8)


def test_widget_draws_charts_and_displays():
    drawn = TrainingCostCalculator()
    assert all(len(image.value) > 1000 for image in drawn._images)
    first, second = drawn.figures()
    assert len(first.axes) == 2 and len(second.axes) == 2
    bundle = drawn._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_sliders_start_on_round_values_and_accept_others():
    fresh = TrainingCostCalculator(draw=False)
    assert (fresh.value("params_b"), fresh.value("tokens_b"), fresh.value("gpus")) == (70, 2000, 1024)
    assert fresh.value("usd_per_gpu_hour") == pytest.approx(6.88)
    labels = [label for label, _v in fresh.controls["params_b"].options]
    assert labels == [f"{v:,}" for v in MODEL_SIZES_B] and "1,000" in labels
    assert [v for _l, v in fresh.controls["tokens_b"].options] == list(TOKEN_COUNTS_B)
    fresh.set(params_b=12.5, gpus=96)
    assert fresh.value("params_b") == 12.5 and fresh.value("gpus") == 96


def test_buy_or_rent_numbers():
    calc = BuyOrRentCalculator(draw=False)
    # starts from the on_prem table and the cheapest H100 rental offer
    assert calc.value("server_usd") == 270_000 and calc.value("years") == 5 and calc.value("pue") == 1.56
    assert calc.value("rent") == min(calc.offers, key=calc.offers.get)
    calc.set(utilisation=0.5, rent="p5.48xlarge on demand", other_usd_per_server_year=20_000)
    r = calc.results()
    want = estimates.on_prem_gpu_hour_usd(270_000, 8, 5, 10.2, 0.085, 1.56, 0.5, 20_000)
    assert r["owned_usd_per_gpu_hour"] == pytest.approx(want["total"])
    assert r["rent_usd_per_gpu_hour"] == pytest.approx(6.88)
    assert r["break_even_utilisation"] == pytest.approx(
        estimates.on_prem_break_even_utilisation(6.88, 270_000, 8, 5, 10.2, 0.085, 1.56, 20_000))
    assert "owning is cheaper" in calc.summary_html()
    calc.set(server_usd=5_000_000)
    assert "renting is cheaper" in calc.summary_html() and "never" in calc.summary_html()
    with pytest.raises(ValueError, match="unknown"):
        calc.set(price=3)


def test_buy_or_rent_draws():
    drawn = BuyOrRentCalculator()
    assert len(drawn._image.value) > 1000
    assert "application/vnd.jupyter.widget-view+json" in drawn._repr_mimebundle_()
