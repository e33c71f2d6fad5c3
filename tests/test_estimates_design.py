"""Lesson 9 estimates: hand calculations, published figures (Llama 3, DGX SuperPOD reference
architectures, DGX user guides) and ValueError on bad input."""

import math

import pytest

from infraprep import estimates as e
from infraprep import tables

LESSON = "09-system-design"


def fact(name):
    facts = tables.load(LESSON, "facts").set_index("fact")["value"]
    return float(facts[name])


@pytest.fixture(scope="module")
def llama3():
    stats = tables.load("03-distributed", "failure_stats").set_index("metric")["value"]
    return {k: float(stats[k]) for k in ("gpus", "period", "interruptions_total", "interruptions_unexpected")}


# ------------------------------------------------------------------------- failures at scale

def test_llama3_rate_mtbf_and_interruptions_a_day(llama3):
    rate = e.interruption_rate_per_gpu_day(int(llama3["interruptions_unexpected"]), int(llama3["gpus"]), llama3["period"])
    assert rate == pytest.approx(419 / (16_384 * 54))  # 4.74e-4 a GPU-day
    assert rate * 1000 == pytest.approx(0.4736, rel=1e-3)
    # the paper's "one failure every three hours" and lesson 3's mtbf_from_failures agree
    assert e.job_mtbf_hours(16_384, rate) == pytest.approx(54 * 24 / 419) == pytest.approx(3.093, rel=1e-3)
    assert e.job_mtbf_hours(16_384, rate) == pytest.approx(e.mtbf_from_failures(54 * 24, 419))
    assert e.expected_interruptions_per_day(16_384, rate) == pytest.approx(419 / 54)
    # 100,000 GPUs of the same hardware: every 30 minutes, 47 a day
    assert e.job_mtbf_hours(100_000, rate) * 60 == pytest.approx(30.4, abs=0.1)
    assert e.expected_interruptions_per_day(100_000, rate) == pytest.approx(47.36, abs=0.01)


def test_interruption_table_adds_up_to_the_papers_total(llama3):
    causes = tables.load(LESSON, "interruptions")
    assert causes["interruptions"].sum() == llama3["interruptions_unexpected"] == 419
    by = causes.set_index("component")["interruptions"]
    assert by["Faulty GPU"] == 148 and by["GPU HBM3 memory"] == 72 and by["Silent data corruption"] == 6
    assert by["CPU"] == 2
    # HBM3 is 17.2 % of 419 as the paper prints; its 30.1 % beside 148 does not hold (148 / 419 = 35.3 %)
    assert 100 * by["GPU HBM3 memory"] / 419 == pytest.approx(17.2, abs=0.05)
    assert 100 * by["Faulty GPU"] / 419 == pytest.approx(35.3, abs=0.05)


def test_rate_errors():
    with pytest.raises(ValueError):
        e.interruption_rate_per_gpu_day(10, 0, 5)
    with pytest.raises(ValueError):
        e.job_mtbf_hours(100, 0)
    with pytest.raises(ValueError):
        e.expected_interruptions_per_day(100, -1e-4)


def test_goodput_against_a_hand_calculation():
    tau, delta, m, r = 1800.0, 30.0, 3.093 * 3600, 600.0
    wall = (1 + delta / tau) / (1 - (tau / 2 + r) / m)  # written out by hand, not from the package
    got = e.goodput(tau, delta, m, r)
    assert got["goodput"] == pytest.approx(1 / wall)
    assert got["goodput"] == pytest.approx(0.8511, abs=1e-4)
    assert got["rework"] == pytest.approx(900 / m) and got["restart"] == pytest.approx(600 / m)
    assert got["checkpointing"] == pytest.approx(got["goodput"] * 30 / 1800)
    assert sum(got.values()) == pytest.approx(1.0)
    slower = e.goodput(tau, delta, m, r, straggler_slowdown=0.02)
    assert slower["goodput"] == pytest.approx(got["goodput"] / 1.02)
    assert sum(slower.values()) == pytest.approx(1.0)


def test_goodput_of_design_one_is_near_llamas_ninety_percent():
    inputs = tables.load(LESSON, "design_inputs")
    training = inputs[inputs["design"] == "training"].set_index("name")["value"].astype(float)
    rate = 419 / (16_384 * 54)
    m = e.job_mtbf_hours(16_384, rate) * 3600
    got = e.goodput(training["checkpoint_interval_min"] * 60, 5.0, m, training["restart_min"] * 60,
                    training["straggler_slowdown"])
    # Llama 3 reports more than 90 % effective training time on this hardware
    assert 0.85 < got["goodput"] < 0.95


def test_goodput_errors():
    with pytest.raises(ValueError, match="faster"):
        e.goodput(7200, 60, 3600, 1800)  # failures every hour, 2 h between checkpoints
    with pytest.raises(ValueError):
        e.goodput(600, -1, 3600, 60)
    with pytest.raises(ValueError):
        e.goodput(600, 1, 3600, 60, straggler_slowdown=-0.1)


# ------------------------------------------------------------------------- power

def test_it_and_facility_power_of_design_one():
    dgx = tables.load(LESSON, "systems").set_index("system").loc["DGX H100"]
    assert dgx["system_power_kw"] == 10.2 and dgx["gpus_per_system"] == 8  # DGX H100 user guide
    it = e.it_power_w(16_384, dgx["system_power_kw"] * 1e3, int(dgx["gpus_per_system"]))
    assert it == pytest.approx(2048 * 10_200)  # 20.9 MW: 1,275 W a GPU, not the GPU's 700 W
    assert e.facility_power_w(it, 1.1) == pytest.approx(22.98e6, rel=1e-3)
    assert e.pue(e.facility_power_w(it, 1.56), it) == pytest.approx(1.56)
    assert e.it_power_w(16_380, 10.2e3, 8) == it  # a partly filled node still draws
    assert e.it_power_w(8, 10e3, 8, extra_fraction=0.1) == pytest.approx(11e3)


def test_gb200_rack_power_matches_the_superpod_scalable_unit():
    nvl72 = tables.load(LESSON, "systems").set_index("system").loc["DGX GB200 NVL72"]
    su = e.it_power_w(int(fact("gb200_su_racks")) * 72, nvl72["system_power_kw"] * 1e3, 72)
    assert su == pytest.approx(fact("gb200_su_power") * 1e6)  # 8 racks, 576 GPUs, 1.2 MW


def test_racks_within_a_power_limit():
    assert e.systems_per_rack(40e3, 10.2e3) == 3
    assert e.systems_per_rack(40e3, 10.2e3, max_per_rack=2) == 2
    assert e.racks_needed(2048, 40e3, 10.2e3) == 683  # ⌈2048 / 3⌉
    with pytest.raises(ValueError, match="does not fit"):
        e.systems_per_rack(40e3, 150e3)  # an NVL72 in an air-cooled row


def test_power_errors():
    with pytest.raises(ValueError, match="below 1"):
        e.facility_power_w(1e6, 0.9)
    with pytest.raises(ValueError):
        e.pue(0.5e6, 1e6)
    with pytest.raises(ValueError):
        e.it_power_w(0, 10e3, 8)
    with pytest.raises(ValueError):
        e.it_power_w(8, 10e3, 8, extra_fraction=-0.1)


# ------------------------------------------------------------------------- checkpoints

def test_sharded_checkpoint_of_llama3_405b():
    size = e.checkpoint_bytes(405e9)
    assert size == pytest.approx(405e9 * 14)  # 5.67 TB
    storage = fact("tectonic_sustained_write") * 1e12
    # 16,384 writers at 50 GB/s could push 819 TB/s; the storage's 2 TB/s binds
    assert e.sharded_write_bandwidth_bytes_s(16_384, 50e9, storage) == storage
    assert e.sharded_checkpoint_write_time_s(size, 16_384, 50e9, storage) == pytest.approx(5.67e12 / 2e12)
    assert e.sharded_checkpoint_write_time_s(size, 16_384, 50e9, 200e9) == pytest.approx(28.35)
    # too few writers: 8 of them at 5 GB/s
    assert e.sharded_checkpoint_write_time_s(size, 8, 5e9) == pytest.approx(5.67e12 / 40e9)
    # per GPU the checkpoint is 346 MB, inside Llama 3's reported 1 MB to 4 GB a GPU
    per_gpu = size / 16_384
    assert fact("checkpoint_per_gpu_min") * 1e6 < per_gpu < fact("checkpoint_per_gpu_max") * 1e9
    assert e.async_checkpoint_stall_s(per_gpu, 63e9) == pytest.approx(per_gpu / 63e9)


def test_restore_reads_once_or_per_replica():
    assert e.restore_read_bytes(405e9, 128) == pytest.approx(2 * 405e9 * 128 + 12 * 405e9)  # 108.5 TB
    assert e.restore_read_bytes(405e9, 128, read_once_and_broadcast=True) == pytest.approx(e.checkpoint_bytes(405e9))
    assert e.restore_read_bytes(405e9, 1) == pytest.approx(e.checkpoint_bytes(405e9))
    with pytest.raises(ValueError):
        e.restore_read_bytes(405e9, 0)
    with pytest.raises(ValueError):
        e.sharded_write_bandwidth_bytes_s(0, 1e9)


# ------------------------------------------------------------------------- fabrics

def test_fabric_tiers_at_each_boundary():
    assert [e.fabric_tiers(n, 64) for n in (64, 65, 2048, 2049, 65_536)] == [1, 2, 2, 3, 3]
    assert e.fabric_tiers(10_368, 144) == 2 and e.fabric_tiers(10_369, 144) == 3
    with pytest.raises(ValueError, match="three-tier"):
        e.fabric_tiers(100_000, 64)
    with pytest.raises(ValueError):
        e.fabric_tiers(100, 63)


@pytest.mark.parametrize("gpus, leaves, spines, cores", [(4096, 128, 128, 64), (8192, 256, 256, 128), (16384, 512, 512, 256)])
def test_three_tier_fabric_matches_the_dgx_superpod_b200_table(gpus, leaves, spines, cores):
    got = e.three_tier_fabric(gpus, 64)
    assert (got["leaves"], got["spines"], got["cores"]) == (leaves, spines, cores)
    # the RA's cable counts: node-leaf, leaf-spine and spine-core are all equal to the GPU count
    assert got["endpoint_links"] == got["leaf_spine_links"] == got["spine_core_links"] == gpus


@pytest.mark.parametrize("gpus, leaves, spines", [(512, 16, 8), (1024, 32, 16), (2048, 64, 32)])
def test_two_tier_fabric_matches_the_dgx_superpod_b200_table(gpus, leaves, spines):
    got = e.fabric_for_endpoints(gpus, 64)
    assert (got["tiers"], got["leaves"], got["spines"], got["cores"]) == (2, leaves, spines, 0)


def test_xdr_two_tier_fabric_matches_the_b300_reference_architecture():
    got = e.fabric_for_endpoints(10_368, int(fact("q3400_ports")))  # 18 SU of 576 GPUs
    assert (got["tiers"], got["leaves"], got["spines"]) == (2, 144, 72)


def test_full_three_tier_fabric_is_al_fares():
    full = e.three_tier_fabric(65_536, 64)
    assert full["switches"] == e.three_level_fat_tree_switches(64) == 5 * 64 ** 2 // 4
    assert full["pods"] == 64
    with pytest.raises(ValueError, match="pods"):
        e.three_tier_fabric(65_537, 64)


def test_oversubscribed_core_by_hand():
    # spines split 64 ports 48 down / 16 up (3:1): a pod holds 48 leaves (1,536 endpoints)
    got = e.three_tier_fabric(16_384, 64, core_oversubscription=3)
    assert got["leaves"] == 512
    assert got["pods"] == math.ceil(512 / 48) == 11
    assert got["spines"] == 11 * 32
    assert got["cores"] == math.ceil(11 * 32 * 16 / 64) == 88


def test_in_network_allreduce_is_twice_the_ring_for_large_messages():
    ring = e.ring_allreduce_time_s(1e9, 1024, 0.0, 50e9)
    sharp = e.in_network_allreduce_time_s(1e9, 50e9)
    assert sharp == pytest.approx(0.02)
    assert ring / sharp == pytest.approx(2 * 1023 / 1024)
    with pytest.raises(ValueError):
        e.in_network_allreduce_time_s(0, 50e9)


# ------------------------------------------------------------------------- layouts

def test_layout_memory_of_llama3_405b_by_hand():
    got = e.layout_memory_per_gpu(405e9, 16_384, 8, 16, 1, layers=126, hidden=16_384, heads=128, seq_len=8192)
    state = 4 * 405e9 / 128 + 12 * 405e9 / 128 / 128  # ZeRO-1 over d = 128
    acts = 2 * 8192 * 1 * 16_384 * math.ceil(126 / 16) * 16  # layer inputs, 8 layers, 16 micro-batches in flight
    assert got["model_state"] == pytest.approx(state) == pytest.approx(12.95e9, rel=1e-3)
    assert got["activations"] == pytest.approx(acts)
    assert got["total"] == pytest.approx(state + acts)
    assert e.layout_memory_per_gpu(405e9, 16_384, 8, 16, 1)["activations"] == 0


def test_llama3_published_layouts_fit_in_h100_memory():
    for row in tables.load(LESSON, "llama3_layouts").itertuples(index=False):
        assert row.tensor * row.context * row.pipeline * row.data == row.gpus
        assert row.data * row.batch_per_data_rank * row.seq_len == pytest.approx(row.tokens_per_batch_m * 1e6, rel=0.05)
        assert row.bf16_tflops_per_gpu / 989 * 100 == pytest.approx(row.mfu_percent, abs=1.5)
        if row.context == 1:
            mem = e.layout_memory_per_gpu(405e9, row.gpus, row.tensor, row.pipeline, 1, layers=126, hidden=16_384,
                                          heads=128, seq_len=row.seq_len)
            assert mem["total"] < 80e9


def test_cheapest_layout_by_hand():
    shape = {"layers": 126, "hidden": 16_384, "heads": 128, "seq_len": 8192}
    # t·p = 32 holds 50.9 GB of state + 34.4 GB of activations: too much for 72 GB; t·p = 64 (t 8, p 8) fits
    assert e.cheapest_layout(405e9, 16_384, 80, **shape) == (8, 8)
    # model state alone fits at t·p = 32, and of (8, 4) and (4, 8) the shorter pipeline wins
    assert e.cheapest_layout(405e9, 16_384, 80) == (8, 4)
    assert e.cheapest_layout(7e9, 64, 80, zero_stage=0) == (2, 1)  # 112 GB of state: split in two
    assert e.cheapest_layout(405e9, 16, 80, tensor_options=(8,), pipeline_options=(1, 2)) is None
    rows = e.candidate_layouts(405e9, 16_384, 80, **shape)
    assert [r["model_parallel"] for r in rows] == sorted(r["model_parallel"] for r in rows)
    assert all(r["tensor"] * r["pipeline"] * r["data"] == 16_384 for r in rows)
    assert any(not r["fits"] for r in rows) and any(r["fits"] for r in rows)


# ------------------------------------------------------------------------- data

def test_training_tokens_and_published_compute():
    tokens_s = e.training_tokens_per_s(405e9, 16_384, 989e12, 0.40)
    assert tokens_s == pytest.approx(16_384 * 989e12 * 0.40 / (6 * 405e9))  # 2.67 M tokens/s
    flops = e.training_flops(405e9, fact("llama3_405b_tokens"))
    assert flops == pytest.approx(fact("llama3_405b_training_flops"), rel=0.01)  # 3.8e25
    # the model card's 30.84M GPU-hours mean 34.6 % of peak over the whole run: MFU 38-43 % times ~90 % goodput
    effective = flops / (fact("llama31_405b_gpu_hours") * 3600 * 989e12)
    assert 0.38 * 0.9 <= effective <= 0.43
    assert tokens_s * 4 / 1e6 == pytest.approx(10.7, abs=0.05)  # MB/s of uint32 token ids: a trickle


def test_loader_prefix_and_cache_sizing():
    need = 2048 * 250  # samples/s
    assert e.loader_workers_needed(250 * 8, 150) == 14
    assert e.loader_workers_needed(300, 150) == 2
    assert e.prefixes_needed(need, 5500) == 94  # one object a sample
    assert e.prefixes_needed(61.44e9 / 16e6, 5500) == 1  # 16 MB ranged GETs of shards
    assert e.origin_read_bytes_s(61.44e9, 0.95) == pytest.approx(3.072e9)
    with pytest.raises(ValueError):
        e.origin_read_bytes_s(1e9, 1.5)
    with pytest.raises(ValueError):
        e.loader_workers_needed(100, 0)


# ------------------------------------------------------------------------- platform and serving

def test_cohort_allocation_of_design_three_by_hand():
    tenants = tables.load(LESSON, "platform_tenants").set_index("team")
    got = e.cohort_allocation(tenants["nominal_gpus"].to_dict(), tenants["demand_gpus"].to_dict(),
                              tenants["borrowing_limit_gpus"].to_dict(), tenants["lending_limit_gpus"].to_dict())
    # fine-tuning lends 80 of its idle 80, research 24 of its idle 24; inference wants 24, pretraining 128
    assert got == {"pretraining": 336, "fine-tuning": 48, "inference": 120, "research": 8}
    assert sum(got.values()) == tenants["nominal_gpus"].sum() == 512


def test_cohort_allocation_limits_and_weights():
    nominal, demand = {"a": 10, "b": 10}, {"a": 30, "b": 0}
    assert e.cohort_allocation(nominal, demand) == {"a": 20, "b": 0}
    assert e.cohort_allocation(nominal, demand, lending_limit={"b": 4}) == {"a": 14, "b": 0}
    assert e.cohort_allocation(nominal, demand, borrowing_limit={"a": 3}) == {"a": 13, "b": 0}
    three = e.cohort_allocation({"a": 0, "b": 0, "c": 12}, {"a": 20, "b": 20, "c": 0}, weights={"a": 2, "b": 1})
    assert three == {"a": 8, "b": 4, "c": 0}
    with pytest.raises(ValueError):
        e.cohort_allocation({"a": 1}, {"b": 1})


def test_serving_design_two_by_hand():
    got = e.serving_design(200, 1500, 300, 70e9, 80, 8, 128, 80, 3.35e12, 1979e12, 2, 0.040, weight_bytes_per_param=1,
                           kv_bytes_per_value=2, prefill_mfu=0.5, decode_mbu=0.8, headroom=1.25,
                           usable_memory_fraction=0.9, usd_per_gpu_hour=6.88)  # lesson 5: 55.04 USD ÷ 8 GPUs
    kv = 2 * 80 * 8 * 128 * 2
    assert got["kv_bytes_per_token"] == kv == 327_680
    assert got["kv_free_gb"] == pytest.approx(2 * 80 * 0.9 - 70)
    assert got["batch"] == math.floor(74e9 / (1800 * kv)) == 125 and got["batch_limited_by"] == "kv cache"
    step = (70e9 + 125 * 1650 * kv) / (2 * 3.35e12 * 0.8)
    assert got["tpot_s"] == pytest.approx(step) == pytest.approx(0.02567, abs=1e-5)
    assert got["decode_replicas"] == math.ceil(200 * 300 * 1.25 / (125 / step)) == 16
    prefill_gpus = math.ceil(200 * (2 * 70e9 * 1500 / (1979e12 * 0.5)) * 1.25 / 2) * 2
    assert got["prefill_gpus"] == prefill_gpus == 54
    assert got["gpus"] == 86
    assert got["concurrency"] == pytest.approx(200 * (2 * 70e9 * 1500 / (2 * 1979e12 * 0.5) + 300 * step))
    assert got["concurrency"] < got["concurrency_capacity"]
    assert got["usd_per_million_output_tokens"] == pytest.approx(86 * 6.88 / (60_000 * 3600) * 1e6)


def test_serving_design_errors():
    with pytest.raises(ValueError, match="do not fit"):
        e.serving_design(10, 1000, 100, 405e9, 126, 8, 128, 80, 3.35e12, 989e12, 2, 0.05)
    with pytest.raises(ValueError, match="TPOT"):
        e.serving_design(10, 1000, 100, 70e9, 80, 8, 128, 80, 3.35e12, 1979e12, 2, 0.001, weight_bytes_per_param=1)


# ------------------------------------------------------------------------- binding constraint

def test_constraint_ratios_and_binding():
    ratios = e.constraint_ratios({"power": 30, "time": 45}, {"power": 40, "time": 90})
    assert ratios == {"power": 0.75, "time": 0.5}
    assert e.binding_constraint(ratios) == "power"
    assert e.binding_constraint({"time": 1.0, "memory": 1.0}) == "memory"  # ties: order of CONSTRAINTS
    with pytest.raises(ValueError):
        e.constraint_ratios({"power": 1}, {"time": 1})
    with pytest.raises(ValueError):
        e.binding_constraint({})


DESIGN_ONE = dict(params=405e9, tokens=15.6e12, gpus=16_384, gpu_memory_gb=80, peak_flop_s_per_gpu=989e12, mfu=0.40,
                  tensor_parallel=8, pipeline_parallel=16, zero_stage=1, nvlink_domain=8, link_bytes_s_per_gpu=50e9,
                  system_power_w=10.2e3, gpus_per_system=8, pue_ratio=1.1, site_power_w=30e6,
                  usd_per_gpu_hour=55.04 / 8, budget_usd=400e6, deadline_days=90, goodput_fraction=0.9,
                  layers=126, hidden=16_384, heads=128, seq_len=8192)


def test_training_design_one_by_hand():
    got = e.training_design(**DESIGN_ONE)
    days = 6 * 405e9 * 15.6e12 / (16_384 * 989e12 * 0.4) / 86_400 / 0.9
    assert got["days"] == pytest.approx(days) == pytest.approx(75.2, abs=0.1)
    assert got["ratio_time"] == pytest.approx(days / 90)
    gpu_hours = 6 * 405e9 * 15.6e12 / (989e12 * 0.4) / 3600 / 0.9
    assert got["cost_usd"] == pytest.approx(gpu_hours * 55.04 / 8) == pytest.approx(203.3e6, rel=1e-3)
    assert got["facility_power_w"] == pytest.approx(2048 * 10.2e3 * 1.1)
    assert got["data_parallel"] == 128
    step = 6 * 405e9 * 16e6 / (16_384 * 989e12 * 0.4)
    assert got["step_compute_s"] == pytest.approx(step)
    assert got["dp_allreduce_s"] == pytest.approx(2 * 127 / 128 * (2 * 405e9 / 128) / 50e9)
    assert got["ratio_network"] == pytest.approx(got["dp_allreduce_s"] / step)
    assert got["ratio_budget"] == pytest.approx(gpu_hours * 55.04 / 8 / 400e6) and got["ratio_budget"] < got["ratio_time"]
    assert got["binding"] == "time" and got["fits"]  # at lesson 5's post-cut price the deadline binds first
    before = e.training_design(**{**DESIGN_ONE, "usd_per_gpu_hour": 98.32 / 8})  # the pre-cut price
    assert before["cost_usd"] == pytest.approx(gpu_hours * 98.32 / 8) and before["binding"] == "budget" and before["fits"]


@pytest.mark.parametrize("change, binds", [
    ({"tensor_parallel": 2, "pipeline_parallel": 2}, "memory"),   # 405B split only 4 ways
    ({"tensor_parallel": 16, "pipeline_parallel": 8}, "network"),  # tensor parallel across two NVLink domains
    ({"link_bytes_s_per_gpu": 0.5e9, "global_batch_tokens": 1e6}, "network"),  # gradients cannot hide
    ({"site_power_w": 15e6}, "power"),
    ({"budget_usd": 150e6}, "budget"),  # the run costs 203 M USD
    ({"deadline_days": 45}, "time"),
])
def test_each_constraint_binds(change, binds):
    got = e.training_design(**{**DESIGN_ONE, **change})
    assert got["binding"] == binds
    assert got[f"ratio_{binds}"] > 1 and not got["fits"]
    assert got[f"ratio_{binds}"] == max(got[f"ratio_{c}"] for c in e.CONSTRAINTS)
