"""The 3 AM incident: the logs are consistent with each other and with the formulas, and the parsers read them."""

from __future__ import annotations

import inspect
import random
import re

import pandas as pd
import pytest

from infraprep import estimates
from infraprep.practice import incident

WORLD = 256


@pytest.fixture(scope="module")
def logs():
    return {name: incident.read(name) for name in incident.ARTEFACTS}


def test_the_job_stalled_at_step_45000_of_50000(logs):
    metrics = incident.parse_train_log(logs["train.log"])
    assert incident.last_step(logs["train.log"]) == 45_000
    assert set(metrics["total_steps"]) == {50_000}
    assert metrics["step"].is_monotonic_increasing
    assert incident.last_checkpoint(logs["train.log"]) == 44_000


def test_the_launcher_table_covers_256_ranks_8_a_node(logs):
    layout = incident.rank_table(logs["train.log"])
    assert len(layout) == 32
    assert (layout["last_rank"] - layout["first_rank"] + 1 == 8).all()
    assert layout["first_rank"].tolist() == list(range(0, WORLD, 8))
    assert layout.loc[layout["node_rank"] == 21, "host"].item() == "trn-node-021"


def test_the_logged_throughput_is_a_plausible_mfu(logs):
    """tokens/s × 6·N against 256 H100s' dense BF16 peak: a real run sits between 25% and 55% MFU."""
    metrics = incident.parse_train_log(logs["train.log"])
    flop_s = 6 * 6.74e9 * metrics["tokens_per_s"].median()
    value = estimates.mfu(flop_s, WORLD * 989e12)
    assert 0.25 < value < 0.55
    tokens_per_step = 1024 * 4096
    assert metrics["tokens_per_s"].median() == pytest.approx(tokens_per_step / metrics["step_time_s"].median(), rel=0.02)


def test_every_healthy_rank_timed_out_in_the_same_allreduce(logs):
    events = incident.parse_stderr(logs["stderr.log"])
    timeouts = events[events["kind"] == "timeout"]
    assert len(timeouts) == WORLD - 8
    assert set(timeouts["op"]) == {"ALLREDUCE"} and timeouts["seq"].nunique() == 1
    assert set(timeouts["timeout_ms"]) == {600_000}
    assert (timeouts["ran_ms"] >= timeouts["timeout_ms"]).all()


def test_the_first_event_is_the_failing_rank(logs):
    events = incident.parse_stderr(logs["stderr.log"])
    first = events.iloc[0]
    assert (first["kind"], first["rank"], first["host"]) == ("error", 173, "trn-node-021")
    assert "CUDA error" in first["detail"]
    later = events[events["kind"] == "timeout"]["time"]
    gap = (later.min() - first["time"]).total_seconds()
    assert 595 <= gap <= 605  # the others waited one NCCL timeout (600 s)


def test_silent_ranks_are_one_whole_node(logs):
    silent = incident.silent_ranks(logs["stderr.log"], WORLD)
    assert silent == list(range(168, 176))
    assert {incident.rank_location(r)[0] for r in silent} == {21}
    assert incident.rank_location(173) == (21, 5)


def test_dmesg_shows_xid_79_on_the_gpu_of_rank_173(logs):
    xids = incident.parse_xid(logs["dmesg-suspect-node.txt"])
    assert xids["xid"].tolist() == [79]
    assert "fallen off the bus" in xids["message"].item()
    buses = incident.gpu_bus_ids(logs["nvidia-smi-healthy-node.txt"])
    assert len(buses) == 8
    assert buses[5].startswith(xids["pci"].item())
    xid_time = pd.Timestamp(xids["time"].item())
    first_error = incident.parse_stderr(logs["stderr.log"])["time"].iloc[0]
    assert 0 < (first_error - xid_time).total_seconds() < 5  # the Xid came first: the cause, not a symptom


def test_nvidia_smi_on_the_bad_node_cannot_see_that_gpu(logs):
    text = logs["nvidia-smi-suspect-node.txt"]
    assert "Unable to determine the device handle for GPU0000:AB:00.0" in text
    assert "ab:00.0 3D controller" in text and "(rev ff)" in text
    assert text.count("(rev ff)") == 1


def test_diagnose_puts_it_together():
    found = incident.diagnose()
    assert found["first_failing_rank"] == 173 and found["host"] == "trn-node-021"
    assert (found["local_rank"], found["gpu_bus_id"], found["xid"]) == (5, "0000:ab:00.0", 79)
    assert found["steps_to_redo"] == 1000
    assert found["minutes_to_redo"] == pytest.approx(32, abs=0.5)


def test_parsers_work_on_other_inputs():
    stderr = (
        "n1: [rank3]:[E0102 01:00:05.000000000 ProcessGroupNCCL.cpp:616] [Rank 3] Watchdog caught collective operation "
        "timeout: WorkNCCL(SeqNum=9, OpType=BROADCAST, NumelIn=5, NumelOut=5, Timeout(ms)=1000) ran for 1004 milliseconds "
        "before timing out.\n"
        "n0: [rank1]:[E0102 01:00:01.000000000 ProcessGroupNCCL.cpp:1785] [PG ID 0 PG GUID 0(default_pg) Rank 1] Process "
        "group watchdog thread terminated with exception: CUDA error: an illegal memory access was encountered\n"
        "unrelated line\n"
    )
    events = incident.parse_stderr(stderr, year=2027)
    assert events["rank"].tolist() == [1, 3] and events["time"].iloc[0].year == 2027
    assert events["op"].iloc[1] == "BROADCAST" and events["ran_ms"].iloc[1] == 1004
    assert incident.silent_ranks(stderr, 4) == [0, 1, 2]
    dmesg = "[Mon Jan  2 01:00:00 2027] NVRM: Xid (PCI:0000:18:00): 48, pid=1234, name=python, DBE (double bit error)\n"
    assert incident.parse_xid(dmesg)[["pci", "xid"]].values.tolist() == [["0000:18:00", 48]]
    assert incident.rank_location(15, gpus_per_node=4) == (3, 3)
    with pytest.raises(ValueError):
        incident.last_step("no steps here")
    with pytest.raises(ValueError):
        incident.rank_location(-1)


def test_diagnosis_steps_are_well_formed():
    steps = incident.load_steps()
    assert steps["step"].tolist() == list(range(1, len(steps) + 1)) and len(steps) >= 5
    for row in steps.itertuples(index=False):
        assert row.answer in "ABCD" and isinstance(getattr(row, row.answer.lower()), str)
        assert row.artefact.split("/", 1)[1] in incident.ARTEFACTS
    assert steps["answer"].nunique() >= 3  # not always the same letter


# --------------------------------------------------------------------------- generated incidents

SEEDS = range(40)


def _header(train: str, name: str) -> str:
    return re.search(rf"\b{name}=(\S+)", train).group(1)


@pytest.fixture(scope="module")
def generated():
    return {seed: incident.generate(random.Random(seed)) for seed in SEEDS}


def test_generate_is_deterministic_and_varies():
    assert incident.generate(random.Random(11)) == incident.generate(random.Random(11))
    first, other = incident.generate(random.Random(1)), incident.generate(random.Random(2))
    assert set(first) == set(incident.ARTEFACTS) and first != other
    with pytest.raises(TypeError):
        incident.generate(11)


def test_generated_logs_are_one_consistent_failure(generated):
    """Whatever the draw, the logs tell one story the parsers can read: one rank's CUDA error, its whole
    node silent, every other rank timing out one NCCL timeout later, and an Xid on that GPU first."""
    for seed, logs in generated.items():
        train, stderr = logs["train.log"], logs["stderr.log"]
        world, timeout = int(_header(train, "world_size")), int(_header(train, "nccl_timeout").rstrip("s"))
        layout = incident.rank_table(train)
        assert len(layout) * 8 == world and layout["first_rank"].tolist() == list(range(0, world, 8))
        events = incident.parse_stderr(stderr)
        first = events.iloc[0]
        assert first["kind"] == "error", seed
        node, local = incident.rank_location(int(first["rank"]))
        assert node != 0 and layout.loc[layout["node_rank"] == node, "host"].item() == first["host"]
        assert incident.silent_ranks(stderr, world) == list(range(8 * node, 8 * node + 8))
        timeouts = events[events["kind"] == "timeout"]
        assert len(timeouts) == world - 8 and timeouts["seq"].nunique() == 1
        assert set(timeouts["timeout_ms"]) == {timeout * 1000}
        gap = (timeouts["time"].min() - first["time"]).total_seconds()
        assert timeout - 2 <= gap <= timeout + 3, (seed, gap)
        xids = incident.parse_xid(logs["dmesg-suspect-node.txt"])
        fatal = xids[xids["xid"].isin([f["xid"] for f in incident.FAILURES.values()])]
        assert len(fatal) == 1, seed
        kind = next(k for k, f in incident.FAILURES.items() if f["xid"] == fatal["xid"].item())
        assert first["detail"] == f"CUDA error: {incident.FAILURES[kind]['cuda']}"
        buses = incident.gpu_bus_ids(logs["nvidia-smi-healthy-node.txt"])
        assert len(buses) == 8 and buses[local] == fatal["pci"].item() + ".0"
        lag = (first["time"] - pd.Timestamp(fatal["time"].item())).total_seconds()
        assert 0 < lag < 5, (seed, lag)  # the Xid comes first: the cause, not a symptom


def test_generated_training_log_has_an_unfinished_async_checkpoint(generated):
    for seed, logs in generated.items():
        train = logs["train.log"]
        started = [int(s) for s in re.findall(r"async save of step_(\d+) started", train)]
        saved = [int(s) for s in re.findall(r"saved step_(\d+) in", train)]
        every = int(_header(train, "checkpoint_every"))
        assert started[-1] not in saved and saved == started[:-1], seed
        assert incident.last_checkpoint(train) == started[-1] - every
        assert incident.last_step(train) >= started[-1]
        params = float(_header(train, "params"))
        size = float(re.search(r"async save of step_\d+ started \(([\d,.]+) GB", train).group(1).replace(",", ""))
        assert size == pytest.approx(14 * params / 1e9, rel=1e-3)  # 14 bytes a parameter
        metrics = incident.parse_train_log(train)
        tokens_step = int(_header(train, "tokens_per_step"))
        assert (metrics["tokens_per_s"] * metrics["step_time_s"] / tokens_step).between(0.99, 1.01).all()
        mfu = estimates.mfu(6 * params * metrics["tokens_per_s"].median(), int(_header(train, "world_size")) * 989e12)
        assert 0.3 < mfu < 0.55, (seed, mfu)


def test_generated_nvidia_smi_matches_the_failure(generated):
    for seed, logs in generated.items():
        xid = incident.parse_xid(logs["dmesg-suspect-node.txt"])["xid"].iloc[0]
        bus = incident.parse_xid(logs["dmesg-suspect-node.txt"])["pci"].iloc[0].split(":")[1]
        suspect, healthy = logs["nvidia-smi-suspect-node.txt"], logs["nvidia-smi-healthy-node.txt"]
        table = [line for line in healthy.splitlines() if line.startswith(("|", "+"))]
        assert {len(line) for line in table} == {91}, seed
        if xid == 79:
            assert f"Unable to determine the device handle for GPU0000:{bus.upper()}:00.0" in suspect
            assert f"{bus}:00.0 3D controller" in suspect and suspect.count("(rev ff)") == 1
        elif xid in (94, 95):
            row = next(line for line in suspect.splitlines() if f"00000000:{bus.upper()}:00.0" in line)
            assert int(row.rsplit("|", 2)[1]) > 0
        else:
            assert "<inactive>" in suspect and "nvlink -s" in suspect


def test_generated_incidents_cover_every_failure_and_never_the_lecture(generated):
    lecture = incident.diagnose()
    kinds, sizes = set(), set()
    for logs in generated.values():
        kinds.add(int(incident.parse_xid(logs["dmesg-suspect-node.txt"])["xid"].iloc[0]))
        sizes.add(int(_header(logs["train.log"], "world_size")))
        assert "trn-node-" not in logs["stderr.log"]
        assert incident.gpu_bus_ids(logs["nvidia-smi-healthy-node.txt"]) != incident.gpu_bus_ids(
            incident.read("nvidia-smi-healthy-node.txt"))
        assert incident.parse_stderr(logs["stderr.log"]).iloc[0]["host"] != lecture["host"]
    assert kinds == {79, 94, 95, 74} and len(sizes) >= 4


def test_diagnose_reads_only_the_lecture_incident():
    """The package's one-call diagnosis is the lecture's worked example; it cannot be pointed at
    another incident's logs."""
    assert list(inspect.signature(incident.diagnose).parameters) == ["gpus_per_node"]
