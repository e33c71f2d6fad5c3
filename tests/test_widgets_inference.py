"""The serving planner and the lesson's table builders, driven through their plain methods."""

from __future__ import annotations

import pytest

from infraprep import estimates, tables
from infraprep.widgets import inference as w


@pytest.fixture(scope="module")
def planner():
    return w.ServingPlanner(draw=False)


def test_default_plan_is_the_estimate_for_its_inputs(planner):
    p = planner.plan()
    kv = estimates.kv_cache_bytes_per_token(80, 8, 128, 2)
    expected = estimates.serving_plan(70.6e9, 1.0, kv, 80e9, 3.35e12, 1979e12, 1000, 250, 20, 1.0, 0.05,
                                      55.04 / 8, active_params=70.6e9)
    for key in ("gpus_per_replica", "batch", "tpot_s", "ttft_s", "replicas", "usd_per_million_output_tokens_at_capacity"):
        assert p[key] == pytest.approx(expected[key])
    assert p["gpus_per_replica"] == 2 and p["usd_per_gpu_hour"] == pytest.approx(6.88)
    assert "replica" in planner.summary_html() and "2 × H100 SXM" in planner.summary_html()


def test_controls_change_the_plan_and_the_view():
    planner = w.ServingPlanner(draw=True)
    more = planner.set(requests_per_s=200.0)
    assert more["replicas"] > 1 and f"{more['gpus_total']:,} GPUs" in planner._summary.value
    assert len(planner._image.value) > 1000                            # a PNG of the roofline point
    fp8_kv = planner.set(kv_cache="FP8")
    assert fp8_kv["kv_capacity_sequences"] >= 2 * more["kv_capacity_sequences"] - 1
    fixed = planner.set(batch=8)
    assert fixed["batch"] == 8 and fixed["tpot_s"] < fp8_kv["tpot_s"]
    with pytest.raises(ValueError):
        planner.set(colour="red")


def test_fp4_only_on_blackwell_and_prices_only_where_listed(planner):
    assert planner.plan(gpu="B200 (HGX)", weights="NVFP4 (W4A4)")["gpus_per_replica"] >= 1
    with pytest.raises(ValueError):
        planner.plan(gpu="H100 SXM", weights="NVFP4 (W4A4)")
    unpriced = planner.plan(gpu="MI300X")
    assert unpriced["usd_per_gpu_hour"] is None and unpriced["usd_per_million_output_tokens_at_capacity"] != \
        unpriced["usd_per_million_output_tokens_at_capacity"]             # NaN
    with pytest.raises(ValueError):
        planner.set(gpu="H100 SXM", weights="NVFP4 (W4A4)")
    assert "no FP4 tensor cores" in planner._summary.value           # the view says why, it does not break
    planner.set(weights="FP8 (W8A8)")


def test_weight_only_formats_compute_at_the_bf16_rate():
    d, p = tables.load("02-gpu", "datasheets"), tables.load("08-inference", "precision")
    assert w.gpu_rates(d, p, "H100 SXM", "INT4 weight-only (W4A16)")["peak_flop_s"] == 989e12
    assert w.gpu_rates(d, p, "H100 SXM", "FP8 (W8A8)")["peak_flop_s"] == 1979e12
    assert w.gpu_rates(d, p, "B200 (HGX)", "NVFP4 (W4A4)")["peak_flop_s"] == 9000e12
    with pytest.raises(ValueError):
        w.gpu_rates(d, p, "Z9000", "BF16")


def test_tables_follow_the_formulas():
    models = tables.load("08-inference", "models")
    kv = w.kv_table(models).set_index("model")
    assert kv.loc["Llama 3.1 70B", "kv_kib_per_token_bf16"] == 320
    assert kv.loc["DeepSeek-V3", "kv_kib_per_token_fp8"] == pytest.approx(70_272 / 2 / 1024)
    place = w.placement_table(models, tables.load("02-gpu", "datasheets"), tables.load("08-inference", "precision"),
                              ["Llama 3.1 70B", "DeepSeek-V3"], ["H100 SXM", "H200 SXM"]).set_index(["model", "gpu"])
    assert place.loc[("Llama 3.1 70B", "H100 SXM"), "gpus_for_weights"] == 2
    assert place.loc[("DeepSeek-V3", "H100 SXM"), "nodes"] == 2               # 671 GB of FP8 weights
    assert place.loc[("DeepSeek-V3", "H200 SXM"), "nodes"] == 1
    row = place.loc[("Llama 3.1 70B", "H100 SXM")]
    assert row["kv_free_gb"] == pytest.approx(2 * 80 * 0.9 - 70.6)
    assert row["sequences_of_8k"] == estimates.kv_capacity_sequences(row["kv_free_gb"] * 1e9, 8192, 327_680)


def test_numbers_are_shown_as_people_write_them():
    assert [w.number(v) for v in (1979.0, 0.0713, 2.5, 12.345, 1342.4, float("nan"), 7, "H100")] == \
        ["1,979", "0.0713", "2.50", "12.3", "1,342", "–", "7", "H100"]
    html = w.show(tables.load("08-inference", "precision")).to_html()
    assert "1,979" in html and "2,615" in html and "1979.000000" not in html and "nv-h100" not in html
