"""Timed mock interviews: a prompt for a round, a countdown, a rubric to score yourself, saved results,
and a model answer for every prompt.

Prompts (``mock_prompts.csv``) and the rubric (``rubric.csv``) are course data. A
rubric row with an empty ``prompt_id`` applies to every prompt of its round; a row
naming a prompt adds a criterion for that prompt only.

Model answers (:func:`model_answer`) are worked the way a strong candidate answers, only shorter:
requirements, the numbers (computed here with :mod:`infraprep.estimates` from the assumptions in
``mock_inputs.csv``), the architecture or mechanism, a deep dive and the trade-offs. Their text
lives in ``model_answers.csv`` with ``{name}`` slots for the computed numbers, so a number is
written once, by the code that computes it.

Time is injected: :class:`Countdown` takes a ``clock`` (a function returning seconds,
``time.monotonic`` by default), so tests drive a fake clock instead of waiting.
Results are appended to ``mock_results.json`` in :func:`userdata.home` (atomic
writes; a corrupt file is set aside with a warning).
"""

from __future__ import annotations

import html
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from .. import estimates, tables
from .. import userdata
from .bank import LESSON, ROUNDS

__all__ = ["load_prompts", "rubric_for", "Countdown", "MockSession", "MockResults", "inputs_for", "model_answer",
           "ModelAnswer", "markdown_html"]

FILE_NAME = "mock_results.json"
VERSION = 1


def load_prompts(round: str | None = None) -> pd.DataFrame:  # noqa: A002
    """Mock-interview prompts: ``prompt_id, round, title, prompt, minutes, source``."""
    frame = tables.load(LESSON, "mock_prompts")
    if round is not None:
        if round not in ROUNDS:
            raise ValueError(f"unknown round {round!r}; choose among {', '.join(ROUNDS)}")
        frame = frame[frame["round"] == round].reset_index(drop=True)
    return frame


def rubric_for(prompt_id: str) -> pd.DataFrame:
    """The rubric of one prompt: its round's general criteria, then the prompt's own."""
    prompts = load_prompts()
    match = prompts[prompts["prompt_id"] == prompt_id]
    if match.empty:
        raise ValueError(f"unknown prompt {prompt_id!r}; known: {', '.join(prompts['prompt_id'])}")
    round_ = str(match["round"].iloc[0])
    rubric = tables.load(LESSON, "rubric")
    general = rubric[(rubric["round"] == round_) & rubric["prompt_id"].isna()]
    own = rubric[rubric["prompt_id"] == prompt_id]
    return pd.concat([general, own]).reset_index(drop=True)[["item", "criterion"]]


class Countdown:
    """A countdown of ``seconds`` driven by ``clock`` (seconds, monotonic)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        if seconds <= 0:
            raise ValueError("a countdown needs a positive duration")
        self.seconds = float(seconds)
        self.clock = clock
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    def start(self) -> None:
        self.started_at, self.stopped_at = self.clock(), None

    def stop(self) -> None:
        if self.started_at is not None and self.stopped_at is None:
            self.stopped_at = self.clock()

    @property
    def ended(self) -> bool:
        """The attempt is over: time ran out, or the countdown was started and then stopped."""
        return self.started_at is not None and (self.stopped_at is not None or self.expired)

    @property
    def running(self) -> bool:
        return self.started_at is not None and self.stopped_at is None

    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.stopped_at if self.stopped_at is not None else self.clock()
        return max(0.0, end - self.started_at)

    def remaining(self) -> float:
        return max(0.0, self.seconds - self.elapsed())

    @property
    def expired(self) -> bool:
        return self.elapsed() >= self.seconds

    def display(self) -> str:
        """``MM:SS`` left, or ``+MM:SS`` over time once expired."""
        if self.expired:
            over = int(self.elapsed() - self.seconds)
            return f"+{over // 60:02d}:{over % 60:02d}"
        left = math.ceil(self.remaining())  # a countdown shows whole seconds, rounded up
        return f"{left // 60:02d}:{left % 60:02d}"


@dataclass
class MockSession:
    """One mock interview: a prompt, its countdown and the rubric items you ticked."""

    prompt_id: str
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = datetime.now
    minutes: float | None = None
    checked: set[str] = field(default_factory=set)

    def __post_init__(self):
        prompts = load_prompts()
        row = prompts[prompts["prompt_id"] == self.prompt_id]
        if row.empty:
            raise ValueError(f"unknown prompt {self.prompt_id!r}")
        self.round = str(row["round"].iloc[0])
        self.title = str(row["title"].iloc[0])
        self.prompt = str(row["prompt"].iloc[0])
        self.minutes = float(self.minutes if self.minutes is not None else row["minutes"].iloc[0])
        self.rubric = rubric_for(self.prompt_id)
        self.countdown = Countdown(self.minutes * 60, clock=self.clock)

    def start(self) -> None:
        self.countdown.start()

    def check(self, item: str, done: bool = True) -> None:
        """Tick (or untick) a rubric item by its ``item`` name."""
        if item not in set(self.rubric["item"]):
            raise ValueError(f"{item!r} is not in this prompt's rubric: {', '.join(self.rubric['item'])}")
        (self.checked.add if done else self.checked.discard)(item)

    @property
    def score(self) -> tuple[int, int]:
        return len(self.checked), len(self.rubric)

    def result(self) -> dict:
        """The session as a plain record (stops the countdown)."""
        self.countdown.stop()
        got, total = self.score
        return {
            "when": self.now().isoformat(timespec="seconds"),
            "prompt_id": self.prompt_id,
            "round": self.round,
            "minutes_allowed": self.minutes,
            "minutes_used": round(self.countdown.elapsed() / 60, 2),
            "checked": sorted(self.checked),
            "score": got,
            "max_score": total,
        }


def _valid(data) -> bool:
    return (isinstance(data, dict) and data.get("version") == VERSION and isinstance(data.get("sessions"), list)
            and all(isinstance(s, dict) and {"when", "prompt_id", "round", "score", "max_score"} <= set(s)
                    for s in data["sessions"]))


class MockResults:
    """Saved mock-interview results (a JSON file of sessions)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else userdata.home() / FILE_NAME
        self.sessions: list[dict] = self._read()
        self._stamp = userdata.stamp(self.path)

    def _read(self) -> list[dict]:
        return userdata.read_json(self.path, default=lambda: {"version": VERSION, "sessions": []}, valid=_valid)["sessions"]

    def add(self, session: MockSession | dict) -> dict:
        """Append one session and save; sessions saved meanwhile by another widget are kept."""
        record = session.result() if isinstance(session, MockSession) else dict(session)
        if userdata.stamp(self.path) != self._stamp:
            self.sessions = self._read()
        self.sessions.append(record)
        userdata.write_json(self.path, {"version": VERSION, "sessions": self.sessions})
        self._stamp = userdata.stamp(self.path)
        return record

    def frame(self) -> pd.DataFrame:
        """Sessions as a table with ``when`` as a timestamp and ``percent`` scored."""
        columns = ["when", "prompt_id", "round", "minutes_allowed", "minutes_used", "score", "max_score", "percent"]
        if not self.sessions:
            return pd.DataFrame(columns=columns)
        frame = pd.DataFrame(self.sessions)
        frame["when"] = pd.to_datetime(frame["when"])
        frame["percent"] = 100.0 * frame["score"] / frame["max_score"]
        return frame.reindex(columns=columns).sort_values("when").reset_index(drop=True)



# --------------------------------------------------------------------------- model answers

def inputs_for(prompt_id: str) -> dict[str, float]:
    """The assumptions a prompt's model answer starts from (``mock_inputs.csv``): ``{name: value}``."""
    frame = tables.load(LESSON, "mock_inputs")
    rows = frame[frame["prompt_id"] == prompt_id]
    return {str(name): float(value) for name, value in zip(rows["name"], rows["value"])}


def _gpu(name: str) -> dict:
    row = tables.load("02-gpu", "datasheets").set_index("gpu").loc[name]
    return {"peak": float(row["bf16_dense_tflops"]) * 1e12, "bandwidth": float(row["bandwidth_tb_s"]) * 1e12,
            "memory": float(row["memory_gb"]) * 1e9}


def _model(name: str) -> dict:
    row = tables.load("02-gpu", "models").set_index("model").loc[name]
    return {k: int(row[k]) for k in ("layers", "hidden_size", "attention_heads", "kv_heads", "head_dim")}


def _n(label: str, value: float, unit: str, fmt: str) -> tuple[str, float, str, str]:
    return label, value, unit, fmt


def _sd_70b_cluster(x: dict) -> dict:
    h100 = _gpu("H100 SXM")
    n, d, mfu = x["params"], x["tokens"], x["mfu"]
    gpu_hours = estimates.gpu_hours(n, d, h100["peak"], mfu)
    minimum = gpu_hours / (x["deadline_days"] * 24)
    nodes = 2 ** math.ceil(math.log2(math.ceil(minimum / 8)))
    gpus = nodes * 8
    days = estimates.training_time_s(n, d, gpus, h100["peak"], mfu) / 86400
    tp = int(x["tensor_parallel"])
    dp = estimates.data_parallel_size(gpus, tp, 1)
    state = estimates.model_state_bytes_per_gpu(n, gpus, tensor_parallel=tp, zero_stage=1)
    step = 6 * n * x["tokens_per_step"] / (gpus * h100["peak"] * mfu)
    grads = estimates.ring_allreduce_time_s(2 * n / tp, dp, x["alpha_us"] * 1e-6, x["nic_gb_s"] * 1e9)
    ckpt = estimates.checkpoint_bytes(n)
    write = estimates.checkpoint_write_time_s(ckpt, x["checkpoint_write_gb_s"] * 1e9)
    ref_mtbf = estimates.mtbf_from_failures(x["reference_days"] * 24, int(x["reference_interruptions"]))
    node_mtbf = ref_mtbf * x["reference_gpus"] / 8
    job_mtbf = estimates.cluster_mtbf(node_mtbf, nodes)
    young_block = estimates.young_interval(write, job_mtbf * 3600)
    young_async = estimates.young_interval(x["async_block_s"], job_mtbf * 3600)
    waste_block = estimates.waste_fraction(young_block, write, job_mtbf * 3600)
    waste_async = estimates.waste_fraction(young_async, x["async_block_s"], job_mtbf * 3600)
    hours = days * 24
    it_mw = nodes * x["node_kw"] / 1000
    return {
        "flops": _n("training compute, 6·N·D", estimates.training_flops(n, d), "FLOPs", "sci"),
        "gpu_hours": _n("H100-hours at the assumed MFU", gpu_hours, "GPU-hours", ",.0f"),
        "min_gpus": _n("GPUs needed to finish within the deadline", minimum, "GPUs", ",.0f"),
        "gpus": _n("GPUs chosen (whole nodes, a power of two)", gpus, "GPUs", ",.0f"),
        "nodes": _n("8-GPU nodes", nodes, "nodes", ",.0f"),
        "days": _n("training time on those GPUs", days, "days", ".1f"),
        "dp": _n("data-parallel replicas (tensor parallel 8 inside a node)", dp, "replicas", ",.0f"),
        "state_gb": _n("model state per GPU, TP 8 × ZeRO-1", state / 1e9, "GB", ".1f"),
        "step_s": _n("time of one 4M-token step", step, "s", ".2f"),
        "grad_s": _n("gradient AllReduce per step over the NICs (hidden under backward)", grads, "s", ".2f"),
        "ckpt_gb": _n("checkpoint, 14 bytes a parameter", ckpt / 1e9, "GB", ",.0f"),
        "write_s": _n("checkpoint write at the file system's rate", write, "s", ".1f"),
        "job_mtbf_h": _n("expected time between interruptions for this job", job_mtbf, "hours", ".0f"),
        "interruptions": _n("interruptions to expect during the run", hours / job_mtbf, "interruptions", ".0f"),
        "young_block_min": _n("Young's interval with blocking checkpoints", young_block / 60, "minutes", ".0f"),
        "waste_block_pct": _n("time lost with blocking checkpoints", 100 * waste_block, "%", ".1f"),
        "young_async_min": _n("Young's interval with asynchronous checkpoints", young_async / 60, "minutes", ".0f"),
        "waste_async_pct": _n("time lost with asynchronous checkpoints", 100 * waste_async, "%", ".1f"),
        "cost_musd": _n("GPU cost at the neocloud price", gpus * hours * x["usd_per_gpu_hour"] / 1e6, "million USD", ".2f"),
        "aws_musd": _n("GPU cost at AWS list price", gpus * hours * x["aws_usd_per_gpu_hour"] / 1e6, "million USD", ".2f"),
        "it_mw": _n("IT power of the nodes at full load", it_mw, "MW", ".2f"),
        "facility_mw": _n("facility power at the PUE", it_mw * x["pue"], "MW", ".2f"),
    }


def _sd_serving(x: dict) -> dict:
    h100 = _gpu("H100 SXM")
    shape = _model("Llama 2 70B")
    n, g = 70e9, int(x["gpus_per_replica"])
    weights = estimates.weights_bytes(n)
    kv = estimates.kv_cache_bytes_per_token(shape["layers"], shape["kv_heads"], shape["head_dim"])
    context = x["prompt_tokens"] + x["output_tokens"]
    free = g * h100["memory"] * x["usable_memory"] - weights
    fit = estimates.kv_capacity_sequences(free, context, kv)
    slo = x["tpot_slo_ms"] / 1000
    by_slo = estimates.max_batch_for_tpot(slo, n, weights, g * h100["peak"], g * h100["bandwidth"], context, kv,
                                          x["mfu"], x["mbu"])
    batch = min(fit, by_slo)
    step = estimates.decode_step_time_s(n, weights, batch, g * h100["peak"], g * h100["bandwidth"], context, kv,
                                        x["mfu"], x["mbu"])
    per_seq, per_replica = estimates.decode_tokens_per_s(step, batch)
    ttft = estimates.prefill_time_s(n, x["prompt_tokens"], g * h100["peak"], x["mfu"])
    in_system = ttft + x["output_tokens"] * step
    concurrency = estimates.littles_law_concurrency(x["requests_per_s"], in_system)
    replicas = estimates.replicas_for_load(x["requests_per_s"], x["output_tokens"], per_replica, x["headroom"])
    price = g * x["usd_per_gpu_hour"]
    return {
        "weights_gb": _n("70B weights in BF16", weights / 1e9, "GB", ",.0f"),
        "kv_mb": _n("KV cache per token (80 layers, 8 KV heads of 128)", kv / 1e6, "MB", ".2f"),
        "kv_seq_gb": _n("KV cache of one 2,500-token conversation", kv * context / 1e9, "GB", ".2f"),
        "free_gb": _n("HBM left for KV cache on 4 H100s", free / 1e9, "GB", ",.0f"),
        "fit": _n("conversations whose KV cache fits", fit, "sequences", ",.0f"),
        "by_slo": _n("largest decode batch within the TPOT target", by_slo, "sequences", ",.0f"),
        "batch": _n("decode batch per replica", batch, "sequences", ",.0f"),
        "step_ms": _n("decode step (time per output token)", step * 1000, "ms", ".1f"),
        "replica_tps": _n("output tokens a second per replica", per_replica, "tokens/s", ",.0f"),
        "ttft_ms": _n("prefill of a 2,000-token prompt (lower bound on TTFT)", ttft * 1000, "ms", ".0f"),
        "concurrency": _n("requests in flight (Little's law)", concurrency, "requests", ",.0f"),
        "replicas": _n("replicas for the peak, with 20% headroom", replicas, "replicas", ",.0f"),
        "gpus": _n("GPUs for the 70B model", replicas * g, "GPUs", ",.0f"),
        "usd_per_m": _n("GPU cost per million output tokens at full batch", estimates.cost_per_million_tokens(price, per_replica),
                        "USD", ".2f"),
        "small_gb": _n("7B weights in BF16", estimates.weights_bytes(7e9) / 1e9, "GB", ",.0f"),
    }


def _sd_data_pipeline(x: dict) -> dict:
    h100 = _gpu("H100 SXM")
    raw = x["raw_pb"] * 1e15
    text = raw * x["keep_fraction"]
    tokens = text / x["bytes_per_token_text"]
    stored = tokens * x["bytes_per_token_stored"]
    per_gpu = x["mfu"] * h100["peak"] / (6 * x["params"])
    total = per_gpu * x["gpus"]
    rate = raw / (x["preprocess_days"] * 86400)
    return {
        "tokens_t": _n("tokens left after cleaning", tokens / 1e12, "trillion tokens", ".1f"),
        "stored_tb": _n("tokenised dataset on disk", stored / 1e12, "TB", ",.0f"),
        "shards": _n("shards of 512 MB", estimates.shards_needed(stored, x["shard_mb"] * 1e6), "shards", ",.0f"),
        "tokens_per_gpu": _n("tokens a second one H100 consumes (8B model, 40% MFU)", per_gpu, "tokens/s", ",.0f"),
        "read_mb_s": _n("read bandwidth the whole job needs", estimates.loader_bandwidth_bytes_s(total, x["bytes_per_token_stored"]) / 1e6,
                        "MB/s", ",.0f"),
        "days_per_epoch": _n("days to read the dataset once", tokens / total / 86400, "days", ".0f"),
        "preprocess_gb_s": _n("preprocessing rate to finish in the time budget", rate / 1e9, "GB/s", ".1f"),
        "cores": _n("CPU cores at that rate", rate / (x["core_mb_s"] * 1e6), "cores", ",.0f"),
    }


def _dd_allreduce(x: dict) -> dict:
    s, n = x["message_mb"] * 1e6, int(x["gpus"])
    alpha, b = x["alpha_us"] * 1e-6, x["bandwidth_gb_s"] * 1e9
    ring = estimates.ring_allreduce_time_s(s, n, alpha, b)
    tree = estimates.tree_allreduce_time_s(s, n, alpha, b)
    measured = x["measured_ms"] / 1000
    alg = estimates.algbw(s, measured)
    return {
        "bytes_gb": _n("bytes each GPU sends, 2(n−1)/n · S", estimates.ring_allreduce_bytes_per_gpu(s, n) / 1e9, "GB", ".3f"),
        "latency_ms": _n("latency term 2(n−1)·α", 2 * (n - 1) * alpha * 1000, "ms", ".2f"),
        "ring_ms": _n("ring AllReduce time", ring * 1000, "ms", ".1f"),
        "tree_ms": _n("binomial tree time (not pipelined)", tree * 1000, "ms", ".1f"),
        "crossover_kb": _n("message size where ring and tree cost the same", estimates.ring_tree_crossover_bytes(n, alpha, b) / 1e3,
                           "kB", ",.0f"),
        "algbw": _n("algbw of the measured run", alg / 1e9, "GB/s", ".1f"),
        "busbw": _n("busbw of the measured run", estimates.allreduce_busbw(alg, n) / 1e9, "GB/s", ".1f"),
    }


def _dd_memory(x: dict) -> dict:
    n, g = x["params"], int(x["gpus"])
    shape = _model("Llama 2 13B")
    act = estimates.transformer_activation_bytes(shape["layers"], int(x["seq_len"]), int(x["micro_batch"]),
                                                 shape["hidden_size"], shape["attention_heads"])
    act_full = estimates.transformer_activation_bytes(shape["layers"], int(x["seq_len"]), int(x["micro_batch"]),
                                                      shape["hidden_size"], shape["attention_heads"], recompute="full")
    return {
        "ddp_gb": _n("plain DDP: 16 bytes a parameter on every GPU", estimates.zero_bytes_per_gpu(n, g, 0) / 1e9, "GB", ",.0f"),
        "z1_gb": _n("ZeRO-1 per GPU", estimates.zero_bytes_per_gpu(n, g, 1) / 1e9, "GB", ".1f"),
        "z2_gb": _n("ZeRO-2 per GPU", estimates.zero_bytes_per_gpu(n, g, 2) / 1e9, "GB", ".1f"),
        "z3_gb": _n("ZeRO-3 / FSDP per GPU", estimates.zero_bytes_per_gpu(n, g, 3) / 1e9, "GB", ".1f"),
        "act_gb": _n("activations of one 4,096-token sequence, no recomputation", act / 1e9, "GB", ".1f"),
        "act_flash_gb": _n("the same with a fused attention kernel (no s×s score matrix stored)",
                           shape["layers"] * x["seq_len"] * x["micro_batch"] * shape["hidden_size"] * 34 / 1e9, "GB", ".1f"),
        "act_full_gb": _n("the same with full activation checkpointing", act_full / 1e9, "GB", ".2f"),
        "recompute_pct": _n("extra compute of full recomputation (one more forward pass)", 100 * 2 / 6, "%", ".0f"),
    }


def _stalled(x: dict) -> dict:
    from . import incident

    found = incident.diagnose()
    metrics = incident.parse_train_log(incident.read("train.log"))
    write = float(re.search(r"saved step_\d+ in ([\d.]+) s", incident.read("train.log")).group(1))
    mtbf_s = estimates.cluster_mtbf(60 * 86400, 32)
    return {
        "rank": _n("first failing rank", found["first_failing_rank"], "rank", "d"),
        "timeouts": _n("ranks that logged a watchdog timeout", found["timeouts"], "ranks", ",d"),
        "node_rank": _n("node rank of the failing rank (rank ÷ 8)", found["node_rank"], "node", "d"),
        "local_rank": _n("local rank, the GPU index (rank mod 8)", found["local_rank"], "GPU", "d"),
        "xid": _n("Xid in that node's dmesg", found["xid"], "Xid", "d"),
        "steps": _n("steps to redo from the last complete checkpoint", found["steps_to_redo"], "steps", ",d"),
        "minutes": _n("training time to redo", found["minutes_to_redo"], "minutes", ".0f"),
        "step_s": _n("median step time", float(metrics["step_time_s"].median()), "s", ".2f"),
        "young_min": _n("Young's interval at an illustrative 60-day node MTBF",
                        estimates.young_interval(write, mtbf_s) / 60, "minutes", ".0f"),
    }


def _bh_cost(x: dict) -> dict:
    rate = estimates.job_interruption_rate(x["instance_interruptions_per_hour"], int(x["instances"]))
    write_h, restart_h = x["checkpoint_minutes"] / 60, x["restart_minutes"] / 60
    tau = estimates.young_interval(write_h, 1 / rate)
    spot = estimates.spot_expected_cost_usd(x["work_hours"], int(x["gpus"]), x["on_demand_usd_per_gpu_hour"],
                                            x["spot_discount"], rate, tau, restart_h, write_h)
    hours = estimates.spot_expected_hours(x["work_hours"], rate, tau, restart_h, write_h)
    on_demand = x["work_hours"] * x["gpus"] * x["on_demand_usd_per_gpu_hour"]
    return {
        "on_demand_usd": _n("on-demand cost", on_demand, "USD", ",.0f"),
        "job_mtbf_h": _n("time between reclaims for the 8-instance job", 1 / rate, "hours", ".1f"),
        "tau_min": _n("checkpoint interval (Young)", tau * 60, "minutes", ".0f"),
        "hours": _n("expected wall-clock hours on spot", hours, "hours", ",.0f"),
        "spot_usd": _n("expected spot cost", spot, "USD", ",.0f"),
        "saved_pct": _n("saving", 100 * (1 - spot / on_demand), "%", ".0f"),
    }


def _bh_conflict(x: dict) -> dict:
    ckpt = estimates.checkpoint_bytes(x["params"])
    write = estimates.checkpoint_write_time_s(ckpt, x["write_gb_s"] * 1e9)
    ref_mtbf = estimates.mtbf_from_failures(x["reference_days"] * 24, int(x["reference_interruptions"]))
    job_mtbf = ref_mtbf * x["reference_gpus"] / x["gpus"] * 3600
    young = estimates.young_interval(write, job_mtbf)
    proposed = x["proposed_interval_min"] * 60
    return {
        "ckpt_gb": _n("checkpoint, 14 bytes a parameter", ckpt / 1e9, "GB", ",.0f"),
        "write_s": _n("write time at the file system's rate", write, "s", ".1f"),
        "job_mtbf_h": _n("expected time between interruptions for the job", job_mtbf / 3600, "hours", ".0f"),
        "young_min": _n("Young's interval", young / 60, "minutes", ".0f"),
        "proposed_gb_s": _n("average write load at the proposed 5-minute interval", ckpt / proposed / 1e9, "GB/s", ".2f"),
        "young_gb_s": _n("average write load at Young's interval", ckpt / young / 1e9, "GB/s", ".2f"),
        "overhead_proposed_pct": _n("time blocked writing at 5 minutes", 100 * estimates.checkpoint_overhead_fraction(write, proposed),
                                    "%", ".1f"),
        "waste_young_pct": _n("total time lost at Young's interval", 100 * estimates.waste_fraction(young, write, job_mtbf),
                              "%", ".1f"),
    }


def _ps_gpu_basics(x: dict) -> dict:
    h100 = _gpu("H100 SXM")
    links = tables.load("02-gpu", "interconnects").set_index("link")["per_direction_gb_s"].astype(float)
    return {
        "ridge": _n("H100 SXM ridge point", estimates.ridge_point(h100["peak"], h100["bandwidth"]), "FLOP/byte", ".0f"),
        "decode_intensity": _n("decode intensity at batch 1 (BF16)", estimates.decode_intensity(1), "FLOP/byte", ".0f"),
        "decode_ms": _n("floor on a 70B decode step, weights read once over 8 × 3.35 TB/s",
                        estimates.weights_bytes(70e9) / (8 * h100["bandwidth"]) * 1000, "ms", ".1f"),
        "nvlink_ratio": _n("NVLink 4 each way ÷ PCIe Gen5 x16 each way", links.loc["NVLink 4 (H100/H200)"]
                           / links.loc["PCIe Gen5 x16"], "×", ".0f"),
    }


def _cd_k8s_job(x: dict) -> dict:
    shm = x["loader_workers"] * x["prefetch_factor"] * x["batch_mb"] * 1e6 * x["gpus_per_node"]
    return {
        "world": _n("WORLD_SIZE the operator sets", x["nodes"] * x["gpus_per_node"], "processes", ".0f"),
        "shm_gb": _n("shared memory the loaders of one pod need", shm / 1e9, "GB", ".1f"),
    }


_NUMBERS = {
    "sd-70b-cluster": _sd_70b_cluster, "sd-serving": _sd_serving, "sd-data-pipeline": _sd_data_pipeline,
    "dd-allreduce": _dd_allreduce, "dd-memory": _dd_memory, "dd-stalled-job": _stalled, "bh-incident": _stalled,
    "bh-cost": _bh_cost, "bh-conflict": _bh_conflict, "ps-gpu-basics": _ps_gpu_basics, "cd-k8s-job": _cd_k8s_job,
}


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _format(value: float, fmt: str) -> str:
    """A number as people write it: ``fmt`` is a format spec, or ``"sci"`` for 8.4 × 10²³."""
    if fmt == "sci":
        exponent = math.floor(math.log10(abs(value)))
        return f"{value / 10 ** exponent:.1f} × 10{str(exponent).translate(_SUPERSCRIPT)}"
    return format(value, fmt)


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)


def markdown_html(text: str) -> str:
    """The small subset of Markdown the model answers use (headings, paragraphs, bullets, **bold**,
    `code`, fenced code blocks) as HTML, for an ipywidgets HTML box."""
    parts, paragraph, bullets, code = [], [], [], None
    def flush():
        if paragraph:
            parts.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if bullets:
            parts.append("<ul>" + "".join(f"<li>{_inline(b)}</li>" for b in bullets) + "</ul>")
            bullets.clear()
    for line in text.splitlines():
        if code is not None:
            if line.startswith("```"):
                parts.append(f"<pre style='font-size:11px'>{html.escape(chr(10).join(code))}</pre>")
                code = None
            else:
                code.append(line)
            continue
        if line.startswith("```"):
            flush()
            code = []
        elif line.startswith("#"):
            flush()
            level = min(6, len(line) - len(line.lstrip("#")) + 2)
            parts.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            if paragraph:
                flush()
            bullets.append(line[2:])
        elif not line.strip():
            flush()
        elif bullets:
            bullets[-1] += " " + line.strip()
        else:
            paragraph.append(line.strip())
    flush()
    return "\n".join(parts)


@dataclass(frozen=True)
class ModelAnswer:
    """A prompt's worked model answer: its sections in order and the numbers they quote."""

    prompt_id: str
    title: str
    round: str
    sections: tuple[tuple[str, str], ...]
    numbers: pd.DataFrame

    def markdown(self) -> str:
        body = [f"### Model answer: {self.title}"]
        for heading, text in self.sections:
            body += [f"**{heading}.**", text, ""]
        return "\n".join(body).strip() + "\n"

    def html(self) -> str:
        table = "".join(f"<tr><td>{html.escape(str(r.quantity))}</td><td style='text-align:right'>{html.escape(str(r.value))}"
                        f"</td><td>{html.escape(str(r.unit))}</td></tr>" for r in self.numbers.itertuples(index=False))
        numbers = ("<table style='font-size:12px'><tr><th style='text-align:left'>quantity</th><th>value</th>"
                   f"<th style='text-align:left'>unit</th></tr>{table}</table>") if len(self.numbers) else ""
        return markdown_html(self.markdown()) + numbers

    def _repr_markdown_(self) -> str:
        return self.markdown()


def model_answer(prompt_id: str) -> ModelAnswer:
    """The model answer of one mock-interview prompt, its numbers computed from ``mock_inputs.csv``."""
    prompts = load_prompts()
    match = prompts[prompts["prompt_id"] == prompt_id]
    if match.empty:
        raise ValueError(f"unknown prompt {prompt_id!r}; known: {', '.join(prompts['prompt_id'])}")
    values = _NUMBERS[prompt_id](inputs_for(prompt_id))
    shown = {key: _format(value, fmt) for key, (_label, value, _unit, fmt) in values.items()}
    texts = tables.load(LESSON, "model_answers")
    rows = texts[texts["prompt_id"] == prompt_id].sort_values("part")
    if prompt_id == "cd-k8s-job":
        shown["manifest"] = tables.artefact(LESSON, "model_answers/cd-k8s-job.yaml").rstrip()
    sections = tuple((str(r.heading), str(r.text).replace("\\n", "\n").format(**shown))
                     for r in rows.itertuples(index=False))
    numbers = pd.DataFrame([(label, shown[key], unit) for key, (label, _v, unit, _f) in values.items()],
                           columns=["quantity", "value", "unit"])
    return ModelAnswer(prompt_id, str(match["title"].iloc[0]), str(match["round"].iloc[0]), sections, numbers)
