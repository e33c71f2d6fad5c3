"""Widgets of lesson 3: a parallelism planner and an α-β AllReduce explorer.

Both keep their logic in plain methods (``plan``, ``compare``) so tests can drive
them without a browser; the sliders only call those methods.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from .. import estimates

__all__ = ["ParallelismPlanner", "AllReduceExplorer"]


class ParallelismPlanner:
    """Pick model size, GPUs, ZeRO stage, tensor/pipeline sizes and micro-batches; see per-GPU memory and bubble.

    >>> planner = ParallelismPlanner()
    >>> round(planner.plan(params_b=7.5, gpus=64, zero_stage=1)["model_state_gb"], 1)
    31.4
    """

    def __init__(self, params_b: float = 70, gpus: int = 256, zero_stage: int = 1, tensor_parallel: int = 8,
                 pipeline_parallel: int = 4, microbatches: int = 16, gpu_memory_gb: float = 80):
        style = {"description_width": "190px"}
        layout = widgets.Layout(width="520px")
        self._params = widgets.FloatLogSlider(value=params_b, base=10, min=-1, max=3.3, step=0.05,
                                              description="parameters (billions)", style=style, layout=layout)
        self._gpus = widgets.SelectionSlider(options=[2**k for k in range(0, 15)], value=gpus,
                                             description="GPUs", style=style, layout=layout)
        self._stage = widgets.ToggleButtons(options=[("DDP", 0), ("ZeRO-1", 1), ("ZeRO-2", 2), ("ZeRO-3/FSDP", 3)],
                                            value=zero_stage, description="sharding", style=style)
        self._tp = widgets.SelectionSlider(options=[1, 2, 4, 8, 16], value=tensor_parallel,
                                           description="tensor parallel (t)", style=style, layout=layout)
        self._pp = widgets.SelectionSlider(options=[1, 2, 4, 8, 16, 32], value=pipeline_parallel,
                                           description="pipeline stages (p)", style=style, layout=layout)
        self._micro = widgets.IntSlider(value=microbatches, min=1, max=128, description="micro-batches (m)",
                                        style=style, layout=layout)
        self._memory = widgets.FloatText(value=gpu_memory_gb, description="GPU memory (GB)", style=style)
        self._out = widgets.HTML()
        for control in (self._params, self._gpus, self._stage, self._tp, self._pp, self._micro, self._memory):
            control.observe(lambda _change: self._refresh(), names="value")
        self.widget = widgets.VBox([
            widgets.HTML("<h4>Parallelism planner (model states: weights + gradients + Adam, 16 bytes a parameter)</h4>"),
            self._params, self._gpus, self._stage, self._tp, self._pp, self._micro, self._memory, self._out,
        ])
        self._refresh()

    def plan(self, params_b: float | None = None, gpus: int | None = None, zero_stage: int | None = None,
             tensor_parallel: int | None = None, pipeline_parallel: int | None = None,
             microbatches: int | None = None, gpu_memory_gb: float | None = None) -> dict:
        """Compute a plan; arguments left as None take the current widget values.

        Returns ``data_parallel``, ``model_state_gb`` (per GPU, decimal GB), ``bubble_fraction``,
        ``headroom_gb`` (memory left for activations), ``fits`` and a list of ``warnings``.
        Raises ValueError for an impossible layout (t·p does not divide the GPUs).
        """
        params_b = self._params.value if params_b is None else params_b
        gpus = self._gpus.value if gpus is None else gpus
        stage = self._stage.value if zero_stage is None else zero_stage
        t = self._tp.value if tensor_parallel is None else tensor_parallel
        p = self._pp.value if pipeline_parallel is None else pipeline_parallel
        m = self._micro.value if microbatches is None else microbatches
        memory_gb = self._memory.value if gpu_memory_gb is None else gpu_memory_gb
        d = estimates.data_parallel_size(gpus, t, p)
        state = estimates.model_state_bytes_per_gpu(params_b * 1e9, gpus, t, p, stage) / 1e9
        bubble = estimates.pipeline_bubble_fraction(p, m) if p > 1 else 0.0
        warnings = []
        if t > 8:
            warnings.append("tensor parallel above 8 leaves one 8-GPU NVLink node: its per-layer AllReduces cross the network")
        if p > 1 and m < 4 * p:
            warnings.append(f"m = {m} < 4p = {4 * p}: the bubble is large; add micro-batches (GPipe's rule of thumb)")
        if stage == 0 and d > 1 and state > 0.5 * memory_gb:
            warnings.append("plain DDP keeps every state on every GPU: try ZeRO-1/2 before adding model parallelism")
        headroom = memory_gb - state
        return {"data_parallel": d, "model_state_gb": state, "bubble_fraction": bubble,
                "headroom_gb": headroom, "fits": headroom > 0, "warnings": warnings}

    def report(self) -> str:
        """The current plan as HTML (what the widget shows)."""
        try:
            plan = self.plan()
        except ValueError as exc:
            return f"<span style='color:#cf222e'>{html.escape(str(exc))}</span>"
        verdict = ("<span style='color:#1a7f37'>fits</span>" if plan["fits"]
                   else "<span style='color:#cf222e'>does not fit</span>")
        lines = [
            f"data parallel d = GPUs/(t·p) = <b>{plan['data_parallel']}</b>",
            f"model state per GPU: <b>{plan['model_state_gb']:.1f} GB</b> ({verdict}; "
            f"{plan['headroom_gb']:.1f} GB left for activations and buffers)",
            f"pipeline bubble (p−1)/(m+p−1): <b>{plan['bubble_fraction']:.1%}</b> of each step",
        ]
        lines += [f"⚠ {html.escape(w)}" for w in plan["warnings"]]
        return "<br>".join(lines)

    def _refresh(self) -> None:
        self._out.value = self.report()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class AllReduceExplorer:
    """Move α, B, GPU count and message size; compare ring and tree AllReduce under the α-β model."""

    def __init__(self, gpus: int = 16, alpha_us: float = 10.0, bandwidth_gb_s: float = 50.0, size_mb: float = 25.0):
        style = {"description_width": "170px"}
        layout = widgets.Layout(width="500px")
        self._gpus = widgets.SelectionSlider(options=[2**k for k in range(1, 13)], value=gpus, description="GPUs (n)",
                                             style=style, layout=layout)
        self._alpha = widgets.FloatLogSlider(value=alpha_us, base=10, min=-1, max=3, description="α (µs per step)",
                                             style=style, layout=layout)
        self._bw = widgets.FloatLogSlider(value=bandwidth_gb_s, base=10, min=0, max=3, description="B (GB/s per link)",
                                          style=style, layout=layout)
        self._size = widgets.FloatLogSlider(value=size_mb, base=10, min=-3, max=4, description="message (MB)",
                                            style=style, layout=layout)
        self._out = widgets.HTML()
        for control in (self._gpus, self._alpha, self._bw, self._size):
            control.observe(lambda _change: self._refresh(), names="value")
        self.widget = widgets.VBox([widgets.HTML("<h4>α-β AllReduce explorer</h4>"),
                                    self._gpus, self._alpha, self._bw, self._size, self._out])
        self._refresh()

    def compare(self, gpus: int | None = None, alpha_us: float | None = None, bandwidth_gb_s: float | None = None,
                size_mb: float | None = None) -> dict:
        """Ring and tree times (s), the faster one, the crossover size (bytes) and the ring's busbw (bytes/s)."""
        n = self._gpus.value if gpus is None else gpus
        alpha = (self._alpha.value if alpha_us is None else alpha_us) * 1e-6
        bandwidth = (self._bw.value if bandwidth_gb_s is None else bandwidth_gb_s) * 1e9
        size = (self._size.value if size_mb is None else size_mb) * 1e6
        ring = estimates.ring_allreduce_time_s(size, n, alpha, bandwidth)
        tree = estimates.tree_allreduce_time_s(size, n, alpha, bandwidth)
        return {
            "ring_s": ring,
            "tree_s": tree,
            "faster": "ring" if ring <= tree else "tree",
            "crossover_bytes": estimates.ring_tree_crossover_bytes(n, alpha, bandwidth),
            "ring_busbw_bytes_s": estimates.allreduce_busbw(estimates.algbw(size, ring), n),
            "latency_share": 2 * (n - 1) * alpha / ring,
        }

    def report(self) -> str:
        c = self.compare()
        return (f"ring: <b>{c['ring_s'] * 1e3:.3f} ms</b> ({c['latency_share']:.0%} of it latency) · "
                f"tree: <b>{c['tree_s'] * 1e3:.3f} ms</b> → the <b>{c['faster']}</b> is faster<br>"
                f"ring busbw = algbw·2(n−1)/n = {c['ring_busbw_bytes_s'] / 1e9:.1f} GB/s · "
                f"ring beats tree above ≈ {c['crossover_bytes'] / 1e6:.3g} MB")

    def _refresh(self) -> None:
        self._out.value = self.report()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
