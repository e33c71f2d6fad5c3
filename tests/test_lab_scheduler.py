"""The scheduler simulation: gang deadlock under per-pod placement, none under gang scheduling, fragmentation."""

import time

import pytest

from infraprep.labs import scheduler as s


def test_per_pod_deadlocks_two_gang_jobs():
    result = s.simulate(s.deadlock_scenario(), nodes=4, gpus_per_node=8, policy="per-pod")
    assert result.deadlocked and result.deadlock_time == 0
    assert sorted(result.deadlocked_jobs) == ["train-a", "train-b"]
    jobs = result.jobs.set_index("job")
    # each big job holds half the cluster: 2 of its 4 pods
    assert jobs.loc["train-a", "pods_placed"] == 2 and jobs.loc["train-b", "pods_placed"] == 2
    assert result.finished == 0 and result.makespan is None
    last = result.timeline.iloc[-1]
    assert last["allocated_gpus"] == 32 and last["busy_gpus"] == 0 and last["idle_allocated_gpus"] == 32


def test_gang_scheduler_runs_everything_without_deadlock():
    jobs = s.deadlock_scenario()
    result = s.simulate(jobs, nodes=4, gpus_per_node=8, policy="gang")
    assert not result.deadlocked and result.finished == len(jobs)
    frame = result.jobs.set_index("job")
    # one big job runs first, the second starts when it ends (durations 10)
    assert sorted([frame.loc["train-a", "start"], frame.loc["train-b", "start"]]) == [0, 10]
    assert result.makespan == 24  # 20 for the two big jobs, then finetune-c (4 steps) alongside eval-d (3)
    # busy never exceeds allocated, allocated never exceeds the cluster
    tl = result.timeline
    assert (tl["busy_gpus"] <= tl["allocated_gpus"]).all() and (tl["allocated_gpus"] <= 32).all()
    assert (tl["idle_allocated_gpus"] == 0).all()


def test_horizon_keeps_a_deadlocked_run_going_for_charts():
    result = s.simulate(s.deadlock_scenario(), policy="per-pod", horizon=25)
    assert len(result.timeline) == 26 and result.deadlocked
    assert set(result.timeline["busy_gpus"]) == {0}


def test_strict_fifo_blocks_later_jobs():
    jobs = [s.Job("big", 0, pods=2, gpus_per_pod=8, duration=5), s.Job("blocker", 0, pods=1, gpus_per_pod=1, duration=3),
            s.Job("head", 1, pods=2, gpus_per_pod=8, duration=2), s.Job("small", 1, pods=1, gpus_per_pod=1, duration=1)]
    best = s.simulate(jobs, nodes=3, policy="gang", placement="pack").jobs.set_index("job")
    strict = s.simulate(jobs, nodes=3, policy="gang", placement="pack", strict=True).jobs.set_index("job")
    assert best.loc["small", "start"] == 1          # fits beside the waiting head
    assert strict.loc["small", "start"] > strict.loc["head", "start"] - 1  # waits behind the head
    assert strict.loc["small", "start"] >= 3


def test_pack_strands_fewer_gpus_than_spread():
    for seed in range(3):
        jobs = s.fragmentation_scenario(seed)
        spread = s.simulate(jobs, nodes=8, policy="gang", placement="spread")
        pack = s.simulate(jobs, nodes=8, policy="gang", placement="pack")
        assert pack.timeline["fragmentation"].mean() < spread.timeline["fragmentation"].mean()
        assert pack.jobs["wait"].mean() <= spread.jobs["wait"].mean()


def test_random_jobs_are_deterministic_and_seeded():
    assert s.random_jobs(15, seed=3) == s.random_jobs(15, seed=3)
    assert s.random_jobs(15, seed=3) != s.random_jobs(15, seed=4)
    a = s.simulate(s.random_jobs(20, seed=2, max_arrival=2), nodes=8, policy="per-pod")
    b = s.simulate(s.random_jobs(20, seed=2, max_arrival=2), nodes=8, policy="per-pod")
    assert a.summary() == b.summary()


def test_bursty_arrivals_deadlock_per_pod_but_never_gang():
    per_pod_deadlocks = 0
    for seed in range(10):
        jobs = s.random_jobs(20, seed=seed, max_arrival=2)
        per_pod_deadlocks += s.simulate(jobs, nodes=8, policy="per-pod").deadlocked
        gang = s.simulate(jobs, nodes=8, policy="gang")
        assert not gang.deadlocked and gang.finished == 20
    assert per_pod_deadlocks >= 1


def test_simulation_is_fast():
    start = time.perf_counter()
    for policy in s.POLICIES:
        for placement in s.PLACEMENTS:
            s.simulate(s.random_jobs(30, seed=1), nodes=8, policy=policy, placement=placement)
    assert time.perf_counter() - start < 1.0


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        s.simulate(s.deadlock_scenario(), policy="fifo")
    with pytest.raises(ValueError):
        s.simulate(s.deadlock_scenario(), placement="random")
    with pytest.raises(ValueError):
        s.simulate([s.Job("x", 0, 1, 16, 1)], gpus_per_node=8)
    with pytest.raises(ValueError):
        s.simulate([s.Job("x", 0, 5, 8, 1)], nodes=4)
    with pytest.raises(ValueError):
        s.Job("x", 0, 0, 8, 1)
    with pytest.raises(ValueError):
        s.simulate([s.Job("x", 0, 1, 8, 1), s.Job("x", 1, 1, 8, 1)])


def test_pods_that_fit_and_fragmentation_by_hand():
    free = [3, 5, 0, 8, 6, 2]
    assert s.pods_that_fit(free, 8) == 1
    assert s.stranded_gpus(free, 8) == 16
    assert s.fragmentation(free, 8) == pytest.approx(16 / 24)
    assert s.pods_that_fit(free, 4) == 0 + 1 + 0 + 2 + 1 + 0
    assert s.fragmentation([0, 0], 8) == 0.0
    with pytest.raises(ValueError):
        s.pods_that_fit([1.5], 8)
    with pytest.raises(ValueError):
        s.fragmentation([4], 0)


def test_kueue_available_by_hand():
    # two teams, no lending limits: team-a borrowed 24 of team-b's unused quota
    cohort = {"team-a": {"nominal": 64, "usage": 88}, "team-b": {"nominal": 128, "usage": 80}}
    assert s.kueue_available("team-b", cohort) == 24   # 128 - 80 - 24
    assert s.kueue_available("team-a", cohort) == 24
    cohort["team-a"]["borrowing_limit"] = 24
    assert s.kueue_available("team-a", cohort) == 0    # already borrowed its limit
    # a lending limit keeps part of team-b's quota for team-b alone
    cohort = {"a": {"nominal": 64, "usage": 64, "borrowing_limit": 100},
              "b": {"nominal": 128, "usage": 0, "lending_limit": 32}}
    assert s.kueue_available("a", cohort) == 32
    assert s.kueue_available("b", cohort) == 128
    with pytest.raises(ValueError):
        s.kueue_available("c", cohort)
