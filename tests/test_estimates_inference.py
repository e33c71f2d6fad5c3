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
