"""Lesson 3 data: tables are sourced and consistent with the formulas; artefacts tell the stories they should."""

import datetime
import re

import numpy as np
import pandas as pd
import pytest

from infraprep import estimates, tables
from infraprep.widgets.quiz import questions_from_table

LESSON = "03-distributed"
FACT_TABLES = ["collectives", "zero_stages", "parallelism", "failure_signatures", "nccl_settings",
               "precision", "compression", "failure_stats"]


def test_references_are_complete_and_dated():
    refs = tables.references(LESSON)
    assert list(refs.columns) == ["key", "title", "publisher", "url", "accessed"]
    assert refs["key"].is_unique
    for row in refs.itertuples():
        assert row.url.startswith("https://")
        datetime.date.fromisoformat(row.accessed)


@pytest.mark.parametrize("name", FACT_TABLES)
def test_every_fact_row_cites_a_reference(name):
    keys = set(tables.references(LESSON)["key"])
    frame = tables.load(LESSON, name)
    assert "source" in frame.columns
    assert set(frame["source"]) <= keys
    assert not frame.isna().all(axis=1).any()


def test_practice_quiz_table_is_valid():
    questions = questions_from_table(tables.load(LESSON, "practice"))
    assert len(questions) >= 6


def test_zero_table_matches_the_formula_and_the_paper():
    zero = tables.load(LESSON, "zero_stages")
    assert list(zero["stage"]) == [0, 1, 2, 3]
    for row in zero.itertuples():
        got = estimates.zero_bytes_per_gpu(7.5e9, 64, row.stage) / 1e9
        assert round(got, 1) == pytest.approx(row.paper_7_5b_64gpu_gb)


def _factor(text, n):
    expression = text.replace("(n-1)", "*(n-1)").lstrip("*").replace("n", str(n))
    return eval(expression, {"__builtins__": {}})  # only digits and arithmetic remain


def test_collectives_table_agrees_with_busbw_factors():
    coll = tables.load(LESSON, "collectives")
    assert set(coll["collective"]) == {"Broadcast", "Reduce", "AllReduce", "ReduceScatter", "AllGather", "AllToAll"}
    for row in coll.itertuples():
        for n in (2, 8, 64):
            assert _factor(row.busbw_factor, n) == pytest.approx(estimates.busbw_factor(row.collective, n))


def test_precision_table_matches_the_bit_layouts():
    prec = tables.load(LESSON, "precision").set_index("format")
    for fmt, dtype in (("fp32", np.float32), ("fp16", np.float16)):
        info = np.finfo(dtype)
        assert prec.loc[fmt, "max_normal"] == pytest.approx(float(info.max), rel=1e-4)
        assert prec.loc[fmt, "min_normal"] == pytest.approx(float(info.tiny), rel=1e-4)
        assert prec.loc[fmt, "mantissa_bits"] == info.nmant
    for fmt in prec.index:
        e, m = int(prec.loc[fmt, "exponent_bits"]), int(prec.loc[fmt, "mantissa_bits"])
        bias = 2 ** (e - 1) - 1
        assert prec.loc[fmt, "max_normal"] == pytest.approx((2 - 2.0**-m) * 2.0**bias, rel=1e-4)
        assert prec.loc[fmt, "min_normal"] == pytest.approx(2.0 ** (1 - bias), rel=1e-4)
        assert prec.loc[fmt, "sign_bits"] + e + m in (16, 32)


def test_failure_stats_add_up():
    stats = tables.load(LESSON, "failure_stats").set_index("metric")["value"]
    assert stats["interruptions_planned"] + stats["interruptions_unexpected"] == stats["interruptions_total"]
    assert stats["faulty_gpu"] + stats["gpu_hbm3_memory"] < stats["interruptions_unexpected"]
    # the paper's table gives GPU HBM3 memory as 17.2% of the unexpected interruptions
    assert stats["gpu_hbm3_memory"] / stats["interruptions_unexpected"] == pytest.approx(0.172, abs=0.001)


def test_failure_signature_table_covers_the_four_causes():
    sig = tables.load(LESSON, "failure_signatures")
    text = " ".join(sig["failure"]).lower()
    for word in ("hardware", "nccl timeout", "out of memory", "data-pipeline"):
        assert word in text
    assert sig["how_to_resume"].str.contains("checkpoint").all()


# --------------------------------------------------------------------------- artefacts

TIMEOUT = re.compile(r"\[Rank (\d+)\] Watchdog caught collective operation timeout: WorkNCCL\(SeqNum=(\d+), OpType=(\w+)")


def test_watchdog_log_points_at_one_silent_rank():
    log = tables.artefact(LESSON, "nccl-watchdog-timeout.log")
    hits = TIMEOUT.findall(log)
    ranks = {int(r) for r, _, _ in hits}
    assert len(hits) == len(ranks) == 255
    assert {seq for _, seq, _ in hits} == {"90412"} and {op for _, _, op in hits} == {"ALLREDUCE"}
    assert set(range(256)) - ranks == {173}
    assert "Timeout(ms)=600000" in log
    assert "step 44999/50000" in log
    # every line carries the PyTorch glog-style prefix [rankN]:[E<MMDD> <time> ProcessGroupNCCL.cpp:<line>]
    for line in log.splitlines():
        if "Watchdog caught" in line:
            assert re.match(r"^\[rank\d+\]:\[E\d{4} \d\d:\d\d:\d\d\.\d{9} ProcessGroupNCCL\.cpp:\d+\] ", line)


def test_oom_message_numbers_are_consistent():
    text = tables.artefact(LESSON, "cuda-oom.log")
    line = next(line for line in text.splitlines() if "OutOfMemoryError" in line)
    numbers = dict(zip(
        ["tried", "total", "free", "in_use", "allocated", "reserved_unallocated"],
        map(float, re.findall(r"(\d+\.\d+) GiB", line)),
    ))
    assert numbers["in_use"] + numbers["free"] == pytest.approx(numbers["total"], abs=0.02)
    assert numbers["allocated"] + numbers["reserved_unallocated"] < numbers["in_use"]
    assert numbers["tried"] > numbers["free"]
    # the allocation would fit in free + reserved-but-unallocated: a fragmentation story
    assert numbers["tried"] < numbers["free"] + numbers["reserved_unallocated"]
    assert "[rank37]" in line and "GPU 5" in line


def test_step_trace_is_a_consistent_stall():
    trace = tables.load(LESSON, "step_times")
    assert list(trace.columns) == ["step", "elapsed_s", "step_time_s", "data_wait_s", "tokens_per_s"]
    assert (trace["step"].diff().dropna() == 1).all()
    np.testing.assert_allclose(trace["elapsed_s"], trace["step_time_s"].cumsum(), atol=0.01)
    np.testing.assert_allclose(trace["tokens_per_s"], 4194304 / trace["step_time_s"], rtol=1e-6)
    baseline = trace["tokens_per_s"].iloc[:100].median()
    collapsed = trace.loc[trace["tokens_per_s"] < 0.5 * baseline, "step"]
    assert collapsed.iloc[0] == 44937
    assert (trace["step"][trace["step"] >= 44937] == collapsed.values).all()  # it never recovers
    # the blips before the collapse are real but too small to count
    assert (trace.loc[trace["step"] < 44937, "data_wait_s"] > 0.2).sum() == 2


def test_nccl_info_log_has_one_host_on_sockets():
    log = tables.artefact(LESSON, "nccl-debug-info.log")
    hosts = {}
    for match in re.finditer(r"^(\S+?):\d+:\d+ \[\d+\] NCCL INFO Using network (\w+)$", log, re.M):
        hosts[match.group(1)] = match.group(2)
    assert len(hosts) == 32
    assert {h for h, net in hosts.items() if net != "IB"} == {"gpu-node-19"}
    assert "NCCL version" in log and "Init COMPLETE" in log
