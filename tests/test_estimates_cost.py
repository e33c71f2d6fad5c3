"""Tests of infraprep.estimates.cost: worked examples, hand arithmetic and input validation."""

import math

import pytest

from infraprep import estimates, tables
from infraprep.estimates import compute, cost

A100_BF16 = 312e12  # NVIDIA A100 datasheet, dense BF16
H100_BF16 = 989e12  # NVIDIA H100 SXM datasheet, dense BF16


def test_exported_from_estimates_package():
    for name in cost.__all__:
        assert getattr(estimates, name) is getattr(cost, name)


def test_price_per_gpu_hour():
    assert cost.price_per_gpu_hour(98.32, 8) == pytest.approx(12.29)
    assert cost.price_per_gpu_hour(55.04, 8) == pytest.approx(6.88)
    with pytest.raises(ValueError):
        cost.price_per_gpu_hour(98.32, 0)
    with pytest.raises(ValueError):
        cost.price_per_gpu_hour(-1, 8)


def test_llama2_gpu_hours_match_6nd_at_a_plausible_mfu():
    """Llama 2 (Touvron et al. 2023, Table 2) on A100-80GB with 2T tokens: the MFU implied by
    6ND and the published GPU-hours must be a realistic 35-50% (PaLM reports 46% at scale)."""
    runs = tables.load("05-cloud", "published_runs").dropna(subset=["gpu_hours"])
    assert len(runs) == 3
    for row in runs.itertuples():
        implied = compute.training_flops(row.params, row.tokens) / (row.gpu_hours * 3600 * A100_BF16)
        assert 0.35 <= implied <= 0.50, (row.model, implied)
        # and the forward direction: at that MFU our function gives back the published figure
        assert compute.gpu_hours(row.params, row.tokens, A100_BF16, implied) == pytest.approx(row.gpu_hours, rel=1e-9)
    seventy = runs[runs["model"] == "Llama 2 70B"].iloc[0]
    # at 43.5% MFU, 6ND gives 1.72M GPU-hours for 70B: within 1% of the published 1,720,320
    assert cost.training_run(70e9, 2e12, 2048, A100_BF16, 0.435, 1.0)["gpu_hours"] == pytest.approx(seventy.gpu_hours, rel=0.01)


def test_chinchilla_compute_within_3_percent_of_6nd():
    """Hoffmann et al. 2022 report 5.76e23 FLOPs for Chinchilla (70B, 1.4T tokens); 6ND gives 5.88e23."""
    row = tables.load("05-cloud", "published_runs").set_index("model").loc["Chinchilla"]
    run = cost.training_run(row.params, row.tokens, 1, A100_BF16, 0.5, 1.0)
    assert run["flops"] == pytest.approx(row.reported_flops, rel=0.03)


def test_training_run_hand_arithmetic():
    # 7B on 1T tokens: 6 * 7e9 * 1e12 = 4.2e22 FLOPs; at 40% of 989 TFLOP/s each GPU does 3.956e14 FLOP/s
    run = cost.training_run(7e9, 1e12, 64, H100_BF16, 0.4, 2.5)
    gpu_seconds = 4.2e22 / (0.4 * H100_BF16)
    assert run["flops"] == pytest.approx(4.2e22)
    assert run["gpu_hours"] == pytest.approx(gpu_seconds / 3600)
    assert run["wall_time_h"] == pytest.approx(gpu_seconds / 3600 / 64)
    assert run["wall_time_days"] == pytest.approx(gpu_seconds / 86400 / 64)
    assert run["cost_usd"] == pytest.approx(gpu_seconds / 3600 * 2.5)
    assert cost.training_cost_usd(7e9, 1e12, H100_BF16, 0.4, 2.5) == pytest.approx(run["cost_usd"])


def test_cost_independent_of_gpu_count_but_time_is_not():
    small = cost.training_run(13e9, 1e12, 128, H100_BF16, 0.4, 3.0)
    big = cost.training_run(13e9, 1e12, 1024, H100_BF16, 0.4, 3.0)
    assert small["cost_usd"] == pytest.approx(big["cost_usd"])
    assert small["wall_time_h"] == pytest.approx(8 * big["wall_time_h"])


def test_cost_scales_as_one_over_mfu():
    low = cost.training_cost_usd(13e9, 1e12, H100_BF16, 0.30, 3.0)
    high = cost.training_cost_usd(13e9, 1e12, H100_BF16, 0.45, 3.0)
    assert high / low == pytest.approx(2 / 3)


@pytest.mark.parametrize("bad", [dict(mfu=0), dict(mfu=40), dict(gpus=0), dict(usd_per_gpu_hour=0), dict(params=-1)])
def test_training_run_rejects_bad_input(bad):
    args = dict(params=7e9, tokens=1e12, gpus=8, peak_flop_s_per_gpu=H100_BF16, mfu=0.4, usd_per_gpu_hour=2.0)
    args.update(bad)
    with pytest.raises(ValueError):
        cost.training_run(**args)


def test_job_interruption_rate():
    assert cost.job_interruption_rate(1 / 500, 64) == pytest.approx(0.128)
    assert cost.job_interruption_rate(0.0, 10) == 0.0
    with pytest.raises(ValueError):
        cost.job_interruption_rate(-0.1, 4)


def test_spot_expected_hours_no_interruptions_is_the_work():
    assert cost.spot_expected_hours(100, 0.0, 1.0, 0.5) == pytest.approx(100)
    # checkpoint writes alone: 6 minutes every hour adds 10%
    assert cost.spot_expected_hours(100, 0.0, 1.0, 0.5, checkpoint_write_hours=0.1) == pytest.approx(110)


def test_spot_expected_hours_matches_the_self_consistent_balance():
    work, rate, tau, restart = 100.0, 0.05, 1.0, 0.25
    total = cost.spot_expected_hours(work, rate, tau, restart)
    # T = W + (λ T) (τ/2 + R): hand value 100 / 0.9625
    assert total == pytest.approx(100 / 0.9625)
    assert total == pytest.approx(work + rate * total * (tau / 2 + restart))


def test_spot_expected_hours_monte_carlo():
    """A simulation of Poisson interruptions with periodic checkpoints agrees with the formula
    to within a few percent when λτ is small."""
    import numpy as np

    rng = np.random.default_rng(0)
    work, rate, tau, restart = 50.0, 0.05, 0.5, 0.2
    totals = []
    for _ in range(2000):
        done, clock = 0.0, 0.0
        while done < work:
            segment = min(tau, work - done)
            gap = rng.exponential(1 / rate)
            # interruptions arrive during running time only (restarts are not interrupted)
            if gap >= segment:
                done += segment
                clock += segment
            else:
                clock += gap + restart
        totals.append(clock)
    assert np.mean(totals) == pytest.approx(cost.spot_expected_hours(work, rate, tau, restart), rel=0.03)


def test_spot_expected_hours_rejects_hopeless_runs():
    with pytest.raises(ValueError, match="faster"):
        cost.spot_expected_hours(100, 1.0, 2.0, 0.5)
    with pytest.raises(ValueError):
        cost.spot_expected_hours(0, 0.1, 1.0, 0.5)
    with pytest.raises(ValueError):
        cost.spot_expected_hours(100, 0.1, 0.0, 0.5)


def test_spot_expected_cost_hand_value_and_break_even():
    got = cost.spot_expected_cost_usd(100, 64, 4.10, 0.6, 0.05, 1.0, 0.25)
    assert got == pytest.approx(100 / 0.9625 * 64 * 4.10 * 0.4)
    # break-even rate λ* = d / (τ/2 + R): spot cost equals on-demand there
    d, tau, restart = 0.6, 1.0, 0.5
    rate = d / (tau / 2 + restart)
    assert cost.spot_expected_cost_usd(100, 8, 3.0, d, rate, tau, restart) == pytest.approx(100 * 8 * 3.0)
    with pytest.raises(ValueError):
        cost.spot_expected_cost_usd(100, 8, 3.0, 1.0, 0.0, 1.0, 0.5)
    with pytest.raises(ValueError):
        cost.spot_expected_cost_usd(100, 8, 3.0, 60, 0.0, 1.0, 0.5)


def test_commitments():
    assert cost.commitment_effective_price(4.0, 0.37, 0.5) == pytest.approx(5.04)
    assert cost.commitment_effective_price(4.0, 0.40, 1.0) == pytest.approx(2.4)
    assert cost.commitment_break_even_utilisation(0.37) == pytest.approx(0.63)
    # at break-even the effective price equals on-demand
    assert cost.commitment_effective_price(4.0, 0.37, 0.63) == pytest.approx(4.0)
    with pytest.raises(ValueError):
        cost.commitment_effective_price(4.0, 0.37, 0)
    with pytest.raises(ValueError):
        cost.commitment_break_even_utilisation(1.0)


def _aws_tiers():
    frame = tables.load("05-cloud", "egress_tiers")
    return list(zip(frame["from_gb"], frame["to_gb"], frame["usd_per_gb"]))


def test_tiered_egress_by_hand():
    tiers = _aws_tiers()
    assert cost.tiered_cost_usd(50, tiers) == 0.0
    assert cost.tiered_cost_usd(1100, tiers) == pytest.approx(1000 * 0.09)
    # 61,440 GB (60 TB): 10,140 GB at 0.09, 40,960 GB at 0.085, 10,240 GB at 0.07
    assert cost.tiered_cost_usd(61440, tiers) == pytest.approx(10140 * 0.09 + 40960 * 0.085 + 10240 * 0.07)
    with pytest.raises(ValueError, match="beyond"):
        cost.tiered_cost_usd(10**7, tiers)
    assert cost.tiered_cost_usd(10**7, tiers + [(512000, math.inf, 0.05)]) > 0


def test_tiered_cost_rejects_gaps_and_bad_tiers():
    with pytest.raises(ValueError, match="contiguous"):
        cost.tiered_cost_usd(10, [(0, 5, 1.0), (6, 10, 1.0)])
    with pytest.raises(ValueError):
        cost.tiered_cost_usd(10, [])
    with pytest.raises(ValueError):
        cost.tiered_cost_usd(-1, [(0, 5, 1.0)])
    with pytest.raises(ValueError):
        cost.tiered_cost_usd(1, [(1, 5, 1.0)])


def test_storage_idle_fleet_quota():
    assert cost.storage_cost_usd(10_000, 0.023, months=3) == pytest.approx(690)
    assert cost.idle_cost_usd(64, 10, 4.0) == pytest.approx(2560)
    assert cost.fleet_hourly_cost_usd({"a": 4, "b": 1}, {"a": 10.0, "b": 2.5, "c": 99}) == pytest.approx(42.5)
    with pytest.raises(ValueError, match="no hourly price"):
        cost.fleet_hourly_cost_usd({"zzz": 1}, {"a": 1.0})
    assert cost.instances_within_quota(1536, 192) == 8
    assert cost.instances_within_quota(1535, 192) == 7
    with pytest.raises(ValueError):
        cost.instances_within_quota(100, 0)
    assert cost.HOURS_PER_MONTH == pytest.approx(8760 / 12)


# --------------------------------------------------------------------------- price per unit of work

def test_usd_per_useful_exaflop_hand_value():
    # $6.88 a GPU-hour at 989 TFLOP/s: 989e12 * 3600 = 3.5604e18 FLOPs an hour at peak
    assert cost.usd_per_useful_exaflop(6.88, H100_BF16) == pytest.approx(6.88 / 3.5604)
    assert cost.usd_per_useful_exaflop(6.88, H100_BF16, 0.4) == pytest.approx(6.88 / 3.5604 / 0.4)
    with pytest.raises(ValueError):
        cost.usd_per_useful_exaflop(6.88, H100_BF16, 40)


def test_after_the_june_2025_cut_h100_is_cheaper_per_flop_than_a100_on_aws():
    """Before the cut p5 ($12.29/GPU-h) and p4d ($4.10) cost about the same per FLOP; after it the
    H100 is about a fifth cheaper per FLOP (the lesson's claim, from its own tables)."""
    inst = tables.load("05-cloud", "instances").set_index("instance")
    gpus = tables.load("05-cloud", "gpus").set_index("gpu_model")["bf16_dense_tflops"]
    per_flop = {name: cost.usd_per_useful_exaflop(
        cost.price_per_gpu_hour(inst.loc[name, "on_demand_usd_per_hour"], inst.loc[name, "gpus"]),
        gpus[inst.loc[name, "gpu_model"]] * 1e12) for name in ("p5.48xlarge", "p4d.24xlarge")}
    assert 0.75 < per_flop["p5.48xlarge"] / per_flop["p4d.24xlarge"] < 0.85
    before = cost.usd_per_useful_exaflop(98.32 / 8, H100_BF16) / cost.usd_per_useful_exaflop(32.77 / 8, A100_BF16)
    assert 0.9 < before < 1.0


def test_interruption_mtbf_is_the_inverse_of_the_rate():
    rate = cost.job_interruption_rate(1 / 500, 64)
    assert cost.interruption_mtbf_hours(rate) == pytest.approx(500 / 64)
    assert cost.interruption_mtbf_hours(0.25) == 4
    with pytest.raises(ValueError):
        cost.interruption_mtbf_hours(0)


# --------------------------------------------------------------------------- Savings Plans

def test_savings_plan_hour_covers_usage_up_to_the_commitment():
    # $30/h of commitment at 40% off covers $50/h of on-demand usage
    assert cost.savings_plan_hour_usd(55.04, 30, 0.4) == pytest.approx(30 + 5.04)
    assert cost.savings_plan_hour_usd(50, 30, 0.4) == pytest.approx(30)
    assert cost.savings_plan_hour_usd(0, 30, 0.4) == pytest.approx(30)       # unused commitment is still paid
    assert cost.savings_plan_hour_usd(55.04, 0, 0.4) == pytest.approx(55.04)  # no plan: on-demand


def test_savings_plan_cost_over_a_profile():
    busy_then_idle = [55.04] * 12 + [0.0] * 12
    on_demand = cost.savings_plan_cost_usd(busy_then_idle, 0, 0.4)
    assert on_demand == pytest.approx(12 * 55.04)
    full = cost.savings_plan_cost_usd(busy_then_idle, 55.04 * 0.6, 0.4)
    assert full == pytest.approx(24 * 55.04 * 0.6)
    # at 50% use a 40% discount loses: 0.6 / 0.5 = 1.2x the on-demand bill
    assert full / on_demand == pytest.approx(1.2)
    # the best commitment for this profile is none at all, for a steady one it is the full usage
    commitments = [0, 10, 20, 33.024]
    assert min(commitments, key=lambda c: cost.savings_plan_cost_usd(busy_then_idle, c, 0.4)) == 0
    assert min(commitments, key=lambda c: cost.savings_plan_cost_usd([55.04] * 24, c, 0.4)) == 33.024
    with pytest.raises(ValueError):
        cost.savings_plan_cost_usd([], 10, 0.4)
    with pytest.raises(ValueError):
        cost.savings_plan_hour_usd(10, 10, 1.0)


# --------------------------------------------------------------------------- storage prices

def _s3_tiers():
    t = tables.load("05-cloud", "storage_prices")
    return list(zip(t["from_gb"], t["to_gb"], t["usd_per_gb_month"]))


def test_s3_standard_is_tiered_above_50_tb():
    tiers = _s3_tiers()
    # 200 TB = 200,000 GB: 51,200 GB at $0.023 and the rest at $0.022
    assert cost.tiered_storage_cost_usd(200_000, tiers) == pytest.approx(51_200 * 0.023 + 148_800 * 0.022)
    assert cost.tiered_storage_cost_usd(200_000, tiers, months=3) == pytest.approx(3 * (51_200 * 0.023 + 148_800 * 0.022))
    flat = cost.storage_cost_usd(200_000, 0.023)
    assert flat > cost.tiered_storage_cost_usd(200_000, tiers)
    # above 500 TB the third tier applies
    assert cost.tiered_storage_cost_usd(600_000, tiers) == pytest.approx(
        51_200 * 0.023 + (512_000 - 51_200) * 0.022 + (600_000 - 512_000) * 0.021)


def test_fsx_lustre_throughput_capacity_and_price():
    fsx = tables.load("05-cloud", "fsx_lustre").set_index("mb_s_per_tib")["usd_per_gb_month"]
    assert cost.fsx_lustre_throughput_gb_s(4800, 250) == pytest.approx(1.2)
    assert cost.fsx_lustre_monthly_usd(4800, fsx[250]) == pytest.approx(4800 * 0.21)
    # 1.2 TiB at 125 MB/s/TiB is about $174 a month (c3x)
    assert cost.fsx_lustre_monthly_usd(1200, fsx[125]) == pytest.approx(174, abs=0.5)
    # 100 GB/s at 250 MB/s/TiB: 400,000 GiB, rounded up to the 2,400 GiB step
    assert cost.fsx_lustre_capacity_for_throughput_gib(100, 250) == 167 * 2400
    assert cost.fsx_lustre_capacity_for_throughput_gib(0.1, 1000) == 1200
    assert cost.fsx_lustre_capacity_for_throughput_gib(1, 1000, data_gib=10_000) == 5 * 2400
    # the faster tier costs more per GB but less for the same bandwidth
    slow = cost.fsx_lustre_monthly_usd(cost.fsx_lustre_capacity_for_throughput_gib(100, 125), fsx[125])
    fast = cost.fsx_lustre_monthly_usd(cost.fsx_lustre_capacity_for_throughput_gib(100, 1000), fsx[1000])
    assert fast < slow


# --------------------------------------------------------------------------- owning GPUs

def test_on_prem_gpu_hour_hand_arithmetic():
    got = cost.on_prem_gpu_hour_usd(270_000, 8, 5, 10.2, 0.085, 1.56, 1.0)
    hours = 8 * 8760
    assert got["depreciation"] == pytest.approx(54_000 / hours)
    assert got["power"] == pytest.approx(10.2 * 1.56 * 8760 * 0.085 / hours)
    assert got["total"] == pytest.approx(got["depreciation"] + got["power"])
    half = cost.on_prem_gpu_hour_usd(270_000, 8, 5, 10.2, 0.085, 1.56, 0.5, other_usd_per_server_year=20_000)
    assert half["total"] == pytest.approx(2 * (got["total"] + 20_000 / hours))
    with pytest.raises(ValueError):
        cost.on_prem_gpu_hour_usd(270_000, 8, 5, 10.2, 0.085, 0.9)


def test_on_prem_break_even_is_where_the_costs_meet():
    args = (270_000, 8, 5, 10.2, 0.085, 1.56)
    for price in (2.95, 6.88):
        u = cost.on_prem_break_even_utilisation(price, *args)
        assert cost.on_prem_gpu_hour_usd(*args, utilisation=u)["total"] == pytest.approx(price)
    assert cost.on_prem_break_even_utilisation(0.5, *args) > 1  # cheaper to rent at any utilisation
