"""Formulas of infraprep.estimates.compute and .memory, checked against published worked examples."""

import math

import pytest

from infraprep import estimates as e


# ---------------------------------------------------------------- compute
def test_h100_ridge_point_is_about_295():
    # COURSE.md and the H100 datasheet: 989 TFLOP/s dense BF16 over 3.35 TB/s.
    assert e.ridge_point(989e12, 3.35e12) == pytest.approx(295.2, abs=0.1)


def test_attainable_is_bandwidth_times_intensity_below_ridge_and_peak_above():
    assert e.attainable_flop_s(10, 989e12, 3.35e12) == pytest.approx(33.5e12)
    assert e.attainable_flop_s(1000, 989e12, 3.35e12) == 989e12


def test_bound_by_switches_at_the_ridge():
    ridge = e.ridge_point(989e12, 3.35e12)
    assert e.bound_by(ridge * 0.99, 989e12, 3.35e12) == "memory-bound"
    assert e.bound_by(ridge * 1.01, 989e12, 3.35e12) == "compute-bound"


def test_gemm_flops_and_intensity():
    assert e.gemm_flops(2, 3, 4) == 48
    # batch-1 matrix-vector product in bf16: about 1 FLOP per byte (scaling-book, GPU chapter)
    assert e.gemm_intensity(1, 8192, 8192, 2) == pytest.approx(1.0, rel=1e-3)
    # large square bf16 GEMM: 2n^3 / (2 * 3n^2) = n/3
    assert e.gemm_intensity(3000, 3000, 3000, 2) == pytest.approx(1000.0)
    # intensity grows with batch: memory-bound at batch 64, compute-bound at 1024 on an H100
    assert e.bound_by(e.gemm_intensity(64, 8192, 8192), 989e12, 3.35e12) == "memory-bound"
    assert e.bound_by(e.gemm_intensity(1024, 8192, 8192), 989e12, 3.35e12) == "compute-bound"


def test_elementwise_intensity_of_bf16_add():
    assert e.elementwise_intensity(1, 6) == pytest.approx(1 / 6)


def test_roofline_time_takes_the_slower_of_compute_and_traffic():
    assert e.roofline_time_s(1e12, 1e9, 1e12, 1e12) == pytest.approx(1.0)
    assert e.roofline_time_s(1e9, 1e12, 1e12, 1e12) == pytest.approx(1.0)
    assert e.roofline_time_s(1e9, 1e9, 1e12, 1e12) == pytest.approx(1e-3)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "x", True])
def test_compute_inputs_are_validated(bad):
    with pytest.raises(ValueError):
        e.ridge_point(bad, 1e12)


# ---------------------------------------------------------------- memory
def test_zero_paper_example_7_5b_on_64_gpus():
    # ZeRO paper, Figure 1: 120 GB, 31.4 GB, 16.6 GB, 1.9 GB per GPU.
    psi = 7.5e9
    wanted = {0: 120, 1: 31.4, 2: 16.6, 3: 1.9}
    for stage, gb in wanted.items():
        assert e.zero_bytes_per_gpu(psi, 64, stage) / 1e9 == pytest.approx(gb, rel=0.02)
        assert e.training_memory(psi, 64, stage)["total"] / 1e9 == pytest.approx(gb, rel=0.02)


def test_training_memory_parts_and_activations():
    parts = e.training_memory(1e9, activation_bytes=5e9)
    assert (parts["weights"], parts["gradients"], parts["optimizer"]) == (2e9, 2e9, 12e9)
    assert parts["total"] == pytest.approx(21e9)
    with pytest.raises(ValueError):
        e.training_memory(1e9, zero_stage=4)
    with pytest.raises(ValueError):
        e.training_memory(1e9, activation_bytes=-1)


def test_70b_training_state_needs_about_1_1_tb():
    assert e.training_memory(70e9)["total"] == pytest.approx(1.12e12)


def test_llama2_70b_kv_cache_per_token():
    # 80 layers, 8 KV heads (GQA), head_dim 128, bf16: 2*80*8*128*2 = 327,680 bytes (0.3125 MiB)
    assert e.kv_cache_bytes_per_token(80, 8, 128, 2) == 327_680
    assert e.kv_cache_bytes(80, 8, 128, 4096, batch=8) == 327_680 * 4096 * 8


def test_serving_memory_adds_weights_kv_and_overhead():
    parts = e.serving_memory(7e9, 2, 32, 32, 128, 4096, 1, 2, 0.1)
    assert parts["weights"] == 14e9
    assert parts["kv_cache"] == 2 * 32 * 32 * 128 * 2 * 4096
    assert parts["overhead"] == pytest.approx(0.1 * (parts["weights"] + parts["kv_cache"]))
    assert parts["total"] == pytest.approx(sum(v for k, v in parts.items() if k != "total"))
    with pytest.raises(ValueError):
        e.serving_memory(7e9, 2, 32, 32, 128, 4096, overhead_fraction=1.5)


def test_activation_memory_korthikanti():
    s, b, h, a = 2048, 1, 12288, 96
    none = e.transformer_activation_bytes(1, s, b, h, a, "none")
    full = e.transformer_activation_bytes(1, s, b, h, a, "full")
    assert none == pytest.approx(s * b * h * 114)  # 34 + 5*96*2048/12288 = 34 + 80
    assert full == 2 * s * b * h
    assert e.transformer_activation_bytes(96, s, b, h, a, "full") == 96 * full
    with pytest.raises(ValueError):
        e.transformer_activation_bytes(1, s, b, h, a, "selective")


def test_fits_and_gpus_needed():
    assert e.fits(80e9, 80)
    assert not e.fits(80e9 + 1, 80)
    assert not e.fits(75e9, 80, usable_fraction=0.9)
    assert e.gpus_needed(1.12e12, 80) == 14
    assert e.gpus_needed(160e9, 80) == 2
    assert e.gpus_needed(1, 80) == 1
    with pytest.raises(ValueError):
        e.gpus_needed(1e9, 80, usable_fraction=0)


def test_weights_bytes_for_precisions():
    assert e.weights_bytes(70e9, 2) == 140e9
    assert e.weights_bytes(70e9, 0.5) == 35e9
    assert math.isclose(e.weights_bytes(1e9, 4), 4e9)
