"""The four worked designs of lesson 9: every number against a hand calculation from the tables' inputs."""

import math

import pytest

from infraprep.widgets import design as w

RATE = 419 / (16_384 * 54)  # Llama 3: unexpected interruptions a GPU-day
PRICE = 55.04 / 8  # lesson 5: p5.48xlarge on demand in us-east-1 (2026-07-20, after the June 2025 cut), per GPU-hour
PRICE_BEFORE_CUT = 98.32 / 8  # the same instance before the cut (lesson 5's price note)


@pytest.fixture(scope="module")
def one():
    return w.training_cluster()["numbers"]


def test_design_one_compute(one):
    flops = 6 * 405e9 * 15.6e12
    assert one["flops"] == pytest.approx(flops)
    assert one["days_ideal"] == pytest.approx(flops / (16_384 * 989e12 * 0.40) / 86_400) == pytest.approx(67.7, abs=0.05)
    assert one["gpu_hours_ideal"] == pytest.approx(flops / (989e12 * 0.40) / 3600)


def test_design_one_layout_and_fabric(one):
    assert one["data_parallel"] == 16_384 // (8 * 16) == 128
    assert one["model_state_gb"] == pytest.approx((4 * 405e9 / 128 + 12 * 405e9 / 128 / 128) / 1e9)
    assert one["activations_gb"] == pytest.approx(2 * 8192 * 16_384 * 8 * 16 / 1e9)
    assert one["memory_gb"] < one["usable_gb"] == 72
    assert one["cheapest_layout"] == (8, 8)
    assert (one["fabric_tiers"], one["fabric_leaves"], one["fabric_spines"], one["fabric_cores"]) == (3, 512, 512, 256)
    assert one["fabric_switches"] == 1280
    grads = 2 * 405e9 / 128
    assert one["dp_allreduce_s"] == pytest.approx(2 * 127 / 128 * grads / 50e9)
    assert one["dp_allreduce_sharp_s"] == pytest.approx(grads / 50e9)
    assert one["step_s"] == pytest.approx(6 * 405e9 * 16e6 / (16_384 * 989e12 * 0.4))


def test_design_one_checkpoints_and_failures(one):
    assert one["checkpoint_tb"] == pytest.approx(405e9 * 14 / 1e12)
    assert one["checkpoint_write_s"] == pytest.approx(405e9 * 14 / 2e12)  # the storage binds, not 16,384 NICs
    assert one["shard_mb"] == pytest.approx(405e9 * 14 / 16_384 / 1e6)
    assert one["checkpoint_stall_s"] == pytest.approx(405e9 * 14 / 16_384 / 63e9)
    assert one["restore_naive_tb"] == pytest.approx((2 * 405e9 * 128 + 12 * 405e9) / 1e12)
    assert one["interruptions_per_day"] == pytest.approx(16_384 * RATE)
    mtbf = 24 / (16_384 * RATE)
    assert one["mtbf_h"] == pytest.approx(mtbf)
    assert one["young_blocking_min"] == pytest.approx(math.sqrt(2 * 405e9 * 14 / 2e12 * mtbf * 3600) / 60)
    tau, stall, restart = 300, 405e9 * 14 / 16_384 / 63e9, 600
    good = (1 - (tau / 2 + restart) / (mtbf * 3600)) / (1 + stall / tau) / 1.01
    assert one["goodput_goodput"] == pytest.approx(good) == pytest.approx(0.923, abs=0.001)
    assert one["goodput_blocking"] < one["goodput_goodput"]


def test_design_one_power_cost_and_verdict(one):
    assert one["systems"] == 2048 and one["it_mw"] == pytest.approx(2048 * 10.2 / 1e3)
    assert one["facility_mw"] == pytest.approx(2048 * 10.2 * 1.1 / 1e3)
    assert one["racks"] == math.ceil(2048 / math.floor(40 / 10.2))
    # spares: nodes in repair ~ Poisson(2048 × 48 h / node MTBF)
    node_mtbf = 24 / (8 * RATE)
    lam = 2048 * 48 / node_mtbf
    cdf, k = 0.0, 0
    while True:
        cdf += math.exp(-lam) * lam ** k / math.factorial(k)
        if cdf >= 0.99:
            break
        k += 1
    assert one["hot_spares"] == k
    gpu_hours = 6 * 405e9 * 15.6e12 / (989e12 * 0.4) / 3600 / one["goodput_goodput"]
    assert one["gpu_hours"] == pytest.approx(gpu_hours)
    assert one["cost_usd"] == pytest.approx(gpu_hours * PRICE, rel=1e-3)
    assert one["days"] == pytest.approx(one["days_ideal"] / one["goodput_goodput"])
    # need ÷ limit: 73.3 of 90 days, 23.0 of 30 MW, 47.4 of 72 GB, 198 of 400 M USD
    days = 6 * 405e9 * 15.6e12 / (16_384 * 989e12 * 0.40) / 86_400 / one["goodput_goodput"]
    assert one["ratio_time"] == pytest.approx(days / 90) == pytest.approx(0.815, abs=0.001)
    assert one["ratio_power"] == pytest.approx(2048 * 10.2e3 * 1.1 / 30e6) == pytest.approx(0.766, abs=0.001)
    memory = (4 * 405e9 / 128 + 12 * 405e9 / 128 / 128) + 2 * 8192 * 16_384 * 8 * 16
    assert one["ratio_memory"] == pytest.approx(memory / 72e9) == pytest.approx(0.657, abs=0.001)
    assert one["ratio_budget"] == pytest.approx(gpu_hours * PRICE / 400e6, rel=1e-3) == pytest.approx(0.496, abs=0.001)
    assert one["binding"] == "time" and one["fits"]  # the deadline binds first; every constraint fits
    # before the June 2025 cut the same GPU-hours cost 354 M USD, and the budget bound first (0.886 > 0.815)
    before = gpu_hours * PRICE_BEFORE_CUT / 400e6
    assert before == pytest.approx(0.886, abs=0.001) and before > one["ratio_time"]

def test_lecture_quotes_design_one_verdict(one):
    import re

    import nbformat

    from infraprep import tables

    lecture = nbformat.read(str(tables.DATA_DIR.parents[1] / "notebooks" / "09-system-design.ipynb"), as_version=4)
    text = "\n".join(c.source for c in lecture.cells if c.cell_type == "markdown")
    verdict = re.search(r"Everything fits, and the \*\*deadline\*\* binds first: with goodput the run takes about (\d+) of its "
                        r"(\d+) days\. Site power comes next \((\d+) of (\d+) MW\), then memory \((\d+) of (\d+) GB usable\); "
                        r"the compute costs about (\d+) million USD, half the budget\.", text)
    assert verdict, "design one's verdict sentence"
    days, deadline, mw, site, gb, usable, musd = (int(x) for x in verdict.groups())
    assert (days, deadline) == (round(one["days"]), 90) and (mw, site) == (round(one["facility_mw"]), 30)
    assert (gb, usable) == (round(one["memory_gb"]), round(one["usable_gb"])) and musd == round(one["cost_usd"] / 1e6)
    before = re.search(r"the same ([\d.]+) million GPU-hours would cost about (\d+) million USD and the budget would bind", text)
    assert before and float(before.group(1)) == round(one["gpu_hours"] / 1e6, 1)
    assert int(before.group(2)) == round(one["gpu_hours"] * PRICE_BEFORE_CUT / 1e6)
    calculator = re.search(r"or a budget under (\d+) million USD \(the run costs about (\d+) million USD here", text)
    from infraprep.widgets import design as widgets
    calc = widgets.DesignCalculator(draw=False)
    assert calculator and int(calculator.group(2)) == round(calc.estimate()["cost_usd"] / 1e6)
    assert int(calculator.group(1)) < calc.estimate()["cost_usd"] / 1e6


def test_design_two_by_hand():
    two = w.serving_platform()["numbers"]
    kv = 2 * 80 * 8 * 128 * 2
    assert two["weights_gb"] == 70 and two["kv_bytes_per_token"] == kv
    assert two["batch"] == math.floor((2 * 80 * 0.9 - 70) * 1e9 / (1800 * kv)) == 125
    step = (70e9 + 125 * 1650 * kv) / (2 * 3.35e12 * 0.8)
    assert two["tpot_s"] == pytest.approx(step)
    assert two["decode_replicas"] == math.ceil(200 * 300 * 1.25 / (125 / step))
    prefill = 2 * 70e9 * 1500 / (1979e12 * 0.5)  # GPU-seconds a request
    assert two["prefill_gpus"] == math.ceil(200 * prefill * 1.25 / 2) * 2
    assert two["prefill_gpus_cached"] == math.ceil(200 * prefill * 0.5 * 1.25 / 2) * 2 == 28
    assert two["gpus_cached"] == 32 + 28 and two["fleet_gpus"] == 2 * 60
    assert two["ttft_cached_s"] == pytest.approx(2 * 70e9 * 750 / (2 * 1979e12 * 0.5))
    assert two["kv_transfer_ms"] == pytest.approx(1500 * kv / 50e9 * 1000)
    assert two["weight_load_s"] == pytest.approx(70e9 / 6.5e9)
    assert two["usd_per_million_output_cached"] == pytest.approx(60 * PRICE / (200 * 300 * 3600) * 1e6, rel=1e-3)


def test_design_three_by_hand():
    three = w.ml_platform()["numbers"]
    assert three["allocation"] == {"pretraining": 336, "fine-tuning": 48, "inference": 120, "research": 8}
    assert three["idle_gpus"] == 0 and three["cluster_gpus"] == 512
    assert three["research_mig_slices"] == 32 * 7
    table = three["table"].set_index("team")
    assert table.loc["pretraining", "borrowed_gpus"] == 80 and table.loc["pretraining", "nodes"] == 42
    assert table.loc["pretraining", "chargeback_usd_month"] == pytest.approx(336 * 730 * PRICE, abs=1)


def test_design_four_by_hand():
    four = w.data_pipeline()["numbers"]
    assert four["samples_per_s"] == 2048 * 250
    assert four["need_gb_s"] == pytest.approx(2048 * 250 * 120e3 / 1e9)
    assert four["dataset_tb"] == pytest.approx(5e9 * 120e3 / 1e12) == 600
    assert four["shards"] == 600_000 and four["samples_per_shard"] == pytest.approx(1e9 / 120e3)
    assert four["prefixes_files"] == math.ceil(512_000 / 5500) == 94
    assert four["prefixes_shards"] == math.ceil(61.44e9 / 16e6 / 5500) == 1
    assert four["per_node_tb"] == pytest.approx(600 / 256) and four["node_nvme_tb"] == pytest.approx(30.72)
    assert four["per_node_tb"] < four["node_nvme_tb"]  # each node's share of the dataset fits in its cache
    assert four["workers_per_node"] == math.ceil(8 * 250 / 150) == 14
    assert four["origin_gb_s"] == pytest.approx(61.44 * 0.05)
    assert four["llm_read_mb_s"] == pytest.approx(16_384 * 989e12 * 0.4 / (6 * 405e9) * 4 / 1e6)
    stages = four["stages_gb_s"]
    assert min(stages.values()) == pytest.approx(5500 * 120e3 / 1e9)  # one object a sample binds at 0.66 GB/s a prefix


def test_summaries_fit_one_screen_and_diagram_values_fill_the_layouts():
    import yaml

    from infraprep import tables
    from infraprep.charts import design as charts

    layouts = yaml.safe_load(tables.artefact("09-system-design", "architectures.yaml"))
    for name, design in (("training", w.training_cluster()), ("serving", w.serving_platform()),
                         ("training_platform", w.ml_platform()), ("data_pipeline", w.data_pipeline())):
        summary = design["summary"]
        assert len(summary) <= 22
        assert not summary["value"].str.contains(r"e[+-]\d|\.0{3,}|\d\.\d{4,}", regex=True).any(), summary["value"].tolist()
        charts.architecture(layouts[name], design["diagram"])
