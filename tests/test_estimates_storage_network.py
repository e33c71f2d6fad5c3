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
