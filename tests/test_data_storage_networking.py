"""Lesson 6 tables: sources resolve, units are in column names, facts match their sources."""

import pytest

from infraprep import parsers, tables

LESSON = "06-storage-networking"
FACT_TABLES = ["storage_tiers", "interconnects", "dataset_formats", "infiniband_generations", "metadata_rates",
               "scale_up_domains"]


@pytest.mark.parametrize("name", FACT_TABLES)
def test_every_fact_has_a_source(name):
    # that each key is in references.csv is checked for every lesson by tests/test_references.py
    frame = tables.load(LESSON, name)
    assert "source" in frame.columns
    assert frame["source"].notna().all()


def test_every_reference_is_used_somewhere():
    keys = set(tables.references(LESSON)["key"])
    used = set()
    for name in FACT_TABLES:
        used |= {k.strip() for cell in tables.load(LESSON, name)["source"] for k in str(cell).split(";")}
    # papers, manuals and threads behind formulas and artefacts are cited by code and notebooks instead
    by_code = {"nccl_tests_perf", "perftest", "ibstat_man", "lustre_manual", "lustre_wiki_striping", "gpfs_docs",
               "hf_webdataset", "gds_overview", "gpudirect_rdma", "connectx", "al_fares_2008", "dcqcn_2015", "zero_2020",
               "nccl_tests_212", "nccl_tests_290", "nccl_tests_196", "sharp_nccl", "sharp_docs", "meta_roce_2024",
               "meta_genai_2024", "raab_steger_1998", "rail_only_2023", "qm9700", "lustre_dne", "lfs_setdirstripe"}
    assert keys == used | by_code


def test_interconnect_generations():
    links = tables.load(LESSON, "interconnects").set_index("link")
    assert links.loc["InfiniBand HDR", "gbit_s"] == 200
    assert links.loc["InfiniBand NDR", "gbit_s"] == 400
    assert links.loc["InfiniBand XDR", "gbit_s"] == 800
    # NVLink per GPU, each way (course facts: 300/450/900 GB/s)
    assert list(links.loc[["NVLink 3 (A100)", "NVLink 4 (H100)", "NVLink 5 (B200)"], "gbyte_s_each_way"]) == [300, 450, 900]
    assert links.loc["PCIe Gen4 x16", "gbyte_s_each_way"] == 32 and links.loc["PCIe Gen5 x16", "gbyte_s_each_way"] == 63
    ib = links[links["family"] == "InfiniBand"]
    assert (ib["gbyte_s_each_way"] == ib["gbit_s"] / 8).all()
    nv = links[links["family"] == "NVLink"]
    assert (nv["gbit_s"] == nv["gbyte_s_each_way"] * 8).all()


def test_storage_tiers():
    tiers = tables.load(LESSON, "storage_tiers").set_index("source")
    assert tiers.loc["s3_perf", "get_requests_per_s"] == 5500 and tiers.loc["s3_perf", "put_requests_per_s"] == 3500
    assert tiers.loc["samsung_pm9a3", "read_gb_s"] == 6.5 and tiers.loc["samsung_pm9a3", "write_gb_s"] == 3.5
    assert tiers.loc["kioxia_e3s", "latency_ms"] == pytest.approx(0.075)
    # the Kioxia prototype is a two-lane drive; the PCIe 5.0 x4 row is a four-lane one at about twice PCIe 4.0
    assert tiers.loc["kioxia_e3s", "pcie_lanes"] == 2 and "x2" in tiers.loc["kioxia_e3s", "tier"]
    assert tiers.loc["samsung_pm1743", ["pcie_lanes", "read_gb_s", "write_gb_s"]].tolist() == [4, 13.0, 6.6]
    assert tiers.loc["samsung_pm1743", "read_gb_s"] / tiers.loc["samsung_pm9a3", "read_gb_s"] == pytest.approx(2, rel=0.01)
    for row in tiers.dropna(subset=["pcie_lanes"]).itertuples():
        assert f"x{int(row.pcie_lanes)}" in row.tier
    assert tiers.loc["s3_express", "latency_ms"] <= 10
    assert tiers.loc["gcs_request_rate", "get_requests_per_s"] == 5000
    # latencies go up from local flash to object storage
    assert tiers.loc["kioxia_e3s", "latency_ms"] < tiers.loc["s3_express", "latency_ms"]


def test_practice_table():
    practice = tables.load(LESSON, "practice")
    assert list(practice.columns) == ["question", "a", "b", "c", "d", "answer", "explanation"]
    assert len(practice) >= 6
    assert practice["answer"].isin(list("ABCD")).all()


@pytest.mark.parametrize("name, parser", [
    ("all_reduce_perf_2nodes.txt", parsers.parse_nccl_tests),
    ("all_reduce_perf_2nodes_degraded.txt", parsers.parse_nccl_tests),
    ("ib_write_bw_mlx5_0.txt", parsers.parse_ib_write_bw),
    ("ib_write_bw_mlx5_3.txt", parsers.parse_ib_write_bw),
    ("ibstat_gpu-node02.txt", parsers.parse_ibstat),
    ("lfs_getstripe.txt", parsers.parse_lfs_getstripe),
])
def test_artefacts_parse(name, parser):
    assert len(parser(tables.artefact(LESSON, name))) > 0


def test_infiniband_generations_do_not_all_double():
    gens = tables.load(LESSON, "infiniband_generations").set_index("generation")
    assert list(gens.index) == ["SDR", "DDR", "QDR", "FDR", "EDR", "HDR", "NDR", "XDR"]
    port = gens["port_4x_gbit_s"]
    assert port.tolist() == [10, 20, 40, 56, 100, 200, 400, 800]
    assert port["FDR"] / port["QDR"] == pytest.approx(1.4) and port["EDR"] / port["FDR"] == pytest.approx(100 / 56)
    # Linux's IB speeds: FDR 14.0625 and EDR 25.78125 Gb/s a lane with 64b/66b; QDR 10 with 8b/10b
    assert gens.loc["FDR", "lane_signal_gbit_s"] == 14.0625 and gens.loc["EDR", "lane_signal_gbit_s"] == 25.78125
    for name, row in gens.iterrows():
        if row["encoding"] == "8b/10b":
            assert row["lane_data_gbit_s"] == pytest.approx(row["lane_signal_gbit_s"] * 0.8)
        elif row["encoding"] == "64b/66b":
            assert row["lane_data_gbit_s"] == pytest.approx(row["lane_signal_gbit_s"] * 64 / 66, abs=0.01)
    assert (gens["lane_data_gbit_s"] * 4 <= gens["port_4x_gbit_s"] + 1e-9).all()
    # the table agrees with the interconnects table for the generations both hold
    links = tables.load(LESSON, "interconnects").set_index("link")["gbit_s"]
    for name in ("HDR", "NDR", "XDR"):
        assert port[name] == links[f"InfiniBand {name}"]


def test_nvswitch_note_says_the_bandwidth_is_shared():
    links = tables.load(LESSON, "interconnects").set_index("link")
    assert "every GPU pair full bandwidth" not in links.loc["NVLink 4 (H100)", "note"]
    assert "shared" in links.loc["NVLink 4 (H100)", "note"]


def test_metadata_rates_and_scale_up_domains():
    md = tables.load(LESSON, "metadata_rates")
    lustre = md[md["system"].str.startswith("Lustre")].set_index("operation")["ops_per_s"]
    assert (lustre["file create"], lustre["file stat"], lustre["file remove"]) == (15_000, 400_000, 100_000)
    assert md.set_index("system").loc["FSx for Lustre (PERSISTENT_2)", "ops_per_s"] == 192_000
    dom = tables.load(LESSON, "scale_up_domains").set_index("system")
    assert dom.loc["GB200 NVL72", "gpus_in_nvlink_domain"] == 72
    # 72 GPUs x 1.8 TB/s both ways = 129.6 TB/s, NVIDIA's "130 TB/s"
    assert 72 * dom.loc["GB200 NVL72", "nvlink_gbyte_s_each_way_per_gpu"] * 2 / 1000 == pytest.approx(130, rel=0.01)
    assert dom.loc["DGX H100 / HGX H100", "nvlink_gbyte_s_each_way_per_gpu"] == 450


def test_every_table_of_the_lesson_loads_and_is_checked():
    names = tables.available(LESSON)
    for name in names:
        frame = tables.load(LESSON, name)  # raises on a malformed row (an unquoted comma)
        assert len(frame) and len(frame.columns) > 1, name
    assert set(names) - set(FACT_TABLES) <= {"references", "practice"}
