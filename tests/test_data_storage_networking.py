"""Lesson 6 tables: sources resolve, units are in column names, facts match their sources."""

import pandas as pd
import pytest

from infraprep import parsers, tables

LESSON = "06-storage-networking"
FACT_TABLES = ["storage_tiers", "interconnects", "dataset_formats"]


def test_references_are_complete():
    refs = tables.references(LESSON)
    assert list(refs.columns) == ["key", "title", "publisher", "url", "accessed"]
    assert refs["key"].is_unique
    assert refs["url"].str.startswith("https://").all()
    assert pd.to_datetime(refs["accessed"], format="%Y-%m-%d").notna().all()


@pytest.mark.parametrize("name", FACT_TABLES)
def test_every_fact_has_a_source(name):
    keys = set(tables.references(LESSON)["key"])
    frame = tables.load(LESSON, name)
    assert "source" in frame.columns
    assert frame["source"].notna().all()
    assert set(frame["source"]) <= keys


def test_every_reference_is_used_somewhere():
    keys = set(tables.references(LESSON)["key"])
    used = set()
    for name in FACT_TABLES:
        used |= set(tables.load(LESSON, name)["source"])
    # papers and manuals behind formulas and artefacts are cited by code and notebooks instead
    by_code = {"nccl_tests_perf", "perftest", "ibstat_man", "lustre_manual", "lustre_wiki_striping", "gpfs_docs",
               "hf_webdataset", "gds_overview", "gpudirect_rdma", "connectx", "al_fares_2008", "dcqcn_2015", "zero_2020"}
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
