"""Lesson 5 widgets: a training-cost calculator (model size, tokens, GPU type, GPU count, MFU, price,
spot) and a buy-or-rent calculator (owned GPUs against rented ones at a utilisation).

The maths is :mod:`infraprep.estimates` and the charts are :mod:`infraprep.charts.cloud`;
these classes only wire controls to them. Tests drive them with ``set`` and read
``estimate``/``results``, without a browser.
"""

from __future__ import annotations

import io
import math
from typing import Any

import ipywidgets as widgets
import pandas as pd

from .. import estimates, tables
from ..charts import cloud as cloud_charts

__all__ = ["TrainingCostCalculator", "BuyOrRentCalculator"]

#: Round model sizes (billions of parameters) and token counts (billions) the sliders offer.
MODEL_SIZES_B = (1, 3, 7, 8, 13, 34, 70, 175, 405, 1000)
TOKEN_COUNTS_B = (100, 300, 1000, 2000, 5000, 15000, 30000)


def _offer(slider: widgets.SelectionSlider, value: float) -> None:
    """Add ``value`` to a slider of round numbers if it is not one of them (labels with thousands separators)."""
    values = [v for _label, v in slider.options]
    if value not in values:
        slider.options = [(f"{v:,}", v) for v in sorted({*values, value})]


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


class TrainingCostCalculator:
    """Estimate a training run's GPU-hours, wall time and bill, on-demand and on spot.

    >>> calc = TrainingCostCalculator()
    >>> calc.set(params_b=7, tokens_b=2000, gpus=256)
    >>> round(calc.estimate()["gpu_hours"]) > 0
    True
    """

    _FIELDS = ("params_b", "tokens_b", "instance", "gpus", "mfu", "usd_per_gpu_hour",
               "spot_discount", "node_interruptions_per_hour", "checkpoint_interval_h", "restart_h")

    def __init__(self, instances: pd.DataFrame | None = None, gpus_table: pd.DataFrame | None = None, draw: bool = True):
        self.instances = (instances if instances is not None else tables.load("05-cloud", "instances")).reset_index(drop=True)
        peaks = gpus_table if gpus_table is not None else tables.load("05-cloud", "gpus")
        self._peak_tflops = dict(zip(peaks["gpu_model"], peaks["bf16_dense_tflops"]))
        self._draw = draw
        self._updating = False
        names = list(self.instances["instance"])
        style = {"description_width": "190px"}
        layout = widgets.Layout(width="480px")
        self.controls: dict[str, widgets.Widget] = {
            "params_b": widgets.SelectionSlider(options=[(f"{v:,}", v) for v in MODEL_SIZES_B], value=70, description="model size (B params)", style=style, layout=layout),
            "tokens_b": widgets.SelectionSlider(options=[(f"{v:,}", v) for v in TOKEN_COUNTS_B], value=2000, description="tokens (B)", style=style, layout=layout),
            "instance": widgets.Dropdown(options=names, value=self._default_instance(), description="GPU instance", style=style, layout=layout),
            "gpus": widgets.SelectionSlider(options=[(f"{v:,}", v) for v in (8, 64, 128, 256, 512, 1024, 2048, 4096, 8192)], value=1024, description="GPUs", style=style, layout=layout),
            "mfu": widgets.FloatSlider(value=0.40, min=0.10, max=0.70, step=0.01, description="MFU", style=style, layout=layout),
            "usd_per_gpu_hour": widgets.BoundedFloatText(value=1.0, min=0.01, max=1000, step=0.01, description="price (USD/GPU-hour)", style=style, layout=layout),
            "spot_discount": widgets.FloatSlider(value=0.60, min=0.0, max=0.90, step=0.01, description="spot discount", style=style, layout=layout),
            "node_interruptions_per_hour": widgets.BoundedFloatText(value=0.002, min=0.0, max=1.0, step=0.001, description="interruptions/node/hour", style=style, layout=layout),
            "checkpoint_interval_h": widgets.BoundedFloatText(value=1.0, min=0.05, max=24, step=0.05, description="checkpoint every (h)", style=style, layout=layout),
            "restart_h": widgets.BoundedFloatText(value=0.25, min=0.0, max=24, step=0.05, description="restart time (h)", style=style, layout=layout),
        }
        self._summary = widgets.HTML()
        self._images = [widgets.Image(format="png"), widgets.Image(format="png")]
        self.controls["instance"].observe(self._on_instance, names="value")
        for name, control in self.controls.items():
            if name != "instance":
                control.observe(lambda _change: self._refresh(), names="value")
        self._on_instance(None)
        note = widgets.HTML("<small>Prices are illustrative and dated (see the instances table's "
                            "<code>price_date</code> and sources); type your own negotiated price.</small>")
        self.widget = widgets.VBox([
            widgets.HTML("<h4>Training-cost calculator</h4>"),
            widgets.HBox([widgets.VBox(list(self.controls.values()) + [note]), self._summary]),
            widgets.HBox(self._images),
        ])

    # ------------------------------------------------------------------ plain methods

    def _default_instance(self) -> str:
        priced = self.instances.dropna(subset=["on_demand_usd_per_hour"])
        h100 = priced[priced["gpu_model"].str.startswith("H100")]
        return str((h100 if len(h100) else priced).iloc[0]["instance"])

    def _row(self) -> pd.Series:
        name = self.controls["instance"].value
        return self.instances.loc[self.instances["instance"] == name].iloc[0]

    def peak_flop_s_per_gpu(self) -> float:
        """Dense BF16 peak of the selected instance's GPU (FLOP/s), from the gpus table."""
        model = str(self._row()["gpu_model"])
        if model not in self._peak_tflops:
            raise ValueError(f"no peak FLOP/s for GPU model {model!r}")
        return float(self._peak_tflops[model]) * 1e12

    def set(self, **values: Any) -> None:
        """Set controls by name (``params_b``, ``tokens_b``, ``instance``, ``gpus``, ``mfu``,
        ``usd_per_gpu_hour``, ``spot_discount``, ``node_interruptions_per_hour``,
        ``checkpoint_interval_h``, ``restart_h``) and recompute once."""
        unknown = sorted(set(values) - set(self._FIELDS))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(self._FIELDS)}")
        self._updating = True
        try:
            if "instance" in values:
                self.controls["instance"].value = values.pop("instance")
            for name, value in values.items():
                control = self.controls[name]
                if isinstance(control, widgets.SelectionSlider):
                    _offer(control, value)
                control.value = value
        finally:
            self._updating = False
        self._refresh()

    def value(self, name: str) -> Any:
        return self.controls[name].value

    def estimate(self) -> dict[str, float]:
        """On-demand and spot figures for the current settings.

        Keys: ``gpu_hours``, ``wall_time_days``, ``cost_usd`` (on-demand), ``nodes``,
        ``job_interruptions_per_hour``, ``spot_wall_time_days`` and ``spot_cost_usd``
        (NaN when interruptions outpace checkpoints), ``spot_saving_usd``.
        """
        v = {name: self.controls[name].value for name in self._FIELDS}
        run = estimates.training_run(v["params_b"] * 1e9, v["tokens_b"] * 1e9, v["gpus"], self.peak_flop_s_per_gpu(), v["mfu"], v["usd_per_gpu_hour"])
        gpus_per_node = int(self._row()["gpus"])
        nodes = math.ceil(v["gpus"] / gpus_per_node)
        rate = estimates.job_interruption_rate(v["node_interruptions_per_hour"], nodes)
        try:
            spot_hours = estimates.spot_expected_hours(run["wall_time_h"], rate, v["checkpoint_interval_h"], v["restart_h"])
            spot_cost = estimates.spot_expected_cost_usd(run["wall_time_h"], v["gpus"], v["usd_per_gpu_hour"], v["spot_discount"], rate, v["checkpoint_interval_h"], v["restart_h"])
        except ValueError:
            spot_hours, spot_cost = math.nan, math.nan
        return {
            "gpu_hours": run["gpu_hours"],
            "wall_time_days": run["wall_time_days"],
            "cost_usd": run["cost_usd"],
            "nodes": float(nodes),
            "job_interruptions_per_hour": rate,
            "spot_wall_time_days": spot_hours / 24.0,
            "spot_cost_usd": spot_cost,
            "spot_saving_usd": run["cost_usd"] - spot_cost,
        }

    def figures(self):
        """The two charts for the current settings: (cost and time vs GPUs, cost and time vs MFU)."""
        v = {name: self.controls[name].value for name in self._FIELDS}
        peak = self.peak_flop_s_per_gpu()
        counts = sorted({8, 32, 128, 512, 2048, 8192, int(v["gpus"])})
        first = cloud_charts.cost_time_vs_gpus(v["params_b"] * 1e9, v["tokens_b"] * 1e9, peak, v["mfu"], v["usd_per_gpu_hour"], gpu_counts=counts, mark=v["gpus"])
        second = cloud_charts.cost_time_vs_mfu(v["params_b"] * 1e9, v["tokens_b"] * 1e9, v["gpus"], peak, v["usd_per_gpu_hour"], mark=v["mfu"])
        return first, second

    def summary_html(self) -> str:
        e = self.estimate()
        spot = ("interruptions outpace checkpoints: the job would not finish on spot"
                if math.isnan(e["spot_cost_usd"]) else
                f"${e['spot_cost_usd']:,.0f} in {e['spot_wall_time_days']:,.1f} days "
                f"(saves ${e['spot_saving_usd']:,.0f})")
        return (
            f"<table style='margin-left:16px'>"
            f"<tr><td>GPU-hours</td><td><b>{e['gpu_hours']:,.0f}</b></td></tr>"
            f"<tr><td>wall time on demand</td><td><b>{e['wall_time_days']:,.1f} days</b></td></tr>"
            f"<tr><td>on-demand cost</td><td><b>${e['cost_usd']:,.0f}</b></td></tr>"
            f"<tr><td>nodes</td><td>{e['nodes']:.0f}</td></tr>"
            f"<tr><td>job interruptions per hour</td><td>{e['job_interruptions_per_hour']:.3f}</td></tr>"
            f"<tr><td>expected spot cost</td><td><b>{spot}</b></td></tr></table>"
        )

    # ------------------------------------------------------------------ wiring

    def _on_instance(self, _change) -> None:
        row = self._row()
        price = row["on_demand_usd_per_hour"]
        if not pd.isna(price):
            previous, self._updating = self._updating, True
            self.controls["usd_per_gpu_hour"].value = round(estimates.price_per_gpu_hour(float(price), int(row["gpus"])), 3)
            self._updating = previous
        self._refresh()

    def _refresh(self) -> None:
        if self._updating:
            return
        self._summary.value = self.summary_html()
        if self._draw:
            for image, fig in zip(self._images, self.figures()):
                image.value = _png(fig)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class BuyOrRentCalculator:
    """Owned GPUs against rented ones: cost per used GPU-hour, its parts, and the break-even utilisation.

    Starts from the lesson's ``on_prem`` table (a DGX H100-class server) and compares with one
    rental offer from the ``instances`` or ``neoclouds`` tables.

    >>> calc = BuyOrRentCalculator(draw=False)
    >>> calc.set(utilisation=0.5)
    >>> round(calc.results()["owned_usd_per_gpu_hour"], 2) > 0
    True
    """

    _FIELDS = ("server_usd", "gpus_per_server", "years", "server_kw", "usd_per_kwh", "pue",
               "other_usd_per_server_year", "utilisation", "rent")

    def __init__(self, draw: bool = True):
        params = tables.load("05-cloud", "on_prem").set_index("parameter")["value"]
        self.offers = self._offers()
        self._draw = draw
        style = {"description_width": "230px"}
        layout = widgets.Layout(width="470px")
        self.controls: dict[str, widgets.Widget] = {
            "server_usd": widgets.BoundedIntText(value=int(params["server_price"]), min=1000, max=10_000_000, step=10_000, description="server price (USD)", style=style, layout=layout),
            "gpus_per_server": widgets.Dropdown(options=[4, 8], value=int(params["gpus_per_server"]), description="GPUs a server", style=style, layout=layout),
            "years": widgets.Dropdown(options=[3, 4, 5, 6], value=int(params["useful_life_short"]), description="useful life (years)", style=style, layout=layout),
            "server_kw": widgets.BoundedFloatText(value=float(params["server_max_power"]), min=0.1, max=200, step=0.1, description="server power (kW)", style=style, layout=layout),
            "usd_per_kwh": widgets.BoundedFloatText(value=float(params["electricity_price"]), min=0.0, max=1.0, step=0.005, description="electricity (USD/kWh)", style=style, layout=layout),
            "pue": widgets.BoundedFloatText(value=float(params["pue"]), min=1.0, max=3.0, step=0.01, description="PUE", style=style, layout=layout),
            "other_usd_per_server_year": widgets.BoundedIntText(value=0, min=0, max=10_000_000, step=5_000, description="other costs (USD a server-year)", style=style, layout=layout),
            "utilisation": widgets.FloatSlider(value=0.6, min=0.05, max=1.0, step=0.05, description="utilisation", readout_format=".0%", style=style, layout=layout),
            "rent": widgets.Dropdown(options=list(self.offers), value=min(self.offers, key=self.offers.get), description="rental offer", style=style, layout=layout),
        }
        self._summary = widgets.HTML()
        self._image = widgets.Image(format="png")
        for control in self.controls.values():
            control.observe(lambda _change: self._refresh(), names="value")
        self._refresh()
        note = widgets.HTML("<small>Owned cost here is depreciation and power only unless you add the other costs "
                            "(network share, space, staff, support). Prices are dated: see the lesson's tables.</small>")
        self.widget = widgets.VBox([widgets.HTML("<h4>Buy or rent?</h4>"),
                                    widgets.HBox([widgets.VBox(list(self.controls.values()) + [note]), self._summary]),
                                    self._image])

    @staticmethod
    def _offers() -> dict[str, float]:
        """Rental offers with their USD per GPU-hour: priced H100-class instances and neocloud offers."""
        out: dict[str, float] = {}
        inst = tables.load("05-cloud", "instances").dropna(subset=["on_demand_usd_per_hour"])
        for row in inst[inst["gpu_model"].str.startswith("H100")].itertuples():
            out[f"{row.instance} on demand"] = estimates.price_per_gpu_hour(row.on_demand_usd_per_hour, row.gpus)
        neo = tables.load("05-cloud", "neoclouds")
        for row in neo[neo["gpu_model"].str.startswith("H100")].itertuples():
            out[f"{row.provider} {row.offer}"] = estimates.price_per_gpu_hour(row.usd_per_hour, row.gpus)
        return out

    def set(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(self._FIELDS))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(self._FIELDS)}")
        self._draw, draw = False, self._draw
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._draw = draw
        self._refresh()

    def value(self, name: str) -> Any:
        return self.controls[name].value

    def results(self) -> dict[str, float]:
        """``owned_usd_per_gpu_hour`` (and its ``depreciation``, ``power``, ``other`` parts),
        ``rent_usd_per_gpu_hour``, ``break_even_utilisation`` and ``owned_minus_rent`` (per used GPU-hour)."""
        v = {name: self.controls[name].value for name in self._FIELDS}
        own = estimates.on_prem_gpu_hour_usd(v["server_usd"], v["gpus_per_server"], v["years"], v["server_kw"],
                                             v["usd_per_kwh"], v["pue"], v["utilisation"], v["other_usd_per_server_year"])
        rent = self.offers[v["rent"]]
        return {"owned_usd_per_gpu_hour": own["total"], "depreciation": own["depreciation"], "power": own["power"],
                "other": own["other"], "rent_usd_per_gpu_hour": rent,
                "break_even_utilisation": estimates.on_prem_break_even_utilisation(
                    rent, v["server_usd"], v["gpus_per_server"], v["years"], v["server_kw"], v["usd_per_kwh"],
                    v["pue"], v["other_usd_per_server_year"]),
                "owned_minus_rent": own["total"] - rent}

    def summary_html(self) -> str:
        r = self.results()
        verdict = "owning is cheaper" if r["owned_minus_rent"] < 0 else "renting is cheaper"
        even = ("never, at this price" if r["break_even_utilisation"] > 1 else f"{r['break_even_utilisation']:.0%}")
        return (f"<table style='margin-left:16px'>"
                f"<tr><td>owned, per used GPU-hour</td><td><b>${r['owned_usd_per_gpu_hour']:,.2f}</b></td></tr>"
                f"<tr><td>&nbsp;&nbsp;depreciation</td><td>${r['depreciation']:,.2f}</td></tr>"
                f"<tr><td>&nbsp;&nbsp;power (with PUE)</td><td>${r['power']:,.2f}</td></tr>"
                f"<tr><td>&nbsp;&nbsp;other</td><td>${r['other']:,.2f}</td></tr>"
                f"<tr><td>rented</td><td><b>${r['rent_usd_per_gpu_hour']:,.2f}</b></td></tr>"
                f"<tr><td>break-even utilisation</td><td><b>{even}</b></td></tr>"
                f"<tr><td>at this utilisation</td><td><b>{verdict}</b></td></tr></table>")

    def figure(self):
        v = {name: self.controls[name].value for name in self._FIELDS}
        return cloud_charts.own_vs_rent(v["server_usd"], v["gpus_per_server"], v["years"], v["server_kw"],
                                        v["usd_per_kwh"], v["pue"], {v["rent"]: self.offers[v["rent"]]},
                                        other_usd_per_server_year=v["other_usd_per_server_year"])

    def _refresh(self) -> None:
        self._summary.value = self.summary_html()
        if self._draw:
            self._image.value = _png(self.figure())

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
