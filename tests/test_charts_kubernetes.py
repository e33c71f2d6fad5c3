"""Lesson 4 charts: figures built from simulation results."""

import pytest
from matplotlib.figure import Figure

from infraprep.charts import kubernetes as kc
from infraprep.labs import scheduler as s


@pytest.fixture(scope="module")
def runs():
    per_pod = s.simulate(s.deadlock_scenario(), policy="per-pod", horizon=25)
    gang = s.simulate(s.deadlock_scenario(), policy="gang", horizon=25)
    return per_pod, gang


def test_utilisation_timeline_has_busy_and_allocated_lines_and_marks_deadlock(runs):
    fig = kc.utilisation_timeline(list(runs))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2 * 2 + 1  # two lines a result, one deadlock marker
    assert any("deadlock" in t.get_text() for t in ax.texts)
    busy = ax.get_lines()[0].get_ydata()
    assert max(busy) == 0  # the per-pod run never does useful work


def test_fragmentation_timeline_plots_stranded_gpus():
    jobs = s.fragmentation_scenario()
    spread = s.simulate(jobs, nodes=8, policy="gang", placement="spread")
    pack = s.simulate(jobs, nodes=8, policy="gang", placement="pack")
    fig = kc.fragmentation_timeline([spread, pack])
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    assert list(lines[0].get_ydata()) == list(spread.timeline["stranded_gpus"])


def test_cluster_map_shows_each_gpu(runs):
    per_pod, _ = runs
    fig = kc.cluster_map(per_pod, 0)
    image = fig.axes[0].get_images()[0].get_array()
    assert image.shape == (4, 8)
    assert {int(v) for v in image.ravel()} == {1, 2}  # two jobs, no free GPU
    with pytest.raises(ValueError):
        kc.cluster_map(per_pod, 999)
    with pytest.raises(ValueError):
        kc.utilisation_timeline([])
