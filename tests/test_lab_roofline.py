"""The roofline lab: real (quick) measurements, the median logic, and the comparison with an H100."""


import pytest

from infraprep import tables
from infraprep.labs import roofline


def test_median_seconds_uses_the_median_and_skips_warmup():
    calls = []
    ticks = iter([0, 1, 10, 13, 20, 20.5, 30, 35, 40, 42])  # durations 1, 3, 0.5, 5, 2
    result = roofline.median_seconds(lambda: calls.append(1), repeats=5, warmup=2, clock=lambda: next(ticks))
    assert result == 2
    assert len(calls) == 7


def test_median_seconds_validates_repeats():
    with pytest.raises(ValueError):
        roofline.median_seconds(lambda: None, repeats=0)


def test_quick_measurement_is_real_and_plausible():
    result = roofline.measure(quick=True)
    assert list(result.matmul["n"]) == list(roofline.QUICK["matmul_sizes"])
    assert (result.matmul["flops"] == 2 * result.matmul["n"] ** 3).all()
    # any CPU of the last decade: between 0.1 GFLOP/s and 100 TFLOP/s, 0.1 GB/s and 10 TB/s
    assert 1e8 < result.peak_flop_s < 1e14
    assert 1e8 < result.bandwidth_bytes_s < 1e13
    assert result.peak_flop_s == result.matmul["flop_s"].max()
    assert result.ridge_flop_per_byte == pytest.approx(result.peak_flop_s / result.bandwidth_bytes_s)
    assert (result.bandwidth["bytes_moved"] == 2 * result.bandwidth["array_mb"] * 1e6).all()


def test_compare_and_plot_against_h100():
    sheet = tables.load("02-gpu", "datasheets")
    result = roofline.RooflineResult(1e11, 2e10, None, None)
    table = result.compare(sheet).set_index("system")
    bf16 = table.loc["H100 SXM (dense BF16, tensor cores)"]
    assert bf16["ridge_flop_per_byte"] == pytest.approx(295.2, abs=0.1)
    assert bf16["peak_vs_this_machine"] == pytest.approx(9890)
    # the like-for-like row: the CPU is measured in FP32, so the GPU's FP32 (CUDA-core) peak of 67 TFLOP/s
    fp32 = table.loc["H100 SXM (FP32, CUDA cores: like for like)"]
    assert fp32["peak_tflop_s"] == 67 and fp32["peak_vs_this_machine"] == pytest.approx(670)
    assert fp32["ridge_flop_per_byte"] == pytest.approx(67 / 3.35)
    assert len(result.compare(sheet, gpu="B200 (HGX)")) == 2  # no FP32 figure in the table: that row is left out
    assert result.summary().loc[0, "ridge_flop_per_byte"] == pytest.approx(5.0)
    fig = result.plot(sheet, gpu="H200 SXM")
    assert "H200" in " ".join(t.get_text() for t in fig.axes[0].get_legend().get_texts())
    with pytest.raises(ValueError):
        result.compare(sheet, gpu="Z9000")


def test_measure_rejects_unknown_settings():
    with pytest.raises(ValueError):
        roofline.measure(sizes=(1,))


def test_matmul_measurement_counts_flops_per_size():
    frame = roofline.measure_matmul(sizes=(8, 16), repeats=1)
    assert frame["flops"].tolist() == [2 * 8**3, 2 * 16**3]
    assert (frame["flop_s"] == frame["flops"] / frame["median_s"]).all()
