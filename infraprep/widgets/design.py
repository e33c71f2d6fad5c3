"""Lesson 9 widgets: the design calculator (which constraint binds) and the timed design drill.

The maths is :mod:`infraprep.estimates` (``training_design``) and the charts
:mod:`infraprep.charts.design`; these classes only wire controls to them, and tests drive them
through plain methods (``set``, ``estimate``, ``binding``; ``start``, ``finish``, ``reveal``) with
an injected clock instead of a browser.

The module also joins the lesson's tables for the notebooks: :func:`gpu_specs` (lesson 2's
datasheets plus this lesson's FP8 figures and the GB200), :func:`system_specs` and
:func:`design_inputs`.
"""

from __future__ import annotations

import html
import io
import math
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import pandas as pd

from .. import estimates, tables
from ..charts import design as design_charts
from ..practice.mock import Countdown

__all__ = ["LESSON", "gpu_specs", "system_specs", "design_inputs", "usd_per_gpu_hour", "DesignCalculator", "DesignDrill"]

LESSON = "09-system-design"
_SPEC_COLUMNS = ["memory_gb", "bandwidth_tb_s", "bf16_dense_tflops"]


def gpu_specs() -> pd.DataFrame:
    """GPUs the designs use: ``gpu, memory_gb, bandwidth_tb_s, bf16_dense_tflops, fp8_dense_tflops``.

    Lesson 2's datasheets hold the H100, H200 and B200 figures; this lesson's ``accelerators`` table
    adds FP8 and the GB200 of an NVL72 rack (each number lives in one table only).
    """
    sheet = tables.load("02-gpu", "datasheets").set_index("gpu")
    extra = tables.load(LESSON, "accelerators").set_index("gpu")
    rows = []
    for gpu, row in extra.iterrows():
        base = sheet.loc[gpu] if gpu in sheet.index else None
        spec = {"gpu": gpu}
        for column in _SPEC_COLUMNS:
            value = row[column]
            spec[column] = float(base[column]) if pd.isna(value) and base is not None else float(value)
        spec["fp8_dense_tflops"] = float(row["fp8_dense_tflops"])
        rows.append(spec)
    return pd.DataFrame(rows)


def system_specs() -> pd.DataFrame:
    """The systems table joined with each system's GPU (:func:`gpu_specs`)."""
    return tables.load(LESSON, "systems").merge(gpu_specs(), on="gpu", how="left")


def design_inputs(design: str) -> dict[str, float]:
    """A worked design's numeric inputs as ``{name: value}`` (rows of ``design_inputs`` with a value)."""
    frame = tables.load(LESSON, "design_inputs")
    rows = frame[(frame["design"] == design) & frame["value"].notna()]
    if rows.empty:
        raise ValueError(f"no inputs for design {design!r}; known: {', '.join(sorted(set(frame['design'])))}")
    return {str(r.name): float(r.value) for r in rows.itertuples(index=False)}


def usd_per_gpu_hour(instance: str = "p5.48xlarge") -> float:
    """On-demand USD per GPU-hour of an instance in lesson 5's ``instances`` table (dated there)."""
    table = tables.load("05-cloud", "instances").set_index("instance")
    row = table.loc[instance]
    if pd.isna(row["on_demand_usd_per_hour"]):
        raise ValueError(f"lesson 5 has no verified on-demand price for {instance}")
    return estimates.price_per_gpu_hour(float(row["on_demand_usd_per_hour"]), int(row["gpus"]))


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


class _Displayable:
    widget: widgets.Widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


# ---------------------------------------------------------------------------------------- calculator

class DesignCalculator(_Displayable):
    """The napkin numbers of a training cluster with every input adjustable, and the constraint that binds.

    >>> calc = DesignCalculator(draw=False)
    >>> calc.binding()  # the worked design 1: the budget binds first
    'budget'
    """

    _FIELDS = ("system", "model", "params_b", "tokens_t", "gpus", "mfu", "tensor_parallel", "pipeline_parallel",
               "zero_stage", "seq_len", "site_mw", "pue", "usd_per_gpu_hour", "budget_musd", "deadline_days",
               "goodput")

    def __init__(self, draw: bool = True):
        self.systems = system_specs().set_index("system")
        self.models = tables.load(LESSON, "models").set_index("model")
        start = design_inputs("training")
        self._draw = draw
        self._updating = False
        style = {"description_width": "170px"}
        layout = widgets.Layout(width="430px")
        model = "Llama 3.1 405B"
        self.controls: dict[str, widgets.Widget] = {
            "system": widgets.Dropdown(options=list(self.systems.index), value="DGX H100", description="system", style=style, layout=layout),
            "model": widgets.Dropdown(options=list(self.models.index), value=model, description="model shape", style=style, layout=layout),
            "params_b": widgets.FloatLogSlider(value=float(self.models.loc[model, "params_billion"]), base=10, min=0.5, max=3.5, step=0.01, description="parameters (B)", style=style, layout=layout),
            "tokens_t": widgets.FloatLogSlider(value=start["tokens"] / 1e12, base=10, min=-0.5, max=2, step=0.01, description="tokens (T)", style=style, layout=layout),
            "gpus": widgets.IntText(value=int(start["gpus"]), description="GPUs", style=style, layout=layout),
            "mfu": widgets.FloatSlider(value=start["mfu"], min=0.1, max=0.7, step=0.01, description="MFU", style=style, layout=layout),
            "tensor_parallel": widgets.Dropdown(options=[1, 2, 4, 8, 16, 36, 72], value=int(start["tensor_parallel"]), description="tensor parallel", style=style, layout=layout),
            "pipeline_parallel": widgets.Dropdown(options=[1, 2, 4, 8, 16, 32, 64], value=int(start["pipeline_parallel"]), description="pipeline stages", style=style, layout=layout),
            "zero_stage": widgets.Dropdown(options=[0, 1, 2, 3], value=int(start["zero_stage"]), description="ZeRO stage", style=style, layout=layout),
            "seq_len": widgets.Dropdown(options=[2048, 4096, 8192, 16384, 32768, 131072], value=int(start["seq_len"]), description="sequence length", style=style, layout=layout),
            "site_mw": widgets.FloatText(value=start["site_power_mw"], description="site power (MW)", style=style, layout=layout),
            "pue": widgets.FloatSlider(value=start["pue"], min=1.0, max=2.0, step=0.01, description="PUE", style=style, layout=layout),
            "usd_per_gpu_hour": widgets.FloatText(value=round(usd_per_gpu_hour(), 2), description="USD / GPU-hour", style=style, layout=layout),
            "budget_musd": widgets.FloatText(value=start["budget_usd"] / 1e6, description="budget (M USD)", style=style, layout=layout),
            "deadline_days": widgets.FloatText(value=start["deadline_days"], description="deadline (days)", style=style, layout=layout),
            "goodput": widgets.FloatSlider(value=0.9, min=0.3, max=1.0, step=0.01, description="goodput", style=style, layout=layout),
        }
        self._summary = widgets.HTML()
        self._image = widgets.Image(format="png")
        self.controls["model"].observe(self._on_model, names="value")
        for name, control in self.controls.items():
            if name != "model":
                control.observe(lambda _change: self._refresh(), names="value")
        note = widgets.HTML("<small>The price defaults to lesson 5's dated on-demand H100 price (p5.48xlarge); "
                            "type your own. Activations assume full recompute and one sequence a micro-batch.</small>")
        self.widget = widgets.VBox([
            widgets.HTML("<h4>Design calculator: which constraint binds?</h4>"),
            widgets.HBox([widgets.VBox(list(self.controls.values()) + [note]),
                          widgets.VBox([self._summary, self._image])]),
        ])
        self._refresh()

    def set(self, **values: Any) -> None:
        """Set controls by name (see ``_FIELDS``) and recompute once."""
        unknown = sorted(set(values) - set(self._FIELDS))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(self._FIELDS)}")
        self._updating = True
        try:
            if "model" in values:
                self.controls["model"].value = values.pop("model")
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._updating = False
        self._refresh()

    def value(self, name: str) -> Any:
        return self.controls[name].value

    def estimate(self) -> dict:
        """:func:`infraprep.estimates.training_design` for the current settings."""
        v = {name: self.controls[name].value for name in self._FIELDS}
        system = self.systems.loc[v["system"]]
        shape = self.models.loc[v["model"]]
        return estimates.training_design(
            params=v["params_b"] * 1e9, tokens=v["tokens_t"] * 1e12, gpus=int(v["gpus"]),
            gpu_memory_gb=float(system["memory_gb"]), peak_flop_s_per_gpu=float(system["bf16_dense_tflops"]) * 1e12,
            mfu=v["mfu"], tensor_parallel=int(v["tensor_parallel"]), pipeline_parallel=int(v["pipeline_parallel"]),
            zero_stage=int(v["zero_stage"]), nvlink_domain=int(system["nvlink_domain_gpus"]),
            link_bytes_s_per_gpu=estimates.gbit_to_bytes_s(float(system["scale_out_gbit_s_per_gpu"])),
            system_power_w=float(system["system_power_kw"]) * 1e3, gpus_per_system=int(system["gpus_per_system"]),
            pue_ratio=v["pue"], site_power_w=v["site_mw"] * 1e6, usd_per_gpu_hour=v["usd_per_gpu_hour"],
            budget_usd=v["budget_musd"] * 1e6, deadline_days=v["deadline_days"], goodput_fraction=v["goodput"],
            layers=int(shape["layers"]), hidden=int(shape["hidden"]), heads=int(shape["heads"]),
            seq_len=int(v["seq_len"]), micro_batch=1, recompute="full",
        )

    def binding(self) -> str:
        """The name of the constraint that binds (memory, network, power, budget or time)."""
        return str(self.estimate()["binding"])

    def ratios(self) -> dict[str, float]:
        e = self.estimate()
        return {name: float(e[f"ratio_{name}"]) for name in estimates.CONSTRAINTS}

    def summary_html(self) -> str:
        try:
            e = self.estimate()
        except ValueError as exc:
            return f"<p style='color:#cf222e'>Not a valid design: {html.escape(str(exc))}</p>"
        verdict = ("<span style='color:#1a7f37'>fits every constraint</span>" if e["fits"]
                   else "<span style='color:#cf222e'>does not fit</span>")
        rows = [
            ("data-parallel replicas", f"{e['data_parallel']:,.0f}"),
            ("memory per GPU", f"{e['memory_gb_per_gpu']:,.1f} of {e['usable_memory_gb']:,.0f} GB usable"),
            ("step compute / DP AllReduce", f"{e['step_compute_s']:,.2f} s / {e['dp_allreduce_s']:,.2f} s"),
            ("facility power", f"{e['facility_power_w'] / 1e6:,.1f} MW"),
            ("cost", f"${e['cost_usd'] / 1e6:,.0f}M"),
            ("wall-clock time", f"{e['days']:,.0f} days"),
            ("binding constraint", f"<b>{e['binding']}</b> ({verdict})"),
        ]
        body = "".join(f"<tr><td>{a}</td><td>{b}</td></tr>" for a, b in rows)
        return f"<table style='margin-left:12px'>{body}</table>"

    def figure(self):
        return design_charts.constraint_bars(self.ratios(), self.binding())

    def _on_model(self, _change) -> None:
        previous, self._updating = self._updating, True
        self.controls["params_b"].value = float(self.models.loc[self.controls["model"].value, "params_billion"])
        self._updating = previous
        self._refresh()

    def _refresh(self) -> None:
        if self._updating:
            return
        self._summary.value = self.summary_html()
        if self._draw:
            try:
                self._image.value = _png(self.figure())
            except ValueError:
                self._image.value = b""


# ---------------------------------------------------------------------------------------- drill

def load_drills() -> pd.DataFrame:
    """The drill prompts: ``prompt_id, title, prompt, minutes, focus, answer_file, source``."""
    return tables.load(LESSON, "drills")


def load_rubric() -> pd.DataFrame:
    """The design rubric: ``dimension, points, full_marks, common_gap``."""
    return tables.load(LESSON, "rubric")


class DesignDrill(_Displayable):
    """A timed design interview: pick a prompt, start the clock, design out loud or on paper, then
    score yourself on the rubric. The model answer is shown only once the time is up or you finish.

    ``clock`` (seconds, monotonic) is injectable, so tests need not wait 45 minutes.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, minutes: float | None = None):
        self.clock = clock
        self.drills = load_drills()
        self.rubric = load_rubric()
        self._minutes = minutes
        self.scores: dict[str, int] = {}
        self.finished = False
        self.countdown: Countdown | None = None
        self.prompt_id = ""
        self._picker = widgets.Dropdown(options=[(str(r.title), str(r.prompt_id)) for r in self.drills.itertuples()],
                                        description="Prompt", layout=widgets.Layout(width="520px"))
        self._text = widgets.HTML()
        self._timer = widgets.HTML("<span style='font-size:1.6em'>--:--</span>")
        self._ticker = widgets.Play(interval=1000, min=0, max=10**7, show_repeat=False, layout=widgets.Layout(display="none"))
        self._start = widgets.Button(description="Start", icon="play", button_style="primary")
        self._done = widgets.Button(description="I'm done", icon="stop", disabled=True)
        self._show = widgets.Button(description="Show model answer", icon="eye", disabled=True)
        self._status = widgets.HTML()
        self._answer = widgets.Output()
        self._sliders = {}
        for row in self.rubric.itertuples(index=False):
            slider = widgets.IntSlider(value=0, min=0, max=int(row.points), description=str(row.dimension),
                                       style={"description_width": "120px"}, layout=widgets.Layout(width="360px"))
            slider.observe(lambda change, d=str(row.dimension): self.score(d, change["new"]), names="value")
            self._sliders[str(row.dimension)] = slider
        rubric_text = "".join(f"<li><b>{html.escape(str(r.dimension))}</b> ({int(r.points)}): "
                              f"{html.escape(str(r.full_marks))}</li>" for r in self.rubric.itertuples(index=False))
        self._picker.observe(lambda change: change["new"] and self.choose(change["new"]), names="value")
        self._start.on_click(lambda _b: self.start())
        self._done.on_click(lambda _b: self.finish())
        self._show.on_click(lambda _b: self._display_answer())
        self._ticker.observe(lambda _c: self.tick(), names="value")
        self.widget = widgets.VBox([
            widgets.HTML("<h4>Timed design drill</h4>"), self._picker, self._text,
            widgets.HBox([self._start, self._done, self._timer, self._ticker]),
            widgets.HTML(f"<b>Rubric</b><ul>{rubric_text}</ul>"), widgets.VBox(list(self._sliders.values())),
            self._show, self._status, self._answer,
        ])
        self.choose(str(self.drills["prompt_id"].iloc[0]))

    # plain methods -----------------------------------------------------------------------------
    def choose(self, prompt_id: str) -> str:
        """Pick a prompt (resets the clock, the scores and the answer); returns its text."""
        match = self.drills[self.drills["prompt_id"] == prompt_id]
        if match.empty:
            raise ValueError(f"unknown drill {prompt_id!r}; known: {', '.join(self.drills['prompt_id'])}")
        row = match.iloc[0]
        self.prompt_id = prompt_id
        minutes = float(self._minutes if self._minutes is not None else row["minutes"])
        self.countdown = Countdown(minutes * 60, clock=self.clock)
        self.finished = False
        self.scores = {}
        self._text.value = (f"<p><b>{html.escape(str(row['title']))}</b> ({minutes:g} min)<br>"
                            f"{html.escape(str(row['prompt']))}</p>")
        self._ticker.playing = False
        self._done.disabled, self._show.disabled = True, True
        self._answer.clear_output()
        self._status.value = ""
        self._timer.value = f"<span style='font-size:1.6em'>{self.countdown.display()}</span>"
        return str(row["prompt"])

    def start(self) -> None:
        self.countdown.start()
        self.finished = False
        self._done.disabled = False
        self._ticker.value = 0
        self._ticker.playing = True
        self.tick()

    def finish(self) -> None:
        """End the attempt before the time is up (the model answer becomes available)."""
        if self.countdown.started_at is None:
            raise RuntimeError("start the drill before finishing it")
        self.countdown.stop()
        self.finished = True
        self._ticker.playing = False
        self.tick()

    def tick(self) -> str:
        shown = self.countdown.display()
        colour = "#cf222e" if self.countdown.expired else "#000"
        self._timer.value = f"<span style='font-size:1.6em;color:{colour}'>&nbsp;{shown}</span>"
        self._show.disabled = not self.can_reveal
        if self.countdown.expired:
            self._ticker.playing = False
        return shown

    @property
    def can_reveal(self) -> bool:
        """The model answer is shown only after the timer has run out or the attempt was finished."""
        return self.countdown.started_at is not None and (self.finished or self.countdown.expired)

    def reveal(self) -> str:
        """The model answer (Markdown). Raises RuntimeError while the drill is still running or not started."""
        if not self.can_reveal:
            raise RuntimeError("the model answer is shown after the timer ends (or after you press I'm done)")
        name = str(self.drills.set_index("prompt_id").loc[self.prompt_id, "answer_file"])
        return tables.artefact(LESSON, name)

    def score(self, dimension: str, points: int) -> None:
        limits = dict(zip(self.rubric["dimension"].astype(str), self.rubric["points"].astype(int)))
        if dimension not in limits:
            raise ValueError(f"{dimension!r} is not a rubric dimension: {', '.join(limits)}")
        if not 0 <= int(points) <= limits[dimension]:
            raise ValueError(f"{dimension} is scored 0 to {limits[dimension]}, got {points}")
        self.scores[dimension] = int(points)
        got, total = self.total
        self._status.value = f"<small>self-score {got} / {total}</small>"

    @property
    def total(self) -> tuple[int, int]:
        return sum(self.scores.values()), int(self.rubric["points"].sum())

    def _display_answer(self) -> None:
        from IPython.display import Markdown, display

        self._answer.clear_output()
        with self._answer:
            display(Markdown(self.reveal()))
