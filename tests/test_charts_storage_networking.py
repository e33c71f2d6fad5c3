"""Charts of lesson 6 draw what they claim."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from infraprep import parsers, tables
from infraprep.charts import storage_networking as charts


def test_checkpoint_write_times_lines_follow_size_over_bandwidth():
    fig = charts.checkpoint_write_times({"fast": 400, "slow": 10}, sizes_tb=[0.1, 1, 10], models={"70B": 70e9})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 3]
    assert len(lines) == 2
    fast, slow = (np.asarray(line.get_ydata()) for line in lines)
    assert fast == pytest.approx([0.25, 2.5, 25])
    assert slow == pytest.approx([10, 100, 1000])
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    marks = [line for line in ax.get_lines() if len(line.get_xdata()) == 2]
    assert marks and marks[0].get_xdata()[0] == pytest.approx(0.98)
    with pytest.raises(ValueError):
        charts.checkpoint_write_times({})


def test_fat_tree_scaling_stops_at_two_level_limit():
    fig = charts.fat_tree_scaling(radix=8, link_gbit_s=400, oversubscriptions=(1,), hosts=[4, 8, 16, 32, 40])
    ax, right = fig.axes
    switches = ax.get_lines()[0]
    assert list(switches.get_xdata()) == [4, 8, 16, 32]  # 40 > 8²/2 needs a third level
    assert list(switches.get_ydata()) == [2, 3, 6, 12]
    bisection = right.get_lines()[0]
    assert bisection.get_ydata()[-1] == pytest.approx(16 * 400 / 1000)  # 16 hosts x 400 Gb/s = 6.4 Tb/s


def test_nccl_curves():
    runs = {"healthy": parsers.parse_nccl_tests(tables.artefact("06-storage-networking", "all_reduce_perf_2nodes.txt"))}
    fig = charts.nccl_busbw_curves(runs, reference_gb_s=400)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert max(ax.get_lines()[0].get_ydata()) == pytest.approx(runs["healthy"]["oop_busbw_gb_s"].max())
    with pytest.raises(ValueError):
        charts.nccl_busbw_curves({})


def test_infiniband_generations_marks_the_steps_that_do_not_double():
    gens = tables.load("06-storage-networking", "infiniband_generations")
    fig = charts.infiniband_generations(gens)
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == list(gens["port_4x_gbit_s"])
    steps = [t.get_text() for t in ax.texts]
    assert steps == ["×2", "×2", "×1.4", "×1.8", "×2", "×2", "×2"]
    with pytest.raises(ValueError):
        charts.infiniband_generations(gens.iloc[:0])


def test_ecmp_efficiency_lines_are_the_estimates():
    from infraprep import estimates

    fig = charts.ecmp_efficiency(paths=(8,), flows_per_path=(1, 2, 4))
    line = fig.axes[0].lines[0]
    assert list(line.get_ydata()) == pytest.approx([estimates.ecmp_collective_efficiency(8 * x, 8) for x in (1, 2, 4)])


def test_fabric_size_plots_full_and_rail_only():
    from infraprep import estimates

    fig = charts.fabric_size(gpu_counts=(2048, 16384), radix=64, rails=8)
    full, rail = fig.axes[0].lines[:2]
    assert list(full.get_ydata()) == [96, 1280]
    assert list(rail.get_ydata()) == [estimates.rail_only_fabric(256, 8, 64)["switches"], 768]
