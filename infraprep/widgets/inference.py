"""Lesson 08-inference: the serving planner, and the tables the lecture builds from the lesson's data.

:class:`ServingPlanner` wires controls (model, GPU, precision, KV-cache type, prompt and output
lengths, batch, load, SLOs, price list) to :func:`infraprep.estimates.serving_plan`; tests drive it
with :meth:`ServingPlanner.set` and read :meth:`ServingPlanner.plan`. The table builders
(:func:`kv_table`, :func:`placement_table`, :func:`cost_table`) join the lesson's tables with the
estimates so that the notebook only calls them.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Sequence

import ipywidgets as widgets
import pandas as pd

from .. import estimates, tables
from ..charts import inference as charts

__all__ = ["PRECISIONS", "KV_DTYPES", "model_row", "kv_bytes", "gpu_rates", "kv_table", "placement_table",
           "cost_table", "number", "show", "ServingPlanner"]

LESSON = "08-inference"

#: Weight formats: bytes a parameter and the datasheet rate the matmuls run at. Weight-only formats
#: dequantise to BF16, so they compute at the BF16 rate.
PRECISIONS = {
    "BF16": {"bytes": 2.0, "rate": "bf16"},
    "FP8 (W8A8)": {"bytes": 1.0, "rate": "fp8"},
    "INT4 weight-only (W4A16)": {"bytes": 0.5, "rate": "bf16"},
    "NVFP4 (W4A4)": {"bytes": 0.5625, "rate": "fp4"},
}
#: KV-cache element types and their bytes a value.
KV_DTYPES = {"BF16": 2.0, "FP8": 1.0}


def number(value) -> str:
    """A number as people write it: thousands separators, three significant figures at most after the
    point, whole numbers without decimals, "–" for a missing value; anything else as text."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or isinstance(value, str):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return "–"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    size = abs(float(value))
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:,.1f}"
    if size >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def show(frame: pd.DataFrame, hide: Sequence[str] = ("source",)):
    """A table for the notebook: index and bookkeeping columns hidden, every number by :func:`number`."""
    shown = frame.drop(columns=[c for c in hide if c in frame.columns])
    numeric = [c for c in shown.columns if pd.api.types.is_numeric_dtype(shown[c]) and not pd.api.types.is_bool_dtype(shown[c])]
    return shown.style.hide(axis="index").format(number, subset=numeric)


def model_row(models: pd.DataFrame, name: str) -> pd.Series:
    row = models[models["model"] == name]
    if row.empty:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(models['model'])}")
    return row.iloc[0]


def kv_bytes(row: pd.Series, bytes_per_value: float = 2.0) -> float:
    """KV bytes a token of a ``models`` row (GQA/MHA or MLA)."""
    latent = row.get("kv_latent_values")
    return estimates.model_kv_bytes_per_token(str(row["attention"]), int(row["layers"]), int(row["kv_heads"]),
                                              int(row["head_dim"]), None if pd.isna(latent) else int(latent),
                                              bytes_per_value)


def gpu_rates(datasheets: pd.DataFrame, precision: pd.DataFrame, gpu: str, weights: str) -> dict[str, float]:
    """Memory (bytes), bandwidth (bytes/s) and the peak FLOP/s the matmuls of ``weights`` run at on ``gpu``."""
    if weights not in PRECISIONS:
        raise ValueError(f"weights must be one of {list(PRECISIONS)}")
    sheet = datasheets[datasheets["gpu"] == gpu]
    if sheet.empty:
        raise ValueError(f"unknown GPU {gpu!r}; choose one of {', '.join(datasheets['gpu'])}")
    row = sheet.iloc[0]
    rate = PRECISIONS[weights]["rate"]
    if rate == "bf16":
        peak = float(row["bf16_dense_tflops"])
    else:
        low = precision[precision["gpu"] == gpu]
        column = {"fp8": "fp8_dense_tflops", "fp4": "fp4_dense_tflops"}[rate]
        if low.empty or pd.isna(low.iloc[0][column]):
            raise ValueError(f"{gpu} has no {rate.upper()} tensor cores; pick another precision or GPU")
        peak = float(low.iloc[0][column])
    return {"memory_bytes": float(row["memory_gb"]) * 1e9, "bandwidth_bytes_s": float(row["bandwidth_tb_s"]) * 1e12,
            "peak_flop_s": peak * 1e12}


def kv_table(models: pd.DataFrame, contexts: Sequence[int] = (8192, 131072)) -> pd.DataFrame:
    """KV cache a token (BF16 and FP8) and for one sequence of each context, for every model."""
    rows = []
    for row in models.itertuples(index=False):
        series = pd.Series(row._asdict())
        bf16 = kv_bytes(series, 2)
        out = {"model": row.model, "attention": row.attention, "kv_kib_per_token_bf16": bf16 / 1024,
               "kv_kib_per_token_fp8": kv_bytes(series, 1) / 1024}
        for n in contexts:
            out[f"kv_gb_at_{n // 1024}k_bf16"] = bf16 * n / 1e9
        rows.append(out)
    return pd.DataFrame(rows)


def placement_table(models: pd.DataFrame, datasheets: pd.DataFrame, precision: pd.DataFrame,
                    names: Sequence[str], gpus: Sequence[str], weights: str = "FP8 (W8A8)", kv_dtype: str = "BF16",
                    context_tokens: int = 8192, usable_fraction: float = 0.9, gpus_per_node: int = 8) -> pd.DataFrame:
    """Where each model fits: for every model and 8-GPU node type, the weights, the smallest
    tensor-parallel group of a node that holds them (power of two, weights in at most 80 % of its
    usable memory), the nodes needed when one is not enough, and the sequences of ``context_tokens``
    whose KV cache fits in the rest of the whole node(s)."""
    rows = []
    for name in names:
        row = model_row(models, name)
        weight_bytes = float(row["params_billion"]) * 1e9 * PRECISIONS[weights]["bytes"]
        per_token = kv_bytes(row, KV_DTYPES[kv_dtype])
        for gpu in gpus:
            try:
                rates = gpu_rates(datasheets, precision, gpu, weights)
            except ValueError:
                continue
            usable = rates["memory_bytes"] * usable_fraction
            group = 1
            while weight_bytes > 0.8 * group * usable and group < gpus_per_node:
                group *= 2
            nodes = max(1, math.ceil(weight_bytes / (0.8 * usable * gpus_per_node))) if weight_bytes > 0.8 * group * usable else 1
            total_gpus = group if nodes == 1 else nodes * gpus_per_node
            free = total_gpus * usable - weight_bytes
            rows.append({"model": name, "gpu": gpu, "weights_gb": weight_bytes / 1e9,
                         "gpus_for_weights": total_gpus, "nodes": nodes, "tensor_parallel": min(total_gpus, gpus_per_node),
                         "pipeline_stages": nodes, "kv_free_gb": free / 1e9,
                         f"sequences_of_{context_tokens // 1024}k": estimates.kv_capacity_sequences(max(free, 0.0), context_tokens, per_token)})
    return pd.DataFrame(rows)


def cost_table(instances: pd.DataFrame, datasheets: pd.DataFrame, precision: pd.DataFrame, row: pd.Series,
               weights: str = "FP8 (W8A8)", kv_dtype: str = "BF16", prompt_tokens: int = 1000, output_tokens: int = 250,
               tpot_slo_s: float = 0.05, requests_per_s: float = 20.0, mbu: float = 0.8,
               gpus_per_replica: int | None = None) -> pd.DataFrame:
    """$ per million output tokens of one model on every priced instance of ``instances``, at the largest
    batch within the TPOT SLO that the KV cache holds (:func:`estimates.serving_plan`; the replica's
    width is its default unless ``gpus_per_replica`` is given), with the price of a GPU-hour and its date."""
    out = []
    per_token = kv_bytes(row, KV_DTYPES[kv_dtype])
    for inst in instances.dropna(subset=["on_demand_usd_per_hour"]).itertuples(index=False):
        try:
            rates = gpu_rates(datasheets, precision, inst.gpu, weights)
        except ValueError:
            continue
        gpu_hour = estimates.price_per_gpu_hour(float(inst.on_demand_usd_per_hour), int(inst.gpus))
        plan = estimates.serving_plan(float(row["params_billion"]) * 1e9, PRECISIONS[weights]["bytes"], per_token,
                                      rates["memory_bytes"], rates["bandwidth_bytes_s"], rates["peak_flop_s"],
                                      prompt_tokens, output_tokens, requests_per_s, 10.0, tpot_slo_s, gpu_hour,
                                      gpus_per_replica=gpus_per_replica,
                                      active_params=float(row["active_params_billion"]) * 1e9, mbu=mbu)
        out.append({"label": f"{inst.gpu} ({inst.cloud} {inst.instance})", "cloud": inst.cloud, "gpu": inst.gpu,
                    "usd_per_gpu_hour": gpu_hour, "price_date": inst.price_date,
                    "gpus_per_replica": plan["gpus_per_replica"], "batch": plan["batch"],
                    "tpot_ms": plan["tpot_s"] * 1e3, "tokens_per_s_per_gpu": plan["tokens_per_s_per_gpu"],
                    "usd_per_million_output_tokens": plan["usd_per_million_output_tokens_at_capacity"],
                    "usd_per_million_input_tokens": plan["usd_per_million_input_tokens"]})
    return pd.DataFrame(out)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


class ServingPlanner:
    """Model, GPU, precision, context, batch, load and SLOs in; TTFT, TPOT, tokens/s, GPUs needed and
    $ per million tokens out, with the roofline point of the chosen batch.

    >>> planner = ServingPlanner(draw=False)
    >>> planner.plan()["gpus_per_replica"]
    2
    """

    _FIELDS = ("model", "gpu", "weights", "kv_cache", "prompt_tokens", "output_tokens", "batch",
               "requests_per_s", "ttft_slo_s", "tpot_slo_ms", "cloud")

    def __init__(self, draw: bool = True):
        self.models = tables.load(LESSON, "models")
        self.datasheets = tables.load("02-gpu", "datasheets")
        self.precision = tables.load(LESSON, "precision")
        self.instances = tables.load(LESSON, "instances")
        self._draw = draw
        gpus = list(self.precision["gpu"])
        style = {"description_width": "150px"}
        layout = widgets.Layout(width="430px")
        self.controls: dict[str, widgets.Widget] = {
            "model": widgets.Dropdown(options=list(self.models["model"]), value="Llama 3.1 70B", description="model",
                                      style=style, layout=layout),
            "gpu": widgets.Dropdown(options=gpus, value="H100 SXM", description="GPU", style=style, layout=layout),
            "weights": widgets.Dropdown(options=list(PRECISIONS), value="FP8 (W8A8)", description="weights",
                                        style=style, layout=layout),
            "kv_cache": widgets.Dropdown(options=list(KV_DTYPES), value="BF16", description="KV cache",
                                         style=style, layout=layout),
            "prompt_tokens": widgets.IntSlider(value=1000, min=100, max=32000, step=100, description="prompt tokens",
                                               style=style, layout=layout),
            "output_tokens": widgets.IntSlider(value=250, min=10, max=8000, step=10, description="output tokens",
                                               style=style, layout=layout),
            "batch": widgets.IntSlider(value=0, min=0, max=512, step=1, description="batch (0 = largest in SLO)",
                                       style=style, layout=layout),
            "requests_per_s": widgets.FloatLogSlider(value=20, base=10, min=-1, max=3.5, step=0.05,
                                                     description="requests/s", style=style, layout=layout),
            "ttft_slo_s": widgets.FloatSlider(value=1.0, min=0.1, max=10, step=0.1, description="TTFT SLO (s)",
                                              style=style, layout=layout),
            "tpot_slo_ms": widgets.IntSlider(value=50, min=5, max=250, step=5, description="TPOT SLO (ms)",
                                             style=style, layout=layout),
            "cloud": widgets.Dropdown(options=sorted(set(self.instances["cloud"])), value="aws", description="price list",
                                      style=style, layout=layout),
        }
        self._summary = widgets.HTML()
        self._image = widgets.Image(format="png")
        for control in self.controls.values():
            control.observe(lambda _change: self._refresh(), names="value")
        note = widgets.HTML("<small>First-order estimates on the roofline: prefill at 50 % MFU, decode at 80 % MBU, "
                            "no queueing and no tensor-parallel communication. Prices are dated list prices "
                            "(the lesson's <code>instances</code> table).</small>")
        self.widget = widgets.VBox([
            widgets.HTML("<h4>Serving planner</h4>"),
            widgets.HBox([widgets.VBox(list(self.controls.values()) + [note]),
                          widgets.VBox([self._summary, self._image])]),
        ])
        self._refresh()

    # ------------------------------------------------------------------ plain methods

    @property
    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def set(self, **values) -> dict:
        """Move controls by name (as a learner would) and return the new plan."""
        for name, value in values.items():
            if name not in self.controls:
                raise ValueError(f"unknown control {name!r}; use {sorted(self.controls)}")
            self.controls[name].value = value
        return self.plan()

    def price_per_gpu_hour(self, gpu: str, cloud: str) -> float | None:
        """US dollars a GPU-hour of the first listed instance of ``gpu`` on ``cloud`` (None if unpriced)."""
        rows = self.instances[(self.instances["gpu"] == gpu) & (self.instances["cloud"] == cloud)]
        rows = rows.dropna(subset=["on_demand_usd_per_hour"])
        if rows.empty:
            return None
        row = rows.iloc[0]
        return estimates.price_per_gpu_hour(float(row["on_demand_usd_per_hour"]), int(row["gpus"]))

    def plan(self, **overrides) -> dict:
        """The plan for the controls' values (or ``overrides`` of them), with the inputs echoed."""
        v = {**self.values, **overrides}
        row = model_row(self.models, v["model"])
        rates = gpu_rates(self.datasheets, self.precision, v["gpu"], v["weights"])
        price = self.price_per_gpu_hour(v["gpu"], v["cloud"])
        plan = estimates.serving_plan(
            float(row["params_billion"]) * 1e9, PRECISIONS[v["weights"]]["bytes"], kv_bytes(row, KV_DTYPES[v["kv_cache"]]),
            rates["memory_bytes"], rates["bandwidth_bytes_s"], rates["peak_flop_s"], int(v["prompt_tokens"]),
            int(v["output_tokens"]), float(v["requests_per_s"]), float(v["ttft_slo_s"]), v["tpot_slo_ms"] / 1e3,
            price or 1.0, batch=int(v["batch"]) or None, active_params=float(row["active_params_billion"]) * 1e9)
        if price is None:
            for key in ("usd_per_million_output_tokens_at_capacity", "usd_per_million_output_tokens_at_load",
                        "usd_per_million_input_tokens", "fleet_usd_per_hour"):
                plan[key] = float("nan")
        plan.update({"usd_per_gpu_hour": price, "peak_flop_s": rates["peak_flop_s"],
                     "bandwidth_bytes_s": rates["bandwidth_bytes_s"],
                     "prefill_intensity_flop_per_byte": 2.0 / PRECISIONS[v["weights"]]["bytes"] * int(v["prompt_tokens"]),
                     **{f"input_{k}": val for k, val in v.items()}})
        return plan

    def figure(self):
        """The replica's roofline with the decode step at the chosen batch and a prompt's prefill on it."""
        p = self.plan()
        g = p["gpus_per_replica"]
        return charts.roofline_point(p["peak_flop_s"] * g, p["bandwidth_bytes_s"] * g, {
            f"decode, batch {p['batch']}": p["decode_intensity_flop_per_byte"],
            f"prefill, {p['input_prompt_tokens']:,} tokens": p["prefill_intensity_flop_per_byte"]},
            title=f"{g} × {p['input_gpu']} ({p['input_weights']})")

    def summary_html(self) -> str:
        try:
            p = self.plan()
        except ValueError as error:
            return f"<p style='color:#b5446e'>{html.escape(str(error))}</p>"

        def ok(flag: bool) -> str:
            return "meets" if flag else "<b style='color:#b5446e'>misses</b>"

        money = ("no verified on-demand price for this GPU on this price list" if p["usd_per_gpu_hour"] is None else
                 f"${p['usd_per_million_output_tokens_at_capacity']:,.2f} per million output tokens at full batch, "
                 f"${p['usd_per_million_output_tokens_at_load']:,.2f} at this load "
                 f"(${p['usd_per_gpu_hour']:,.2f} a GPU-hour); input tokens ${p['usd_per_million_input_tokens']:,.3f} per million")
        fits = "" if p["fits_kv"] else "<br><b style='color:#b5446e'>this batch does not fit the KV cache</b>"
        return (f"<p><b>replica:</b> {p['gpus_per_replica']} × {html.escape(p['input_gpu'])}, "
                f"{p['weight_bytes'] / 1e9:,.0f} GB of weights, KV room for {p['kv_capacity_sequences']:,} sequences "
                f"of {p['input_prompt_tokens'] + p['input_output_tokens']:,} tokens{fits}<br>"
                f"<b>batch</b> {p['batch']:,} (largest within the TPOT SLO: {p['batch_within_tpot_slo']:,})<br>"
                f"<b>TTFT</b> {p['ttft_s'] * 1e3:,.0f} ms ({ok(p['meets_ttft'])} the SLO, queueing excluded); "
                f"<b>TPOT</b> {p['tpot_s'] * 1e3:,.1f} ms ({ok(p['meets_tpot'])} the SLO)<br>"
                f"<b>throughput</b> {p['tokens_per_s_per_sequence']:,.0f} tokens/s a sequence, "
                f"{p['tokens_per_s_per_replica']:,.0f} a replica, {p['tokens_per_s_per_gpu']:,.0f} a GPU<br>"
                f"<b>load:</b> {p['requests_in_flight']:,.0f} requests in flight (Little's law) → "
                f"<b>{p['replicas']:,} replicas, {p['gpus_total']:,} GPUs</b><br>"
                f"<b>cost:</b> {money}<br>"
                f"<small>decode intensity {p['decode_intensity_flop_per_byte']:,.0f} FLOP/byte against a ridge of "
                f"{p['ridge_flop_per_byte']:,.0f}</small></p>")

    def _refresh(self) -> None:
        self._summary.value = self.summary_html()
        if self._draw:
            try:
                self._image.value = _png(self.figure())
            except ValueError:
                self._image.value = b""

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
