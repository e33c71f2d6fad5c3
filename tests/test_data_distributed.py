"""Lesson 3 data: tables are sourced and consistent with the formulas; artefacts tell the stories they should."""

import re

import numpy as np
import pytest

from infraprep import estimates, tables
from infraprep.widgets.quiz import questions_from_table

LESSON = "03-distributed"
FACT_TABLES = ["collectives", "zero_stages", "parallelism", "failure_signatures", "nccl_settings",
               "precision", "compression", "failure_stats", "fsdp_api", "pipeline_schedules", "context_parallel",
               "fp8_recipes", "sdc_detection"]


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
    # the FP8 paper's Table 1: E4M3 max 448, min normal 2^-6; E5M2 max 57,344, min normal 2^-14
    assert prec.loc["fp8 e4m3", "max_normal"] == 448 and prec.loc["fp8 e4m3", "min_normal"] == 2.0**-6
    assert prec.loc["fp8 e5m2", "max_normal"] == 57344 and prec.loc["fp8 e5m2", "min_normal"] == pytest.approx(2.0**-14, rel=1e-4)
    for fmt in prec.index:
        spec = estimates.float_format(fmt.replace(" ", "_"))
        assert (prec.loc[fmt, "exponent_bits"], prec.loc[fmt, "mantissa_bits"]) == (spec["exponent_bits"], spec["mantissa_bits"])
        assert prec.loc[fmt, "max_normal"] == pytest.approx(spec["max_normal"], rel=1e-4)
        assert prec.loc[fmt, "min_normal"] == pytest.approx(spec["min_normal"], rel=1e-4)
        assert prec.loc[fmt, "sign_bits"] + spec["exponent_bits"] + spec["mantissa_bits"] in (8, 16, 32)


def test_precision_table_shows_its_tiny_numbers_as_people_write_them():
    from infraprep.charts.gpu import number_table

    html = number_table(tables.load(LESSON, "precision")).to_html()
    assert "0.000000" not in html and "e-38" not in html and "e+38" not in html
    assert "1.18 × 10⁻³⁸" in html and "65,504" in html and "448" in html


def test_checkpoint_size_is_one_definition_of_14_bytes():
    # 2 BF16 weights + 12 FP32 master weights, momentum and variance; gradients are not saved
    assert estimates.CHECKPOINT_BYTES_PER_PARAM == 14 == estimates.WEIGHT_BYTES + estimates.OPTIMIZER_BYTES
    assert estimates.checkpoint_bytes(1e9) == 14e9
    assert estimates.checkpoint_shard_bytes(1e9, 1) == estimates.checkpoint_bytes(1e9)


def test_fsdp_table_names_fsdp1_and_fsdp2_for_each_stage():
    api = tables.load(LESSON, "fsdp_api").set_index("zero_stage")
    assert "FULL_SHARD" in api.loc["ZeRO-3", "fsdp1_name"] and "fully_shard" in api.loc["ZeRO-3", "fsdp2_call"]
    assert "SHARD_GRAD_OP" in api.loc["ZeRO-2", "fsdp1_name"]
    assert "reshard_after_forward=False" in api.loc["ZeRO-2", "fsdp2_call"]
    hsdp = next(i for i in api.index if i.startswith("HSDP"))
    assert "HYBRID_SHARD" in api.loc[hsdp, "fsdp1_name"] and "2-D DeviceMesh" in api.loc[hsdp, "fsdp2_call"]
    zero = tables.load(LESSON, "zero_stages").set_index("stage")
    assert "fully_shard" in zero.loc[3, "name"] and "SHARD_GRAD_OP" in zero.loc[2, "name"]


def test_pipeline_schedule_table_agrees_with_the_formulas():
    table = tables.load(LESSON, "pipeline_schedules").set_index("schedule")
    p, m, v = 8, 32, 2

    def ratio(f):  # bubble / ideal from the fraction of the step
        return f / (1 - f)

    assert table.loc["1F1B (PipeDream-Flush)", "bubble_vs_ideal"] == "(p-1)/m"
    assert ratio(estimates.schedule_bubble_fraction("1f1b", p, m)) == pytest.approx((p - 1) / m)
    assert ratio(estimates.schedule_bubble_fraction("interleaved", p, m, v)) == pytest.approx((p - 1) / (v * m))
    assert table.loc["ZB-H1 (zero bubble)", "bubble_vs_ideal"] == "(p-1)/(3m)"
    assert ratio(estimates.schedule_bubble_fraction("zb-h1", p, m)) == pytest.approx((p - 1) / (3 * m))
    assert estimates.schedule_bubble_fraction("zb-h2", p, m) == 0
    assert table.loc["GPipe", "activation_microbatches_first_stage"] == "m"
    assert estimates.microbatches_in_flight("gpipe", p, m) == m and estimates.microbatches_in_flight("1f1b", p, m) == p
    assert table.loc["ZB-H2 (zero bubble)", "activation_microbatches_first_stage"] == "2p"
    assert estimates.microbatches_in_flight("zb-h2", p, m) == 2 * p


def test_fp8_recipes_and_context_parallel_tables_cover_the_methods():
    recipes = set(tables.load(LESSON, "fp8_recipes")["recipe"])
    assert {"Delayed scaling", "Current scaling", "MXFP8"} <= recipes
    methods = set(tables.load(LESSON, "context_parallel")["method"])
    assert {"Ring attention", "DeepSpeed-Ulysses"} <= methods


def test_failure_stats_add_up():
    stats = tables.load(LESSON, "failure_stats").set_index("metric")["value"]
    assert stats["interruptions_planned"] + stats["interruptions_unexpected"] == stats["interruptions_total"]
    assert stats["faulty_gpu"] + stats["gpu_hbm3_memory"] < stats["interruptions_unexpected"]
    # the paper's table gives GPU HBM3 memory as 17.2% of the unexpected interruptions, silent data
    # corruption as 6 (1.4%), NCCL watchdog timeouts as 7 (1.7%)
    assert stats["gpu_hbm3_memory"] / stats["interruptions_unexpected"] == pytest.approx(0.172, abs=0.001)
    assert stats["silent_data_corruption"] == 6 and stats["silent_data_corruption"] / stats["interruptions_unexpected"] == pytest.approx(0.014, abs=0.001)
    assert stats["nccl_watchdog_timeouts"] == 7


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


def test_nccl_info_log_is_a_communicator_that_never_finishes_init():
    log = tables.artefact(LESSON, "nccl-debug-info.log")
    hosts = {}
    for match in re.finditer(r"^(\S+?):\d+:\d+ \[\d+\] NCCL INFO Using network (\w+)$", log, re.M):
        hosts[match.group(1)] = match.group(2)
    assert len(hosts) == 32
    assert {h for h, net in hosts.items() if net != "IB"} == {"gpu-node-19"}
    # NVIDIA/nccl#234: a communicator mixing IB and socket ranks hangs in init, so no rank completes it
    assert log.count("Init START") == 32 and "Init COMPLETE" not in log
    # the socket fallback runs over IPoIB (ib0), not Ethernet
    socket_line = next(line for line in log.splitlines() if "NET/Socket : Using" in line)
    assert "ib0" in socket_line and "eth" not in socket_line
    # the two ends of one ring link disagree on the transport: the node before 19 sends over IB
    assert re.search(r"^gpu-node-18:.*145\[1\] -> 152\[0\] \[send\] via NET/IB", log, re.M)
    assert re.search(r"^gpu-node-19:.*145\[1\] -> 152\[0\] \[receive\] via NET/Socket", log, re.M)


def test_nccl_ring_lines_name_ranks_with_their_local_gpu():
    # "R[g]" is global rank R on local GPU g: with 8 GPUs a node, g = R mod 8 (249 is GPU 1 of node 31)
    log = tables.artefact(LESSON, "nccl-debug-info.log")
    pairs = re.findall(r"(\d+)\[(\d+)\]", "\n".join(l for l in log.splitlines() if "Channel 00/0 :" in l))
    assert pairs and all(int(rank) % 8 == int(gpu) for rank, gpu in pairs)
    assert "249[1] -> 0[0]" in log
    # the ring order within a node is 0 7 6 ... 1, so the rank sending to node k's first GPU is 8(k-1) + 1
    assert "Channel 00/16 :    0   7   6   5   4   3   2   1   8" in log


def test_watchdog_log_steps_are_spaced_by_their_step_time_and_in_order():
    log = tables.artefact(LESSON, "nccl-watchdog-timeout.log").splitlines()
    steps = [re.match(r"^\[2026-11-20 (\d\d):(\d\d):(\d\d),(\d{3})\].*step_time ([\d.]+)s", l) for l in log]
    steps = [m for m in steps if m]
    seconds = [int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]) + int(m[4]) / 1000 for m in steps]
    gaps = np.diff(seconds)
    step_times = [float(m[5]) for m in steps[1:]]
    assert len(gaps) == 9 and np.allclose(gaps, step_times, atol=0.002)
    # every rank's glog lines are in time order
    last = {}
    for line in log:
        m = re.match(r"^\[rank(\d+)\]:\[E1120 (\d\d:\d\d:\d\d\.\d{9})", line)
        if m:
            assert m[2] >= last.get(m[1], ""), line[:60]
            last[m[1]] = m[2]
    # the timeout fires 600 s after the last completed step's next collective began
    first_timeout = next(l for l in log if "Watchdog caught" in l)
    t = re.search(r"E1120 (\d\d):(\d\d):(\d\d)\.(\d+)", first_timeout)
    fired = int(t[1]) * 3600 + int(t[2]) * 60 + int(t[3])
    assert 600 <= fired - seconds[-1] <= 600 + 2 * max(step_times)
