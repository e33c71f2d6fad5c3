"""Widgets for lesson 02-gpu: a roofline explorer and a memory-budget calculator.

Each class keeps its logic in plain methods (``evaluate``, ``budget``, ``fit_table``)
that tests call directly; ``.widget`` is the ipywidgets view, and the object
displays itself in a notebook.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import pandas as pd

from .. import estimates, tables

__all__ = ["RooflineExplorer", "MemoryBudgetCalculator", "PRECISION_BYTES"]

#: Bytes per parameter of common weight formats.
PRECISION_BYTES = {"fp32": 4.0, "bf16 / fp16": 2.0, "fp8 / int8": 1.0, "int4": 0.5}


def _gpu_row(datasheets: pd.DataFrame, gpu: str) -> pd.Series:
    row = datasheets[datasheets["gpu"] == gpu]
    if row.empty:
        raise ValueError(f"unknown GPU {gpu!r}; choose one of {', '.join(datasheets['gpu'])}")
    return row.iloc[0]


class RooflineExplorer:
    """Pick a GPU and an arithmetic intensity; read attainable TFLOP/s and what limits it.

    >>> explorer = RooflineExplorer()
    >>> explorer.evaluate("H100 SXM", 10)["bound"]
    'memory-bound'
    """

    def __init__(self, datasheets: pd.DataFrame | None = None, gpu: str = "H100 SXM", intensity: float = 10.0):
        self.datasheets = tables.load("02-gpu", "datasheets") if datasheets is None else datasheets
        self._gpu = widgets.Dropdown(options=list(self.datasheets["gpu"]), value=gpu, description="GPU")
        stops = sorted({0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 150, 200, 300, 500, 1000, 2000, 5000, 10000}
                       | {float(intensity)})
        self._intensity = widgets.SelectionSlider(options=stops, value=float(intensity), description="FLOP/byte",
                                                  layout=widgets.Layout(width="480px"))
        self._out = widgets.HTML()
        for control in (self._gpu, self._intensity):
            control.observe(lambda _change: self._refresh(), names="value")
        self.widget = widgets.VBox([widgets.HTML("<b>Roofline explorer</b>"), self._gpu, self._intensity, self._out])
        self._refresh()

    def evaluate(self, gpu: str, intensity_flop_per_byte: float) -> dict:
        """Attainable dense BF16 TFLOP/s, ridge point, bound and share of peak for ``gpu`` at an intensity."""
        row = _gpu_row(self.datasheets, gpu)
        peak, bw = float(row["bf16_dense_tflops"]) * 1e12, float(row["bandwidth_tb_s"]) * 1e12
        attainable = estimates.attainable_flop_s(intensity_flop_per_byte, peak, bw)
        return {
            "gpu": gpu,
            "intensity_flop_per_byte": float(intensity_flop_per_byte),
            "attainable_tflop_s": attainable / 1e12,
            "peak_tflop_s": peak / 1e12,
            "ridge_flop_per_byte": estimates.ridge_point(peak, bw),
            "share_of_peak": attainable / peak,
            "bound": estimates.bound_by(intensity_flop_per_byte, peak, bw),
        }

    def set(self, gpu: str | None = None, intensity: float | None = None) -> dict:
        """Move the controls (as a learner would) and return the new reading."""
        if gpu is not None:
            _gpu_row(self.datasheets, gpu)
            self._gpu.value = gpu
        if intensity is not None:
            value = float(intensity)
            if value not in self._intensity.options:  # a value between the round stops: add it as a stop
                self._intensity.options = sorted(set(self._intensity.options) | {value})
            self._intensity.value = value
        return self.reading

    @property
    def reading(self) -> dict:
        return self.evaluate(self._gpu.value, self._intensity.value)

    def text(self) -> str:
        r = self.reading
        return (f"{r['gpu']} at {r['intensity_flop_per_byte']:,g} FLOP/byte: {r['attainable_tflop_s']:,.1f} TFLOP/s "
                f"attainable ({r['share_of_peak']:.0%} of the {r['peak_tflop_s']:,.0f} TFLOP/s peak); "
                f"ridge {r['ridge_flop_per_byte']:.0f} FLOP/byte, so {r['bound']}.")

    def _refresh(self) -> None:
        self._out.value = f"<p>{html.escape(self.text())}</p>"

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class MemoryBudgetCalculator:
    """Model size, precision, batch and sequence length → memory needed, and which GPUs it fits on.

    Serving: weights + KV cache (+ an overhead allowance you choose). Training:
    mixed-precision Adam state (16 bytes a parameter, ZeRO stage 0 on one GPU)
    plus activations with full activation checkpointing.
    """

    def __init__(self, datasheets: pd.DataFrame | None = None, models: pd.DataFrame | None = None):
        self.datasheets = tables.load("02-gpu", "datasheets") if datasheets is None else datasheets
        self.models = tables.load("02-gpu", "models") if models is None else models
        first = self.models.iloc[0]
        self._model = widgets.Dropdown(options=list(self.models["model"]), value=str(first["model"]), description="model")
        self._mode = widgets.ToggleButtons(options=["serving", "training"], value="serving", description="mode")
        self._precision = widgets.Dropdown(options=list(PRECISION_BYTES), value="bf16 / fp16", description="weights")
        self._batch = widgets.IntSlider(value=1, min=1, max=256, description="batch")
        self._tokens = widgets.IntSlider(value=4096, min=128, max=131072, step=128, description="tokens")
        self._overhead = widgets.FloatSlider(value=0.1, min=0.0, max=0.5, step=0.05, description="overhead")
        self._out = widgets.HTML()
        for control in (self._model, self._mode, self._precision, self._batch, self._tokens, self._overhead):
            control.observe(lambda _change: self._refresh(), names="value")
        self.widget = widgets.VBox([
            widgets.HTML("<b>Memory-budget calculator</b> (GB are decimal, 10⁹ bytes, as on the datasheets; "
                         "overhead: your allowance for activations, CUDA context and fragmentation while serving)"),
            self._model, self._mode, self._precision, self._batch, self._tokens, self._overhead, self._out,
        ])
        self._refresh()

    def _model_row(self, model: str) -> pd.Series:
        row = self.models[self.models["model"] == model]
        if row.empty:
            raise ValueError(f"unknown model {model!r}; choose one of {', '.join(self.models['model'])}")
        return row.iloc[0]

    def budget(self, model: str, mode: str = "serving", precision: str = "bf16 / fp16", batch: int = 1,
               tokens: int = 4096, overhead_fraction: float = 0.1) -> dict[str, float]:
        """Bytes by part and ``total`` for ``model`` in ``mode`` ("serving" or "training")."""
        row = self._model_row(model)
        params = float(row["params_billion"]) * 1e9
        if mode == "serving":
            if precision not in PRECISION_BYTES:
                raise ValueError(f"precision must be one of {list(PRECISION_BYTES)}")
            return estimates.serving_memory(params, PRECISION_BYTES[precision], int(row["layers"]), int(row["kv_heads"]),
                                            int(row["head_dim"]), tokens, batch, 2, overhead_fraction)
        if mode == "training":
            activations = estimates.transformer_activation_bytes(int(row["layers"]), tokens, batch, int(row["hidden_size"]),
                                                                 int(row["attention_heads"]), recompute="full")
            return estimates.training_memory(params, 1, 0, activations)
        raise ValueError(f"mode must be 'serving' or 'training', got {mode!r}")

    def fit_table(self, total_bytes: float) -> pd.DataFrame:
        """For every GPU of the datasheet table: does ``total_bytes`` fit on one, and how many are needed.

        Capacities are the datasheet's, read as decimal GB (an H100's 80 GB = 80 × 10⁹ bytes,
        a little less than the 81,559 MiB = 85.5 × 10⁹ bytes nvidia-smi reports): a safe side."""
        rows = []
        for row in self.datasheets.itertuples(index=False):
            rows.append({"gpu": row.gpu, "memory_gb": row.memory_gb,
                         "fits_on_one": estimates.fits(total_bytes, row.memory_gb),
                         "gpus_needed": estimates.gpus_needed(total_bytes, row.memory_gb)})
        return pd.DataFrame(rows)

    def set(self, **values) -> dict[str, float]:
        """Move controls by name (model, mode, precision, batch, tokens, overhead) and return the budget."""
        controls = {"model": self._model, "mode": self._mode, "precision": self._precision, "batch": self._batch,
                    "tokens": self._tokens, "overhead": self._overhead}
        for name, value in values.items():
            if name not in controls:
                raise ValueError(f"unknown control {name!r}; use {sorted(controls)}")
            controls[name].value = value
        return self.current()

    def current(self) -> dict[str, float]:
        return self.budget(self._model.value, self._mode.value, self._precision.value, self._batch.value,
                           self._tokens.value, self._overhead.value)

    def _refresh(self) -> None:
        parts = self.current()
        listing = ", ".join(f"{k} {v / 1e9:,.1f} GB" for k, v in parts.items() if k != "total" and v > 0)
        table = self.fit_table(parts["total"])
        fits = table.loc[table["fits_on_one"], "gpu"].tolist()
        verdict = ("fits on one " + ", ".join(fits)) if fits else "fits on no single GPU of the table"
        need = "; ".join(f"{r.gpu}: {r.gpus_needed}" for r in table.itertuples(index=False))
        self._out.value = (f"<p><b>total {parts['total'] / 1e9:,.1f} GB</b> ({html.escape(listing)})<br>"
                           f"{html.escape(verdict)}.<br><small>GPUs needed if the memory splits evenly: "
                           f"{html.escape(need)}</small></p>")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
