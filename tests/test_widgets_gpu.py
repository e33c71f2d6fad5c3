"""Widgets of lesson 02-gpu, driven through their plain methods."""

import pytest

from infraprep import estimates, tables
from infraprep.widgets.gpu import PRECISION_BYTES, MemoryBudgetCalculator, RooflineExplorer


def test_roofline_explorer_reads_memory_and_compute_bound():
    explorer = RooflineExplorer()
    low = explorer.evaluate("H100 SXM", 10)
    assert low["bound"] == "memory-bound"
    assert low["attainable_tflop_s"] == pytest.approx(33.5)
    assert low["ridge_flop_per_byte"] == pytest.approx(295.2, abs=0.1)
    high = explorer.evaluate("H100 SXM", 1000)
    assert high["bound"] == "compute-bound" and high["share_of_peak"] == 1.0


def test_roofline_explorer_controls_update_the_view():
    explorer = RooflineExplorer()
    reading = explorer.set(gpu="L40S", intensity=100)
    assert reading["gpu"] == "L40S"
    assert reading["attainable_tflop_s"] == pytest.approx(86.4, rel=0.01)  # 100 × 0.864 TB/s
    assert "L40S" in explorer._out.value and "memory-bound" in explorer._out.value
    with pytest.raises(ValueError):
        explorer.set(gpu="Z9000")
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()


def test_memory_budget_serving_matches_the_formulas():
    calc = MemoryBudgetCalculator()
    parts = calc.budget("Llama 2 70B", "serving", "bf16 / fp16", batch=8, tokens=4096, overhead_fraction=0.0)
    assert parts["weights"] == pytest.approx(69e9 * 2)
    assert parts["kv_cache"] == estimates.kv_cache_bytes(80, 8, 128, 4096, 8)
    table = calc.fit_table(parts["total"])
    fits = dict(zip(table["gpu"], table["fits_on_one"]))
    assert not fits["H100 SXM"] and fits["MI300X"] and fits["B200 (HGX)"]
    int4 = calc.budget("Llama 2 70B", "serving", "int4", 1, 4096, 0.0)
    assert int4["weights"] == pytest.approx(69e9 * PRECISION_BYTES["int4"])


def test_memory_budget_training_uses_16_bytes_per_parameter():
    calc = MemoryBudgetCalculator()
    parts = calc.budget("Llama 2 7B", "training", batch=1, tokens=4096)
    assert parts["weights"] + parts["gradients"] + parts["optimizer"] == pytest.approx(16 * 6.7e9)
    assert parts["activations"] == estimates.transformer_activation_bytes(32, 4096, 1, 4096, 32, "full")
    needed = calc.fit_table(parts["total"]).set_index("gpu")["gpus_needed"]
    assert needed["H100 SXM"] == 2


def test_memory_budget_controls_and_errors():
    calc = MemoryBudgetCalculator()
    result = calc.set(model="Llama 2 13B", mode="serving", batch=4)
    assert result == calc.budget("Llama 2 13B", "serving", "bf16 / fp16", 4, 4096, 0.1)
    assert "total" in calc._out.value
    with pytest.raises(ValueError):
        calc.set(colour="red")
    with pytest.raises(ValueError):
        calc.budget("Llama 2 7B", mode="pretraining")
    with pytest.raises(ValueError):
        calc.budget("GPT-9")
    sheet = tables.load("02-gpu", "datasheets")
    assert len(calc.fit_table(1e9)) == len(sheet)
