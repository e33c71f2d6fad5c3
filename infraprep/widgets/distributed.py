"""Widgets of lesson 3: a parallelism planner and an α-β AllReduce explorer.

Both keep their logic in plain methods (``plan``, ``compare``) so tests can drive
them without a browser; the sliders only call those methods.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from .. import estimates

__all__ = ["ParallelismPlanner", "AllReduceExplorer", "CheckpointPlanner", "MODEL_SIZES_B"]

#: Round model sizes (billions of parameters) the sliders offer: the sizes of public model families.
MODEL_SIZES_B = (1, 3, 7, 8, 13, 34, 70, 175, 405, 671, 1000)


class ParallelismPlanner:
    """Pick model size, GPUs, ZeRO stage, tensor/pipeline sizes and micro-batches; see per-GPU memory and bubble.

    >>> planner = ParallelismPlanner()
    >>> plain = planner.plan(params_b=7.5, gpus=64, zero_stage=1, tensor_parallel=1, pipeline_parallel=1)
    >>> round(plain["model_state_gb"], 1)   # 7.5e9 x (4 + 12 / 64) bytes: weights and grads whole, Adam sharded
    31.4
    >>> round(planner.plan(params_b=7.5, gpus=64, zero_stage=1)["model_state_gb"], 2)   # TP 8 x PP 4 split it too
    2.34
    """

    def __init__(self, params_b: float = 70, gpus: int = 256, zero_stage: int = 1, tensor_parallel: int = 8,
                 pipeline_parallel: int = 4, microbatches: int = 16, gpu_memory_gb: float = 80):
        style = {"description_width": "190px"}
        layout = widgets.Layout(width="520px")
        sizes = sorted(set(MODEL_SIZES_B) | {params_b})
        self._params = widgets.SelectionSlider(options=sizes, value=params_b,
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
            widgets.HTML("<h4>Parallelism planner (model states: weights + gradients + Adam, 16 bytes a parameter; "
                         "GB are decimal, 10⁹ bytes)</h4>"),
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
        alphas = sorted({0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000} | {alpha_us})
        bandwidths = sorted({1, 3, 12.5, 25, 50, 100, 200, 450, 900} | {bandwidth_gb_s})
        sizes = sorted({0.001, 0.004, 0.016, 0.064, 0.25, 1, 4, 25, 100, 400, 1000, 4000, 10000} | {size_mb})
        self._alpha = widgets.SelectionSlider(options=alphas, value=alpha_us, description="α (µs per step)",
                                              style=style, layout=layout)
        self._bw = widgets.SelectionSlider(options=bandwidths, value=bandwidth_gb_s, description="B (GB/s per link)",
                                           style=style, layout=layout)
        self._size = widgets.SelectionSlider(options=sizes, value=size_mb, description="message (MB)",
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


class CheckpointPlanner:
    """Model size, GPUs, storage bandwidth, MTBF and sync vs async saving → checkpoint size, pause and interval.

    A full mixed-precision Adam checkpoint is 14 bytes a parameter (2 BF16 weights + 12 FP32
    master weights, momentum and variance; gradients are not saved). Every rank writes its
    shard (PyTorch DCP). A synchronous save pauses training for the whole write; an
    asynchronous one (``dcp.async_save``) only for the copy to host memory.
    """

    def __init__(self, params_b: float = 70, gpus: int = 1024, write_gb_s: float = 100, mtbf_h: float = 6,
                 device_to_host_gb_s: float = 25, asynchronous: bool = False):
        style = {"description_width": "200px"}
        layout = widgets.Layout(width="520px")
        self._params = widgets.SelectionSlider(options=sorted(set(MODEL_SIZES_B) | {params_b}), value=params_b,
                                               description="parameters (billions)", style=style, layout=layout)
        self._gpus = widgets.SelectionSlider(options=[2**k for k in range(3, 15)], value=gpus, description="GPUs",
                                             style=style, layout=layout)
        self._write = widgets.SelectionSlider(options=sorted({10, 25, 50, 100, 200, 500, 1000} | {write_gb_s}),
                                              value=write_gb_s, description="storage write (GB/s, whole job)",
                                              style=style, layout=layout)
        self._mtbf = widgets.SelectionSlider(options=sorted({1, 2, 3, 6, 12, 24, 48} | {mtbf_h}), value=mtbf_h,
                                             description="job MTBF (hours)", style=style, layout=layout)
        self._d2h = widgets.SelectionSlider(options=sorted({10, 25, 50} | {device_to_host_gb_s}), value=device_to_host_gb_s,
                                            description="GPU → host copy (GB/s a GPU)", style=style, layout=layout)
        self._async = widgets.ToggleButtons(options=[("synchronous", False), ("asynchronous", True)], value=asynchronous,
                                            description="saving", style=style)
        self._out = widgets.HTML()
        for control in (self._params, self._gpus, self._write, self._mtbf, self._d2h, self._async):
            control.observe(lambda _change: self._refresh(), names="value")
        self.widget = widgets.VBox([widgets.HTML("<h4>Checkpoint planner (14 bytes a parameter; GB are decimal)</h4>"),
                                    self._params, self._gpus, self._write, self._mtbf, self._d2h, self._async, self._out])
        self._refresh()

    def plan(self, params_b: float | None = None, gpus: int | None = None, write_gb_s: float | None = None,
             mtbf_h: float | None = None, device_to_host_gb_s: float | None = None,
             asynchronous: bool | None = None) -> dict:
        """Checkpoint size (GB), shard per GPU (GB), write time and pause (s), Young's interval (min) and waste.

        Arguments left as None take the current widget values.
        """
        params = (self._params.value if params_b is None else params_b) * 1e9
        n = self._gpus.value if gpus is None else gpus
        write = (self._write.value if write_gb_s is None else write_gb_s) * 1e9
        mtbf_s = (self._mtbf.value if mtbf_h is None else mtbf_h) * 3600
        d2h = (self._d2h.value if device_to_host_gb_s is None else device_to_host_gb_s) * 1e9
        is_async = self._async.value if asynchronous is None else asynchronous
        size = estimates.checkpoint_bytes(params)
        shard = estimates.checkpoint_shard_bytes(params, n)
        write_s = estimates.checkpoint_write_time_s(size, write)
        pause = estimates.async_checkpoint_blocking_s(shard, d2h) if is_async else write_s
        interval = estimates.young_interval(pause, mtbf_s)
        return {
            "checkpoint_gb": size / 1e9, "shard_gb": shard / 1e9, "write_s": write_s, "pause_s": pause,
            "interval_min": interval / 60, "waste_fraction": estimates.waste_fraction(interval, pause, mtbf_s),
            "keeps_up": estimates.async_checkpoint_fits(write_s, interval) if is_async else True,
        }

    def report(self) -> str:
        p = self.plan()
        lines = [
            f"checkpoint <b>{p['checkpoint_gb']:,.0f} GB</b> (14 B a parameter), {p['shard_gb']:,.2f} GB a GPU",
            f"write {p['write_s']:,.0f} s; training pauses <b>{p['pause_s']:,.1f} s</b> a checkpoint",
            f"Young's interval √(2δ·MTBF) = <b>{p['interval_min']:,.1f} min</b>, "
            f"time lost to checkpoints and rework ≈ {p['waste_fraction']:.1%}",
        ]
        if not p["keeps_up"]:
            lines.append("⚠ the background write takes longer than the interval: checkpoints would queue up")
        return "<br>".join(lines)

    def _refresh(self) -> None:
        self._out.value = self.report()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
