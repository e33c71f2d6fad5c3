"""The scheduler simulation: gang deadlock under per-pod placement, none under gang scheduling, fragmentation."""


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


def test_deadlock_scenario_is_the_four_jobs_its_description_names():
    jobs = s.deadlock_scenario()
    table = s.jobs_table(jobs)
    assert len(jobs) == 4 == len(table)
    big = table[table["pods"] == 4]
    assert list(big["job"]) == ["train-a", "train-b"] and set(big["arrival_step"]) == {0} and set(big["gpus"]) == {32}
    small = table[table["pods"] == 1].set_index("job")
    assert small.loc["finetune-c", "gpus"] == 8 and small.loc["finetune-c", "arrival_step"] == 2
    assert small.loc["eval-d", "gpus"] == 4 and small.loc["eval-d", "arrival_step"] == 3
    assert "Four jobs" in s.deadlock_scenario.__doc__
    # under per-pod scheduling the small jobs never start either: every GPU is held by the stuck pair
    result = s.simulate(jobs, nodes=4, policy="per-pod", horizon=12)
    assert result.jobs.set_index("job").loc[["finetune-c", "eval-d"], "start"].isna().all()


def test_kueue_weighted_share_by_hand():
    # lendable GPUs in the cohort: 64 + 128 + min(64, 32) = 224; team-a borrows 16 -> 16 / 224
    cohort = {"team-a": {"nominal": 64, "usage": 80}, "team-b": {"nominal": 128, "usage": 40},
              "team-c": {"nominal": 64, "lending_limit": 32}}
    assert s.kueue_weighted_share("team-a", cohort) == pytest.approx(16 / 224)
    assert s.kueue_share_status("team-a", cohort) == 72  # ceil(71.43)
    assert s.kueue_weighted_share("team-b", cohort) == 0.0  # within nominal quota
    cohort["team-a"]["weight"] = 2
    assert s.kueue_weighted_share("team-a", cohort) == pytest.approx(8 / 224)
    cohort["team-a"]["weight"] = 0
    assert s.kueue_weighted_share("team-a", cohort) == float("inf")
    # the dominant resource wins: CPU borrowed 432 of 3,072 lendable beats GPU 16 of 224
    multi = {"a": {"nominal": {"gpu": 64, "cpu": 768}, "usage": {"gpu": 80, "cpu": 1200}},
             "b": {"nominal": {"gpu": 160, "cpu": 2304}}}
    assert s.kueue_weighted_share("a", multi) == pytest.approx(432 / 3072)
    with pytest.raises(ValueError):
        s.kueue_weighted_share("z", multi)


def test_kueue_requeue_backoff_and_deactivation_time():
    assert s.kueue_requeue_delays(8) == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert s.kueue_requeue_delays(3, base_s=10, cap_s=25) == [10, 20, 25]
    assert s.kueue_requeue_delays(0) == []
    # backoffLimitCount 2: admitted, timeout, wait 60, admitted, timeout, wait 120, admitted, timeout -> deactivated
    assert s.kueue_time_to_deactivation(600, 2) == 3 * 600 + 60 + 120
    with pytest.raises(ValueError):
        s.kueue_requeue_delays(-1)


@pytest.mark.parametrize("policy, asked, free, admitted", [
    ("restricted", 8, [4, 4], True),        # spanning both sockets is the narrowest possible
    ("single-numa-node", 8, [4, 4], False),
    ("restricted", 2, [1, 1], False),       # 2 fit one socket, but only one free on each
    ("best-effort", 2, [1, 1], True),
    ("none", 2, [1, 1], True),
    ("restricted", 3, [2, 3], True),        # socket 1 has 3 free
    ("single-numa-node", 3, [2, 3], True),
    ("restricted", 5, [4, 1], True),        # 5 need two sockets anyway
    ("single-numa-node", 5, [4, 1], False),
    ("restricted", 4, [3, 3], False),
    ("best-effort", 4, [1, 1], False),      # not enough free devices at all
])
def test_numa_admission_rule(policy, asked, free, admitted):
    assert s.numa_admits(policy, asked, [4, 4], free) is admitted


def test_numa_admission_is_nested_and_checks_inputs():
    for request in range(1, 9):
        for f0 in range(5):
            for f1 in range(5):
                verdicts = [s.numa_admits(p, request, [4, 4], [f0, f1]) for p in s.TOPOLOGY_POLICIES]
                # stricter policies admit a subset of what looser ones admit
                assert verdicts[3] <= verdicts[2] <= verdicts[1] == verdicts[0]
    with pytest.raises(ValueError):
        s.numa_admits("strict", 1, [4, 4], [4, 4])
    with pytest.raises(ValueError):
        s.numa_admits("restricted", 1, [4, 4], [5, 4])
    with pytest.raises(ValueError):
        s.numa_admits("restricted", 0, [4, 4], [4, 4])


def test_first_pass_equals_step_zero_of_the_simulation():
    import random

    rng = random.Random(7)
    for _ in range(60):
        jobs = [s.Job(f"j{i}", 0, pods=rng.randint(1, 5), gpus_per_pod=rng.choice([1, 2, 3, 4, 8]), duration=5)
                for i in range(rng.randint(1, 5))]
        nodes = max(rng.randint(2, 12), max(j.gpus for j in jobs) // 8 + 1)
        placement = rng.choice(s.PLACEMENTS)
        fast = s.first_pass(jobs, nodes=nodes, placement=placement)
        row = s.simulate(jobs, nodes=nodes, policy="per-pod", placement=placement, horizon=0).timeline.iloc[0]
        assert (fast["allocated_gpus"], fast["busy_gpus"], fast["idle_allocated_gpus"]) == (
            row["allocated_gpus"], row["busy_gpus"], row["idle_allocated_gpus"])
    deadlock = s.first_pass(s.deadlock_scenario()[:2], nodes=4)
    assert deadlock["stuck"] == ["train-a", "train-b"] and deadlock["idle_allocated_gpus"] == 32


def test_pure_helpers_load_without_pandas():
    import subprocess
    import sys

    code = ("import sys; from infraprep.labs import scheduler; from infraprep import manifests, checking; "
            "from infraprep.assessment import variants; "
            "scheduler.first_pass([scheduler.Job('a', 0, 2, 8, 1)], nodes=1); scheduler.numa_admits('none', 1, [4], [4]); "
            "manifests.check_clusterqueue(open(sys.argv[1]).read().split('---')[2]); "
            "print('pandas' in sys.modules, 'matplotlib' in sys.modules)")
    from infraprep import tables

    setup = str(tables.artefact_path("04-kubernetes", "kueue-setup.yaml"))
    out = subprocess.run([sys.executable, "-c", code, setup], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
