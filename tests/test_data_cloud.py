"""Lesson 5 data: tables load, every figure is sourced and dated, facts match their sources,
and the Terraform artefact is read correctly by infraprep.terraform."""

import math

import pandas as pd
import pytest

from infraprep import estimates, tables, terraform
from infraprep.widgets.quiz import PracticeQuiz

LESSON = "05-cloud"
FACT_TABLES = ["instances", "gpus", "purchase_options", "egress_tiers", "hidden_costs", "platforms", "published_runs",
               "neoclouds", "accelerators", "on_prem", "storage_prices", "fsx_lustre"]


@pytest.mark.parametrize("name", FACT_TABLES)
def test_every_fact_row_has_a_source(name):
    # that each key is in references.csv is checked for every lesson by tests/test_references.py
    frame = tables.load(LESSON, name)
    assert frame["source"].notna().all(), f"{name} has a row without a source"


def test_every_price_has_a_date_and_a_source():
    inst = tables.load(LESSON, "instances")
    priced = inst.dropna(subset=["on_demand_usd_per_hour"])
    assert len(priced) >= 6
    assert priced["price_date"].notna().all() and priced["price_source"].notna().all()
    pd.to_datetime(priced["price_date"], format="%Y-%m-%d")
    # rows without a verified price say so instead of carrying an invented number
    unpriced = inst[inst["on_demand_usd_per_hour"].isna()]
    assert unpriced["price_note"].str.contains("no on-demand price verified").all()
    egress = tables.load(LESSON, "egress_tiers")
    assert egress["price_date"].notna().all()


def test_instance_table_covers_three_clouds_and_is_consistent():
    inst = tables.load(LESSON, "instances")
    assert set(inst["cloud"]) == {"aws", "gcp", "azure"}
    assert inst["instance"].is_unique
    gpus = tables.load(LESSON, "gpus").set_index("gpu_model")
    assert set(inst["gpu_model"]) <= set(gpus.index)
    # memory per GPU agrees with the GPU table; every instance here is an 8-GPU node
    for row in inst.itertuples():
        assert row.gpu_memory_gb == gpus.loc[row.gpu_model, "memory_gb"]
        assert row.gpus == 8
    assert ((inst["on_demand_usd_per_hour"].dropna() > 1) & (inst["on_demand_usd_per_hour"].dropna() < 200)).all()


def test_instance_facts_against_sources():
    inst = tables.load(LESSON, "instances").set_index("instance")
    # AWS Capacity Blocks page lists p5.48xlarge with 192 vCPUs and 3,200 Gbit/s, p4d.24xlarge with 96 and 400
    assert inst.loc["p5.48xlarge", ["vcpus", "network_gbps"]].tolist() == [192, 3200]
    assert inst.loc["p4d.24xlarge", ["vcpus", "network_gbps"]].tolist() == [96, 400]
    # Karpenter's table from the AWS Pricing API (generated 2026-07-20, us-east-1)
    karpenter = {"p4d.24xlarge": 21.957642, "p5.48xlarge": 55.04, "p5en.48xlarge": 63.296, "p6-b200.48xlarge": 113.9328}
    for name, price in karpenter.items():
        assert inst.loc[name, "on_demand_usd_per_hour"] == pytest.approx(price)
        assert inst.loc[name, "price_date"] == "2026-07-20"
    # dstack's offer list of August 2026 shows the same p5en price in us-east-1
    assert inst.loc["p5en.48xlarge", "on_demand_usd_per_hour"] == pytest.approx(63.296)
    # "up to 45%" in June 2025: the P5 price fell 44%, the P4d price 33%
    assert 1 - inst.loc["p5.48xlarge", "on_demand_usd_per_hour"] / 98.32 == pytest.approx(0.44, abs=0.005)
    assert 1 - inst.loc["p4d.24xlarge", "on_demand_usd_per_hour"] / 32.77 == pytest.approx(0.33, abs=0.005)
    assert inst.loc["p5.48xlarge", "price_note"].find("98.32") >= 0
    # SkyPilot's Azure catalog (Azure Retail Prices API), eastus pay-as-you-go
    assert inst.loc["Standard_ND96isr_H100_v5", "on_demand_usd_per_hour"] == pytest.approx(98.32)
    assert inst.loc["Standard_ND96asr_v4", "on_demand_usd_per_hour"] == pytest.approx(27.197)
    # Cyclenerd's GCP pricing: a2-highgpu-1g is $3.673385/h in us-central1, so the 8-GPU machine is 8x
    assert inst.loc["a2-highgpu-8g", "on_demand_usd_per_hour"] == pytest.approx(8 * 3.673385, abs=0.01)
    assert inst.loc["a2-ultragpu-8g", "on_demand_usd_per_hour"] == pytest.approx(8 * 5.06879789, abs=0.01)


def test_gpu_peaks_match_datasheets():
    gpus = tables.load(LESSON, "gpus").set_index("gpu_model")["bf16_dense_tflops"]
    assert gpus["A100 80GB"] == 312 and gpus["A100 40GB"] == 312
    assert gpus["H100 80GB"] == 989 and gpus["H200 141GB"] == 989


def test_interruption_notices():
    opts = tables.load(LESSON, "purchase_options")
    spot = opts[opts["interruptible"] == "yes"].set_index("cloud")["notice_s"]
    assert spot.to_dict() == {"aws": 120, "gcp": 30, "azure": 30}
    discounts = opts.dropna(subset=["discount_high"])
    assert ((discounts["discount_high"] >= 0) & (discounts["discount_high"] < 1)).all()


def test_gcp_commitment_discounts_follow_from_the_cited_monthly_prices():
    """Cyclenerd's pricing.yml, a2-highgpu-1g us-central1: month 2681.57, 1-year 1689.37, 3-year 938.57."""
    opts = tables.load(LESSON, "purchase_options").set_index(["cloud", "option"])
    row = opts.loc[("gcp", "Committed use discounts")]
    assert row["discount_low"] == pytest.approx(1 - 1689.37 / 2681.57, abs=0.01)
    assert row["discount_high"] == pytest.approx(1 - 938.57 / 2681.57, abs=0.01)


def test_egress_tiers_are_contiguous_and_usable():
    egress = tables.load(LESSON, "egress_tiers")
    assert (egress["from_gb"].iloc[1:].to_numpy() == egress["to_gb"].iloc[:-1].to_numpy()).all()
    tiers = list(zip(egress["from_gb"], egress["to_gb"], egress["usd_per_gb"]))
    assert estimates.tiered_cost_usd(10240, tiers) == pytest.approx((10240 - 100) * 0.09)


def test_platforms_table_compares_managed_and_self_managed():
    platforms = tables.load(LESSON, "platforms")
    assert set(platforms["kind"]) == {"managed", "self-managed"}
    assert platforms["option"].str.contains("SageMaker").any()
    assert platforms["option"].str.contains("Vertex").any()
    assert platforms["option"].str.contains("Azure Machine Learning").any()
    assert platforms["option"].str.contains("Slurm").any() and platforms["option"].str.contains("Kubernetes").any()


def test_practice_quiz_loads_with_at_least_six_questions():
    quiz = PracticeQuiz.for_lesson(LESSON)
    assert len(quiz.questions) >= 6
    quiz.choose(0, quiz.questions[0].answer)
    assert quiz.check(0) is True


# --------------------------------------------------------------------------- Terraform artefact

TF = tables.artefact(LESSON, "training-cluster.tf")


def test_terraform_variables_and_resources():
    assert terraform.variables(TF) == {"gpu_nodes": 4, "gpu_instance_type": "p4d.24xlarge", "efa_interfaces": 4,
                                       "subnet_id": "subnet-0123456789abcdef0"}
    res = {(r["type"], r["name"]): r for r in terraform.resources(TF)}
    assert ("aws_instance", "eval") not in res  # inside a /* */ comment
    assert res[("aws_instance", "trainer")]["count"] == 4
    assert res[("aws_instance", "trainer")]["attributes"]["instance_type"] == "p4d.24xlarge"
    assert res[("aws_instance", "hot_spare")]["count"] == 1
    assert res[("aws_s3_bucket", "checkpoints")]["count"] == 1
    assert res[("aws_instance", "trainer")]["attributes"]["tags"]["Team"] == "pretraining"


def test_terraform_hourly_cost():
    inst = tables.load(LESSON, "instances")
    prices = dict(zip(inst["instance"], inst["on_demand_usd_per_hour"]))
    assert terraform.instance_counts(TF) == {"p4d.24xlarge": 5}
    assert terraform.hourly_cost_usd(TF, prices) == pytest.approx(5 * 21.957642)
    assert terraform.hourly_cost_usd(TF, prices, gpu_nodes=8) == pytest.approx(9 * 21.957642)
    # the hot spare follows the nodes' type: a spare of another type could not replace a node
    assert terraform.instance_counts(TF, gpu_instance_type="p5.48xlarge") == {"p5.48xlarge": 5}
    assert terraform.hourly_cost_usd(TF, prices, gpu_instance_type="p5.48xlarge") == pytest.approx(5 * 55.04)
    with pytest.raises(ValueError, match="no hourly price"):
        terraform.hourly_cost_usd(TF, {"p5.48xlarge": 55.04})
    with pytest.raises(ValueError, match="no such variable"):
        terraform.resources(TF, gpu_count=3)


def test_terraform_reader_edge_cases():
    text = '''
    variable "n" {}
    resource "aws_instance" "x" {
      count = var.n   // needs a value
      instance_type = "p5.48xlarge"
      user_data = <<-EOT
        #!/bin/bash
        echo "{ not a block }"
      EOT
      cidrs = ["10.0.0.0/16", "10.1.0.0/16"]
      zone = element(["a", "b"], 0)
    }
    '''
    with pytest.raises(ValueError, match="no default"):
        terraform.resources(text)
    (res,) = terraform.resources(text, n=2)
    assert res["count"] == 2
    assert res["attributes"]["cidrs"] == ["10.0.0.0/16", "10.1.0.0/16"]
    assert "echo" in res["attributes"]["user_data"]
    assert isinstance(res["attributes"]["zone"], terraform.Reference)
    with pytest.raises(ValueError, match="line"):
        terraform.parse('resource "a" "b" {\n  x = \n}')
    with pytest.raises(ValueError, match="not closed"):
        terraform.parse('resource "a" "b" {\n  x = 1\n')
    with pytest.raises(ValueError, match="count"):
        terraform.resources('resource "aws_instance" "y" {\n count = -1\n instance_type = "a"\n}')


def test_terraform_declares_efa_where_it_says_efa():
    """The file talks about EFA; its launch template must give every network card an EFA interface."""
    assert "EFA" in TF
    assert terraform.efa_interface_counts(TF) == {"gpu_node": 4}
    assert terraform.efa_interface_counts(TF, efa_interfaces=32) == {"gpu_node": 32}
    nics = terraform.network_interfaces(TF, efa_interfaces=32)["gpu_node"]
    assert [n["network_card_index"] for n in nics] == list(range(32))
    assert [n["device_index"] for n in nics] == [0] + [1] * 31
    assert all(n["interface_type"] == "efa" and n["subnet_id"] == "subnet-0123456789abcdef0" for n in nics)
    # every instance uses that launch template
    res = {r["name"]: r for r in terraform.resources(TF) if r["type"] == "aws_instance"}
    parsed = {b.labels[1]: b for b in terraform.parse(TF) if b.type == "resource" and b.labels[0] == "aws_instance"}
    for name in res:
        (template,) = terraform.nested_blocks(parsed[name], "launch_template")
        assert template["id"].text == "aws_launch_template.gpu_node.id"


def test_terraform_keeps_every_node_and_the_spare_in_the_placement_group():
    assert terraform.placement_groups(TF) == {"aws_instance.trainer": "aws_placement_group.training.id",
                                              "aws_instance.hot_spare": "aws_placement_group.training.id"}
    assert terraform.instances_outside_placement_groups(TF) == []
    (group,) = [r for r in terraform.resources(TF) if r["type"] == "aws_placement_group"]
    assert group["attributes"]["strategy"] == "cluster"
    loose = TF.replace('  placement_group = aws_placement_group.training.id\n\n  launch_template {\n    id = aws_launch_template.gpu_node.id\n  }\n\n  tags = {\n    Name = "hot-spare"', '  launch_template {\n    id = aws_launch_template.gpu_node.id\n  }\n\n  tags = {\n    Name = "hot-spare"')
    assert loose != TF and terraform.instances_outside_placement_groups(loose) == ["aws_instance.hot_spare"]


def test_terraform_fsx_and_dynamic_block_errors():
    (fsx,) = terraform.fsx_lustre_file_systems(TF)
    assert fsx == {"name": "scratch", "count": 1, "capacity_gib": 4800, "deployment_type": "PERSISTENT_2",
                   "mb_s_per_tib": 250}
    bad = TF.replace("range(1, var.efa_interfaces)", "toset(var.cards)")
    with pytest.raises(ValueError, match="range"):
        terraform.efa_interface_counts(bad)
    with pytest.raises(ValueError, match="no such variable"):
        terraform.efa_interface_counts(TF, efa=3)


# --------------------------------------------------------------------------- new tables

def test_neocloud_prices_are_dated_and_per_gpu_sensible():
    neo = tables.load(LESSON, "neoclouds")
    assert set(neo["provider"]) >= {"CoreWeave", "Lambda", "Nebius"}
    assert neo["price_date"].str.fullmatch(r"\d{4}-\d{2}(-\d{2})?").all()
    per_gpu = (neo["usd_per_hour"] / neo["gpus"]).round(4)
    rows = dict(zip(neo["provider"] + " " + neo["gpu_model"], per_gpu))
    assert rows["Lambda H100 80GB"] == pytest.approx(3.99)      # $31.92 for 8 GPUs
    assert rows["Nebius H100 80GB"] == pytest.approx(2.95)      # $23.60 for 8
    assert rows["CoreWeave H100 80GB"] == pytest.approx(6.155)  # $49.24 for 8
    assert rows["CoreWeave GB200 186GB"] == pytest.approx(10.5)  # $42 for a 4-GPU tray
    gpus = set(tables.load(LESSON, "gpus")["gpu_model"])
    assert set(neo["gpu_model"]) <= gpus


def test_accelerator_specs_against_vendor_docs():
    acc = tables.load(LESSON, "accelerators").set_index("chip")
    assert acc.loc["Trainium", ["bf16_dense_tflops", "memory_gib"]].tolist() == [190, 32]
    assert acc.loc["Trainium2", ["bf16_dense_tflops", "memory_gib"]].tolist() == [667, 96]
    assert acc.loc["TPU v5p", ["bf16_dense_tflops", "memory_gib", "memory_gb_s"]].tolist() == [459, 95, 2765]
    assert acc.loc["TPU v6e (Trillium)", ["bf16_dense_tflops", "memory_gib"]].tolist() == [918, 32]
    assert acc.loc["TPU v5e", ["bf16_dense_tflops", "memory_gib"]].tolist() == [197, 16]
    # trn1.32xlarge: $21.50 for 16 chips (Karpenter's table)
    assert acc.loc["Trainium", "usd_per_chip_hour"] == pytest.approx(21.50 / 16)
    unpriced = acc[acc["usd_per_chip_hour"].isna()]
    assert unpriced["price_note"].str.contains("no").all()


def test_on_prem_inputs_against_sources():
    p = tables.load(LESSON, "on_prem").set_index("parameter")["value"]
    assert p["server_max_power"] == 10.2 and p["gpus_per_server"] == 8   # DGX H100
    assert p["pue"] == 1.56                                                 # Uptime Institute 2024
    assert 0.08 <= p["electricity_price"] <= 0.095                          # EIA industrial 2025
    assert (p["useful_life_short"], p["useful_life_long"]) == (5, 6)
    assert p["server_price"] == 270_000                                     # SemiAnalysis via Epoch


def test_storage_price_tiers():
    s3 = tables.load(LESSON, "storage_prices")
    assert (s3["from_gb"].iloc[1:].to_numpy() == s3["to_gb"].iloc[:-1].to_numpy()).all()
    assert list(s3["usd_per_gb_month"]) == [0.023, 0.022, 0.021]
    assert s3["to_gb"].iloc[-1] == math.inf and s3["to_gb"].iloc[0] == 50 * 1024
    fsx = tables.load(LESSON, "fsx_lustre")
    assert list(fsx["mb_s_per_tib"]) == [125, 250, 500, 1000]
    assert fsx["usd_per_gb_month"].is_monotonic_increasing
    assert fsx.set_index("mb_s_per_tib").loc[125, "usd_per_gb_month"] == pytest.approx(0.145)


def test_savings_plans_and_capacity_blocks_rows():
    opts = tables.load(LESSON, "purchase_options").set_index(["cloud", "option"])
    assert opts.loc[("aws", "Compute Savings Plans"), "discount_high"] == 0.66
    assert opts.loc[("aws", "EC2 Instance Savings Plans"), "discount_high"] == 0.72
    # Capacity Blocks rates are set by supply and demand: no stale rate in the table
    assert "$" not in str(opts.loc[("aws", "Capacity Blocks for ML"), "discount_note"])


def test_every_table_of_the_lesson_loads_and_is_checked():
    names = tables.available(LESSON)
    assert set(FACT_TABLES) <= set(names)
    for name in names:
        frame = tables.load(LESSON, name)  # raises on a malformed row (an unquoted comma)
        assert len(frame) and len(frame.columns) > 1, name
    assert set(names) - set(FACT_TABLES) <= {"references", "practice"}
