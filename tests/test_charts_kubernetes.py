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


def test_numa_admission_map_shows_the_strictest_policy_that_admits():
    fig = kc.numa_admission_map()
    ax = fig.axes[0]
    grid = ax.get_images()[0].get_array()
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert grid.shape == (len(rows), 8) and rows[0] == "4 + 4"
    # an empty node: requests up to 4 fit one socket (all admit); 5 to 8 span both (restricted admits)
    assert list(grid[0]) == [3, 3, 3, 3, 2, 2, 2, 2]
    # one free GPU on each socket: a 2-GPU request is refused by restricted, admitted by best-effort
    one_one = rows.index("1 + 1")
    assert grid[one_one][0] == 3 and grid[one_one][1] == 1 and grid[one_one][2] == 0
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(kc.NUMA_VERDICTS)
    width, _height = fig.get_size_inches()
    assert width * fig.dpi <= 1400
    with pytest.raises(ValueError):
        kc.numa_admission_map((4,))


def test_charts_fit_the_notebook_width():
    per_pod = s.simulate(s.deadlock_scenario(), policy="per-pod", horizon=25)
    for fig in (kc.utilisation_timeline([per_pod]), kc.cluster_map(per_pod, 0), kc.numa_admission_map()):
        width, height = fig.get_size_inches()
        assert width * 100 <= 1400 and height * 100 <= 900  # inline figures are shown at 100 dpi


def test_titles_labels_and_legends_stay_inside_the_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    per_pod = s.simulate(s.deadlock_scenario(), policy="per-pod", horizon=25)
    jobs = s.fragmentation_scenario()
    figures = [kc.utilisation_timeline([per_pod, s.simulate(s.deadlock_scenario(), policy="gang", horizon=25)]),
               kc.fragmentation_timeline([s.simulate(jobs, nodes=8, policy="gang", placement=p) for p in s.PLACEMENTS]),
               kc.cluster_map(per_pod, 0, title="Per-pod scheduling at step 0: each big job holds half the cluster"),
               kc.numa_admission_map()]
    for fig in figures:
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        box = fig.bbox
        texts = [t for legend in fig.legends for t in legend.get_texts()]
        for ax in fig.axes:
            texts += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
            texts += [t for legend in [ax.get_legend()] if legend for t in legend.get_texts()]
            for axis, (low, high) in ((ax.xaxis, sorted(ax.get_xlim())), (ax.yaxis, sorted(ax.get_ylim()))):
                texts += [tick.label1 for tick in axis.get_major_ticks() if low <= tick.get_loc() <= high]
        for text in (t for t in texts if t.get_visible() and t.get_text()):
            extent = text.get_window_extent(renderer)
            assert extent.x0 >= box.x0 - 1 and extent.x1 <= box.x1 + 1, (text.get_text(), extent, box)
            assert extent.y0 >= box.y0 - 1 and extent.y1 <= box.y1 + 1, (text.get_text(), extent, box)
