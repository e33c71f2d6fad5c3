"""Widgets for lesson 4: a scheduler explorer, a taint/toleration matcher and a Topology Manager
policy explorer.

Each keeps its logic in plain methods (:meth:`SchedulerExplorer.run`,
:meth:`TolerationMatcher.match`, :meth:`TopologyPolicyExplorer.verdicts`) so tests can drive
them without a browser.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from ..charts.kubernetes import utilisation_timeline
from ..labs import scheduler
from ..manifests import ManifestError, Taint, load_yaml, tolerates

__all__ = ["SchedulerExplorer", "TolerationMatcher", "TopologyPolicyExplorer"]


class SchedulerExplorer:
    """Pick a policy, a placement rule and a job mix; see utilisation, waits and any deadlock.

    >>> ex = SchedulerExplorer()
    >>> ex.run(policy="per-pod", scenario=SchedulerExplorer.LAB).deadlocked
    True
    >>> ex.run(policy="gang", scenario=SchedulerExplorer.LAB).deadlocked
    False
    """

    LAB = "lab scenario: two 4-pod jobs, then two small ones"
    SCENARIOS = ("random mix", LAB)

    def __init__(self, nodes: int = 8, gpus_per_node: int = 8):
        self.nodes = nodes
        self.gpus_per_node = gpus_per_node
        self.last = None
        self.figure = None
        style = {"description_width": "120px"}
        self.scenario = widgets.Dropdown(options=self.SCENARIOS, value="random mix",
                                         description="Job mix", style=style)
        self.policy = widgets.ToggleButtons(options=[("per-pod (default)", "per-pod"), ("gang", "gang")],
                                            value="per-pod", description="Scheduler", style=style)
        self.placement = widgets.ToggleButtons(options=["spread", "pack"], value="spread",
                                               description="Placement", style=style)
        self.seed = widgets.IntSlider(value=4, min=0, max=20, description="Seed", style=style)
        self.window = widgets.IntSlider(value=2, min=1, max=40, description="Arrival window",
                                        style=style)
        self.gang_share = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.1,
                                              description="Multi-pod share", style=style)
        self.summary_box = widgets.HTML()
        self.chart = widgets.Output()
        for control in (self.scenario, self.policy, self.placement, self.seed, self.window, self.gang_share):
            control.observe(lambda _change: self.refresh(), names="value")
        self.widget = widgets.VBox([
            widgets.HTML("<b>Scheduler explorer</b>: the same jobs under the default per-pod scheduler or a "
                         "gang scheduler, on 8 nodes of 8 GPUs. The random mix (20 jobs) depends on the seed, "
                         "the arrival window (jobs that arrive close together collide) and the share of "
                         "multi-pod jobs; the lab scenario is the lesson's four jobs on 4 nodes."),
            self.seed, self.window, self.gang_share, self.scenario, self.policy, self.placement,
            self.summary_box, self.chart,
        ])
        self.refresh()

    def jobs(self, scenario: str | None = None, seed: int | None = None, window: int | None = None,
             gang_share: float | None = None) -> list[scheduler.Job]:
        scenario = scenario or self.scenario.value
        if scenario not in self.SCENARIOS:
            raise ValueError(f"scenario must be one of {self.SCENARIOS}, got {scenario!r}")
        if scenario == self.LAB:
            return scheduler.deadlock_scenario()
        return scheduler.random_jobs(
            n=20, seed=self.seed.value if seed is None else seed,
            max_arrival=self.window.value if window is None else window,
            gang_share=self.gang_share.value if gang_share is None else gang_share,
            gpus_per_node=self.gpus_per_node)

    def run(self, policy: str | None = None, placement: str | None = None, **job_options) -> scheduler.SimResult:
        """Simulate with the given (or currently selected) options and remember the result."""
        jobs = self.jobs(**job_options)
        nodes = 4 if (job_options.get("scenario") or self.scenario.value) == self.LAB else self.nodes
        self.last = scheduler.simulate(jobs, nodes=nodes, gpus_per_node=self.gpus_per_node,
                                       policy=policy or self.policy.value,
                                       placement=placement or self.placement.value)
        return self.last

    def describe(self, result: scheduler.SimResult | None = None) -> str:
        """One paragraph (HTML) on what happened."""
        r = result or self.last
        s = r.summary()
        text = (f"{s['jobs_finished']} of {s['jobs']} jobs finished; mean useful utilisation "
                f"{s['mean_utilisation']:.0%}")
        if s["mean_wait"] is not None:
            text += f"; mean wait {s['mean_wait']:.1f} steps"
        if r.deadlocked:
            text += (f". <b style='color:#cf222e'>Deadlock at step {r.deadlock_time}</b>: "
                     f"{html.escape(', '.join(r.deadlocked_jobs))} each hold GPUs and wait for GPUs "
                     "the other holds.")
        else:
            text += ". No deadlock."
        return text

    def refresh(self) -> None:
        fixed = self.scenario.value != "random mix"
        for control in (self.seed, self.window, self.gang_share):
            control.disabled = fixed
        result = self.run()
        self.summary_box.value = self.describe(result)
        self.figure = utilisation_timeline([result])
        from IPython import get_ipython

        if get_ipython() is None:  # plain Python (tests, scripts): keep the figure, show nothing
            return
        from IPython.display import display

        self.chart.clear_output(wait=True)
        with self.chart:
            display(self.figure)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class TolerationMatcher:
    """Type a node taint and a pod's tolerations (YAML list); see which toleration matches and why.

    >>> TolerationMatcher().match("nvidia.com/gpu=present:NoSchedule",
    ...     "- key: nvidia.com/gpu\\n  operator: Exists\\n  effect: NoSchedule")[0]
    True
    """

    EXAMPLE = "- key: nvidia.com/gpu\n  operator: Exists\n  effect: NoSchedule\n"
    PRESETS = {
        "Exists on the taint's key": EXAMPLE,
        "Equal with the taint's value": "- key: nvidia.com/gpu\n  operator: Equal\n  value: present\n  effect: NoSchedule\n",
        "Equal without a value": "- key: nvidia.com/gpu\n  operator: Equal\n  effect: NoSchedule\n",
        "Wrong effect": "- key: nvidia.com/gpu\n  operator: Exists\n  effect: NoExecute\n",
        "No effect (matches every effect)": "- key: nvidia.com/gpu\n  operator: Exists\n",
        "Empty key with Exists (tolerates everything)": "- operator: Exists\n",
        "No tolerations": "[]\n",
    }

    def __init__(self, taint: str = "nvidia.com/gpu=present:NoSchedule", tolerations: str = EXAMPLE):
        self.taint = widgets.Text(value=taint, description="Node taint", layout=widgets.Layout(width="480px"))
        self.tolerations = widgets.Textarea(value=tolerations, description="Tolerations",
                                            layout=widgets.Layout(width="480px", height="130px"))
        self.verdict = widgets.HTML()
        start = next((name for name, text in self.PRESETS.items() if text == tolerations), "(type your own)")
        self.preset = widgets.Dropdown(options=[*self.PRESETS, "(type your own)"], value=start,
                                       description="Try", layout=widgets.Layout(width="480px"))
        self.preset.observe(lambda change: self.use_preset(change["new"]), names="value")
        self.taint.observe(lambda _c: self.refresh(), names="value")
        self.tolerations.observe(lambda _c: self.refresh(), names="value")
        self.widget = widgets.VBox([
            widgets.HTML("<b>Taint and toleration matcher</b>: kubectl taint syntax key=value:Effect; "
                         "tolerations as a YAML list, as in a pod spec."),
            self.preset, self.taint, self.tolerations, self.verdict])
        self.refresh()

    def use_preset(self, name: str) -> None:
        """Fill the tolerations box with a named example (ignored for the free-typing entry)."""
        if name in self.PRESETS:
            self.tolerations.value = self.PRESETS[name]

    @staticmethod
    def explain(toleration: dict, taint: Taint) -> str:
        """Why one toleration does or does not match the taint."""
        if not isinstance(toleration, dict):
            return "not a mapping of fields"
        effect = toleration.get("effect") or ""
        if effect and effect != taint.effect:
            return f"effect {effect} differs from the taint's {taint.effect}"
        operator = toleration.get("operator") or "Equal"
        key = toleration.get("key") or ""
        if operator not in ("Equal", "Exists"):
            return f"operator must be Equal or Exists, not {operator}"
        if operator == "Exists":
            if key == "":
                return "matches: an empty key with Exists tolerates every taint"
            return "matches: same key, Exists ignores the value" if key == taint.key else f"key {key} differs"
        if key != taint.key:
            return f"key {key!r} differs from {taint.key!r}"
        value = str(toleration.get("value") or "")
        if value != taint.value:
            return f"value {value!r} differs from {taint.value!r} (operator Equal compares values)"
        return "matches: same key and value"

    def match(self, taint: str, tolerations: str) -> tuple[bool, list[str]]:
        """``(tolerated, reasons)``: one reason a toleration. Raises ValueError on a bad taint or YAML."""
        parsed_taint = Taint.parse(taint)
        if not tolerations.strip():
            items = []
        else:
            try:
                items = load_yaml(tolerations, "tolerations")  # bounded: a hostile text is refused at once
            except ManifestError as exc:
                raise ValueError(str(exc)) from None
        if items is None:
            items = []
        if not isinstance(items, list):
            raise ValueError("write the tolerations as a YAML list (each item starts with '- ')")
        reasons = [self.explain(t, parsed_taint) for t in items]
        return any(tolerates(t, parsed_taint) for t in items), reasons

    def refresh(self) -> None:
        try:
            ok, reasons = self.match(self.taint.value, self.tolerations.value)
        except (ValueError, ManifestError) as exc:
            self.verdict.value = f"<span style='color:#a15c00'>{html.escape(str(exc))}</span>"
            return
        head = ("<b style='color:#1a7f37'>Tolerated</b>: the scheduler may place the pod on this node."
                if ok else "<b style='color:#cf222e'>Not tolerated</b>: the pod stays off this node.")
        items = "".join(f"<li>toleration {i + 1}: {html.escape(r)}</li>" for i, r in enumerate(reasons))
        self.verdict.value = head + (f"<ul>{items}</ul>" if items else " (no tolerations given)")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class TopologyPolicyExplorer:
    """Pick a GPU request and the free GPUs on each of a node's two NUMA nodes; see which Topology
    Manager policies admit the pod, and why (:func:`infraprep.labs.scheduler.numa_admits`).

    >>> TopologyPolicyExplorer().verdicts(2, 1, 1)["restricted"][0]
    False
    """

    WHY = {
        "none": "no alignment is attempted",
        "best-effort": "prefers an aligned set but admits without one",
        "restricted": "needs the devices on the narrowest set of NUMA nodes that could ever hold the request",
        "single-numa-node": "needs all devices on one NUMA node",
    }

    def __init__(self, gpus_per_numa: int = 4, request: int = 2, free0: int = 1, free1: int = 1):
        self.gpus_per_numa = gpus_per_numa
        style = {"description_width": "170px"}
        self.request = widgets.IntSlider(value=request, min=1, max=2 * gpus_per_numa, description="GPUs requested",
                                         style=style)
        self.free0 = widgets.IntSlider(value=free0, min=0, max=gpus_per_numa, description="free on NUMA node 0",
                                       style=style)
        self.free1 = widgets.IntSlider(value=free1, min=0, max=gpus_per_numa, description="free on NUMA node 1",
                                       style=style)
        self.table = widgets.HTML()
        for control in (self.request, self.free0, self.free1):
            control.observe(lambda _change: self.refresh(), names="value")
        self.widget = widgets.VBox([
            widgets.HTML(f"<b>Topology Manager policies</b> on a node with two NUMA nodes of {gpus_per_numa} GPUs "
                         "each (devices only: CPUs join the alignment for Guaranteed pods with whole CPUs under "
                         "the static CPU Manager)."),
            self.request, self.free0, self.free1, self.table])
        self.refresh()

    def verdicts(self, request: int, free0: int, free1: int) -> dict[str, tuple[bool, str]]:
        """``{policy: (admitted, reason)}`` for one situation."""
        n = self.gpus_per_numa
        out = {}
        for policy in scheduler.TOPOLOGY_POLICIES:
            if free0 + free1 < request:
                out[policy] = (False, f"only {free0 + free1} GPUs are free: the device manager cannot allocate")
                continue
            admitted = scheduler.numa_admits(policy, request, [n, n], [free0, free1])
            out[policy] = (admitted, self.WHY[policy])
        return out

    def refresh(self) -> None:
        rows = "".join(
            f"<tr><td><code>{p}</code></td><td style='color:{'#1a7f37' if ok else '#cf222e'}'><b>"
            f"{'admits' if ok else 'rejects'}</b></td><td>{html.escape(why)}</td></tr>"
            for p, (ok, why) in self.verdicts(self.request.value, self.free0.value, self.free1.value).items())
        self.table.value = f"<table><tr><th>policy</th><th>verdict</th><th>rule</th></tr>{rows}</table>"

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
