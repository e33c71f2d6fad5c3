"""Lesson 9 tables: sources resolve, units are in column names, facts match what their sources say."""

import pytest

from infraprep import tables
from infraprep.widgets.design import design_inputs, gpu_specs, system_specs

LESSON = "09-system-design"
FACT_TABLES = ["systems", "accelerators", "interruptions", "llama3_layouts", "models", "facts", "drills"]


@pytest.mark.parametrize("name", FACT_TABLES)
def test_every_fact_has_a_source(name):
    keys = set(tables.references(LESSON)["key"])
    frame = tables.load(LESSON, name)
    assert frame["source"].notna().all()
    assert set(frame["source"]) <= keys


def test_design_inputs_say_what_they_are():
    keys = set(tables.references(LESSON)["key"])
    inputs = tables.load(LESSON, "design_inputs")
    assert set(inputs["basis"]) <= {"given", "assumption", "fact"}
    facts = inputs[inputs["basis"] == "fact"]
    assert facts["source"].notna().all()
    assert set(inputs["source"].dropna()) <= keys
    assert inputs["note"].notna().all()
    assert not inputs.duplicated(["design", "name"]).any()
    assert design_inputs("training")["storage_write"] == 2e12  # Tectonic's sustained 2 TB/s (facts table)
    with pytest.raises(ValueError):
        design_inputs("nope")


def test_every_reference_is_used_somewhere():
    """Each reference backs a table row or is cited as [key] in the lecture's text."""
    import re

    import nbformat

    keys = set(tables.references(LESSON)["key"])
    used = set()
    for name in FACT_TABLES + ["design_inputs"]:
        used |= set(tables.load(LESSON, name)["source"].dropna())
    lecture = nbformat.read(str(tables.DATA_DIR.parents[1] / "notebooks" / f"{LESSON}.ipynb"), as_version=4)
    text = "\n".join(c.source for c in lecture.cells if c.cell_type == "markdown")
    cited = set(re.findall(r"\[([a-z0-9_]+)\]", text))
    assert cited <= keys, sorted(cited - keys)
    assert keys == used | cited, sorted(keys - used - cited)


def test_units_are_in_column_names():
    systems = tables.load(LESSON, "systems")
    assert {"system_power_kw", "nvlink_domain_gpus", "scale_out_gbit_s_per_gpu", "local_nvme_tb"} <= set(systems.columns)
    assert {"memory_gb", "bandwidth_tb_s", "bf16_dense_tflops", "fp8_dense_tflops"} <= set(tables.load(LESSON, "accelerators").columns)
    assert {"nominal_gpus", "borrowing_limit_gpus", "lending_limit_gpus", "demand_gpus"} <= set(tables.load(LESSON, "platform_tenants").columns)


def test_systems_match_their_user_guides():
    s = tables.load(LESSON, "systems").set_index("system")
    assert s.loc["DGX H100", "system_power_kw"] == 10.2 and s.loc["DGX B200", "system_power_kw"] == 14.3
    assert s.loc["DGX H100", "local_nvme_tb"] == pytest.approx(8 * 3.84)  # 8 x 3.84 TB U.2 data cache
    assert s.loc["DGX GB200 NVL72", "gpus_per_system"] == s.loc["DGX GB200 NVL72", "nvlink_domain_gpus"] == 72
    facts = tables.load(LESSON, "facts").set_index("fact")["value"]
    # 1.2 MW for a scalable unit of 8 racks
    assert s.loc["DGX GB200 NVL72", "system_power_kw"] * facts["gb200_su_racks"] == pytest.approx(facts["gb200_su_power"] * 1e3)


def test_gpu_figures_follow_the_datasheets():
    specs = gpu_specs().set_index("gpu")
    sheet = tables.load("02-gpu", "datasheets").set_index("gpu")
    for gpu in ("H100 SXM", "H200 SXM", "B200 (HGX)"):
        assert specs.loc[gpu, "memory_gb"] == sheet.loc[gpu, "memory_gb"]  # read from lesson 2, never retyped
        # FP8 dense is twice BF16 dense on Hopper and Blackwell
        assert specs.loc[gpu, "fp8_dense_tflops"] == pytest.approx(2 * sheet.loc[gpu, "bf16_dense_tflops"], rel=0.001)
    # the GB200 of an NVL72: the rack's figures over 72 GPUs, sparse figures halved
    gb = specs.loc["GB200 (NVL72)"]
    assert gb["memory_gb"] == pytest.approx(13.4e3 / 72, abs=0.5)
    assert gb["bandwidth_tb_s"] == pytest.approx(576 / 72)
    assert gb["bf16_dense_tflops"] == pytest.approx(360e3 / 72 / 2)
    assert gb["fp8_dense_tflops"] == pytest.approx(720e3 / 72 / 2)
    assert set(system_specs()["bf16_dense_tflops"].notna()) == {True}


def test_llama31_shapes_give_their_parameter_counts():
    for m in tables.load(LESSON, "models").itertuples(index=False):
        attention = m.hidden * (m.heads * m.head_dim + 2 * m.kv_heads * m.head_dim) + m.heads * m.head_dim * m.hidden
        mlp = 3 * m.hidden * m.ffn  # SwiGLU: gate, up and down projections
        embeddings = 2 * m.vocab * m.hidden  # input and output, untied
        params = m.layers * (attention + mlp) + embeddings
        assert params / 1e9 == pytest.approx(m.params_billion, rel=0.02), m.model
        assert m.heads * m.head_dim == m.hidden


def test_facts_agree_with_each_other():
    facts = tables.load(LESSON, "facts").set_index("fact")["value"]
    assert facts["pue_google_fleet"] < facts["pue_industry_2024"] == 1.56
    assert facts["tectonic_sustained_write"] < facts["tectonic_peak"]
    assert facts["meta_pod_gpus"] * 8 == facts["meta_cluster_gpus"]  # 8 pods of 3,072
    assert facts["qm9700_ports"] == 64 and facts["q3400_ports"] == 144
    assert facts["gemini_sdc_interval_weeks_low"] < facts["gemini_sdc_interval_weeks_high"]


def test_practice_quiz_loads_and_answers_are_options():
    from infraprep.widgets import PracticeQuiz

    quiz = PracticeQuiz.for_lesson(LESSON)
    assert len(quiz.questions) >= 6
    for index, question in enumerate(quiz.questions):
        quiz.choose(index, question.answer)
        assert quiz.check(index)


def test_tenants_fill_the_cluster():
    tenants = tables.load(LESSON, "platform_tenants")
    assert tenants["nominal_gpus"].sum() == 512
    assert (tenants["lending_limit_gpus"] <= tenants["nominal_gpus"]).all()
