"""Charts of lesson 08-inference: Figures whose drawn numbers are the estimates' and the lab's."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from infraprep import estimates, tables
from infraprep.charts import inference as charts
from infraprep.labs import serving
from infraprep.widgets import inference as planner


@pytest.fixture(scope="module")
def sheet():
    return tables.load("02-gpu", "datasheets")


def test_decode_batching_draws_the_roofline_step_times(sheet):
    fig = charts.decode_batching(sheet, 8e9, 16e9, 131_072, 2048, gpus=["H100 SXM", "B200 (HGX)"],
                                 batches=[1, 8, 64, 512])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    left, right = fig.axes
    lines = [l for l in right.get_lines() if len(l.get_xdata()) == 4]
    h100 = sheet.set_index("gpu").loc["H100 SXM"]
    step = estimates.decode_step_time_s(8e9, 16e9, 64, h100.bf16_dense_tflops * 1e12, h100.bandwidth_tb_s * 1e12,
                                        2048, 131_072)
    assert lines[0].get_ydata()[2] == pytest.approx(64 / step)
    per_sequence = [l for l in left.get_lines() if len(l.get_xdata()) == 4][0].get_ydata()
    assert list(per_sequence) == sorted(per_sequence, reverse=True)        # never faster for a bigger batch
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["H100 SXM", "B200 (HGX)"]


def test_kv_capacity_counts_sequences_per_layout():
    fig = charts.kv_capacity(100e9, {"GQA": 327_680, "MHA": 2_621_440}, contexts=[1024, 8192])
    lines = fig.axes[0].get_lines()
    assert list(lines[0].get_ydata()) == [estimates.kv_capacity_sequences(100e9, n, 327_680) for n in (1024, 8192)]
    assert lines[0].get_ydata()[0] // lines[1].get_ydata()[0] == 8       # GQA's 8 KV heads of 64


def test_speculative_chart_marks_the_best_draft_length():
    fig = charts.speculative_speedups((0.6, 0.9), 0.05, 10)
    ax = fig.axes[0]
    stars = [l for l in ax.get_lines() if l.get_marker() == "*"]
    assert len(stars) == 2
    k, gain = estimates.speculative_best_draft_tokens(0.9, 0.05, 10)
    assert (stars[1].get_xdata()[0], stars[1].get_ydata()[0]) == (k, pytest.approx(gain))


def test_serving_cost_bars_are_the_table_values():
    d = tables.load("02-gpu", "datasheets")
    costs = planner.cost_table(tables.load("08-inference", "instances"), d, tables.load("08-inference", "precision"),
                               planner.model_row(tables.load("08-inference", "models"), "Llama 3.1 70B"))
    fig = charts.serving_cost(costs)
    widths = sorted(p.get_width() for p in fig.axes[0].patches if p.get_width() > 0)
    assert widths == pytest.approx(sorted(costs["usd_per_million_output_tokens"]))


def test_lab_charts_draw_the_measurements():
    curve = serving.DecodeCurve(serving.ModelConfig(), 32, pd.DataFrame({
        "batch": [1, 2, 4], "step_ms": [2.0, 2.2, 3.0], "ms_per_token": [2.0, 1.1, 0.75], "tokens_per_s": [500, 909, 1333],
        "flops": [1e7, 2e7, 4e7], "bytes_read": [1e7, 1e7, 1e7], "intensity_flop_per_byte": [1, 2, 4]}))
    fig = charts.lab_decode_curve(curve.with_roofline(1e10, 1e10))
    measured = fig.axes[0].get_lines()[0]
    assert list(measured.get_ydata()) == [2.0, 2.2, 3.0]
    model = serving.TinyDecoder(serving.ModelConfig(d_model=64, ffn=128, layers=1, heads=4, kv_heads=2))
    trace = serving.make_trace(6, 1000.0, (4, 8), (2, 6), seed=1)
    c, s = serving.serve_side_by_side(model, trace, kv_blocks=24, max_batch=4, token_budget=64)
    fig = charts.lab_serving_comparison(c, s)
    assert len(fig.axes) == 3
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([c.throughput_tokens_s, s.throughput_tokens_s])


def test_incident_timeline_plots_the_log():
    stats = serving.engine_stats(tables.artefact("08-inference", "vllm-preemption.log"))
    fig = charts.incident_timeline(stats)
    ax, kv = fig.axes
    assert list(ax.get_lines()[0].get_ydata()) == list(stats["running"])
    assert list(kv.get_lines()[0].get_ydata()) == list(stats["kv_cache_usage_pct"])


def test_roofline_point_sits_on_the_roof():
    fig = charts.roofline_point(1e15, 2e12, {"decode": 50.0, "prefill": 4000.0})
    points = [l for l in fig.axes[0].get_lines() if l.get_marker() == "o"]
    assert points[0].get_ydata()[0] == pytest.approx(50 * 2e12 / 1e12)
    assert points[1].get_ydata()[0] == pytest.approx(1000)
