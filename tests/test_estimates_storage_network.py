"""Storage and network formulas of lesson 6, checked against published figures and worked examples."""

import math

import pytest

from infraprep import estimates


# ---------------------------------------------------------------- storage

def test_checkpoint_is_zero_state_without_gradients():
    # ZeRO §3.1: 16 bytes a parameter in memory (2 weights + 2 gradients + 12 Adam); a checkpoint drops the gradients.
    params = 7.5e9
    in_memory = estimates.zero_bytes_per_gpu(params, 1, 0)
    assert estimates.checkpoint_bytes(params) == pytest.approx(in_memory - 2 * params)
    assert estimates.checkpoint_bytes(70e9) == pytest.approx(980e9)
    assert estimates.checkpoint_bytes(70e9, include_optimizer=False) == pytest.approx(140e9)


def test_checkpoint_write_time_and_step_overhead():
    size = estimates.checkpoint_bytes(70e9)  # 980 GB
    assert estimates.checkpoint_write_time_s(size, 100e9) == pytest.approx(9.8)
    assert estimates.checkpoint_write_time_s(size, 10e9, latency_s=0.5) == pytest.approx(98.5)
    assert estimates.checkpoint_step_overhead_s(98.0, 1000) == pytest.approx(0.098)
    # 60 s of saving every 3,540 s of training: 60 / 3,600 of the wall clock
    assert estimates.checkpoint_overhead_fraction(60, 3540) == pytest.approx(1 / 60)


def test_loader_bandwidth_per_gpu_and_cluster():
    assert estimates.loader_bandwidth_bytes_s(2, 4e6) == pytest.approx(8e6)
    assert estimates.loader_bandwidth_bytes_s(2, 4e6, replicas=1024) == pytest.approx(8.192e9)
    with pytest.raises(ValueError):
        estimates.loader_bandwidth_bytes_s(0, 4e6)
    with pytest.raises(ValueError):
        estimates.loader_bandwidth_bytes_s(2, 4e6, replicas=1.5)


def test_small_files_and_shards():
    assert estimates.files_opened_per_s(20_000) == 20_000
    assert estimates.files_opened_per_s(20_000, samples_per_file=10_000) == pytest.approx(2)
    assert estimates.shards_needed(10e12, 1e9) == 10_000
    assert estimates.shards_needed(10.5e9, 1e9) == 11


def test_lustre_raid0_striping():
    mib = 2 ** 20
    osts = [12, 13, 14, 15, 0, 1, 2, 3]
    assert estimates.lustre_ost_for_offset(0, 4 * mib, osts) == 12
    assert estimates.lustre_ost_for_offset(4 * mib - 1, 4 * mib, osts) == 12
    assert estimates.lustre_ost_for_offset(4 * mib, 4 * mib, osts) == 13
    assert estimates.lustre_ost_for_offset(17 * mib, 4 * mib, osts) == 0   # stripe 4
    assert estimates.lustre_ost_for_offset(33 * mib, 4 * mib, osts) == 12  # stripe 8 wraps round
    assert estimates.lustre_stripe_index(10 * mib, mib, 1) == 0
    with pytest.raises(ValueError):
        estimates.lustre_ost_for_offset(0, mib, [])


# ---------------------------------------------------------------- network

def test_link_units():
    assert estimates.gbit_to_bytes_s(400) == pytest.approx(50e9)   # NDR
    assert estimates.gbit_to_bytes_s(800) == pytest.approx(100e9)  # XDR


@pytest.mark.parametrize("n", [2, 8, 16, 1024])
def test_busbw_round_trip(n):
    # busbw = algbw x 2(n-1)/n for AllReduce (communication.allreduce_busbw); the inverse gives algbw back
    assert estimates.allreduce_busbw(100, n) == pytest.approx(100 * 2 * (n - 1) / n)
    assert estimates.algbw_from_busbw(estimates.allreduce_busbw(37.5, n), n) == pytest.approx(37.5)
    assert estimates.algbw_from_busbw(100 * (n - 1) / n, n, "all_gather") == pytest.approx(100)
    assert estimates.algbw_from_busbw(100, n, "broadcast") == pytest.approx(100)


def test_busbw_worked_example_and_errors():
    # 16 ranks: factor 2·15/16 = 1.875
    assert estimates.allreduce_busbw(192.0, 16) == pytest.approx(360.0)
    assert estimates.algbw_from_busbw(360.0, 16) == pytest.approx(192.0)
    with pytest.raises(ValueError):
        estimates.algbw_from_busbw(100, 8, "allscatter")
    with pytest.raises(ValueError):
        estimates.algbw_from_busbw(100, 1)


def test_oversubscription():
    assert estimates.oversubscription_ratio(32, 32) == 1
    assert estimates.oversubscription_ratio(48, 16) == 3
    # 32 hosts at 200 Gb/s behind 8 uplinks at 400 Gb/s: 6,400 / 3,200 = 2:1
    assert estimates.oversubscription_ratio(32, 8, 200, 400) == 2


def test_two_level_fat_tree_k_squared_over_two():
    # 64-port NDR switches: 64 leaves x 32 host ports = 2,048 hosts, 32 spines, 96 switches
    tree = estimates.two_level_fat_tree(64)
    assert (tree["hosts"], tree["leaves"], tree["spines"], tree["switches"]) == (2048, 64, 32, 96)
    for k in (4, 8, 36, 48, 128):
        tree = estimates.two_level_fat_tree(k)
        assert tree["hosts"] == k * k // 2 and tree["switches"] == 3 * k // 2
    tree = estimates.two_level_fat_tree(64, oversubscription=3)
    assert (tree["down_per_leaf"], tree["up_per_leaf"], tree["hosts"], tree["spines"]) == (48, 16, 3072, 16)
    with pytest.raises(ValueError):
        estimates.two_level_fat_tree(64, oversubscription=2)  # 64/3 uplinks is not a whole number


def test_three_level_fat_tree_al_fares():
    # Al-Fares et al. 2008: 48-port switches give 27,648 hosts with 2,880 switches.
    assert estimates.three_level_fat_tree_hosts(48) == 27_648
    assert estimates.three_level_fat_tree_switches(48) == 2_880
    assert estimates.three_level_fat_tree_hosts(4) == 16
    assert estimates.three_level_fat_tree_switches(4) == 20
    with pytest.raises(ValueError):
        estimates.three_level_fat_tree_hosts(7)


def test_leaf_spine_for_hosts():
    design = estimates.leaf_spine_for_hosts(1024, 64)
    assert (design["leaves"], design["spines"], design["switches"]) == (32, 16, 48)
    design = estimates.leaf_spine_for_hosts(1000, 64)
    assert design["leaves"] == math.ceil(1000 / 32) and design["spines"] == 16
    assert estimates.leaf_spine_for_hosts(2048, 64)["switches"] == 96
    design = estimates.leaf_spine_for_hosts(1024, 64, oversubscription=3)
    assert (design["leaves"], design["spines"]) == (22, 6)
    with pytest.raises(ValueError):
        estimates.leaf_spine_for_hosts(2049, 64)
    with pytest.raises(ValueError):
        estimates.leaf_spine_for_hosts(100, 63)


def test_bisection_bandwidth():
    ndr = estimates.gbit_to_bytes_s(400)
    assert estimates.bisection_bandwidth_bytes_s(1024, ndr) == pytest.approx(512 * 50e9)
    assert estimates.bisection_bandwidth_bytes_s(1024, ndr, 2) == pytest.approx(256 * 50e9)
    with pytest.raises(ValueError):
        estimates.bisection_bandwidth_bytes_s(1, ndr)


# ---------------------------------------------------------------- one checkpoint definition, metadata, RAID

def test_checkpoint_bytes_per_param_is_14():
    assert estimates.CHECKPOINT_BYTES_PER_PARAM == 14
    for params in (1e9, 7e9, 405e9):
        assert estimates.checkpoint_bytes(params) == pytest.approx(estimates.CHECKPOINT_BYTES_PER_PARAM * params)


def test_metadata_rates_and_targets():
    # 2,048 samples/s, one file a sample, open + stat: 4,096 metadata operations a second
    assert estimates.metadata_ops_per_s(2048) == pytest.approx(4096)
    assert estimates.metadata_ops_per_s(2048, samples_per_file=10_000) == pytest.approx(0.4096)
    assert estimates.metadata_targets_needed(60_000, 15_000) == 4
    assert estimates.metadata_targets_needed(60_001, 15_000) == 5
    with pytest.raises(ValueError):
        estimates.metadata_targets_needed(100, 0)


def test_raid0_and_parallel_writes():
    assert estimates.raid0_bandwidth_bytes_s(8, 6.6e9) == pytest.approx(52.8e9)
    assert estimates.parallel_write_bandwidth_bytes_s(128, 25e9, 100e9) == pytest.approx(100e9)
    assert estimates.parallel_write_bandwidth_bytes_s(2, 25e9, 100e9) == pytest.approx(50e9)


# ---------------------------------------------------------------- link generations and busbw ceilings

def test_port_rate():
    assert estimates.port_rate_gbit_s(100) == 400
    assert estimates.port_rate_gbit_s(200, 8) == 1600


def test_ring_busbw_ceiling_of_a_dgx_h100_and_the_lessons_run():
    from infraprep import parsers, tables

    ceiling = estimates.ring_allreduce_busbw_ceiling_bytes_s(8, estimates.gbit_to_bytes_s(400), 450e9)
    assert ceiling == pytest.approx(400e9)
    # NVLink is the limit when the node has more network than one GPU's NVLink
    assert estimates.ring_allreduce_busbw_ceiling_bytes_s(8, 100e9, 450e9) == pytest.approx(450e9)
    peak = parsers.nccl_tests_summary(tables.artefact("06-storage-networking", "all_reduce_perf_2nodes.txt"))
    share = peak["peak_busbw_gb_s"] * 1e9 / ceiling
    assert 0.90 < share < 0.93  # 365 GB/s of 400: 91%, inside NCCL's 46-48 GB/s a NIC


def test_in_network_reduction_doubles_the_network_ceiling_on_algbw():
    b = 400e9
    for n in (16, 256, 4096):
        ring = estimates.allreduce_network_algbw_ceiling_bytes_s(n, b)
        sharp = estimates.allreduce_network_algbw_ceiling_bytes_s(n, b, in_network_reduction=True)
        assert ring == pytest.approx(b * n / (2 * (n - 1)))
        assert sharp == pytest.approx(b)
        # the busbw a ring can show is the wire rate; with SHARP nccl-tests' formula prints more than it
        assert estimates.allreduce_busbw(ring, n) == pytest.approx(b)
        assert estimates.allreduce_busbw(sharp, n) > b
    with pytest.raises(ValueError):
        estimates.allreduce_network_algbw_ceiling_bytes_s(1, b)


def test_nvswitch_bandwidth_is_shared_across_peers():
    assert estimates.nvswitch_peer_bandwidth_bytes_s(450e9, 1) == pytest.approx(450e9)
    assert estimates.nvswitch_peer_bandwidth_bytes_s(450e9, 7) == pytest.approx(450e9 / 7)


# ---------------------------------------------------------------- ECMP

def test_ecmp_small_cases_by_hand():
    # 2 flows on 2 paths: both on one path with probability 1/2
    probs = estimates.ecmp_max_load_probabilities(2, 2)
    assert probs == pytest.approx([0, 0.5, 0.5])
    assert estimates.ecmp_expected_max_load(2, 2) == pytest.approx(1.5)
    assert estimates.ecmp_collective_efficiency(2, 2) == pytest.approx(0.5 * 1 + 0.5 * 0.5)
    # 3 flows on 3 paths: all apart with probability 3!/27, all together 3/27
    probs = estimates.ecmp_max_load_probabilities(3, 3)
    assert probs == pytest.approx([0, 6 / 27, 18 / 27, 3 / 27])
    assert estimates.ecmp_collision_probability(8, 8) == pytest.approx(1 - math.factorial(8) / 8 ** 8)
    assert estimates.ecmp_collision_probability(9, 8) == 1.0
    assert estimates.ecmp_max_load_probabilities(1, 5) == pytest.approx([0, 1])


@pytest.mark.parametrize("flows, paths", [(8, 8), (64, 64), (128, 32)])
def test_ecmp_exact_values_match_a_simulation(flows, paths):
    import numpy as np

    rng = np.random.default_rng(7)
    loads = np.array([np.bincount(rng.integers(0, paths, flows), minlength=paths).max() for _ in range(20_000)])
    assert estimates.ecmp_expected_max_load(flows, paths) == pytest.approx(loads.mean(), rel=0.01)
    ideal = math.ceil(flows / paths)
    assert estimates.ecmp_collective_efficiency(flows, paths) == pytest.approx((ideal / loads).mean(), rel=0.01)
    assert sum(estimates.ecmp_max_load_probabilities(flows, paths)) == pytest.approx(1)


def test_ecmp_one_flow_a_path_is_slow_and_more_flows_help():
    assert 0.40 < estimates.ecmp_collective_efficiency(8, 8) < 0.42
    assert 0.25 < estimates.ecmp_collective_efficiency(64, 64) < 0.27
    assert estimates.ecmp_collective_efficiency(8 * 8, 8) > estimates.ecmp_collective_efficiency(8, 8)
    with pytest.raises(ValueError):
        estimates.ecmp_max_load_probabilities(5000, 8)


# ---------------------------------------------------------------- three levels, rail-only

def test_three_level_for_hosts_matches_al_fares_at_full_size():
    for k in (4, 16, 48, 64):
        design = estimates.three_level_fat_tree_for_hosts(k ** 3 // 4, k)
        assert design["switches"] == estimates.three_level_fat_tree_switches(k) == 5 * k * k // 4
        assert (design["pods"], design["core"]) == (k, k * k // 4)
    with pytest.raises(ValueError):
        estimates.three_level_fat_tree_for_hosts(65_537, 64)


def test_sizing_16k_to_100k_gpus():
    d = estimates.three_level_fat_tree_for_hosts(16_384, 64)
    assert (d["leaves"], d["pods"], d["aggregation"], d["core"], d["switches"]) == (512, 16, 512, 256, 1280)
    assert d["links"] == 512 * 32 + 512 * 32
    # 100,000 GPUs do not fit three levels of 64-port switches (65,536) but fit radix 128
    with pytest.raises(ValueError):
        estimates.fat_tree_for_hosts(100_000, 64)
    big = estimates.fat_tree_for_hosts(100_000, 128)
    assert big["levels"] == 3 and big["leaves"] == math.ceil(100_000 / 64)
    assert estimates.fat_tree_for_hosts(64, 64)["switches"] == 1
    assert estimates.fat_tree_for_hosts(2048, 64)["levels"] == 2


def test_rail_only_needs_fewer_switches():
    rail = estimates.rail_only_fabric(2048, 8, 64)      # 16,384 GPUs, 8 rails of 2,048 ports
    assert rail["levels"] == 2 and rail["switches"] == 8 * 96
    full = estimates.fat_tree_for_hosts(16_384, 64)["switches"]
    assert 1 - rail["switches"] / full == pytest.approx(0.4)
