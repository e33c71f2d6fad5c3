"""The 02-gpu tables and artefacts: shape, units, sources, and facts checked against their datasheets."""

import re

import pandas as pd
import pytest

from infraprep import estimates, tables
from infraprep.widgets import PracticeQuiz

LESSON = "02-gpu"
FACT_TABLES = ["datasheets", "memory_hierarchy", "interconnects", "mig_profiles", "xid_errors", "operations",
               "models", "monitoring_fields"]


@pytest.fixture(scope="module")
def refs():
    return tables.references(LESSON)


def test_references_are_complete(refs):
    assert list(refs.columns) == ["key", "title", "publisher", "url", "accessed"]
    assert refs["key"].is_unique
    assert refs["url"].str.startswith("http").all()
    assert pd.to_datetime(refs["accessed"], format="%Y-%m-%d").notna().all()


@pytest.mark.parametrize("name", FACT_TABLES)
def test_every_fact_row_has_a_known_source(name, refs):
    frame = tables.load(LESSON, name)
    assert "source" in frame.columns
    assert frame["source"].notna().all()
    assert set(frame["source"]) <= set(refs["key"])


def test_datasheet_covers_the_required_gpus_with_units():
    sheet = tables.load(LESSON, "datasheets")
    for gpu in ["A100 SXM 80GB", "H100 SXM", "H100 PCIe", "H200 SXM", "B200 (HGX)", "MI300X", "L40S"]:
        assert gpu in set(sheet["gpu"])
    for column in ["memory_gb", "bandwidth_tb_s", "bf16_dense_tflops", "max_power_w", "link_bidirectional_gb_s"]:
        assert pd.api.types.is_numeric_dtype(sheet[column]), column
    assert set(sheet["memory_type"].str.startswith("GDDR")) == {True, False}


@pytest.mark.parametrize("gpu, memory_gb, tb_s, dense, power", [
    ("A100 SXM 80GB", 80, 2.039, 312, 400),   # A100 datasheet
    ("H100 SXM", 80, 3.35, 989, 700),        # H100 datasheet (1,979 with sparsity, halved)
    ("H100 PCIe", 80, 2.0, 756, 350),
    ("H200 SXM", 141, 4.8, 989, 700),
    ("B200 (HGX)", 180, 8.0, 2250, 1000),
    ("MI300X", 192, 5.3, 1307, 750),
    ("L40S", 48, 0.864, 362, 350),
])
def test_datasheet_figures(gpu, memory_gb, tb_s, dense, power):
    row = tables.load(LESSON, "datasheets").set_index("gpu").loc[gpu]
    assert row["memory_gb"] == memory_gb
    assert row["bandwidth_tb_s"] == pytest.approx(tb_s)
    assert row["bf16_dense_tflops"] == pytest.approx(dense, rel=0.001)
    assert row["max_power_w"] == power
    # the datasheets quote 2:4 sparse figures as about twice the dense ones
    # (the L40S datasheet prints 362.05 dense and 733 sparse, hence the 1.5% slack)
    assert row["bf16_sparse_tflops"] == pytest.approx(2 * dense, rel=0.015)


def test_h100_ridge_from_the_table():
    row = tables.load(LESSON, "datasheets").set_index("gpu").loc["H100 SXM"]
    assert estimates.ridge_point(row["bf16_dense_tflops"] * 1e12, row["bandwidth_tb_s"] * 1e12) == pytest.approx(295, abs=1)


def test_interconnects_bidirectional_is_twice_one_direction():
    links = tables.load(LESSON, "interconnects")
    assert (links["bidirectional_gb_s"] == 2 * links["per_direction_gb_s"]).all()
    by = links.set_index("link")["per_direction_gb_s"]
    assert by["NVLink 4 (H100/H200)"] == 450 and by["NVLink 3 (A100)"] == 300 and by["NVLink 5 (B200)"] == 900
    assert by["InfiniBand NDR (400 Gb/s port)"] == 400 / 8


def test_xid_table_has_the_required_codes_and_actions():
    xids = tables.load(LESSON, "xid_errors")
    assert {13, 31, 48, 63, 64, 79, 94, 95} <= set(xids["xid"])
    assert xids["xid"].is_unique
    assert xids["oncall_action"].str.len().min() > 40
    actions = xids.set_index("xid")["node_action"]
    assert actions[79] == "reboot_node"
    assert actions[94] == "restart_job" and actions[95] == "reset_gpu"
    assert set(actions) <= {"none", "monitor", "restart_job", "reset_gpu", "reboot_node", "drain_and_rma"}


def test_mig_profiles_fit_in_one_gpu():
    mig = tables.load(LESSON, "mig_profiles")
    assert (mig["memory_gb"] * mig["max_instances"] <= 80).all()
    assert mig.set_index("profile").loc["1g.10gb", "max_instances"] == 7


def test_models_head_dim_matches_hidden_size():
    models = tables.load(LESSON, "models")
    assert (models["hidden_size"] == models["attention_heads"] * models["head_dim"]).all()
    assert (models["attention_heads"] % models["kv_heads"] == 0).all()


def test_practice_quiz_has_enough_questions():
    quiz = PracticeQuiz.for_lesson(LESSON)
    assert len(quiz.questions) >= 6


# ---------------------------------------------------------------- artefacts
def test_nvidia_smi_artefact_is_well_formed():
    text = tables.artefact(LESSON, "nvidia-smi.txt")
    lines = text.splitlines()
    box = [line for line in lines if line.startswith(("|", "+"))]
    assert {len(line) for line in box} == {91}
    gpu_lines = re.findall(r"^\|\s+(\d)\s+NVIDIA H100 80GB HBM3\s+On\s+\|\s+(\S+) Off\s+\|\s+(\d+) \|$", text, re.M)
    assert len(gpu_lines) == 8
    bad = [(idx, bus) for idx, bus, ecc in gpu_lines if int(ecc) > 0]
    assert bad == [("5", "00000000:AB:00.0")]


def test_query_artefact_agrees_with_the_table_view():
    import io

    query = pd.read_csv(io.StringIO(tables.artefact(LESSON, "nvidia-smi-query.txt")), skipinitialspace=True)
    assert len(query) == 8
    hot = query[query["temperature.gpu"] > 80]
    assert hot["index"].tolist() == [6]
    text = tables.artefact(LESSON, "nvidia-smi.txt")
    for row in query.itertuples(index=False):
        assert row[1] in text  # every bus id appears in the table view


def test_dmesg_artefact_has_the_xids_of_the_story():
    text = tables.artefact(LESSON, "dmesg-xid.log")
    found = re.findall(r"NVRM: Xid \(PCI:([0-9a-f:]+)\): (\d+),", text)
    codes = {int(code) for _, code in found}
    assert {13, 31, 79, 94, 63, 74} <= codes
    assert {bus for bus, code in found if code == "79"} == {"0000:5d:00"}
    known = set(tables.load(LESSON, "xid_errors")["xid"])
    assert codes <= known  # every Xid in the log can be looked up in the lesson's table


def test_assignment_artefacts_tell_a_different_story_from_the_lecture():
    import io

    smi = tables.artefact(LESSON, "assignment-nvidia-smi.txt")
    assert {len(line) for line in smi.splitlines() if line.startswith(("|", "+"))} == {91}
    gpu_lines = re.findall(r"^\|\s+(\d)\s+NVIDIA H100 80GB HBM3\s+On\s+\|\s+(\S+) Off\s+\|\s+(\d+) \|$", smi, re.M)
    assert [bus for _, bus, ecc in gpu_lines if int(ecc) > 0] == ["00000000:2A:00.0", "00000000:9A:00.0"]
    query = pd.read_csv(io.StringIO(tables.artefact(LESSON, "assignment-nvidia-smi-query.txt")), skipinitialspace=True)
    # the query view agrees with the table view on the ECC counts, bus by bus
    assert dict(zip(query["pci.bus_id"], query["ecc.errors.uncorrected.volatile.total"])) == {
        bus: int(ecc) for _, bus, ecc in gpu_lines}
    thermal = query[query["clocks_throttle_reasons.active"].map(lambda t: int(t, 16) & 0x20 > 0)]
    assert thermal["index"].tolist() == [2] and thermal["temperature.gpu"].iloc[0] > 80
    log = tables.artefact(LESSON, "assignment-dmesg.log")
    found = re.findall(r"NVRM: Xid \(PCI:([0-9a-f:]+)\): (\d+),", log)
    assert {bus for bus, code in found if code == "79"} == {"0000:9a:00"}
    assert {bus for bus, code in found if code in ("48", "95")} == {"0000:2a:00"}
    assert {int(code) for _, code in found} <= set(tables.load(LESSON, "xid_errors")["xid"])
