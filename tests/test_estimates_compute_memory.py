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


# ---------------------------------------------------------------- capacities
def test_capacity_units_decimal_and_binary():
    assert e.capacity_bytes(80) == 80e9
    assert e.capacity_bytes(80, "GiB") == 80 * 2**30
    # nvidia-smi on an H100 80GB HBM3: 81559 MiB = 85,520,809,984 bytes (85.52 GB, 79.6 GiB)
    assert e.capacity_bytes(81559, "MiB") == 85_520_809_984
    with pytest.raises(ValueError):
        e.capacity_bytes(80, "gigs")


def test_fits_says_which_unit_it_reads_and_gets_the_h100_right():
    budget = 82e9  # more than the datasheet's 80 GB, less than nvidia-smi's 85.52 GB
    assert not e.fits(budget, 80)  # datasheet figure read as decimal GB: the safe side
    assert e.fits(budget, 81559, unit="MiB")
    assert e.fits(budget, 80, unit="GiB")  # 80 GiB would overstate what nvidia-smi shows
    assert e.capacity_bytes(80, "GiB") > e.capacity_bytes(81559, "MiB") > e.capacity_bytes(80)
    assert e.gpus_needed(170e9, 81559, unit="MiB") == 2 and e.gpus_needed(170e9, 80) == 3
    assert e.fits(70e9, 80, usable_fraction=0.9) and not e.fits(73e9, 80, usable_fraction=0.9)


def test_the_70b_budget_does_not_fit_an_h200():
    # lesson 2 section 13: Llama 2 70B in BF16 with 8 x 4,096 tokens of KV cache is about 148.7 GB
    serve = e.serving_memory(69e9, 2, 80, 8, 128, 4096, 8)
    assert serve["total"] / 1e9 == pytest.approx(148.7, abs=0.1)
    assert not e.fits(serve["total"], 141)
    assert e.fits(serve["total"], 180) and e.fits(serve["total"], 192)
    # FP8 weights bring it under the H200's 141 GB
    assert e.fits(e.serving_memory(69e9, 1, 80, 8, 128, 4096, 8)["total"], 141)


# ---------------------------------------------------------------- occupancy and the compute-bound batch
def test_resident_warps_follow_the_hopper_limits():
    # 64 registers x 256 threads = 16,384 registers a block: 4 blocks, 32 warps (half occupancy)
    r = e.resident_warps(256, 64)
    assert (r["blocks"], r["warps"], r["occupancy"], r["limited_by"]) == (4, 32, 0.5, "registers")
    # whole blocks only: 72 registers x 256 threads fits 3 blocks (24 warps), not 28 warps
    assert e.resident_warps(256, 72)["warps"] == 24 and 65536 // (72 * 32) == 28
    # few registers: the 64-warp cap binds (2,048 threads)
    assert e.resident_warps(1024, 16)["warps"] == 64
    # shared memory binds: 100 KB a block leaves room for 2 blocks of 228 KB
    smem = e.resident_warps(128, 32, 100 * 1024)
    assert smem["blocks"] == 2 and smem["limited_by"] == "shared memory"
    for bad in ((100, 32), (256, 300), (2048, 32)):
        with pytest.raises(ValueError):
            e.resident_warps(*bad)


def test_compute_bound_batch_is_just_above_the_ridge_for_a_square_weight():
    ridge = e.ridge_point(989e12, 3.35e12)
    m = e.compute_bound_batch(8192, 8192, 989e12, 3.35e12)
    assert m == math.ceil(ridge * 8192 / (8192 - 2 * ridge))
    assert e.gemm_intensity(m, 8192, 8192) >= ridge > e.gemm_intensity(m - 1, 8192, 8192)
    assert m > ridge  # the activations' own traffic pushes it past R
    with pytest.raises(ValueError):
        e.compute_bound_batch(256, 256, 989e12, 3.35e12)  # too small a weight to ever reach R


def test_shared_memory_peak_of_an_h100():
    assert e.shared_memory_bandwidth_bytes_s(132, 1.98e9) == pytest.approx(33.45e12, rel=1e-3)


# ---------------------------------------------------------------- number formats and FP8 scaling
def test_float_formats_against_numpy_and_the_fp8_paper():
    import numpy as np

    for name, dtype in (("fp32", np.float32), ("fp16", np.float16)):
        info, spec = np.finfo(dtype), e.float_format(name)
        assert spec["max_normal"] == float(info.max) and spec["min_normal"] == float(info.tiny)
        assert spec["epsilon"] == float(info.eps)
    assert e.float_format("fp8_e4m3")["max_normal"] == 448 and e.float_format("fp8_e5m2")["max_normal"] == 57344
    assert e.float_format("fp8_e4m3")["min_subnormal"] == 2.0**-9
    assert e.float_format("bf16")["min_normal"] == e.float_format("fp32")["min_normal"]
    with pytest.raises(ValueError):
        e.float_format("fp4")


def test_round_to_format_matches_numpy_fp16_and_saturates_fp8():
    import numpy as np

    x = np.random.default_rng(1).standard_normal(20000) * np.exp(np.random.default_rng(2).uniform(-20, 10, 20000))
    x = x[np.abs(x) < 65504]
    assert np.array_equal(e.round_to_format(x, "fp16"), x.astype(np.float16).astype(np.float64))
    got = e.round_to_format([500, -1000, 3.3, 1e-4, 0.0], "fp8_e4m3")
    assert list(got) == [448, -448, 3.25, 0.0, 0.0]
    # scaling rescues small values: 1e-4 flushes to zero in E4M3, 1e-4 x scale does not
    scale = e.fp8_scale(1e-3)
    assert e.round_to_format([1e-4 * scale], "fp8_e4m3")[0] / scale == pytest.approx(1e-4, rel=0.07)
    with pytest.raises(ValueError):
        e.round_to_format([float("inf")], "fp16")


def test_fp8_scale_maps_amax_to_the_format_max():
    assert e.fp8_scale(3.5) == 128
    assert e.fp8_scale(3.5, margin=1) == 64
    assert e.fp8_scale(1.0, "fp8_e5m2") == 57344
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            e.fp8_scale(1.0, margin=bad)
