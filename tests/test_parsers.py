"""Parsers of real tool output: nccl-tests, ib_write_bw, ibstat, lfs getstripe."""


import pytest

from infraprep import estimates, parsers, tables

LESSON = "06-storage-networking"


def artefact(name):
    return tables.artefact(LESSON, name)


NCCL_SNIPPET = """# nThread 1 nGpus 1 minBytes 8 maxBytes 64 step: 2(factor)
#  Rank  0 Group  0 Pid   101 on      hostA device  0 [0x18] NVIDIA H100 80GB HBM3
#  Rank  1 Group  0 Pid   102 on      hostA device  1 [0x2a] NVIDIA H100 80GB HBM3
#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong
    33554432       8388608     float     sum      -1    400.0   83.89   83.89      0    401.0   83.68   83.68      0
    67108864      16777216     float     sum      -1    700.0   95.87   95.87    N/A    690.0   97.26   97.26    N/A
# Avg bus bandwidth    : 90.1750
"""


def test_nccl_snippet():
    table = parsers.parse_nccl_tests(NCCL_SNIPPET)
    assert list(table["size_bytes"]) == [33554432, 67108864]
    assert table.loc[1, "ip_busbw_gb_s"] == pytest.approx(97.26)
    summary = parsers.nccl_tests_summary(NCCL_SNIPPET)
    assert summary == {"ranks": 2, "peak_busbw_gb_s": 95.87, "peak_size_bytes": 67108864,
                       "avg_busbw_gb_s": 90.175, "wrong": 0}


@pytest.mark.parametrize("name", ["all_reduce_perf_2nodes.txt", "all_reduce_perf_2nodes_degraded.txt"])
def test_nccl_artefacts_are_self_consistent(name):
    text = artefact(name)
    table = parsers.parse_nccl_tests(text)
    summary = parsers.nccl_tests_summary(text)
    n = summary["ranks"]
    assert n == 16 and len(table) == 31 and summary["wrong"] == 0
    assert table["size_bytes"].iloc[0] == 8 and table["size_bytes"].iloc[-1] == 8 * 2 ** 30
    assert (table["count"] * 4 == table["size_bytes"]).all()  # float elements
    big = table[table["size_bytes"] >= 2 ** 20]
    for prefix in ("oop", "ip"):
        # algbw = S / t (GB/s = 1e9 bytes/s) and busbw = algbw * 2(n-1)/n, up to the printed rounding
        algbw = big["size_bytes"] / (big[f"{prefix}_time_us"] * 1e-6) / 1e9
        assert ((algbw - big[f"{prefix}_algbw_gb_s"]).abs() / big[f"{prefix}_algbw_gb_s"] < 0.005).all()
        busbw = [estimates.allreduce_busbw(a, n) for a in big[f"{prefix}_algbw_gb_s"]]
        assert all(abs(b - got) <= 0.02 for b, got in zip(busbw, big[f"{prefix}_busbw_gb_s"]))
    average = (table["oop_busbw_gb_s"].sum() + table["ip_busbw_gb_s"].sum()) / (2 * len(table))
    assert summary["avg_busbw_gb_s"] == pytest.approx(average, abs=0.001)


def test_degraded_run_is_about_half():
    healthy = parsers.nccl_tests_summary(artefact("all_reduce_perf_2nodes.txt"))["peak_busbw_gb_s"]
    degraded = parsers.nccl_tests_summary(artefact("all_reduce_perf_2nodes_degraded.txt"))["peak_busbw_gb_s"]
    assert 0.4 < degraded / healthy < 0.6


def test_nccl_rejects_other_text():
    with pytest.raises(ValueError):
        parsers.parse_nccl_tests("hello\n# only comments\n")


def test_ib_write_bw_ndr_and_hdr():
    for name, line_rate in (("ib_write_bw_mlx5_0.txt", 400), ("ib_write_bw_mlx5_3.txt", 200)):
        table = parsers.parse_ib_write_bw(artefact(name))
        assert list(table.columns) == ["bytes", "iterations", "bw_peak_gbit_s", "bw_average_gbit_s", "msg_rate_mpps"]
        assert table["bytes"].iloc[0] == 2 and table["bytes"].iloc[-1] == 8 * 2 ** 20
        assert (table["bw_peak_gbit_s"] >= table["bw_average_gbit_s"]).all()
        best = table["bw_average_gbit_s"].max()
        assert 0.95 * line_rate < best <= line_rate
        # message rate = bandwidth / message size
        rate = table["bw_average_gbit_s"] * 1e9 / 8 / table["bytes"] / 1e6
        assert ((rate - table["msg_rate_mpps"]).abs() / table["msg_rate_mpps"] < 0.01).all()


def test_ib_write_bw_mb_units():
    text = """ #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]
 65536      1000             11800.5            11790.2             0.179902
"""
    table = parsers.parse_ib_write_bw(text)
    assert table.loc[0, "bw_average_mbyte_s"] == pytest.approx(11790.2)
    with pytest.raises(ValueError):
        parsers.parse_ib_write_bw("no table here")


def test_ibstat_artefact():
    text = artefact("ibstat_gpu-node02.txt")
    ports = parsers.parse_ibstat(text)
    assert len(ports) == 10 and list(ports["ca"])[:2] == ["mlx5_0", "mlx5_1"]
    ib = ports[ports["link_layer"] == "InfiniBand"]
    assert set(ib["ca_type"]) == {"MT4129"} and len(ib) == 8
    assert ports.set_index("ca").loc["mlx5_3", "rate_gbit_s"] == 200
    down = ports.set_index("ca").loc["mlx5_6"]
    assert (down["state"], down["physical_state"], down["base_lid"]) == ("Down", "Polling", 65535)
    assert parsers.unhealthy_ib_ports(text, 400) == ["mlx5_3", "mlx5_6"]
    assert parsers.unhealthy_ib_ports(text, 200) == ["mlx5_6"]


def test_ibstat_handles_rate_with_text_and_rejects_garbage():
    text = "CA 'mlx5_0'\n\tCA type: MT4123\n\tPort 1:\n\t\tState: Active\n\t\tPhysical state: LinkUp\n\t\tRate: 200 Gb/sec (4X HDR)\n\t\tLink layer: InfiniBand\n"
    ports = parsers.parse_ibstat(text)
    assert ports.loc[0, "rate_gbit_s"] == 200 and parsers.unhealthy_ib_ports(text, 200) == []
    with pytest.raises(ValueError):
        parsers.parse_ibstat("nothing")


def test_lfs_getstripe():
    layout = parsers.parse_lfs_getstripe(artefact("lfs_getstripe.txt"))
    assert layout["path"].endswith("model_optim_rank000.pt")
    assert layout["stripe_count"] == 8 == len(layout["osts"])
    assert layout["stripe_size_bytes"] == 4 * 2 ** 20
    assert layout["pattern"] == "raid0"
    assert layout["osts"][0] == layout["stripe_offset"] == 12
    assert len(set(layout["osts"])) == 8
    with pytest.raises(ValueError):
        parsers.parse_lfs_getstripe("/lustre/dir\nstripe_count: 1 stripe_size: 1048576")


# ---------------------------------------------------------------- writers and random artefacts

def test_format_nccl_tests_reproduces_the_artefact_rows():
    text = artefact("all_reduce_perf_2nodes.txt")
    table = parsers.parse_nccl_tests(text)
    ranks = [(f"gpu-node0{1 + i // 8}", i % 8, "NVIDIA H100 80GB HBM3") for i in range(16)]
    written = parsers.format_nccl_tests(table.to_dict("records"), ranks)
    rows = lambda t: [l for l in t.splitlines() if l and not l.startswith("#")]  # noqa: E731
    assert rows(written) == rows(text)
    assert parsers.nccl_tests_summary(written) == parsers.nccl_tests_summary(text)
    with pytest.raises(ValueError):
        parsers.format_nccl_tests([], ranks)


@pytest.mark.parametrize("seed", range(12))
def test_random_nccl_tests_are_valid_runs(seed):
    import random

    rng = random.Random(seed)
    nodes = rng.choice([2, 4, 8])
    text = parsers.random_nccl_tests(rng, nodes=nodes, peak_busbw_gb_s=rng.choice([180, 300, 370]))
    table = parsers.parse_nccl_tests(text)
    summary = parsers.nccl_tests_summary(text)
    n = summary["ranks"]
    assert n == 8 * nodes and summary["wrong"] == 0
    big = table[table["size_bytes"] >= 2 ** 20]
    for prefix in ("oop", "ip"):
        busbw = [estimates.allreduce_busbw(a, n) for a in big[f"{prefix}_algbw_gb_s"]]
        assert all(abs(b - got) <= 0.02 for b, got in zip(busbw, big[f"{prefix}_busbw_gb_s"]))
        algbw = big["size_bytes"] / (big[f"{prefix}_time_us"] * 1e-6) / 1e9
        assert ((algbw - big[f"{prefix}_algbw_gb_s"]).abs() / big[f"{prefix}_algbw_gb_s"] < 0.01).all()
    average = (table["oop_busbw_gb_s"].sum() + table["ip_busbw_gb_s"].sum()) / (2 * len(table))
    assert summary["avg_busbw_gb_s"] == pytest.approx(average, abs=0.001)


def test_random_nccl_tests_keep_the_columns_apart():
    import random

    ahead = parsers.parse_nccl_tests(parsers.random_nccl_tests(random.Random(1), in_place_ahead=True))
    behind = parsers.parse_nccl_tests(parsers.random_nccl_tests(random.Random(1), in_place_ahead=False))
    assert ahead["ip_busbw_gb_s"].max() > ahead["oop_busbw_gb_s"].max()
    assert behind["ip_busbw_gb_s"].max() < behind["oop_busbw_gb_s"].max()
    # over many draws the peak is not always at the largest message
    last = [parsers.parse_nccl_tests(parsers.random_nccl_tests(random.Random(s))).pipe(
        lambda t: t["oop_busbw_gb_s"].idxmax() == len(t) - 1) for s in range(30)]
    assert 0 < sum(last) < 30
    with pytest.raises(ValueError):
        parsers.random_nccl_tests(random.Random(0), nodes=1, gpus_per_node=1)


@pytest.mark.parametrize("seed", range(15))
def test_random_ibstat_reports_its_own_faults(seed):
    import random

    text, bad = parsers.random_ibstat(random.Random(seed))
    assert parsers.unhealthy_ib_ports(text, 400) == bad
    ports = parsers.parse_ibstat(text)
    assert (ports["link_layer"] == "Ethernet").sum() == 2 and (ports["link_layer"] == "InfiniBand").sum() == 8


def test_random_ibstat_fault_kinds_and_bounds():
    import random

    text, bad = parsers.random_ibstat(random.Random(3), faults=8, degraded_ethernet=True)
    assert len(bad) == 8 and parsers.unhealthy_ib_ports(text, 400) == bad
    eth = parsers.parse_ibstat(text).query("link_layer == 'Ethernet'")
    assert (eth["rate_gbit_s"] < 400).all()  # slow storage ports never count as unhealthy InfiniBand
    clean, none = parsers.random_ibstat(random.Random(3), faults=0)
    assert none == [] and parsers.unhealthy_ib_ports(clean, 400) == []
    with pytest.raises(ValueError):
        parsers.random_ibstat(random.Random(0), faults=9)


@pytest.mark.parametrize("seed", range(10))
def test_random_lfs_getstripe_round_trip(seed):
    import random

    text = parsers.random_lfs_getstripe(random.Random(seed))
    layout = parsers.parse_lfs_getstripe(text)
    assert layout["stripe_count"] == len(layout["osts"]) and layout["pattern"] == "raid0"
    assert layout["osts"][0] == layout["stripe_offset"]
    assert layout["stripe_size_bytes"] % 2 ** 20 == 0
    assert all((b - a) % 24 == 1 for a, b in zip(layout["osts"], layout["osts"][1:]))
    with pytest.raises(ValueError):
        parsers.format_lfs_getstripe("/x", 2 ** 20, [])
