"""Lesson 3 charts: they plot the formulas they claim to, and mark what they say they mark."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from infraprep import estimates, tables
from infraprep.charts import distributed as charts
from infraprep.labs.allreduce import LabResult


def test_zero_chart_plots_each_stage_formula():
    counts = [1, 4, 16, 64, 256]
    fig = charts.zero_memory_chart(7.5e9, counts, gpu_memory_gb=80)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) == len(counts)]
    assert len(lines) == 4
    for stage, line in enumerate(lines):
        want = [estimates.zero_bytes_per_gpu(7.5e9, n, stage) / 1e9 for n in counts]
        np.testing.assert_allclose(line.get_ydata(), want)
    # stage 3 halves when N doubles; stage 1 flattens towards 4Ψ
    stage3 = lines[3].get_ydata()
    assert stage3[2] / stage3[3] == pytest.approx(4)
    assert 30 < lines[1].get_ydata()[-1] < 30.5  # 4Ψ = 30 GB plus 12Ψ/256
    assert any(line.get_linestyle() == "--" and line.get_ydata()[0] == 80 for line in ax.get_lines())
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_allreduce_chart_ring_vs_tree_and_crossover():
    sizes = np.logspace(3, 9, 25)
    fig = charts.allreduce_time_chart(64, 5e-6, 25e9, sizes)
    ax = fig.axes[0]
    ring, tree = ax.get_lines()[:2]
    np.testing.assert_allclose(ring.get_ydata(), [estimates.ring_allreduce_time_s(s, 64, 5e-6, 25e9) for s in sizes])
    np.testing.assert_allclose(tree.get_ydata(), [estimates.tree_allreduce_time_s(s, 64, 5e-6, 25e9) for s in sizes])
    assert tree.get_ydata()[0] < ring.get_ydata()[0] and ring.get_ydata()[-1] < tree.get_ydata()[-1]
    cross = estimates.ring_tree_crossover_bytes(64, 5e-6, 25e9)
    assert any(list(line.get_xdata()) == [cross, cross] for line in ax.get_lines()[2:])


def test_allreduce_chart_without_crossover_in_range_has_no_marker():
    fig = charts.allreduce_time_chart(64, 5e-6, 25e9, [1e8, 1e9])
    assert len(fig.axes[0].get_lines()) == 2


def test_bubble_chart_values():
    fig = charts.bubble_chart(stages=(4, 8), max_microbatches=32)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    assert lines[0].get_ydata()[11] == pytest.approx(3 / 15)  # p = 4, m = 12
    assert all(np.diff(lines[1].get_ydata()) < 0)


def test_lab_fit_chart_draws_points_and_the_fitted_line():
    frame = pd.DataFrame({"size_bytes": [4096, 65536, 1048576], "median_s": [1e-4, 3e-4, 3e-3],
                          "best_s": [9e-5, 2.5e-4, 2.8e-3], "repeats": 5, "correct": True})
    fit = estimates.fit_ring_alpha_beta(frame["size_bytes"], frame["median_s"], 4, relative=True)
    fig = charts.lab_fit_chart(LabResult(4, frame, fit, 0.0, True))
    ax = fig.axes[0]
    assert len(ax.collections) == 2  # median and best scatter
    (line,) = ax.get_lines()
    xs = line.get_xdata()
    assert xs[0] == pytest.approx(4096) and xs[-1] == pytest.approx(1048576)
    assert line.get_ydata()[0] == pytest.approx(estimates.ring_allreduce_time_s(4096, 4, fit["alpha_s"], fit["bandwidth_bytes_s"]))


def test_step_time_chart_uses_the_trace_and_marks_the_collapse():
    trace = tables.load("03-distributed", "step_times")
    fig = charts.step_time_chart(trace, collapse_step=44937)
    main, twin = fig.axes
    np.testing.assert_allclose(main.get_lines()[0].get_ydata(), trace["tokens_per_s"] / 1e6)
    np.testing.assert_allclose(twin.get_lines()[0].get_ydata(), trace["data_wait_s"])
    assert any(list(line.get_xdata()) == [44937, 44937] for line in main.get_lines())
    with pytest.raises(ValueError, match="tokens_per_s"):
        charts.step_time_chart(trace.drop(columns=["tokens_per_s"]))


def test_charts_reject_bad_inputs():
    with pytest.raises(ValueError):
        charts.zero_memory_chart(7.5e9, [])
    with pytest.raises(ValueError):
        charts.zero_memory_chart(-1, [1, 2])
    with pytest.raises(ValueError):
        charts.allreduce_time_chart(0, 5e-6, 25e9)


def test_schedule_chart_orders_the_schedules():
    from infraprep.charts import distributed as charts

    fig = charts.schedule_chart(stages=8, max_microbatches=32)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 4
    at_32 = [float(line.get_ydata()[-1]) for line in lines]
    assert at_32[0] == pytest.approx(estimates.schedule_bubble_fraction("1f1b", 8, 32))
    assert at_32 == sorted(at_32, reverse=True) and at_32[-1] == 0


def test_format_ranges_chart_spans_each_format():
    import numpy as np

    from infraprep.charts import distributed as charts

    fig = charts.format_ranges_chart(["fp16", "fp8_e4m3"], values=np.full(10, 1e-6))
    ax = fig.axes[0]
    bars = sorted((p.get_y(), p.get_x(), p.get_x() + p.get_width()) for p in ax.patches if p.get_width() and abs(p.get_height() - 0.6) < 1e-9)
    # the top bar (fp16): normal range from log10(6.1e-5) to log10(65504)
    tops = [b for b in bars if b[0] > 0.5]
    assert max(t[2] for t in tops) == pytest.approx(np.log10(65504))
    assert any("max 448" == t.get_text() for t in ax.texts)
