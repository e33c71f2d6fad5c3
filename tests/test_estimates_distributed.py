"""Lesson 3 formulas: communication (α-β, busbw), parallelism (ZeRO, bubble, 3D) and reliability.

Each is checked against a published worked example where one exists, and against
an independent relation (another formula, a brute-force computation) otherwise.
"""

import itertools
import math

import pytest

from infraprep import estimates, tables
from infraprep.estimates import communication, parallelism, reliability

GB = 1e9


# --------------------------------------------------------------------------- ZeRO and 3D layouts


def test_zero_paper_figure1_7_5b_on_64_gpus():
    """ZeRO paper, Figure 1: 7.5B parameters, N_d = 64 → 120, 31.4, 16.6 and 1.9 GB a GPU."""
    published = {0: 120, 1: 31.4, 2: 16.6, 3: 1.9}
    for stage, gb in published.items():
        got = estimates.model_state_bytes_per_gpu(7.5e9, 64, zero_stage=stage) / GB
        assert round(got, 1) == pytest.approx(gb)


def test_model_state_splits_over_tensor_and_pipeline_before_zero():
    # 1024 GPUs, t = 8, p = 16 (Megatron-LM's GPT-3 175B example) → d = 8
    assert estimates.data_parallel_size(1024, 8, 16) == 8
    per_gpu = estimates.model_state_bytes_per_gpu(175e9, 1024, 8, 16, zero_stage=1)
    psi = 175e9 / 128
    assert per_gpu == pytest.approx(4 * psi + 12 * psi / 8)
    # without sharding, model parallelism alone divides the 16 bytes a parameter by t·p
    assert estimates.model_state_bytes_per_gpu(175e9, 1024, 8, 16, 0) == pytest.approx(16 * 175e9 / 128)


def test_zero_stages_are_ordered_and_stage3_scales_as_one_over_n():
    for n in (2, 8, 64, 1024):
        values = [estimates.model_state_bytes_per_gpu(1e9, n, zero_stage=s) for s in range(4)]
        assert values == sorted(values, reverse=True)
    assert estimates.model_state_bytes_per_gpu(1e9, 128, zero_stage=3) * 2 == pytest.approx(
        estimates.model_state_bytes_per_gpu(1e9, 64, zero_stage=3))


@pytest.mark.parametrize("gpus,t,p", [(64, 3, 1), (100, 8, 1), (8, 4, 4)])
def test_impossible_layouts_are_refused(gpus, t, p):
    with pytest.raises(ValueError, match="cannot be split"):
        estimates.data_parallel_size(gpus, t, p)


# --------------------------------------------------------------------------- pipeline bubble


def test_bubble_fraction_examples():
    assert estimates.pipeline_bubble_fraction(4, 12) == pytest.approx(3 / 15)
    assert estimates.pipeline_bubble_fraction(8, 32) == pytest.approx(7 / 39)
    assert estimates.pipeline_bubble_fraction(1, 5) == 0


def test_megatron_ratio_and_fraction_describe_the_same_bubble():
    """Megatron-LM's (p−1)/m is bubble ÷ ideal time; the fraction of the total is ratio/(1+ratio)."""
    for p, m, v in itertools.product((2, 4, 8, 16), (1, 4, 32), (1, 2, 4)):
        ratio = estimates.pipeline_bubble_ratio(p, m, v)
        assert ratio == pytest.approx((p - 1) / (v * m))
        assert estimates.pipeline_bubble_fraction(p, m, v) == pytest.approx(ratio / (1 + ratio))


def test_interleaving_divides_the_bubble_by_v():
    assert estimates.pipeline_bubble_ratio(8, 16, virtual_stages=2) == pytest.approx(
        estimates.pipeline_bubble_ratio(8, 16) / 2)


def test_gpipe_rule_of_thumb_m_at_least_4k_keeps_the_bubble_under_a_fifth():
    for k in range(2, 65):
        assert estimates.pipeline_bubble_fraction(k, 4 * k) < 0.2


@pytest.mark.parametrize("p,target", [(4, 0.2), (8, 0.1), (16, 0.05), (8, 0.333), (2, 0.5)])
def test_microbatches_for_bubble_is_the_smallest_that_meets_the_target(p, target):
    m = estimates.microbatches_for_bubble(p, target)
    assert estimates.pipeline_bubble_fraction(p, m) <= target + 1e-12
    if m > 1:
        assert estimates.pipeline_bubble_fraction(p, m - 1) > target


def test_activation_memory_matches_korthikanti_table2():
    s, b, h, a = 2048, 1, 12288, 96  # GPT-3 175B shapes: 5as/h = 80
    sbh = s * b * h
    assert estimates.activation_bytes_per_layer(s, b, h, a) == pytest.approx(sbh * (34 + 80))
    assert estimates.activation_bytes_per_layer(s, b, h, a, tensor_parallel=8) == pytest.approx(sbh * (10 + 3 + 10))
    assert estimates.activation_bytes_per_layer(s, b, h, a, recompute="full") == pytest.approx(2 * sbh)
    with pytest.raises(ValueError):
        estimates.activation_bytes_per_layer(s, b, h, a, recompute="some")


# --------------------------------------------------------------------------- communication


def test_ring_allreduce_bytes_and_time():
    assert estimates.ring_allreduce_bytes_per_gpu(1e9, 8) == pytest.approx(1.75e9)
    assert estimates.ring_allreduce_bytes_per_gpu(1e9, 1) == 0
    # 1 GB over 8 GPUs at 100 GB/s, α = 10 µs: 14 · 10 µs + 1.75e9 / 1e11 s
    assert estimates.ring_allreduce_time_s(1e9, 8, 10e-6, 100e9) == pytest.approx(14e-5 + 0.0175)


def test_busbw_of_a_bandwidth_bound_ring_equals_the_link_speed():
    """nccl-tests' derivation: at the ring's bound, busbw = algbw·2(n−1)/n recovers B whatever n is."""
    for n in (2, 4, 8, 64, 512):
        t = estimates.ring_allreduce_time_s(256e6, n, 0.0, 40e9)
        assert estimates.allreduce_busbw(estimates.algbw(256e6, t), n) == pytest.approx(40e9)


def test_busbw_factors_from_nccl_tests_summary():
    n = 8
    assert estimates.busbw_factor("AllReduce", n) == pytest.approx(2 * 7 / 8)
    for name in ("ReduceScatter", "all_gather", "AllToAll"):
        assert estimates.busbw_factor(name, n) == pytest.approx(7 / 8)
    for name in ("Broadcast", "reduce"):
        assert estimates.busbw_factor(name, n) == 1
    assert estimates.allreduce_busbw(100e9, 8) == pytest.approx(175e9)
    with pytest.raises(ValueError, match="unknown collective"):
        estimates.busbw_factor("gossip", 8)


def test_allreduce_is_reduce_scatter_plus_all_gather():
    for n in (2, 3, 8, 100):
        args = (64e6, n, 3e-6, 25e9)
        total = estimates.collective_time_s("reducescatter", *args) + estimates.collective_time_s("allgather", *args)
        assert estimates.collective_time_s("allreduce", *args) == pytest.approx(total)
        assert estimates.collective_time_s("allreduce", *args) == pytest.approx(estimates.ring_allreduce_time_s(*args))


def test_tree_wins_small_ring_wins_large_and_crossover_is_where_they_meet():
    n, alpha, bw = 64, 5e-6, 25e9
    cross = estimates.ring_tree_crossover_bytes(n, alpha, bw)
    assert cross > 0
    assert estimates.ring_allreduce_time_s(cross, n, alpha, bw) == pytest.approx(
        estimates.tree_allreduce_time_s(cross, n, alpha, bw))
    assert estimates.tree_allreduce_time_s(cross / 10, n, alpha, bw) < estimates.ring_allreduce_time_s(cross / 10, n, alpha, bw)
    assert estimates.ring_allreduce_time_s(cross * 10, n, alpha, bw) < estimates.tree_allreduce_time_s(cross * 10, n, alpha, bw)
    assert estimates.ring_tree_crossover_bytes(2, alpha, bw) == 0  # two GPUs: the ring is never worse
    assert estimates.tree_allreduce_time_s(1e6, 16, 1e-6, 1e9) == pytest.approx(2 * 4 * (1e-6 + 1e-3))


def test_bucketing_pays_latency_per_bucket_but_not_more_bandwidth():
    grads = 2 * 1.3e9  # 1.3B parameters in bf16
    one = estimates.bucketed_allreduce_time_s(grads, 16, 10e-6, 50e9, bucket_bytes=grads)
    assert one == pytest.approx(estimates.ring_allreduce_time_s(grads, 16, 10e-6, 50e9))
    small = estimates.bucketed_allreduce_time_s(grads, 16, 10e-6, 50e9, bucket_bytes=25 * 2**20)
    buckets = math.ceil(grads / (25 * 2**20))
    assert small - one == pytest.approx((buckets - 1) * 2 * 15 * 10e-6)


def test_fit_recovers_known_alpha_and_bandwidth():
    n, alpha, bw = 4, 40e-6, 2e9
    sizes = [4096 * 4**i for i in range(7)]
    times = [estimates.ring_allreduce_time_s(s, n, alpha, bw) for s in sizes]
    for relative in (False, True):
        fit = estimates.fit_ring_alpha_beta(sizes, times, n, relative=relative)
        assert fit["alpha_s"] == pytest.approx(alpha)
        assert fit["bandwidth_bytes_s"] == pytest.approx(bw)
        assert fit["r2"] == pytest.approx(1.0)


def test_relative_fit_keeps_alpha_when_large_sizes_are_noisy():
    n, alpha, bw = 4, 40e-6, 2e9
    sizes = [4096 * 4**i for i in range(7)]
    noise = [1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 0.95]  # ±5% on the two largest only
    times = [estimates.ring_allreduce_time_s(s, n, alpha, bw) * f for s, f in zip(sizes, noise)]
    relative = estimates.fit_ring_alpha_beta(sizes, times, n, relative=True)
    assert relative["alpha_s"] == pytest.approx(alpha, rel=0.3)


@pytest.mark.parametrize("sizes,times,n", [([1e3, 1e3], [1e-3, 2e-3], 4), ([1e3, 1e4], [1e-3], 4),
                                           ([1e3, 1e4], [1e-3, 2e-3], 1), ([1e3, 1e4], [2e-3, 1e-3], 4)])
def test_fit_refuses_unfittable_data(sizes, times, n):
    with pytest.raises(ValueError):
        estimates.fit_ring_alpha_beta(sizes, times, n)


# --------------------------------------------------------------------------- reliability


def test_young_and_daly_worked_example():
    assert estimates.young_interval(2, 480) == pytest.approx(math.sqrt(1920))
    assert estimates.young_interval(2, 480) == pytest.approx(43.82, abs=0.01)
    assert estimates.daly_interval(2, 480) == pytest.approx(math.sqrt(1920) - 2)
    with pytest.raises(ValueError):
        estimates.daly_interval(300, 480)


def test_young_interval_minimises_the_first_order_waste():
    delta, mtbf = 90.0, 3 * 3600.0
    best = estimates.young_interval(delta, mtbf)
    at_best = estimates.waste_fraction(best, delta, mtbf)
    for factor in (0.5, 0.8, 0.95, 1.05, 1.25, 2.0):
        assert estimates.waste_fraction(best * factor, delta, mtbf) > at_best
    assert at_best == pytest.approx(math.sqrt(2 * delta / mtbf))


def test_llama3_failure_rate_gives_about_three_hours_between_interruptions():
    stats = tables.load("03-distributed", "failure_stats").set_index("metric")["value"]
    hours = estimates.mtbf_from_failures(stats["period"] * 24, int(stats["interruptions_unexpected"]))
    assert hours == pytest.approx(3.09, abs=0.01)
    per_gpu = hours * stats["gpus"]
    assert estimates.cluster_mtbf(per_gpu, int(stats["gpus"])) == pytest.approx(hours)


def test_resume_from_the_last_checkpoint_not_from_zero():
    assert estimates.last_checkpoint_step(45000, 1000) == 45000
    assert estimates.last_checkpoint_step(44999, 1000) == 44000
    assert estimates.steps_lost(45_000 + 730, 500) == 230
    assert estimates.last_checkpoint_step(10, 50) == 0


def _poisson_cdf(k, lam):
    return sum(math.exp(-lam) * lam**i / math.factorial(i) for i in range(k + 1))


@pytest.mark.parametrize("nodes,mtbf,repair,conf", [(32, 50_000, 48, 0.99), (512, 20_000, 72, 0.999),
                                                    (2048, 10_000, 24, 0.95), (8, 1e6, 1, 0.5)])
def test_hot_spares_is_the_smallest_k_that_covers_the_poisson_tail(nodes, mtbf, repair, conf):
    k = estimates.hot_spares_needed(nodes, mtbf, repair, conf)
    lam = nodes * repair / mtbf
    assert _poisson_cdf(k, lam) >= conf
    if k > 0:
        assert _poisson_cdf(k - 1, lam) < conf


def test_hot_spares_survives_a_huge_mean():
    assert estimates.hot_spares_needed(100_000, 100, 1000, 0.9) > 999_000


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("call", [
    lambda: estimates.ring_allreduce_time_s(1e6, -4, 1e-6, 1e9),
    lambda: estimates.ring_allreduce_time_s(1e6, 8, 1e-6, 0),
    lambda: estimates.ring_allreduce_time_s(1e6, 8, -1e-6, 1e9),
    lambda: estimates.ring_allreduce_time_s(-1, 8, 1e-6, 1e9),
    lambda: estimates.tree_allreduce_time_s(1e6, 0, 1e-6, 1e9),
    lambda: estimates.allreduce_busbw(0, 8),
    lambda: estimates.allreduce_busbw(1e9, 2.5),
    lambda: estimates.collective_time_s("allgather", 1e6, 8, 1e-6, float("inf")),
    lambda: estimates.bucketed_allreduce_time_s(1e9, 8, 1e-6, 1e9, bucket_bytes=0),
    lambda: estimates.pipeline_bubble_fraction(0, 8),
    lambda: estimates.pipeline_bubble_fraction(4, -1),
    lambda: estimates.microbatches_for_bubble(4, 0),
    lambda: estimates.microbatches_for_bubble(4, 20),
    lambda: estimates.model_state_bytes_per_gpu(7e9, 64, zero_stage=4),
    lambda: estimates.model_state_bytes_per_gpu(-7e9, 64),
    lambda: estimates.young_interval(0, 100),
    lambda: estimates.young_interval(10, -5),
    lambda: estimates.mtbf_from_failures(54, 0),
    lambda: estimates.last_checkpoint_step(-1, 100),
    lambda: estimates.last_checkpoint_step(100, 0),
    lambda: estimates.hot_spares_needed(32, 1000, 10, 1.0),
    lambda: estimates.waste_fraction(0, 1, 100),
])
def test_bad_inputs_raise_clear_value_errors(call):
    with pytest.raises(ValueError):
        call()


def test_modules_export_what_the_package_exposes():
    for module in (communication, parallelism, reliability):
        for name in module.__all__:
            assert getattr(estimates, name) is getattr(module, name)


# --------------------------------------------------------------------------- scale-up topologies
def test_nvswitch_gives_one_peer_everything_and_a_mesh_one_link():
    h100 = estimates.peer_bandwidth_bytes_s("switch", 450e9, peers=1)
    assert h100 == {"per_peer_bytes_s": 450e9, "aggregate_bytes_s": 450e9}
    assert estimates.peer_bandwidth_bytes_s("switch", 450e9, peers=7)["per_peer_bytes_s"] == pytest.approx(450e9 / 7)
    # MI300X: 448 GB/s each way is 7 links of 64; one peer gets 64, all seven together 448
    one = estimates.peer_bandwidth_bytes_s("mesh", 448e9, peers=1, links=7)
    seven = estimates.peer_bandwidth_bytes_s("mesh", 448e9, peers=7, links=7)
    assert one["per_peer_bytes_s"] == seven["per_peer_bytes_s"] == 64e9
    assert seven["aggregate_bytes_s"] == 448e9
    with pytest.raises(ValueError):
        estimates.peer_bandwidth_bytes_s("mesh", 448e9, peers=8, links=7)
    with pytest.raises(ValueError):
        estimates.peer_bandwidth_bytes_s("torus", 448e9)


# --------------------------------------------------------------------------- MoE, context parallelism, FSDP
def test_moe_alltoall_bytes_and_time():
    size = estimates.moe_alltoall_bytes(tokens=8192, hidden=4096, top_k=2)
    assert size == 8192 * 2 * 4096 * 2
    one = estimates.collective_time_s("alltoall", size, 8, 5e-6, 100e9)
    assert one == pytest.approx(7 * 5e-6 + 7 / 8 * size / 100e9)
    assert estimates.moe_alltoall_time_s(8192, 4096, 8, 5e-6, 100e9, top_k=2) == pytest.approx(4 * one)


def test_expert_capacity_and_dropped_tokens():
    # Switch Transformer: capacity = tokens / experts x capacity factor
    assert estimates.expert_capacity(4096, 64, 1.0) == 64
    assert estimates.expert_capacity(4096, 64, 1.25) == 80
    assert estimates.expert_capacity(4096, 64, 1.25, top_k=2) == 160
    # the unrounded load; 6 x 61,440 / 8 x 1.1 is 50,688 exactly, which floating point puts a hair above
    assert estimates.expert_load(4096, 64, 1.1, top_k=2) == pytest.approx(140.8)
    assert estimates.expert_load(61440, 8, 1.1, top_k=6) > 50688
    assert estimates.expert_capacity(61440, 8, 1.1, top_k=6) == 50688
    assert estimates.dropped_token_fraction([100, 60, 40], 80) == pytest.approx(20 / 200)
    assert estimates.dropped_token_fraction([10, 10], 80) == 0
    assert estimates.moe_params_per_gpu(5e9, 0.5e9, 64, 8) == 5e9 + 4e9
    with pytest.raises(ValueError):
        estimates.moe_params_per_gpu(5e9, 0.5e9, 64, 6)


def test_ulysses_traffic_stays_flat_when_sequence_and_gpus_grow_together():
    a = estimates.ulysses_alltoall_bytes_per_gpu(32768, 8, 4096)
    b = estimates.ulysses_alltoall_bytes_per_gpu(65536, 16, 4096)
    assert a == pytest.approx(32768 / 8 * 4 * 4096 * 2 * 7 / 8)
    assert b / a == pytest.approx((15 / 16) / (7 / 8))  # only the (cp-1)/cp factor changes
    gqa = estimates.ulysses_alltoall_bytes_per_gpu(32768, 8, 4096, kv_hidden=1024)
    assert gqa == pytest.approx(a * (2 * 4096 + 2 * 1024) / (4 * 4096))
    with pytest.raises(ValueError):
        estimates.ulysses_alltoall_bytes_per_gpu(1000, 3, 4096)


def test_ring_attention_block_and_overlap_threshold():
    assert estimates.ring_attention_kv_bytes_per_step(131072, 16, 1024) == 2 * 8192 * 1024 * 2
    # Liu et al.: the transfer hides when a chunk holds at least F/B tokens (full MHA, 2-byte values)
    assert estimates.ring_attention_min_chunk_tokens(989e12, 50e9, 64, 64) == pytest.approx(989e12 / 50e9)
    assert estimates.ring_attention_min_chunk_tokens(989e12, 50e9, 64, 8) == pytest.approx(989e12 / 50e9 / 8)
    with pytest.raises(ValueError):
        estimates.ring_attention_min_chunk_tokens(989e12, 50e9, 8, 64)


def test_fsdp_traffic_is_one_and_a_half_ddp_and_hsdp_keeps_most_of_it_in_the_group():
    psi, n = 7e9, 8
    ddp = 2 * (n - 1) / n * psi * 2  # one AllReduce of BF16 gradients
    fsdp = estimates.fsdp_bytes_per_gpu(psi, n)
    assert fsdp["total"] == pytest.approx(1.5 * ddp) and fsdp["replica_group"] == 0
    zero2 = estimates.fsdp_bytes_per_gpu(psi, n, reshard_after_forward=False)
    assert zero2["total"] == pytest.approx(ddp)  # one AllGather + one ReduceScatter = one AllReduce
    hsdp = estimates.fsdp_bytes_per_gpu(psi, 8, replicas=16)
    assert hsdp["shard_group"] == fsdp["shard_group"]
    assert hsdp["replica_group"] == pytest.approx(2 * 15 / 16 * psi / 8 * 2)
    # against plain FSDP over all 128 GPUs, HSDP sends 8x less across the slow network
    assert hsdp["replica_group"] < estimates.fsdp_bytes_per_gpu(psi, 128)["total"] / 8


# --------------------------------------------------------------------------- pipeline schedules
def test_schedule_bubbles_and_memory():
    p, m = 8, 32
    assert estimates.schedule_bubble_fraction("1f1b", p, m) == pytest.approx(estimates.pipeline_bubble_fraction(p, m))
    assert estimates.schedule_bubble_fraction("interleaved", p, m, 4) == pytest.approx(
        estimates.pipeline_bubble_fraction(p, m, virtual_stages=4))
    order = [estimates.schedule_bubble_fraction(s, p, m) for s in ("1f1b", "interleaved", "zb-h1", "zb-h2")]
    assert order == sorted(order, reverse=True) and order[-1] == 0
    assert [estimates.microbatches_in_flight("1f1b", p, m, s) for s in (0, 3, 7)] == [8, 5, 1]
    assert estimates.pipeline_activation_bytes("gpipe", p, m, 2e9) == 64e9
    assert estimates.pipeline_activation_bytes("1f1b", p, m, 2e9) == 16e9
    with pytest.raises(ValueError):
        estimates.microbatches_in_flight("interleaved", p, m)
    with pytest.raises(ValueError):
        estimates.schedule_bubble_fraction("dualpipe", p, m)


# --------------------------------------------------------------------------- stragglers, SDC, checkpoints
def test_stragglers_set_the_pace_at_scale():
    assert estimates.synchronous_step_time([1.2, 1.25, 1.9, 1.21]) == 1.9
    assert estimates.straggler_probability(1, 0.01) == pytest.approx(0.01)
    assert estimates.straggler_probability(4096, 0.001) == pytest.approx(1 - 0.999**4096)
    assert estimates.straggler_probability(4096, 0.001) > 0.98
    t = estimates.expected_step_time(1.2, 4096, 0.001, 1.5)
    assert t == pytest.approx(1.2 * (1 + 0.5 * (1 - 0.999**4096)))
    assert estimates.expected_step_time(1.2, 8, 0.0, 3.0) == 1.2
    with pytest.raises(ValueError):
        estimates.expected_step_time(1.2, 8, 0.1, 0.5)


def test_sdc_rate_from_llama3():
    stats = tables.load("03-distributed", "failure_stats").set_index("metric")["value"]
    rate = estimates.events_per_gpu_hour(int(stats["silent_data_corruption"]), int(stats["gpus"]), stats["period"] * 24)
    assert rate == pytest.approx(6 / (16384 * 54 * 24))
    assert estimates.expected_events(rate, 16384, 54 * 24) == pytest.approx(6)


def test_sharded_and_async_checkpoints():
    # 70B parameters x 14 bytes = 980 GB; over 1,024 ranks each writes 0.957 GB
    shard = estimates.checkpoint_shard_bytes(70e9, 1024)
    assert shard == pytest.approx(980e9 / 1024)
    # loading on 768 GPUs (DCP reshards): each rank reads more
    assert estimates.checkpoint_shard_bytes(70e9, 768) == pytest.approx(980e9 / 768)
    assert estimates.async_checkpoint_blocking_s(shard, 25e9) == pytest.approx(shard / 25e9)
    assert estimates.async_checkpoint_fits(60, 600) and not estimates.async_checkpoint_fits(700, 600)
