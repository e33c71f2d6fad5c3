"""Charts of lesson 9 draw what they claim, and the architecture helper draws all four designs."""

import math

import numpy as np
import pytest
import yaml
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from infraprep import estimates, tables
from infraprep.charts import design as charts

LESSON = "09-system-design"


@pytest.fixture(scope="module")
def layouts():
    return yaml.safe_load(tables.artefact(LESSON, "architectures.yaml"))


def _fields(layout):
    import string

    names = set()
    texts = [layout.get("title", "")] + [b["label"] for b in layout["boxes"]]
    texts += [a.get("label", "") for a in layout.get("arrows", [])] + [g.get("label", "") for g in layout.get("groups", [])]
    for text in texts:
        names |= {field for _, field, _, _ in string.Formatter().parse(text) if field}
    return names


def test_every_layout_draws_with_its_values(layouts):
    assert set(layouts) == {"training", "serving", "training_platform", "data_pipeline"}
    for name, layout in layouts.items():
        values = {field: 1 for field in _fields(layout)}
        fig = charts.architecture(layout, values)
        assert isinstance(fig, Figure)
        ax = fig.axes[0]
        boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
        assert len(boxes) == len(layout["boxes"])
        texts = {t.get_text() for t in ax.texts}
        assert all(str(b["label"]).format(**values) in texts for b in layout["boxes"])
        arrows = [a for a in ax.texts if getattr(a, "arrow_patch", None) is not None]
        assert len(arrows) == len(layout["arrows"])
        assert "{" not in ax.get_title()


def test_diagrams_fit_the_notebook_and_every_label_fits_its_box(layouts):
    """Drawn with the numbers the lesson shows: at most 9.6 inches wide (960 px at the 100 dpi the
    lesson draws at, inside JupyterLab's 968 px column at a 1,400 px window, so nothing is shrunk),
    each box's text inside its box, and no arrow's label over a box."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from infraprep.widgets import design as designs

    values = {"training": designs.training_cluster()["diagram"], "serving": designs.serving_platform()["diagram"],
              "training_platform": designs.ml_platform()["diagram"], "data_pipeline": designs.data_pipeline()["diagram"]}
    for name, layout in layouts.items():
        fig = charts.architecture(layout, values[name])
        assert fig.get_size_inches()[0] <= 9.6, name
        renderer = FigureCanvasAgg(fig).get_renderer()
        ax = fig.axes[0]
        boxes = [p.get_window_extent(renderer) for p in ax.patches if isinstance(p, FancyBboxPatch)]
        labels = [t for t in ax.texts if getattr(t, "arrow_patch", None) is None and t.get_bbox_patch() is None]
        for box in boxes:
            for text in (t.get_window_extent(renderer) for t in labels):
                if box.contains(*text.get_points().mean(axis=0)):
                    assert box.x0 + 4 <= text.x0 and text.x1 <= box.x1 - 4 and box.y0 + 2 <= text.y0 and text.y1 <= box.y1 - 2, \
                        f"{name}: a label is wider or taller than its box"
        for text in (t for t in ax.texts if t.get_bbox_patch() is not None):  # arrow labels, on a white patch
            patch = text.get_bbox_patch().get_window_extent(renderer)
            assert not any(patch.overlaps(box) for box in boxes), f"{name}: {text.get_text()!r} covers a box"


def test_layout_needs_its_values_and_valid_references(layouts):
    with pytest.raises(ValueError, match="needs a value"):
        charts.architecture(layouts["training"], {})
    with pytest.raises(ValueError, match="no box"):
        charts.architecture({"boxes": [{"id": "a", "label": "A", "x": 0, "y": 0}], "arrows": [{"from": "a", "to": "b"}]})
    with pytest.raises(ValueError, match="twice"):
        charts.architecture({"boxes": [{"id": "a", "label": "A", "x": 0, "y": 0}, {"id": "a", "label": "B", "x": 1, "y": 0}]})
    with pytest.raises(ValueError, match="kind"):
        charts.architecture({"boxes": [{"id": "a", "label": "A", "x": 0, "y": 0, "kind": "magic"}]})
    with pytest.raises(ValueError):
        charts.architecture({"boxes": []})


def test_arrows_start_and_end_on_box_edges():
    layout = {"boxes": [{"id": "a", "label": "A", "x": 0, "y": 0}, {"id": "b", "label": "B", "x": 10, "y": 0}],
              "arrows": [{"from": "a", "to": "b", "label": "x"}]}
    ax = charts.architecture(layout).axes[0]
    arrow = next(t for t in ax.texts if getattr(t, "arrow_patch", None) is not None)
    assert arrow.xyann == pytest.approx((1.2, 0.0))  # half of the 2.4-wide box
    assert arrow.xy == pytest.approx((8.8, 0.0))


def test_failures_at_scale_follow_one_over_n():
    rate = 419 / (16_384 * 54)
    fig = charts.failures_at_scale(rate, {"blocking 300 s": 300, "async 5 s": 5}, restart_s=600, gpus=[1024, 2048, 4096])
    left, right = fig.axes
    mtbf = left.get_lines()[0].get_ydata()
    assert mtbf[0] / mtbf[1] == pytest.approx(2) and mtbf[1] / mtbf[2] == pytest.approx(2)
    blocking, fast = (np.asarray(line.get_ydata()) for line in right.get_lines())
    assert (fast > blocking).all()
    m = estimates.job_mtbf_hours(4096, rate) * 3600
    assert fast[-1] == pytest.approx(100 * estimates.goodput(estimates.young_interval(5, m), 5, m, 600)["goodput"])


def test_interruption_causes_bars():
    causes = tables.load(LESSON, "interruptions")
    ax = charts.interruption_causes(causes).axes[0]
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths[-1] == 148 and sum(widths) == 419


def test_power_by_system_stacks_it_and_overhead():
    systems = tables.load(LESSON, "systems").merge(
        tables.load("02-gpu", "datasheets")[["gpu", "bf16_dense_tflops"]], on="gpu", how="left")
    systems = systems.dropna(subset=["bf16_dense_tflops"])
    fig = charts.power_by_system(systems, target_bf16_pflops=16_384 * 989 / 1000, pues=(1.1, 1.5))
    heights = [p.get_height() for p in fig.axes[0].patches]
    dgx_it = math.ceil(16_384 * 989 / 989) / 8 * 10.2e3 / 1e6
    assert heights[0] == pytest.approx(dgx_it)  # IT load of DGX H100 at the first PUE
    assert any(h == pytest.approx(dgx_it * 0.1) for h in heights)


def test_fabric_scaling_steps_up_at_the_tier_limit():
    ax = charts.fabric_scaling({"NDR": 64}, endpoints=[1024, 2048, 4096]).axes[0]
    line = ax.get_lines()[0]
    assert list(line.get_ydata()) == [48, 96, 320]
    assert ax.get_xscale() == "log"


def test_layout_memory_bars():
    rows = estimates.candidate_layouts(405e9, 16_384, 80, layers=126, hidden=16_384, heads=128, seq_len=8192)
    ax = charts.layout_memory(rows, 72).axes[0]
    assert len(ax.patches) == 2 * len(rows)
    assert ax.patches[0].get_height() == pytest.approx(rows[0]["model_state_gb"])
    with pytest.raises(ValueError):
        charts.layout_memory([], 72)


def test_allreduce_in_network_is_below_the_ring():
    ax = charts.allreduce_in_network(1024, 50e9, 5e-6, sizes_bytes=[1e6, 1e11]).axes[0]
    ring, sharp = (np.asarray(line.get_ydata()) for line in ax.get_lines())
    assert (sharp < ring).all()
    assert ring[-1] / sharp[-1] == pytest.approx(2, rel=0.02)


def test_serving_batch_cost_falls_with_batch():
    fig = charts.serving_batch(70e9, 70e9, 2 * 1979e12, 2 * 3.35e12, 1650, 327_680, 0.04, 125, 24.58, mbu=0.8)
    left, right = fig.axes
    tpot = np.asarray(left.get_lines()[0].get_ydata())
    cost = np.asarray(right.get_lines()[0].get_ydata())
    assert (np.diff(tpot) >= 0).all() and (np.diff(cost) <= 0).all()


def test_pipeline_stages_and_constraint_bars():
    ax = charts.pipeline_stages({"object store": 20, "NVMe cache": 400}, need_gb_s=61).axes[0]
    assert sorted(p.get_width() for p in ax.patches) == [20, 400]
    ax = charts.constraint_bars({"memory": 0.5, "budget": 1.2}, "budget").axes[0]
    assert sorted(p.get_width() for p in ax.patches) == [0.5, 1.2]
    assert "budget" in ax.get_title()
    with pytest.raises(ValueError):
        charts.constraint_bars({})
    with pytest.raises(ValueError):
        charts.pipeline_stages({}, 1)
