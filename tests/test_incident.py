"""The 3 AM incident: the logs are consistent with each other and with the formulas, and the parsers read them."""

from __future__ import annotations

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
