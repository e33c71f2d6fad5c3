"""The 02-gpu tables and artefacts: shape, units, sources, and facts checked against their datasheets."""

import re

import pandas as pd
import pytest

from infraprep import estimates, tables
from infraprep.widgets import PracticeQuiz

LESSON = "02-gpu"
FACT_TABLES = ["datasheets", "memory_hierarchy", "interconnects", "mig_profiles", "xid_errors", "operations",
               "models", "monitoring_fields", "capacity_units"]


@pytest.fixture(scope="module")
def refs():
    return tables.references(LESSON)


@pytest.mark.parametrize("name", FACT_TABLES)
def test_every_fact_row_has_a_known_source(name, refs):
    frame = tables.load(LESSON, name)
    assert "source" in frame.columns
    assert frame["source"].notna().all()
    assert set(frame["source"]) <= set(refs["key"])
    for column in [c for c in frame.columns if c.endswith("_source")]:  # a second source for some columns
        assert set(frame[column].dropna()) <= set(refs["key"]), column


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


def test_mi300x_infinity_fabric_is_per_link_not_per_peer():
    # AMD: 7 Infinity Fabric links of 128 GB/s bidirectional (64 GB/s each way), one to each peer, no switch:
    # 448 GB/s each way is the sum over the 7 links, a single peer gets 64.
    links = tables.load(LESSON, "interconnects").set_index("link")
    mi = links.loc["Infinity Fabric (MI300X)"]
    assert mi["per_direction_gb_s"] == 7 * 64 and mi["per_peer_per_direction_gb_s"] == 64
    # through NVSwitch one peer can take the whole link bandwidth
    nvlink = links.loc["NVLink 4 (H100/H200)"]
    assert nvlink["per_peer_per_direction_gb_s"] == nvlink["per_direction_gb_s"] == 450
    sheet = tables.load(LESSON, "datasheets").set_index("gpu")
    assert sheet.loc["MI300X", "link_bidirectional_gb_s"] == 7 * sheet.loc["MI300X", "peer_bidirectional_gb_s"] == 896
    assert sheet.loc["H100 SXM", "peer_bidirectional_gb_s"] == sheet.loc["H100 SXM", "link_bidirectional_gb_s"]
    assert "mesh" in sheet.loc["MI300X", "scale_up_link"].lower() and "NVSwitch" in sheet.loc["H100 SXM", "scale_up_link"]


def test_h100_pcie_scale_up_is_the_nvlink_bridge():
    # NVIDIA H100 PCIe product brief: NVLink bridge between two cards, 600 GB/s bidirectional (PCIe Gen5 is 128)
    sheet = tables.load(LESSON, "datasheets").set_index("gpu")
    assert sheet.loc["H100 PCIe", "link_bidirectional_gb_s"] == 600
    assert "NVLink bridge" in sheet.loc["H100 PCIe", "scale_up_link"]
    bridge = tables.load(LESSON, "interconnects").set_index("link").loc["NVLink bridge (H100 PCIe)"]
    assert bridge["bidirectional_gb_s"] == 600 and bridge["source"] == "nv-h100-pcie"


def test_sm_counts_including_b200():
    # H100 SXM 132, H100 PCIe 114, A100 108, B200 148 (two dies of 74 enabled SMs), MI300X 304 CUs
    units = tables.load(LESSON, "datasheets").set_index("gpu")["compute_units"]
    assert units.notna().all()
    assert dict(units[["A100 SXM 80GB", "H100 SXM", "H100 PCIe", "H200 SXM", "B200 (HGX)", "MI300X"]]) == {
        "A100 SXM 80GB": 108, "H100 SXM": 132, "H100 PCIe": 114, "H200 SXM": 132, "B200 (HGX)": 148, "MI300X": 304}


def test_fp32_peaks_are_the_datasheets_non_tensor_figures():
    fp32 = tables.load(LESSON, "datasheets").set_index("gpu")["fp32_tflops"]
    assert fp32["H100 SXM"] == 67 and fp32["A100 SXM 80GB"] == 19.5 and fp32["H100 PCIe"] == 51
    dense = tables.load(LESSON, "datasheets").set_index("gpu")["bf16_dense_tflops"]
    assert (fp32.dropna() < dense[fp32.dropna().index]).all()  # tensor cores are what the headline counts


def test_memory_hierarchy_bandwidths_are_sourced_or_blank(refs):
    mem = tables.load(LESSON, "memory_hierarchy").set_index("level")
    has_bw = mem["bandwidth_tb_s"].notna()
    # every bandwidth names where it comes from and how it was obtained; none without
    assert mem.loc[has_bw, "bandwidth_source"].notna().all() and mem.loc[has_bw, "bandwidth_basis"].str.len().min() > 5
    assert pd.isna(mem.loc["registers", "bandwidth_tb_s"])
    # L2: NVIDIA publishes no figure; measured at about 5.5 TB/s (Chips and Cheese, cited by the scaling book)
    assert mem.loc["L2 cache", "bandwidth_tb_s"] == 5.5 and "measured" in mem.loc["L2 cache", "bandwidth_basis"]
    # shared memory: the theoretical peak of 32 banks x 4 bytes a clock, 132 SMs at the 1.98 GHz boost clock
    peak = estimates.shared_memory_bandwidth_bytes_s(132, 1.98e9) / 1e12
    assert mem.loc["shared memory / L1", "bandwidth_tb_s"] == pytest.approx(peak, abs=0.05)
    assert mem.loc["HBM (global memory)", "bandwidth_tb_s"] == 3.35
    # no range columns credited to sources that do not give them
    assert not {"bandwidth_low_tb_s", "bandwidth_high_tb_s"} & set(mem.columns)


def test_capacity_units_match_the_nvidia_smi_artefacts():
    caps = tables.load(LESSON, "capacity_units").set_index("gpu")
    h100 = caps.loc["H100 SXM"]
    # the pull request's figures: 81559 MiB = 85.52 GB on an H100, 46068 MiB on an L40S
    assert estimates.capacity_bytes(h100["nvidia_smi_total_mib"], "MiB") / 1e9 == pytest.approx(85.52, abs=0.005)
    assert estimates.capacity_bytes(caps.loc["L40S", "nvidia_smi_total_mib"], "MiB") / 1e9 == pytest.approx(48.30, abs=0.01)
    for name in ("nvidia-smi.txt", "assignment-nvidia-smi.txt"):
        totals = set(re.findall(r"/\s+(\d+)MiB \|", tables.artefact(LESSON, name)))
        assert totals == {str(h100["nvidia_smi_total_mib"])}, name
    # the "80 GB" of the datasheet, read as decimal GB, is below what nvidia-smi reports: a safe reading
    sheet = tables.load(LESSON, "datasheets").set_index("gpu")
    assert estimates.capacity_bytes(sheet.loc["H100 SXM", "memory_gb"]) < estimates.capacity_bytes(h100["nvidia_smi_total_mib"], "MiB")


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


def test_ecc_guidance_agrees_with_xid_94_and_the_memory_error_guide():
    # NVIDIA's memory-error guide: a contained error needs only the affected job restarted; a pending row remap
    # lets running and new work continue until the next reset. So "ECC > 0" cannot mean "drain and reset" alone.
    fields = tables.load(LESSON, "monitoring_fields").set_index("field")
    ecc = fields.loc["Volatile Uncorr. ECC", "watch_for"]
    assert "94" in ecc and "restart the affected job" in ecc and "95" in ecc
    assert fields.loc["Volatile Uncorr. ECC", "source"] == "nv-mem-error"
    assert not any(text.strip().lower() in ("above 0: drain and reset", "any value above 0: drain and reset the gpu")
                   for text in fields["watch_for"])
    xids = tables.load(LESSON, "xid_errors").set_index("xid")
    assert xids.loc[94, "node_action"] == "restart_job" and xids.loc[95, "node_action"] == "reset_gpu"


def test_clock_reasons_use_the_current_field_name():
    fields = tables.load(LESSON, "monitoring_fields")["field"].tolist()
    assert "clocks_event_reasons.active" in fields and not any("throttle" in f for f in fields)
    for name in ("nvidia-smi-query.txt", "assignment-nvidia-smi-query.txt"):
        header = tables.artefact(LESSON, name).splitlines()[0]
        assert "clocks_event_reasons.active" in header and "throttle" not in header


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
    reasons = query["clocks_event_reasons.active"].map(lambda t: int(t, 16))
    # one GPU for each reason the assignment asks about (NVML bits: 0x1 idle, 0x4 SW power cap,
    # 0x20 SW thermal, 0x40 HW thermal, 0x80 HW power brake; 0x8 HW slowdown comes with the last two)
    for bit, index in {0x1: 4, 0x4: 5, 0x20: 2, 0x40: 3, 0x80: 6}.items():
        assert query.loc[(reasons & bit) > 0, "index"].tolist() == [index], hex(bit)
    assert query.loc[(reasons & 0x8) > 0, "index"].tolist() == [3, 6]
    hot = query.set_index("index")["temperature.gpu"]
    assert hot[2] > 80 and hot[3] > 90 and hot[4] < 50
    # the table view shows the same temperatures and power draws
    for row in query.itertuples(index=False):
        assert f"{row[3]}C    P0" in smi and f"{round(row[4])}W /  700W" in smi
    log = tables.artefact(LESSON, "assignment-dmesg.log")
    found = re.findall(r"NVRM: Xid \(PCI:([0-9a-f:]+)\): (\d+),", log)
    assert {bus for bus, code in found if code == "79"} == {"0000:9a:00"}
    assert {bus for bus, code in found if code in ("48", "95")} == {"0000:2a:00"}
    assert {int(code) for _, code in found} <= set(tables.load(LESSON, "xid_errors")["xid"])
