"""Lesson 9 widgets: the design calculator (which constraint binds) and the timed design drill.

The maths is :mod:`infraprep.estimates` (``training_design``) and the charts
:mod:`infraprep.charts.design`; these classes only wire controls to them, and tests drive them
through plain methods (``set``, ``estimate``, ``binding``; ``start``, ``finish``, ``reveal``) with
an injected clock instead of a browser.

The module also joins the lesson's tables for the notebooks: :func:`gpu_specs` (lesson 2's
datasheets plus this lesson's FP8 figures and the GB200), :func:`system_specs` and
:func:`design_inputs`; and it works the lesson's four designs from their tables
(:func:`training_cluster`, :func:`serving_platform`, :func:`ml_platform`, :func:`data_pipeline`),
each returning its numbers, a one-screen summary table and the values its diagram shows.
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

__all__ = ["LESSON", "gpu_specs", "system_specs", "design_inputs", "inputs_table", "usd_per_gpu_hour", "fmt", "tidy", "summary_frame",
           "training_cluster", "serving_platform", "ml_platform", "data_pipeline", "DesignCalculator", "DesignDrill"]

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


def inputs_table(design: str) -> pd.DataFrame:
    """A design's requirements and assumptions as people write them (the ``design_inputs`` rows, values
    formatted, empty values as "see note")."""
    frame = tables.load(LESSON, "design_inputs")
    rows = frame[frame["design"] == design].drop(columns=["design"]).copy()
    if rows.empty:
        raise ValueError(f"no inputs for design {design!r}")
    rows["value"] = [fmt(v) if not pd.isna(v) else "see note" for v in rows["value"]]
    rows["unit"] = rows["unit"].fillna("")
    return rows.reset_index(drop=True)


def usd_per_gpu_hour(instance: str = "p5.48xlarge") -> float:
    """On-demand USD per GPU-hour of an instance in lesson 5's ``instances`` table (dated there)."""
    table = tables.load("05-cloud", "instances").set_index("instance")
    row = table.loc[instance]
    if pd.isna(row["on_demand_usd_per_hour"]):
        raise ValueError(f"lesson 5 has no verified on-demand price for {instance}")
    return estimates.price_per_gpu_hour(float(row["on_demand_usd_per_hour"]), int(row["gpus"]))


def fmt(value: Any) -> str:
    """A number as people write it: whole numbers with thousands separators, others to three
    significant figures without trailing zeros (``16``, ``1,280``, ``3.09``, ``0.251``, ``0.01``); text unchanged."""
    if isinstance(value, str):
        return value
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    if number == int(number) or abs(number) >= 1000:
        return f"{number:,.0f}"
    digits = max(0, 2 - int(math.floor(math.log10(abs(number)))))
    text = f"{number:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with its numeric columns written as people write them (:func:`fmt`)."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_numeric_dtype(out[column]) and not pd.api.types.is_bool_dtype(out[column]):
            out[column] = [fmt(v) if not pd.isna(v) else "" for v in out[column]]
    return out


def summary_frame(rows: list[tuple]) -> pd.DataFrame:
    """A design's one-screen summary: rows of (part, quantity, value, unit, how) with values formatted."""
    return pd.DataFrame([(part, quantity, fmt(value), unit, how) for part, quantity, value, unit, how in rows],
                        columns=["part", "quantity", "value", "unit", "how (package function)"])


def _rate_per_gpu_day() -> float:
    stats = tables.load("03-distributed", "failure_stats").set_index("metric")["value"]
    return estimates.interruption_rate_per_gpu_day(int(stats["interruptions_unexpected"]), int(stats["gpus"]),
                                                   float(stats["period"]))


def _link_bytes_s(name: str) -> float:
    links = tables.load("06-storage-networking", "interconnects").set_index("link")
    return float(links.loc[name, "gbyte_s_each_way"]) * 1e9


def training_cluster(system: str = "DGX H100", model: str = "Llama 3.1 405B") -> dict:
    """Design 1, worked from the tables: compute, layout, fabric, checkpoints, failures, power, cost.

    Returns ``numbers`` (a flat dict), ``summary`` (:func:`summary_frame`) and ``diagram`` (the values
    the architecture diagram shows).
    """
    i = design_inputs("training")
    sysrow = system_specs().set_index("system").loc[system]
    shape = tables.load(LESSON, "models").set_index("model").loc[model]
    params, gpus = float(shape["params_billion"]) * 1e9, int(i["gpus"])
    peak = float(sysrow["bf16_dense_tflops"]) * 1e12
    tp, pp, zero = int(i["tensor_parallel"]), int(i["pipeline_parallel"]), int(i["zero_stage"])
    act = {"layers": int(shape["layers"]), "hidden": int(shape["hidden"]), "heads": int(shape["heads"]),
           "seq_len": int(i["seq_len"]), "micro_batch": int(i["micro_batch"])}
    n: dict[str, Any] = {"params": params, "gpus": gpus, "system": system}
    n["flops"] = estimates.training_flops(params, i["tokens"])
    n["days_ideal"] = estimates.training_time_s(params, i["tokens"], gpus, peak, i["mfu"]) / 86_400
    n["gpu_hours_ideal"] = estimates.gpu_hours(params, i["tokens"], peak, i["mfu"])
    n["data_parallel"] = estimates.data_parallel_size(gpus, tp, pp)
    mem = estimates.layout_memory_per_gpu(params, gpus, tp, pp, zero, **act)
    n["model_state_gb"], n["activations_gb"], n["memory_gb"] = (mem["model_state"] / 1e9, mem["activations"] / 1e9,
                                                               mem["total"] / 1e9)
    n["usable_gb"] = float(sysrow["memory_gb"]) * i["usable_memory_fraction"]
    n["cheapest_layout"] = estimates.cheapest_layout(params, gpus, float(sysrow["memory_gb"]),
                                                     usable_fraction=i["usable_memory_fraction"], **act)
    fabric = estimates.fabric_for_endpoints(gpus, 64)
    n.update({f"fabric_{k}": v for k, v in fabric.items()})
    n["fabric_144_switches"] = estimates.fabric_for_endpoints(gpus, 144)["switches"]
    link = estimates.gbit_to_bytes_s(float(sysrow["scale_out_gbit_s_per_gpu"]))
    grads = 2 * params / (tp * pp)
    n["step_s"] = estimates.training_time_s(params, i["global_batch_tokens"], gpus, peak, i["mfu"])
    n["dp_allreduce_s"] = estimates.ring_allreduce_time_s(grads, n["data_parallel"], 0.0, link)
    n["dp_allreduce_sharp_s"] = estimates.in_network_allreduce_time_s(grads, link)
    size = estimates.checkpoint_bytes(params)
    n["checkpoint_tb"] = size / 1e12
    n["checkpoint_write_s"] = estimates.sharded_checkpoint_write_time_s(size, gpus, link, i["storage_write"])
    n["shard_mb"] = size / gpus / 1e6
    n["checkpoint_stall_s"] = estimates.async_checkpoint_stall_s(size / gpus, _link_bytes_s("PCIe Gen5 x16"))
    n["restore_naive_tb"] = estimates.restore_read_bytes(params, n["data_parallel"]) / 1e12
    n["restore_broadcast_tb"] = estimates.restore_read_bytes(params, n["data_parallel"], True) / 1e12
    rate = _rate_per_gpu_day()
    n["rate_per_1000_gpu_days"] = rate * 1000
    n["interruptions_per_day"] = estimates.expected_interruptions_per_day(gpus, rate)
    n["mtbf_h"] = estimates.job_mtbf_hours(gpus, rate)
    mtbf_s = n["mtbf_h"] * 3600
    tau = i["checkpoint_interval_min"] * 60
    n["young_blocking_min"] = estimates.young_interval(n["checkpoint_write_s"], mtbf_s) / 60
    good = estimates.goodput(tau, n["checkpoint_stall_s"], mtbf_s, i["restart_min"] * 60, i["straggler_slowdown"])
    n.update({f"goodput_{k}": v for k, v in good.items()})
    blocking = estimates.goodput(estimates.young_interval(n["checkpoint_write_s"], mtbf_s), n["checkpoint_write_s"],
                                 mtbf_s, i["restart_min"] * 60, i["straggler_slowdown"])
    n["goodput_blocking"] = blocking["goodput"]
    systems = estimates.systems_needed(gpus, int(sysrow["gpus_per_system"]))
    node_mtbf_h = 24.0 / (rate * int(sysrow["gpus_per_system"]))
    n["systems"] = systems
    n["hot_spares"] = estimates.hot_spares_needed(systems, node_mtbf_h, i["repair_hours"], 0.99)
    it = estimates.it_power_w(gpus, float(sysrow["system_power_kw"]) * 1e3, int(sysrow["gpus_per_system"]))
    n["it_mw"] = it / 1e6
    n["facility_mw"] = estimates.facility_power_w(it, i["pue"]) / 1e6
    n["racks"] = estimates.racks_needed(systems, i["rack_power_kw"] * 1e3, float(sysrow["system_power_kw"]) * 1e3)
    price = usd_per_gpu_hour()
    n["usd_per_gpu_hour"] = price
    design = estimates.training_design(
        params=params, tokens=i["tokens"], gpus=gpus, gpu_memory_gb=float(sysrow["memory_gb"]), peak_flop_s_per_gpu=peak,
        mfu=i["mfu"], tensor_parallel=tp, pipeline_parallel=pp, zero_stage=zero,
        nvlink_domain=int(sysrow["nvlink_domain_gpus"]), link_bytes_s_per_gpu=link,
        system_power_w=float(sysrow["system_power_kw"]) * 1e3, gpus_per_system=int(sysrow["gpus_per_system"]),
        pue_ratio=i["pue"], site_power_w=i["site_power_mw"] * 1e6, usd_per_gpu_hour=price, budget_usd=i["budget_usd"],
        deadline_days=i["deadline_days"], global_batch_tokens=i["global_batch_tokens"], goodput_fraction=good["goodput"],
        usable_memory_fraction=i["usable_memory_fraction"], recompute="full", **act)
    n.update({"days": design["days"], "gpu_hours": design["gpu_hours"], "cost_usd": design["cost_usd"],
              "binding": design["binding"], "fits": design["fits"]})
    n.update({k: v for k, v in design.items() if k.startswith("ratio_")})
    rows = [
        ("compute", "training FLOPs (6·N·D)", n["flops"] / 1e25, "× 10²⁵ FLOPs", "training_flops"),
        ("compute", f"time at MFU {i['mfu']:.0%}, no failures", n["days_ideal"], "days", "training_time_s"),
        ("compute", "GPU-hours at that MFU", n["gpu_hours_ideal"] / 1e6, "million", "gpu_hours"),
        ("layout", "tensor × pipeline × data", f"{tp} × {pp} × {n['data_parallel']}", "GPUs", "data_parallel_size"),
        ("layout", "memory per GPU (state + activations)", f"{fmt(n['model_state_gb'])} + {fmt(n['activations_gb'])}",
         f"GB of {fmt(n['usable_gb'])} usable", "layout_memory_per_gpu"),
        ("layout", "cheapest layout that fits", "t{} × p{}".format(*n["cheapest_layout"]), "", "cheapest_layout"),
        ("fabric", "tiers, switches (radix 64)", f"{fabric['tiers']}, {fmt(fabric['switches'])}", "",
         "fabric_for_endpoints"),
        ("fabric", "data-parallel AllReduce a step (ring / SHARP)",
         f"{fmt(n['dp_allreduce_s'])} / {fmt(n['dp_allreduce_sharp_s'])}", f"s of a {fmt(n['step_s'])} s step",
         "ring_allreduce_time_s"),
        ("storage", "checkpoint size", n["checkpoint_tb"], "TB", "checkpoint_bytes"),
        ("storage", "sharded write at the storage's rate", n["checkpoint_write_s"], "s",
         "sharded_checkpoint_write_time_s"),
        ("storage", "asynchronous stall (copy to host)", 1000 * n["checkpoint_stall_s"], "ms", "async_checkpoint_stall_s"),
        ("storage", "restore reads: every replica / read once", f"{fmt(n['restore_naive_tb'])} / {fmt(n['restore_broadcast_tb'])}",
         "TB", "restore_read_bytes"),
        ("failures", "interruptions a day", n["interruptions_per_day"], "", "expected_interruptions_per_day"),
        ("failures", "job MTBF", n["mtbf_h"], "hours", "job_mtbf_hours"),
        ("failures", "goodput (async, save every {:g} min)".format(i["checkpoint_interval_min"]), 100 * n["goodput_goodput"],
         "%", "goodput"),
        ("failures", "hot-spare nodes (99 %)", n["hot_spares"], "nodes", "hot_spares_needed"),
        ("power", "IT load / facility", f"{fmt(n['it_mw'])} / {fmt(n['facility_mw'])}", f"MW at PUE {i['pue']:g}",
         "it_power_w, facility_power_w"),
        ("power", f"racks at {i['rack_power_kw']:g} kW", n["racks"], "racks", "racks_needed"),
        ("cost", "wall-clock time with goodput", n["days"], f"days of {i['deadline_days']:g}", "training_design"),
        ("cost", "compute cost (on-demand, dated price)", n["cost_usd"] / 1e6, f"M USD of {fmt(i['budget_usd'] / 1e6)}",
         "training_cost_usd"),
        ("verdict", "binding constraint", n["binding"], "", "training_design"),
    ]
    diagram = {"gpus": gpus, "systems": systems, "system": system, "tiers": fabric["tiers"], "spares": n["hot_spares"],
               "nvlink": int(sysrow["nvlink_domain_gpus"]), "tp": tp, "pp": pp, "dp": n["data_parallel"],
               "leaves": fabric["leaves"], "radix": 64, "link_gbit": int(sysrow["scale_out_gbit_s_per_gpu"]),
               "spines": fabric["spines"], "cores": fabric["cores"], "ckpt_tb": n["checkpoint_tb"],
               "write_tb_s": i["storage_write"] / 1e12, "facility_mw": n["facility_mw"], "pue": i["pue"],
               "it_mw": n["it_mw"]}
    return {"numbers": n, "summary": summary_frame(rows), "diagram": diagram}


def serving_platform(model: str = "Llama 3.1 70B", gpu: str = "H100 SXM") -> dict:
    """Design 2, worked from the tables with :func:`infraprep.estimates.serving_design`."""
    i = design_inputs("serving")
    shape = tables.load(LESSON, "models").set_index("model").loc[model]
    spec = gpu_specs().set_index("gpu").loc[gpu]
    price = usd_per_gpu_hour()
    common = dict(
        requests_per_s=i["requests_per_s"], prompt_tokens=i["prompt_tokens"], output_tokens=i["output_tokens"],
        params=float(shape["params_billion"]) * 1e9, layers=int(shape["layers"]), kv_heads=int(shape["kv_heads"]),
        head_dim=int(shape["head_dim"]), gpu_memory_gb=float(spec["memory_gb"]),
        bandwidth_bytes_s=float(spec["bandwidth_tb_s"]) * 1e12, peak_flop_s=float(spec["fp8_dense_tflops"]) * 1e12,
        gpus_per_replica=int(i["gpus_per_replica"]), tpot_slo_s=i["tpot_slo_ms"] / 1000,
        weight_bytes_per_param=i["weight_bytes_per_param"], kv_bytes_per_value=i["kv_bytes_per_value"],
        prefill_mfu=i["prefill_mfu"], decode_mbu=i["decode_mbu"], headroom=i["headroom"],
        usable_memory_fraction=i["usable_memory_fraction"], usd_per_gpu_hour=price)
    n = estimates.serving_design(**common)
    cached = estimates.serving_design(**common, prefix_cache_hit_rate=i["prefix_cache_hit_rate"])
    n = dict(n)
    n["prefill_gpus_cached"] = cached["prefill_gpus"]
    n["gpus_cached"] = cached["gpus"]
    n["usd_per_million_output_cached"] = cached["usd_per_million_output_tokens"]
    n["ttft_cached_s"] = cached["ttft_prefill_s"]
    n["regions"] = int(i["regions"])
    n["fleet_gpus"] = n["gpus_cached"] * n["regions"]  # each region carries the whole load after a failover
    n["kv_transfer_ms"] = 1000 * estimates.kv_transfer_time_s(i["prompt_tokens"], n["kv_bytes_per_token"],
                                                             _link_bytes_s("InfiniBand NDR"))
    nvme = tables.load("06-storage-networking", "storage_tiers").set_index("source").loc["samsung_pm9a3", "read_gb_s"]
    n["weight_load_s"] = estimates.weight_load_time_s(n["weights_gb"] * 1e9, float(nvme) * 1e9)
    n["usd_per_gpu_hour"] = price
    rows = [
        ("memory", "weights (FP8) / KV cache free a replica", f"{fmt(n['weights_gb'])} / {fmt(n['kv_free_gb'])}",
         f"GB on {int(i['gpus_per_replica'])} GPUs", "weights_bytes"),
        ("memory", "KV cache a token (BF16)", n["kv_bytes_per_token"] / 1e3, "kB", "kv_cache_bytes_per_token"),
        ("batch", "largest batch: KV cache / TPOT SLO", f"{fmt(n['batch_kv'])} / {fmt(n['batch_tpot'])}", "sequences",
         "kv_capacity_sequences, max_batch_for_tpot"),
        ("batch", "TPOT at that batch", 1000 * n["tpot_s"], f"ms (SLO {fmt(i['tpot_slo_ms'])})", "decode_step_time_s"),
        ("batch", "output tokens/s a replica", n["tokens_per_s_per_replica"], "tokens/s", "decode_tokens_per_s"),
        ("capacity", "decode replicas (20 % spare)", n["decode_replicas"], "replicas", "replicas_for_load"),
        ("capacity", "prefill GPUs: no cache / prefix cache", f"{fmt(n['prefill_gpus'])} / {fmt(n['prefill_gpus_cached'])}",
         "GPUs", "prefill_time_s"),
        ("capacity", "TTFT (prefill alone)", 1000 * n["ttft_cached_s"], f"ms (SLO {fmt(i['ttft_slo_ms'])})",
         "prefill_time_s"),
        ("capacity", "requests in flight (Little's law)", n["concurrency"], f"of {fmt(n['concurrency_capacity'])} slots",
         "littles_law_concurrency"),
        ("fleet", "GPUs a region / in all regions", f"{fmt(n['gpus_cached'])} / {fmt(n['fleet_gpus'])}", "GPUs",
         "serving_design"),
        ("fleet", "KV transfer prefill → decode", n["kv_transfer_ms"], "ms over NDR", "kv_transfer_time_s"),
        ("fleet", "cold start: weights from NVMe", n["weight_load_s"], "s", "weight_load_time_s"),
        ("cost", "USD a million output tokens (one region)", n["usd_per_million_output_cached"], "USD",
         "cost_per_million_tokens"),
    ]
    diagram = {"gpus": int(n["fleet_gpus"]), "rps": int(i["requests_per_s"]), "model": model,
               "prefill_gpus": int(n["prefill_gpus_cached"]), "ttft_ms": 1000 * n["ttft_cached_s"],
               "decode_replicas": int(n["decode_replicas"]), "gpr": int(i["gpus_per_replica"]), "batch": int(n["batch"]),
               "tpot_ms": 1000 * n["tpot_s"]}
    return {"numbers": n, "summary": summary_frame(rows), "diagram": diagram}


def ml_platform() -> dict:
    """Design 3: four teams in one Kueue cohort on 512 GPUs; quotas, borrowing, MIG slices, chargeback."""
    tenants = tables.load(LESSON, "platform_tenants").set_index("team")
    alloc = estimates.cohort_allocation(tenants["nominal_gpus"].to_dict(), tenants["demand_gpus"].to_dict(),
                                        tenants["borrowing_limit_gpus"].to_dict(), tenants["lending_limit_gpus"].to_dict())
    dgx = system_specs().set_index("system").loc["DGX H100"]
    per_node = int(dgx["gpus_per_system"])
    mig = tables.load("02-gpu", "mig_profiles").set_index("profile").loc["1g.10gb", "max_instances"]
    price = usd_per_gpu_hour()
    frame = tenants[["workload", "nominal_gpus", "demand_gpus"]].copy()
    frame["admitted_gpus"] = [alloc[t] for t in frame.index]
    frame["borrowed_gpus"] = frame["admitted_gpus"] - frame[["nominal_gpus", "demand_gpus"]].min(axis=1)
    frame["nodes"] = [math.ceil(g / per_node) for g in frame["admitted_gpus"]]
    hours = estimates.HOURS_PER_MONTH
    frame["chargeback_usd_month"] = [round(g * hours * price) for g in frame["admitted_gpus"]]
    shown = frame.copy()
    shown["chargeback_usd_month"] = [fmt(v) for v in shown["chargeback_usd_month"]]
    n = {"cluster_gpus": int(tenants["nominal_gpus"].sum()), "teams": len(tenants), "allocation": alloc,
         "idle_gpus": int(tenants["nominal_gpus"].sum()) - sum(alloc.values()),
         "research_mig_slices": int(tenants.loc["research", "nominal_gpus"]) * int(mig),
         "usd_per_gpu_hour": price, "table": frame.reset_index(), "shown": shown.reset_index()}
    rows = [
        ("quota", "GPUs in the cohort", n["cluster_gpus"], f"({n['cluster_gpus'] // per_node} DGX H100 nodes)", "nominalQuota sum"),
        ("quota", "pretraining admitted (nominal 256)", alloc["pretraining"], "GPUs", "cohort_allocation"),
        ("quota", "inference admitted (nominal 96)", alloc["inference"], "GPUs", "cohort_allocation"),
        ("quota", "idle GPUs at this demand", n["idle_gpus"], "GPUs", "cohort_allocation"),
        ("sharing", "MIG 1g.10gb slices on research's 32 GPUs", n["research_mig_slices"], "slices", "mig_profiles table"),
        ("cost", "chargeback rate (on-demand equivalent)", f"{price:.2f}", "USD a GPU-hour", "price_per_gpu_hour"),
        ("cost", "pretraining's month", frame.loc["pretraining", "chargeback_usd_month"] / 1e6, "M USD",
         "GPU-hours × rate"),
    ]
    diagram = {"cluster_gpus": n["cluster_gpus"], "teams": n["teams"],
               "train_nodes": math.ceil((alloc["pretraining"] + alloc["fine-tuning"]) / per_node),
               "mig_slices": n["research_mig_slices"]}
    return {"numbers": n, "summary": summary_frame(rows), "diagram": diagram}


def data_pipeline() -> dict:
    """Design 4: from raw image-text pairs in object storage to shards read at the GPUs' rate."""
    i = design_inputs("pipeline")
    dgx = system_specs().set_index("system").loc["DGX H100"]
    per_node = int(dgx["gpus_per_system"])
    tiers = tables.load("06-storage-networking", "storage_tiers").set_index("source")
    get_limit = float(tiers.loc["s3_perf", "get_requests_per_s"])
    nvme_gb_s = float(tiers.loc["samsung_pm9a3", "read_gb_s"])
    gpus = int(i["gpus"])
    sample = i["sample_kb"] * 1e3
    n: dict[str, Any] = {"gpus": gpus}
    n["samples_per_s"] = i["samples_per_s_per_gpu"] * gpus
    n["need_gb_s"] = estimates.loader_bandwidth_bytes_s(i["samples_per_s_per_gpu"], sample, gpus) / 1e9
    n["dataset_tb"] = i["dataset_samples"] * sample / 1e12
    n["shards"] = estimates.shards_needed(i["dataset_samples"] * sample, i["shard_gb"] * 1e9)
    n["samples_per_shard"] = i["shard_gb"] * 1e9 / sample
    n["opens_per_s_files"] = estimates.files_opened_per_s(n["samples_per_s"], 1)
    n["opens_per_s_shards"] = estimates.files_opened_per_s(n["samples_per_s"], n["samples_per_shard"])
    n["gets_per_s_ranged"] = n["need_gb_s"] * 1e9 / (i["ranged_get_mb"] * 1e6)
    n["prefixes_files"] = estimates.prefixes_needed(n["samples_per_s"], get_limit)
    n["prefixes_shards"] = estimates.prefixes_needed(n["gets_per_s_ranged"], get_limit)
    nodes = estimates.systems_needed(gpus, per_node)
    n["nodes"] = nodes
    n["per_node_tb"] = n["dataset_tb"] / nodes
    n["node_nvme_tb"] = float(dgx["local_nvme_tb"])
    n["per_node_read_mb_s"] = n["need_gb_s"] * 1e3 / nodes
    n["workers_per_node"] = estimates.loader_workers_needed(i["samples_per_s_per_gpu"] * per_node, i["decode_per_worker"])
    n["origin_gb_s"] = estimates.origin_read_bytes_s(n["need_gb_s"] * 1e9, i["cache_hit_rate"]) / 1e9
    text = design_inputs("training")
    llm = tables.load(LESSON, "models").set_index("model").loc["Llama 3.1 405B"]
    n["llm_tokens_per_s"] = estimates.training_tokens_per_s(float(llm["params_billion"]) * 1e9, int(text["gpus"]),
                                                            float(dgx["bf16_dense_tflops"]) * 1e12, text["mfu"])
    n["llm_read_mb_s"] = n["llm_tokens_per_s"] * 4 / 1e6  # 128,256-token vocabulary: 4-byte ids
    n["stages_gb_s"] = {
        "object store, one object a sample (1 prefix)": get_limit * sample / 1e9,
        f"object store, {i['ranged_get_mb']:g} MB ranged GETs (1 prefix)": get_limit * i["ranged_get_mb"] * 1e6 / 1e9,
        "node NVMe caches (8 drives a node)": nodes * 8 * nvme_gb_s,
        f"loader workers ({n['workers_per_node']} a node)": nodes * n["workers_per_node"] * i["decode_per_worker"] * sample / 1e9,
    }
    rows = [
        ("need", "samples a second", n["samples_per_s"], "samples/s", "samples/s × GPUs"),
        ("need", "read bandwidth", n["need_gb_s"], "GB/s", "loader_bandwidth_bytes_s"),
        ("data", "dataset / shards of 1 GB", f"{fmt(n['dataset_tb'])} TB / {fmt(n['shards'])}", "", "shards_needed"),
        ("data", "opens a second: files / shards", f"{fmt(n['opens_per_s_files'])} / {fmt(n['opens_per_s_shards'])}",
         "opens/s", "files_opened_per_s"),
        ("data", "S3 prefixes: one object a sample / ranged GETs", f"{n['prefixes_files']} / {n['prefixes_shards']}",
         "prefixes", "prefixes_needed"),
        ("cache", "dataset share a node / NVMe a node", f"{fmt(n['per_node_tb'])} / {fmt(n['node_nvme_tb'])}", "TB",
         "DGX H100 data cache"),
        ("cache", "read a node", n["per_node_read_mb_s"], "MB/s", "need ÷ nodes"),
        ("cache", "origin reads after the first epoch", n["origin_gb_s"], "GB/s", "origin_read_bytes_s"),
        ("loaders", "decode workers a node", n["workers_per_node"], "workers", "loader_workers_needed"),
        ("contrast", "a 405B text run reads", n["llm_read_mb_s"], "MB/s", "training_tokens_per_s"),
    ]
    diagram = {"need_gb_s": n["need_gb_s"], "gpus": gpus, "dataset_tb": n["dataset_tb"], "shards": n["shards"],
               "shard_gb": i["shard_gb"],
               "prefixes": f"{n['prefixes_shards']} prefix" + ("es" if n["prefixes_shards"] > 1 else ""), "per_node_tb": n["per_node_tb"],
               "hit": i["cache_hit_rate"], "workers_per_node": n["workers_per_node"], "samples_per_s": n["samples_per_s"]}
    return {"numbers": n, "summary": summary_frame(rows), "diagram": diagram}


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
    >>> calc.binding()  # the worked design 1 at lesson 5's dated price: the deadline binds first, and fits
    'time'
    """

    _FIELDS = ("system", "model", "params_b", "tokens_t", "gpus", "mfu", "tensor_parallel", "pipeline_parallel",
               "zero_stage", "seq_len", "site_mw", "pue", "usd_per_gpu_hour", "budget_musd", "deadline_days",
               "goodput")

    def __init__(self, draw: bool = False):
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
        self._bars = widgets.HTML()
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
                          widgets.VBox([self._summary, self._bars] + ([self._image] if draw else []))]),
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

    def bars_html(self) -> str:
        """Need ÷ limit of each constraint as HTML bars (drawn in the browser, no image to render)."""
        try:
            ratios, binding = self.ratios(), self.binding()
        except ValueError:
            return ""
        top = max(1.25, max(ratios.values()) * 1.05)
        rows = []
        for name, value in ratios.items():
            colour = "#b5446e" if name == binding else ("#e07b39" if value > 1 else "#2f6db3")
            width = 100 * min(value, top) / top
            rows.append(f"<tr><td style='padding-right:8px'>{name}</td><td style='width:260px'>"
                        f"<div style='position:relative;height:14px;background:#eee'>"
                        f"<div style='width:{width:.1f}%;height:14px;background:{colour}'></div>"
                        f"<div style='position:absolute;left:{100 / top:.1f}%;top:-2px;height:18px;"
                        f"border-left:2px dashed #333'></div></div></td><td>{value:.2f}</td></tr>")
        return ("<p style='margin:8px 0 2px 12px'><b>need ÷ limit</b> (dashed line: 1, the limit)</p>"
                f"<table style='margin-left:12px'>{''.join(rows)}</table>")

    def figure(self):
        """The same ratios as a matplotlib chart (:func:`infraprep.charts.design.constraint_bars`)."""
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
        self._bars.value = self.bars_html()
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
