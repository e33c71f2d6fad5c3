"""Charts of lesson 02-gpu: they return Figures whose content matches the tables."""

import re

import numpy as np
import pytest
from matplotlib.figure import Figure

from infraprep import estimates, tables
from infraprep.charts import gpu as charts


@pytest.fixture(scope="module")
def sheet():
    return tables.load("02-gpu", "datasheets")


@pytest.fixture(scope="module")
def ops():
    return tables.load("02-gpu", "operations")


def test_operation_intensities(ops):
    out = charts.operation_intensities(ops)
    by = out.set_index("operation")["intensity_flop_per_byte"]
    assert by["vector add (bf16)"] == pytest.approx(1 / 6)
    assert by["GEMM batch 1 (decode)"] == pytest.approx(1.0, rel=1e-3)
    gemms = out[out["kind"] == "gemm"].sort_values("m")
    assert gemms["intensity_flop_per_byte"].is_monotonic_increasing
    assert len(out) == len(ops) and "intensity_flop_per_byte" not in ops.columns


def test_roofline_has_one_roof_per_gpu_with_the_right_peak(sheet, ops):
    fig = charts.roofline(sheet, ops, gpus=["H100 SXM", "L40S"])
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    roofs = [line for line in ax.get_lines() if len(line.get_xdata()) > 10]
    assert len(roofs) == 2
    peaks = sorted(float(np.max(line.get_ydata())) for line in roofs)
    assert peaks == pytest.approx([362, 989])
    # every operation is drawn as a point on the H100 roof
    points = [line for line in ax.get_lines() if line.get_marker() == "s"]
    assert len(points) == len(ops)
    h100 = sheet.set_index("gpu").loc["H100 SXM"]
    for line, op in zip(points, charts.operation_intensities(ops).itertuples()):
        expected = estimates.attainable_flop_s(op.intensity_flop_per_byte, h100.bf16_dense_tflops * 1e12,
                                               h100.bandwidth_tb_s * 1e12) / 1e12
        assert line.get_ydata()[0] == pytest.approx(expected)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("ridge 295" in label for label in labels)


def test_roofline_rejects_unknown_gpus(sheet, ops):
    with pytest.raises(ValueError):
        charts.roofline(sheet, gpus=["Z9000"])
    with pytest.raises(ValueError):
        charts.roofline(sheet, ops, place_on="Z9000")


def test_bandwidth_vs_capacity_plots_every_gpu_once(sheet):
    fig = charts.bandwidth_vs_capacity(sheet)
    ax = fig.axes[0]
    offsets = np.vstack([c.get_offsets() for c in ax.collections])
    assert len(offsets) == len(sheet)
    assert sorted(map(tuple, offsets.tolist())) == sorted(zip(sheet["memory_gb"].astype(float), sheet["bandwidth_tb_s"]))
    assert len(ax.collections) == 2  # HBM and GDDR groups
    assert "bandwidth" in ax.get_ylabel() and "capacity" in ax.get_xlabel()


def test_machine_roofline_titles_the_gap():
    fig = charts.machine_roofline(1e11, 2e10, 989e12, 3.35e12)
    ax = fig.axes[0]
    assert "9,890×" in ax.get_title()
    ridges = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert sorted(float(line.get_xdata()[0]) for line in ridges) == pytest.approx([5.0, 989 / 3.35])


def test_peer_bandwidth_chart_shows_one_peer_against_all_peers(sheet):
    fig = charts.peer_bandwidth_chart(sheet, gpus=["H100 SXM", "MI300X"])
    ax = fig.axes[0]
    heights = [round(p.get_height()) for p in ax.patches]
    # bars: one peer (H100, MI300X), then seven peers (H100, MI300X)
    assert heights == [450, 64, 450, 448]
    assert fig.get_size_inches()[0] * fig.dpi <= 1400
    with pytest.raises(ValueError):
        charts.peer_bandwidth_chart(sheet, gpus=["Z9000"])


def test_machine_roofline_draws_the_like_for_like_fp32_roof():
    fig = charts.machine_roofline(0.2e12, 30e9, 989e12, 3.35e12, reference_fp32_flop_s=67e12)
    ax = fig.axes[0]
    peaks = sorted(round(float(np.max(line.get_ydata())), 1) for line in ax.get_lines() if len(line.get_xdata()) > 10)
    assert peaks == [0.2, 67.0, 989.0]
    assert "335× the peak at FP32" in ax.get_title() and "4,945×" in ax.get_title()


@pytest.mark.parametrize("value, text", [
    (16384, "16,384"), (2.039, "2.039"), (295.2238, "295.2"), (0.0136, "0.0136"), (1.1755e-38, "1.18 × 10⁻³⁸"),
    (3.4028e38, "3.4 × 10³⁸"), (float("nan"), ""), (1.0, "1"), (1234567.891, "1,234,568"), ("H100", "H100"),
    (True, "True"),
])
def test_readable_number(value, text):
    assert charts.readable_number(value) == text


def test_number_table_never_shows_six_decimals_or_e_notation(sheet):
    html = charts.number_table(sheet).to_html()
    assert not re.search(r"\d\.\d{6}\b", html) and not re.search(r"\de[+-]\d", html)
    assert "1,979" in html and "2.039" in html
    assert "source" not in html and "compute_units_source" not in html and "nv-h100" not in html
