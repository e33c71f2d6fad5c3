"""Inference estimates against hand calculations and the worked numbers of their sources."""

from __future__ import annotations

import math

import pytest

from infraprep import estimates as e

H100 = dict(peak_flop_s=989e12, bandwidth_bytes_s=3.35e12)   # NVIDIA H100 SXM datasheet, dense BF16


def test_prefill_is_a_third_of_training_flops_per_token():
    assert e.prefill_flops(70e9, 1) == pytest.approx(e.training_flops(70e9, 1) / 3)
    # 8B model, 2,000-token prompt, 40 % MFU on an H100: 2·8e9·2000 / (989e12·0.4) = 80.9 ms
    assert e.prefill_time_s(8e9, 2000, 989e12, 0.4) == pytest.approx(2 * 8e9 * 2000 / (989e12 * 0.4))
    assert e.prefill_time_s(8e9, 2000, 989e12, 0.4) == pytest.approx(0.0809, rel=1e-3)


def test_decode_at_batch_one_is_the_weights_over_the_bandwidth():
    # Llama 3 70B in BF16 (140 GB of weights): 140e9 / 3.35e12 = 41.8 ms a token
    step = e.decode_step_time_s(70e9, 140e9, 1, **H100)
    assert step == pytest.approx(140e9 / 3.35e12)
    per_seq, per_gpu = e.decode_tokens_per_s(step, 1)
    assert per_seq == per_gpu == pytest.approx(23.9, rel=1e-2)


def test_batching_is_free_until_the_ridge_point():
    weights = 140e9
    small, large = (e.decode_step_time_s(70e9, weights, b, **H100) for b in (8, 64))
    assert small == large == pytest.approx(weights / 3.35e12)          # still memory-bound: same step time
    ridge = e.ridge_point(989e12, 3.35e12)                               # 295 FLOP/byte
    assert e.decode_intensity(int(ridge)) < ridge <= e.decode_intensity(int(ridge) + 1)
    big = e.decode_step_time_s(70e9, weights, 1024, **H100)
    assert big == pytest.approx(2 * 70e9 * 1024 / 989e12)               # compute-bound at batch 1,024


def test_kv_cache_reads_make_long_contexts_slower():
    kv = e.kv_cache_bytes_per_token(80, 8, 128, 2)                      # Llama 3 70B: 327,680 B a token
    assert kv == 327_680
    short = e.decode_step_time_s(70e9, 140e9, 32, **H100, context_tokens=1_000, kv_bytes_token=kv)
    long = e.decode_step_time_s(70e9, 140e9, 32, **H100, context_tokens=32_000, kv_bytes_token=kv)
    assert long == pytest.approx((140e9 + 32 * 32_000 * kv) / 3.35e12)
    assert long > 3 * short


def test_kv_capacity_counts_whole_sequences():
    kv = e.kv_cache_bytes_per_token(80, 8, 128, 2)
    assert e.kv_capacity_sequences(40e9, 8192, kv) == math.floor(40e9 / (8192 * kv)) == 14
    assert e.kv_capacity_sequences(0, 8192, kv) == 0


def test_littles_law():
    assert e.littles_law_concurrency(2000, 1.5) == 3000
    with pytest.raises(ValueError):
        e.littles_law_concurrency(-1, 1)


def test_speculative_decoding_matches_leviathan_et_al():
    # equation (1): α = 0.8, γ = 4 → (1 − 0.8^5) / 0.2 = 3.3616 tokens a target pass
    assert e.speculative_expected_tokens(0.8, 4) == pytest.approx(3.3616)
    assert e.speculative_expected_tokens(1.0, 4) == 5
    assert e.speculative_expected_tokens(0.0, 4) == 1
    # a free draft (c = 0) gives the expected tokens; an expensive one stops paying
    assert e.speculative_speedup(0.8, 4, 0) == pytest.approx(3.3616)
    assert e.speculative_speedup(0.5, 4, 1.0) < 1


def test_max_batch_for_tpot_is_the_largest_batch_within_the_slo():
    kv = e.kv_cache_bytes_per_token(80, 8, 128, 2)
    args = dict(params=70e9, weight_bytes=140e9, peak_flop_s=989e12, bandwidth_bytes_s=3.35e12,
                context_tokens=4096, kv_bytes_token=kv)
    b = e.max_batch_for_tpot(0.05, **args)
    step = lambda n: e.decode_step_time_s(args["params"], args["weight_bytes"], n, args["peak_flop_s"],  # noqa: E731
                                          args["bandwidth_bytes_s"], args["context_tokens"], kv)
    assert step(b) <= 0.05 < step(b + 1)
    assert e.max_batch_for_tpot(0.01, **args) == 0                      # 41.8 ms even at batch 1


def test_replicas_and_cost():
    assert e.replicas_for_load(10, 500, 2_400) == 3                      # 5,000 tokens/s ÷ 2,400 → 3
    assert e.replicas_for_load(10, 500, 2_500, headroom=1.25) == 3
    assert e.replicas_for_load(10, 500, 2_500) == 2
    # $4.00 an hour making 2,000 tokens/s: 4 / 7.2e6 · 1e6 = $0.556 per million tokens
    assert e.cost_per_million_tokens(4.0, 2000) == pytest.approx(0.5556, rel=1e-3)
    with pytest.raises(ValueError):
        e.replicas_for_load(10, 500, 2_500, headroom=0.8)


def test_transfers():
    kv = e.kv_cache_bytes_per_token(80, 8, 128, 2)
    # 4,000-token prompt over one 400 Gb/s NIC (50 GB/s): 1.31 GB / 50 GB/s = 26 ms
    assert e.kv_transfer_time_s(4000, kv, 50e9) == pytest.approx(4000 * kv / 50e9)
    assert e.weight_load_time_s(140e9, 2e9) == 70


# ---------------------------------------------------------------- worked examples of the sources

def test_vllm_paper_kv_cache_of_opt_13b():
    # Kwon et al. §3: 2 × 5120 × 40 layers × 2 bytes = 800 KB a token; 2,048 tokens "as much as 1.6 GB"
    per_token = e.kv_cache_bytes_per_token(40, 40, 128, 2)       # 40 heads × 128 = hidden 5120 (MHA)
    assert per_token == 2 * 5120 * 40 * 2 == 800 * 1024
    assert e.kv_cache_bytes(40, 40, 128, 2048) == pytest.approx(1.6e9, rel=0.05)


def test_scaling_book_pop_quiz_step_times():
    # 30B dense model, int8 weights, bf16 FLOPs, 16 TPU v5e (8.1e11 B/s, 1.97e14 FLOP/s each),
    # 8,192-token context at 100 kB a token: about 2.5 ms at batch 4 and 21 ms at batch 256
    args = dict(params=30e9, weight_bytes=30e9, peak_flop_s=16 * 1.97e14, bandwidth_bytes_s=16 * 8.1e11,
                context_tokens=8192, kv_bytes_token=100e3, split_attention=True)
    assert e.decode_step_time_s(batch=4, **args) == pytest.approx(2.5e-3, rel=0.05)
    assert e.decode_step_time_s(batch=256, **args) == pytest.approx(21e-3, rel=0.05)
    # the plain roofline bound is shorter once the matmuls are compute-bound, never longer
    plain = dict(args, split_attention=False)
    assert e.decode_step_time_s(batch=4, **plain) == pytest.approx(e.decode_step_time_s(batch=4, **args))
    assert e.decode_step_time_s(batch=256, **plain) < e.decode_step_time_s(batch=256, **args)


def test_scaling_book_llama3_70b_int8_on_eight_v5e():
    # Applied-inference chapter: 160 kB a token in int8; batch 32 × 8,192 tokens ≈ 42 GB of KV,
    # 112 GB with the 70 GB of weights, so about 17 ms a step on 8 chips of 8.1e11 B/s
    kv = e.kv_cache_bytes_per_token(80, 8, 128, 1)
    assert kv == 163_840
    total = 70e9 + 32 * 8192 * kv
    assert total == pytest.approx(112e9, rel=0.03)
    step = e.decode_step_time_s(70e9, 70e9, 32, 8 * 1.97e14, 8 * 8.1e11, 8192, kv)
    assert step == pytest.approx(17e-3, rel=0.05)


def test_scaling_book_llama2_13b_kv_for_one_8k_sequence():
    assert e.kv_cache_bytes(40, 40, 128, 8192) == pytest.approx(6.7e9, rel=0.01)


def test_mla_caches_one_latent_a_layer():
    # DeepSeek-V3: 61 layers, kv_lora_rank 512 + qk_rope_head_dim 64
    assert e.kv_bytes_per_token_latent(61, 512 + 64) == 70_272
    gqa_70b = e.kv_cache_bytes_per_token(80, 8, 128)
    assert gqa_70b / e.kv_bytes_per_token_latent(61, 576) == pytest.approx(4.66, rel=0.01)
    with pytest.raises(ValueError):
        e.kv_bytes_per_token_latent(0, 576)


# ---------------------------------------------------------------- paging and its waste

def test_blocks_and_waste_by_hand():
    assert [e.kv_blocks_needed(n, 16) for n in (0, 1, 16, 17, 33)] == [0, 1, 1, 2, 3]
    # 17 and 33 tokens take 2 + 3 blocks = 80 slots for 50 tokens: 30 empty
    assert e.paged_kv_waste_fraction([17, 33], 16) == pytest.approx(30 / 80)
    assert e.paged_kv_waste_fraction([16, 32], 16) == 0
    # the same two sequences each reserving 2,048 tokens up front
    assert e.reserved_kv_waste_fraction([17, 33], 2048) == pytest.approx(1 - 50 / 4096)
    with pytest.raises(ValueError):
        e.reserved_kv_waste_fraction([3000], 2048)
    with pytest.raises(ValueError):
        e.paged_kv_waste_fraction([0, 0])


def test_paged_waste_is_below_one_block_a_sequence():
    import random

    rng = random.Random(3)
    for _ in range(200):
        lengths = [rng.randint(1, 4000) for _ in range(rng.randint(1, 50))]
        waste = e.paged_kv_waste_fraction(lengths, 16) * sum(e.kv_blocks_needed(n) for n in lengths) * 16
        assert 0 <= waste <= 15 * len(lengths) + 1e-6


# ---------------------------------------------------------------- percentiles and SLOs

def test_latency_percentile_matches_numpy_linear():
    import numpy as np
    rng = np.random.default_rng(0)
    values = rng.lognormal(0, 1, 101).tolist()
    for q in (0, 1, 50, 90, 99, 100):
        assert e.latency_percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert e.latency_percentile([1, 2, 3, 4], 50) == 2.5
    assert e.latency_percentile([5], 99) == 5
    with pytest.raises(ValueError):
        e.latency_percentile([], 50)
    with pytest.raises(ValueError):
        e.latency_percentile([1, 2], 150)


def test_histogram_quantile_on_the_vllm_docs_scrape():
    # vLLM's metrics design doc: 140 requests, TTFT buckets 0.001 ... 0.1 s
    bounds = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, math.inf]
    counts = [0, 0, 0, 13, 97, 123, 138, 140, 140]
    # p50: rank 70 falls in (0.02, 0.04]: 0.02 + 0.02 · (70 − 13) / (97 − 13)
    assert e.histogram_quantile(0.5, bounds, counts) == pytest.approx(0.02 + 0.02 * 57 / 84)
    # p99: rank 138.6 in (0.08, 0.1]: 0.08 + 0.02 · 0.6 / 2
    assert e.histogram_quantile(0.99, bounds, counts) == pytest.approx(0.086)
    assert e.histogram_quantile(1.0, bounds, counts) == pytest.approx(0.1)


def test_histogram_quantile_edges():
    inf = math.inf
    # rank in the +Inf bucket: the largest finite bound
    assert e.histogram_quantile(0.99, [1, 2, inf], [10, 20, 100]) == 2
    # first bucket interpolates from 0
    assert e.histogram_quantile(0.25, [4, inf], [8, 8]) == pytest.approx(1.0)
    for bad in ([1, 2], [2, 1, inf]):
        with pytest.raises(ValueError):
            e.histogram_quantile(0.5, bad, [1] * len(bad))
    with pytest.raises(ValueError):
        e.histogram_quantile(0.5, [1, 2, inf], [5, 3, 9])        # counts must be cumulative
    with pytest.raises(ValueError):
        e.histogram_quantile(0.5, [1, inf], [0, 0])
    with pytest.raises(ValueError):
        e.histogram_quantile(0, [1, inf], [1, 1])


def test_slo_attainment_and_goodput_by_hand():
    ttft = [0.2, 0.4, 1.5, 0.3]
    tpot = [0.02, 0.06, 0.02, None]                 # the last request produced one token
    # within TTFT 1 s and TPOT 50 ms: requests 1 and 4
    assert e.slo_attainment(ttft, tpot, 1.0, 0.05) == 0.5
    assert e.goodput_requests_per_s(ttft, tpot, 1.0, 0.05, duration_s=4) == 0.5
    assert e.slo_attainment(ttft, tpot, 2.0, 0.1) == 1.0
    with pytest.raises(ValueError):
        e.slo_attainment([0.1], [0.01, 0.02], 1, 1)


# ---------------------------------------------------------------- speculation, MoE, parallelism, pools

def test_best_draft_length_by_brute_force():
    k, gain = e.speculative_best_draft_tokens(0.8, 0.05)
    assert gain == max(e.speculative_speedup(0.8, j, 0.05) for j in range(1, 17))
    assert e.speculative_speedup(0.8, k, 0.05) == gain and 1 < k < 16
    # a poor draft at the target's cost never pays
    assert e.speculative_best_draft_tokens(0.3, 1.0) == (0, 1.0)


def test_moe_reads_more_experts_as_the_batch_grows():
    assert e.moe_expected_experts(256, 8, 1) == pytest.approx(8)
    assert e.moe_expected_experts(256, 8, 64) == pytest.approx(256 * (1 - (1 - 8 / 256) ** 64))
    assert e.moe_expected_experts(256, 8, 10_000) == pytest.approx(256, rel=1e-6)
    # DeepSeek-V3-like split: 17 B dense parameters, 256 experts of 2.55 B (all MoE layers), FP8
    one = e.moe_weight_bytes_per_step(17e9, 2.55e9, 256, 8, 1)
    assert one == pytest.approx(17e9 + 8 * 2.55e9)               # about the 37 B active parameters
    assert e.moe_weight_bytes_per_step(17e9, 2.55e9, 256, 8, 512) > 0.95 * (17e9 + 256 * 2.55e9)
    with pytest.raises(ValueError):
        e.moe_expected_experts(8, 9, 1)


def test_tensor_parallel_step_splits_reads_and_adds_allreduces():
    args = dict(params=70e9, weight_bytes=70e9, batch=16, peak_flop_s=989e12, bandwidth_bytes_s=3.35e12,
                hidden=8192, layers=80, link_bytes_s=450e9, allreduce_latency_s=5e-6)
    one = e.tensor_parallel_decode_step_time_s(tensor_parallel=1, **args)
    assert one["communication"] == 0 and one["total"] == pytest.approx(70e9 / 3.35e12)
    eight = e.tensor_parallel_decode_step_time_s(tensor_parallel=8, **args)
    assert eight["compute"] == pytest.approx(70e9 / 8 / 3.35e12)
    message = 16 * 8192 * 2
    assert eight["communication"] == pytest.approx(2 * 80 * (5e-6 + 2 * 7 / 8 * message / 450e9))
    assert eight["total"] < one["total"]


def test_disaggregated_pools_by_hand():
    # 20 req/s × 2,000 prompt tokens = 40,000 tokens/s ÷ 15,000 a GPU → 3 prefill GPUs;
    # 20 × 300 output tokens = 6,000 tokens/s ÷ 800 a GPU → 8 decode GPUs
    pools = e.disaggregated_pool_gpus(20, 2000, 300, 15_000, 800)
    assert (pools["prefill_gpus"], pools["decode_gpus"]) == (3, 8)
    assert e.prefill_tokens_per_s(70e9, 989e12, 0.5) == pytest.approx(989e12 * 0.5 / 140e9)


def test_serving_plan_is_consistent_with_the_pieces():
    kv = e.kv_cache_bytes_per_token(80, 8, 128, 1)                # FP8 KV cache
    plan = e.serving_plan(70.6e9, 1, kv, 80e9, 3.35e12, 1979e12, prompt_tokens=1000, output_tokens=250,
                          requests_per_s=20, ttft_slo_s=1.0, tpot_slo_s=0.05, usd_per_gpu_hour=6.88)
    assert plan["gpus_per_replica"] == 2                          # 70.6 GB of FP8 weights > 80 % of 72 GB
    assert plan["batch"] == min(plan["batch_within_tpot_slo"], plan["kv_capacity_sequences"])
    assert plan["tpot_s"] <= 0.05 and plan["meets_tpot"]
    assert plan["ttft_s"] == pytest.approx(e.prefill_time_s(70.6e9, 1000, 2 * 1979e12, 0.5))
    assert plan["replicas"] * plan["batch"] >= plan["requests_in_flight"]
    assert (plan["replicas"] - 1) * plan["batch"] < plan["requests_in_flight"]
    assert plan["usd_per_million_output_tokens_at_capacity"] == pytest.approx(
        e.cost_per_million_tokens(2 * 6.88, plan["tokens_per_s_per_replica"]))
    # serving below capacity costs more per token than the full-batch figure
    assert plan["usd_per_million_output_tokens_at_load"] >= plan["usd_per_million_output_tokens_at_capacity"]
    # a TPOT SLO that one GPU cannot meet even at batch 1 makes the replica wider
    tight = e.serving_plan(8e9, 2, e.kv_cache_bytes_per_token(32, 8, 128), 80e9, 3.35e12, 989e12, 1000, 250, 5,
                           1.0, 0.004, 4.0)
    assert tight["gpus_per_replica"] >= 2 and tight["meets_tpot"]
    # a fixed batch beyond the KV cache is reported, not hidden
    big = e.serving_plan(70.6e9, 1, kv, 80e9, 3.35e12, 1979e12, 1000, 250, 20, 1.0, 0.05, 6.88, batch=4096)
    assert not big["fits_kv"]


def test_model_kv_bytes_by_attention_kind():
    assert e.model_kv_bytes_per_token("GQA", 80, 8, 128) == 327_680
    assert e.model_kv_bytes_per_token("MHA", 40, 40, 128) == 819_200
    assert e.model_kv_bytes_per_token("MQA", 80, 64, 128) == 327_680 / 8
    assert e.model_kv_bytes_per_token("MLA", 61, 128, 128, 576) == 70_272
    with pytest.raises(ValueError):
        e.model_kv_bytes_per_token("MLA", 61, 128, 128)
    with pytest.raises(ValueError):
        e.model_kv_bytes_per_token("linear", 1, 1, 1)


def test_moe_param_split_of_deepseek_v3():
    dense, expert = e.moe_param_split(671e9, 256, 58, 7168, 2048)
    assert expert == 58 * 3 * 7168 * 2048
    assert (dense + 8 * expert) / 1e9 == pytest.approx(37, rel=0.03)        # the report's activated parameters
    with pytest.raises(ValueError):
        e.moe_param_split(1e9, 256, 58, 7168, 2048)
