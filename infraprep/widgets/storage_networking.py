"""Widgets for lesson 6: a checkpoint and data-loader calculator, and a fat-tree sizer (two or three
levels, or rail-only)."""

from __future__ import annotations

import ipywidgets as widgets

from .. import estimates


class _Displayable:
    widget: widgets.Widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _render(self) -> None:
        """Show ``_describe(results())``, or the reason in red when the inputs are invalid."""
        try:
            r = self.results()
        except ValueError as exc:
            self.output.value = f"<span style='color:#cf222e'>{exc}</span>"
            return
        self.output.value = self._describe(r)


class CheckpointLoaderCalculator(_Displayable):
    """Model size, storage bandwidth and loader demand in; checkpoint size, write time,
    step-time overhead and the read bandwidth the cluster needs out.

    >>> calc = CheckpointLoaderCalculator()
    >>> calc.set(params_billion=70, write_gb_s=100, checkpoint_every_steps=1000)
    >>> round(calc.results()["checkpoint_gb"])
    980
    """

    DEFAULTS = dict(params_billion=70.0, write_gb_s=100.0, checkpoint_every_steps=1000, step_time_s=5.0,
                    samples_per_s_per_gpu=2.0, mb_per_sample=4.0, gpus=1024)

    def __init__(self, **values):
        unknown = set(values) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        start = {**self.DEFAULTS, **values}
        style = {"description_width": "230px"}
        layout = widgets.Layout(width="420px")
        self.inputs = {
            "params_billion": widgets.BoundedFloatText(value=start["params_billion"], min=0.1, max=10000, description="parameters (billions)", style=style, layout=layout),
            "write_gb_s": widgets.BoundedFloatText(value=start["write_gb_s"], min=0.1, max=100000, description="aggregate write bandwidth (GB/s)", style=style, layout=layout),
            "checkpoint_every_steps": widgets.BoundedIntText(value=start["checkpoint_every_steps"], min=1, max=10**7, description="checkpoint every N steps", style=style, layout=layout),
            "step_time_s": widgets.BoundedFloatText(value=start["step_time_s"], min=0.001, max=10**5, description="step time without checkpoints (s)", style=style, layout=layout),
            "samples_per_s_per_gpu": widgets.BoundedFloatText(value=start["samples_per_s_per_gpu"], min=0.001, max=10**7, description="samples/s per GPU", style=style, layout=layout),
            "mb_per_sample": widgets.BoundedFloatText(value=start["mb_per_sample"], min=0.000001, max=10**6, description="MB per sample (10⁶ bytes)", style=style, layout=layout),
            "gpus": widgets.BoundedIntText(value=start["gpus"], min=1, max=10**6, description="GPUs", style=style, layout=layout),
        }
        self.output = widgets.HTML()
        for box in self.inputs.values():
            box.observe(lambda _change: self._render(), names="value")
        self._render()
        self.widget = widgets.VBox([*self.inputs.values(), self.output])

    def set(self, **values) -> None:
        """Change inputs by name (same names as ``DEFAULTS``)."""
        for name, value in values.items():
            if name not in self.inputs:
                raise ValueError(f"unknown setting {name!r}; settings: {', '.join(self.inputs)}")
            self.inputs[name].value = value

    def values(self) -> dict:
        return {name: box.value for name, box in self.inputs.items()}

    def results(self) -> dict:
        """Checkpoint size (GB), write time (s), added seconds per step, overhead fraction, loader GB/s (per GPU and cluster)."""
        v = self.values()
        size = estimates.checkpoint_bytes(v["params_billion"] * 1e9)
        write_s = estimates.checkpoint_write_time_s(size, v["write_gb_s"] * 1e9)
        per_step = estimates.checkpoint_step_overhead_s(write_s, v["checkpoint_every_steps"])
        interval_s = v["checkpoint_every_steps"] * v["step_time_s"]
        per_gpu = estimates.loader_bandwidth_bytes_s(v["samples_per_s_per_gpu"], v["mb_per_sample"] * 1e6)
        cluster = estimates.loader_bandwidth_bytes_s(v["samples_per_s_per_gpu"], v["mb_per_sample"] * 1e6, v["gpus"])
        return {
            "checkpoint_gb": size / 1e9,
            "write_time_s": write_s,
            "added_s_per_step": per_step,
            "overhead_fraction": estimates.checkpoint_overhead_fraction(write_s, interval_s),
            "loader_gb_s_per_gpu": per_gpu / 1e9,
            "loader_gb_s_cluster": cluster / 1e9,
        }

    @staticmethod
    def _describe(r: dict) -> str:
        return (
            f"<b>Checkpoint</b>: {r['checkpoint_gb']:,.0f} GB ({estimates.CHECKPOINT_BYTES_PER_PARAM} bytes a parameter: "
            f"BF16 weights and FP32 Adam state, no gradients), written in "
            f"{r['write_time_s']:,.1f} s; a blocking save adds {r['added_s_per_step']:.3f} s to each step on average "
            f"({r['overhead_fraction']:.2%} of wall-clock time).<br>"
            f"<b>Data loader</b>: {r['loader_gb_s_per_gpu'] * 1000:,.1f} MB/s per GPU, "
            f"{r['loader_gb_s_cluster']:,.1f} GB/s for the whole cluster."
        )


class FatTreeSizer(_Displayable):
    """Hosts, switch radix, link speed and oversubscription in; leaves, spines (and core) and bisection
    bandwidth out. Beyond two levels it sizes a non-blocking three-level tree; ``rail_only`` with
    ``rails`` > 1 sizes one tree a rail instead (no spine joining the rails).

    >>> sizer = FatTreeSizer()
    >>> sizer.set(hosts=1024, radix=64, oversubscription=1)
    >>> sizer.results()["switches"]
    48
    """

    def __init__(self, hosts: int = 1024, radix: int = 64, link_gbit_s: float = 400, oversubscription: float = 1.0,
                 rail_only: bool = False, rails: int = 8):
        style = {"description_width": "170px"}
        self.hosts = widgets.BoundedIntText(value=hosts, min=2, max=10**6, step=1024, description="hosts (NIC ports)", style=style)
        self.radix = widgets.Dropdown(options=[32, 36, 40, 48, 64, 128, 144], value=radix, description="switch radix (ports)", style=style)
        self.link = widgets.Dropdown(options=[100, 200, 400, 800], value=link_gbit_s, description="link speed (Gb/s)", style=style)
        self.ratio = widgets.Dropdown(options=[1.0, 2.0, 3.0, 7.0], value=float(oversubscription), description="oversubscription (x:1)", style=style)
        self.rail_only = widgets.Checkbox(value=rail_only, description="rail-only (one fabric a rail)")
        self.rails = widgets.Dropdown(options=[4, 8], value=rails, description="rails (NICs a node)", style=style)
        self.output = widgets.HTML()
        for box in (self.hosts, self.radix, self.link, self.ratio, self.rail_only, self.rails):
            box.observe(lambda _change: self._render(), names="value")
        self._render()
        self.widget = widgets.VBox([self.hosts, self.radix, self.link, self.ratio, self.rail_only, self.rails, self.output])

    def set(self, hosts: int | None = None, radix: int | None = None, link_gbit_s: float | None = None,
            oversubscription: float | None = None, rail_only: bool | None = None, rails: int | None = None) -> None:
        if radix is not None:
            self.radix.value = radix
        if link_gbit_s is not None:
            self.link.value = link_gbit_s
        if oversubscription is not None:
            self.ratio.value = float(oversubscription)
        if rails is not None:
            self.rails.value = rails
        if rail_only is not None:
            self.rail_only.value = rail_only
        if hosts is not None:
            self.hosts.value = hosts

    def results(self) -> dict:
        """The design: ``levels``, ``switches`` and its parts, the two-level limit, bisection (Tb/s).

        Oversubscribed designs are two-level only (ValueError beyond); rail-only divides the
        hosts into ``rails`` separate fabrics of hosts ÷ rails ports each.
        """
        k, ratio, hosts = self.radix.value, self.ratio.value, self.hosts.value
        limit = estimates.two_level_fat_tree(k, ratio)["hosts"]
        bisection = estimates.bisection_bandwidth_bytes_s(hosts, estimates.gbit_to_bytes_s(self.link.value), ratio)
        if self.rail_only.value:
            if hosts % self.rails.value:
                raise ValueError(f"{hosts:,} ports do not split into {self.rails.value} equal rails")
            design = estimates.rail_only_fabric(hosts // self.rails.value, self.rails.value, k)
            return {**design["per_rail"], "hosts": hosts, "switches": design["switches"], "levels": design["levels"],
                    "rail_only": True, "rails": self.rails.value, "two_level_limit": limit,
                    "bisection_tbit_s": bisection * 8 / 1e12}
        if ratio != 1.0 or hosts <= limit:
            design = {**estimates.leaf_spine_for_hosts(hosts, k, ratio), "levels": 2}
        else:
            design = estimates.fat_tree_for_hosts(hosts, k)
        return {**design, "rail_only": False, "two_level_limit": limit, "bisection_tbit_s": bisection * 8 / 1e12}

    @staticmethod
    def _describe(r: dict) -> str:
        if r["rail_only"]:
            parts = f"{r['rails']} rails × {r['switches'] // r['rails']:,} switches ({r['levels']} level(s) a rail)"
        elif r["levels"] == 3:
            parts = (f"<b>{r['leaves']:,}</b> leaves + <b>{r['aggregation']:,}</b> aggregation + "
                     f"<b>{r['core']:,}</b> core switches in {r['pods']} pods")
        else:
            parts = f"<b>{r['leaves']:,}</b> leaves + <b>{r['spines']:,}</b> spines"
        return (f"{parts} = <b>{r['switches']:,}</b> switches "
                f"(two levels of this switch top out at {r['two_level_limit']:,} hosts).<br>"
                f"Bisection bandwidth: {r['bisection_tbit_s']:,.1f} Tb/s one way.")
