"""The 08-inference tables and artefacts: shape, units, sources, and facts checked against their sources."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest
import yaml

from infraprep import estimates, tables
from infraprep.labs import serving
from infraprep.widgets import PracticeQuiz

LESSON = "08-inference"
FACT_TABLES = ["models", "precision", "instances", "quantisation", "serving_systems", "autoscaling_signals",
               "serving_papers", "incidents"]
GIB = 2 ** 30


@pytest.fixture(scope="module")
def refs():
    return tables.references(LESSON)


def test_the_lesson_cites_the_sources_it_names(refs):
    # the papers the issue names are all there
    for key in ("vllm-paper", "orca", "distserve", "splitwise", "leviathan", "stas-inference", "scaling-book-inference"):
        assert key in set(refs["key"])


@pytest.mark.parametrize("name", FACT_TABLES)
def test_every_fact_row_has_a_source(name):
    frame = tables.load(LESSON, name)
    # that each key is in references.csv is checked for every lesson by tests/test_references.py
    assert frame["source"].notna().all()


# ---------------------------------------------------------------- models

def _model(name):
    return tables.load(LESSON, "models").set_index("model").loc[name]


def _kv(row, bytes_per_value=2):
    return estimates.model_kv_bytes_per_token(row["attention"], int(row["layers"]), int(row["kv_heads"]),
                                              int(row["head_dim"]), row["kv_latent_values"], bytes_per_value)


def test_kv_bytes_a_token_match_the_sources():
    assert _kv(_model("OPT-13B")) == 800 * 1024                           # vLLM paper §3: 800 KB
    assert _kv(_model("Llama 3.1 70B"), 1) == 163_840                     # scaling-book: "160kB" in int8
    assert _kv(_model("Llama 3.1 70B")) == 327_680
    assert _kv(_model("DeepSeek-V3")) == 61 * (512 + 64) * 2              # kv_lora_rank + qk_rope_head_dim
    assert _kv(_model("Llama 3.1 405B")) == 2 * 126 * 8 * 128 * 2


def test_dense_parameter_counts_follow_from_the_configs():
    # Llama 3.1: q and o are hidden², k and v hidden × kv_heads · head_dim, a SwiGLU MLP, untied embeddings
    ffn = {"Llama 3.1 8B": 14336, "Llama 3.1 70B": 28672, "Llama 3.1 405B": 53248}
    for name, intermediate in ffn.items():
        row = _model(name)
        h, kv = int(row["hidden_size"]), int(row["kv_heads"]) * int(row["head_dim"])
        layer = 2 * h * h + 2 * h * kv + 3 * h * intermediate
        total = int(row["layers"]) * layer + 2 * 128_256 * h
        assert total / 1e9 == pytest.approx(row["params_billion"], rel=0.01), name
        assert row["active_params_billion"] == row["params_billion"]


def test_deepseek_v3_active_parameters_follow_from_its_experts():
    row = _model("DeepSeek-V3")
    dense, expert = estimates.moe_param_split(row["params_billion"] * 1e9, int(row["experts_routed"]),
                                              int(row["moe_layers"]), int(row["hidden_size"]),
                                              int(row["expert_intermediate_size"]))
    active = dense + int(row["experts_per_token"]) * expert
    assert active / 1e9 == pytest.approx(row["active_params_billion"], rel=0.03)   # the report's 37 B
    assert row["attention"] == "MLA" and row["layers"] - row["moe_layers"] == 3     # first 3 layers dense


# ---------------------------------------------------------------- GPUs and prices

def test_low_precision_rates_are_half_the_datasheets_sparse_figures():
    sheet = tables.load(LESSON, "precision").set_index("gpu")
    sparse = {"H100 SXM": (3958, 3958, None), "H200 SXM": (3958, 3958, None),
              "B200 (HGX)": (9000, 9000, 18000), "MI300X": (5229.8, 5229.8, None)}
    for gpu, (fp8, int8, fp4) in sparse.items():
        row = sheet.loc[gpu]
        assert row["fp8_dense_tflops"] == pytest.approx(fp8 / 2)
        assert row["int8_dense_tops"] == pytest.approx(int8 / 2)
        assert (pd.isna(row["fp4_dense_tflops"]) and fp4 is None) or row["fp4_dense_tflops"] == fp4 / 2
        assert bool(row["fp4_tensor_cores"]) == (fp4 is not None)
    bf16 = tables.load("02-gpu", "datasheets").set_index("gpu")["bf16_dense_tflops"]
    for gpu in sheet.index:
        assert sheet.loc[gpu, "fp8_dense_tflops"] == pytest.approx(2 * bf16[gpu], rel=0.001)


def test_instances_are_dated_and_use_the_lesson_gpus():
    inst = tables.load(LESSON, "instances")
    gpus = set(tables.load("02-gpu", "datasheets")["gpu"])
    assert set(inst["gpu"]) <= gpus
    assert pd.to_datetime(inst["price_date"], format="%Y-%m-%d").notna().all()
    assert (inst["on_demand_usd_per_hour"] > 0).all() and (inst["gpus"] == 8).all()
    prices = inst.set_index("instance")["on_demand_usd_per_hour"]
    assert prices["p5.48xlarge"] == 55.04 and prices["p6-b200.48xlarge"] == pytest.approx(113.9328)
    for gpu in ("H100 SXM", "H200 SXM", "B200 (HGX)"):
        assert (inst["gpu"] == gpu).sum() == 2                            # two providers for each


def test_aws_prices_agree_with_lesson_5():
    """The AWS rows repeat lesson 5's dated on-demand prices (after the June 2025 cut); a change to one must reach the other."""
    here = tables.load(LESSON, "instances").query("cloud == 'aws'").set_index("instance")
    cloud = tables.load("05-cloud", "instances").set_index("instance")
    assert set(here.index) == {"p5.48xlarge", "p5en.48xlarge", "p6-b200.48xlarge"}
    for instance, row in here.iterrows():
        assert row["on_demand_usd_per_hour"] == pytest.approx(cloud.loc[instance, "on_demand_usd_per_hour"]), instance
        assert row["gpus"] == cloud.loc[instance, "gpus"]


def test_quantisation_bytes_follow_from_the_formats():
    q = tables.load(LESSON, "quantisation").set_index("scheme")["weight_bytes_per_param"]
    assert q["NVFP4 W4A4"] == (4 + 8 / 16) / 8                             # FP8 scale every 16 values
    assert q["MXFP4"] == (4 + 8 / 32) / 8                                  # E8M0 scale every 32 values
    assert q["FP8 W8A8 (E4M3)"] == 1 and q["BF16 (baseline)"] == 2


def test_paper_headlines_are_the_papers_numbers():
    papers = tables.load(LESSON, "serving_papers").set_index("work")["headline_result"]
    assert "36.9x" in papers["Orca"]
    assert "2-4x" in papers["vLLM (PagedAttention)"] and "20.4-38.2" in papers["vLLM (PagedAttention)"]
    assert "7.4x" in papers["DistServe"] and "12.6x" in papers["DistServe"]
    assert "1.4x" in papers["Splitwise"] and "2.35x" in papers["Splitwise"]
    assert "2.7-3.5x" in papers["EAGLE"]


# ---------------------------------------------------------------- artefacts

def _log(name):
    return tables.artefact(LESSON, name)


def _kv_lines(text):
    available = float(re.search(r"Available KV cache memory: ([\d.]+) GiB", text).group(1))
    size = re.search(r"GPU KV cache size: ([\d,]+) tokens", text)
    conc = re.search(r"Maximum concurrency for ([\d,]+) tokens per request: ([\d.]+)x", text)
    return available, size, conc


@pytest.mark.parametrize("name, kv_bytes", [
    ("vllm-preemption.log", 327_680 / 2),          # 70B, BF16 KV, tensor-parallel over 2 GPUs: half a GPU
    ("vllm-long-prompt.log", 131_072),             # 8B, BF16 KV: 2 · 32 · 8 · 128 · 2
    ("assignment-vllm.log", 131_072),
])
def test_logged_kv_capacity_is_the_memory_over_the_bytes_a_token(name, kv_bytes):
    available, size, conc = _kv_lines(_log(name))
    tokens = int(size.group(1).replace(",", ""))
    assert tokens == pytest.approx(available * GIB / kv_bytes, rel=0.001)
    assert tokens % 16 == 0                        # whole 16-token blocks
    assert float(conc.group(2)) == pytest.approx(tokens / int(conc.group(1).replace(",", "")), abs=0.01)


def test_the_oom_log_is_the_arithmetic_of_one_long_request():
    text = _log("vllm-oom-long-context.log")
    kv = _kv(_model("Llama 3.1 70B"))
    needed = re.search(r"\(([\d.]+) GiB KV cache is needed", text).group(1)
    assert float(needed) == pytest.approx(131_072 * kv / GIB, abs=0.01)
    available = float(re.search(r"available KV cache memory \(([\d.]+) GiB\)", text).group(1))
    longest = int(re.search(r"estimated maximum model length is (\d+)", text).group(1))
    assert longest == int(available * GIB / kv) // 16 * 16
    weights = float(re.search(r"Model loading took ([\d.]+) GiB", text).group(1))
    assert weights == pytest.approx(70.6e9 / GIB, rel=0.01)                 # FP8: a byte a parameter


def test_engine_stats_read_every_periodic_line():
    for name, lines in (("vllm-preemption.log", 12), ("vllm-long-prompt.log", 11), ("assignment-vllm.log", 6)):
        stats = serving.engine_stats(_log(name))
        assert len(stats) == lines == _log(name).count("Avg prompt throughput")
    incident = serving.engine_stats(_log("vllm-preemption.log"))
    assert incident["kv_cache_usage_pct"].iloc[-1] == 100.0 and incident["preemptions"].sum() > 300


def test_scrapes_are_prometheus_text_with_vllm_buckets():
    healthy, incident = _log("vllm-metrics-healthy.prom"), _log("vllm-metrics-incident.prom")
    for text in (healthy, incident, _log("assignment-metrics.prom")):
        bounds, counts = serving.histogram(text, "vllm:time_to_first_token_seconds")
        assert bounds[:-1] == list(serving.TTFT_BUCKETS_S) and math.isinf(bounds[-1])
        assert counts == sorted(counts)
    samples = {s["name"]: s["value"] for s in serving.parse_metrics(incident)}
    assert samples["vllm:kv_cache_usage_perc"] == 1.0 and samples["vllm:num_requests_waiting"] == 64
    before, after = serving.histogram_quantiles(healthy, "vllm:time_to_first_token_seconds"), \
        serving.histogram_quantiles(incident, "vllm:time_to_first_token_seconds", since=healthy)
    assert after[1] > 5 * before[1]                 # the incident window's p99 TTFT
    # the prefix-cache hit rate the log prints is the counters' ratio
    hit = samples["vllm:prefix_cache_hits_total"] / samples["vllm:prefix_cache_queries_total"]
    assert 0.3 < hit < 0.4


def test_assignment_scrape_has_two_engines():
    engines = {s["labels"].get("engine") for s in serving.parse_metrics(_log("assignment-metrics.prom"))
               if s["name"] == "vllm:time_to_first_token_seconds_count"}
    assert engines == {"0", "1"}


def test_keda_scaler_queries_metrics_that_vllm_exports():
    doc = yaml.safe_load(_log("keda-scaledobject.yaml"))
    assert doc["kind"] == "ScaledObject" and doc["apiVersion"] == "keda.sh/v1alpha1"
    names = {s["name"] for s in serving.parse_metrics(_log("vllm-metrics-incident.prom"))}
    for trigger in doc["spec"]["triggers"]:
        assert trigger["type"] == "prometheus"
        metric = re.search(r"(vllm:[a-z_]+)", trigger["metadata"]["query"]).group(1)
        assert metric in names
    assert doc["spec"]["minReplicaCount"] >= 1


def test_request_table_is_consistent():
    req = tables.load(LESSON, "gateway-requests")
    assert req["request_id"].is_unique and (req["output_tokens"] >= 2).all()
    assert req["e2e_s"].values == pytest.approx((req["ttft_s"] + (req["output_tokens"] - 1) * req["tpot_s"]).values,
                                                abs=2e-3)


def test_practice_quiz_loads_and_its_numbers_are_right():
    quiz = PracticeQuiz.for_lesson(LESSON)
    assert len(quiz.questions) >= 8
    assert len({q.answer for q in quiz.questions}) >= 3               # answers are not all the same letter
    by_text = {q.text: q for q in quiz.questions}
    kv = next(q for t, q in by_text.items() if "bytes of BF16 KV cache" in t)
    assert kv.options[kv.answer].replace(",", "") == str(int(_kv(_model("Llama 3.1 70B"))))
    spec = next(q for t, q in by_text.items() if "drafts k = 4" in t)
    assert float(spec.options[spec.answer]) == pytest.approx(estimates.speculative_expected_tokens(0.8, 4), abs=0.01)
    little = next(q for t, q in by_text.items() if "in flight" in t)
    assert float(little.options[little.answer]) == estimates.littles_law_concurrency(40, 0.5 + 300 * 0.03)


def test_rapid_fire_questions_for_this_lesson_and_their_numbers():
    from infraprep.practice import bank

    questions = bank.filter_bank(lesson="08-inference").set_index("id")["answer"].astype(str)
    every = bank.load_bank()
    mine = every[every["lesson_id"].astype(str) == LESSON]
    assert len(mine) >= 25 and (mine["difficulty"] == "hard").mean() >= 0.4
    assert bank.problems(every, tables.references("07-rapid-fire")) == []
    assert "2.8e14" in questions["inf-005"] and estimates.prefill_flops(70e9, 2000) == pytest.approx(2.8e14)
    step = estimates.decode_step_time_s(8e9, 16e9, 1, 989e12, 3.35e12)
    assert "4.8 ms" in questions["inf-006"] and step == pytest.approx(4.8e-3, rel=0.01) and round(1 / step, -1) == 210
    assert "327,680" in questions["inf-008"] and "10.7 GB" in questions["inf-008"]
    assert 32768 * estimates.kv_cache_bytes_per_token(80, 8, 128) / 1e9 == pytest.approx(10.7, abs=0.05)
    assert "70,272" in questions["inf-010"] and estimates.kv_cache_bytes_per_token(32, 8, 128) == 131_072
    kv70 = estimates.kv_cache_bytes_per_token(80, 8, 128)
    assert "26 ms" in questions["inf-016"] and estimates.kv_transfer_time_s(4000, kv70, 50e9) == pytest.approx(0.026, rel=0.01)
    assert "3 ms" in questions["inf-016"] and estimates.kv_transfer_time_s(4000, kv70, 450e9) == pytest.approx(0.003, rel=0.05)
    assert "4.69" in questions["inf-017"] and estimates.speculative_expected_tokens(0.9, 5) == pytest.approx(4.69, abs=0.005)
    assert "1,050" in questions["inf-024"] and estimates.littles_law_concurrency(100, 0.5 + 250 * 0.04) == 1050
    assert "$0.96" in questions["inf-025"] and estimates.cost_per_million_tokens(55.04, 16_000) == pytest.approx(0.96, abs=0.005)
    assert "40 GiB" in questions["inf-029"] and 131072 * kv70 / 2 ** 30 == 40
    free = 8 * 80e9 * 0.9 - 405e9
    assert "170 GB" in questions["inf-021"] and free / 1e9 == pytest.approx(170, abs=2)
