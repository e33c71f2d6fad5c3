"""The rapid-fire question bank: valid data, working filters, and numbers that agree with the formulas."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest

from infraprep import estimates, tables
from infraprep.practice import bank
from infraprep.widgets import PracticeQuiz

LESSON = "07-rapid-fire"


@pytest.fixture(scope="module")
def questions() -> pd.DataFrame:
    return bank.load_bank()


CORE = ("01-roles", "02-gpu", "03-distributed", "04-kubernetes", "05-cloud", "06-storage-networking")


def test_bank_is_large_and_valid(questions):
    assert bank.problems(questions, tables.references(LESSON)) == []


def test_lessons_1_to_6_reach_interview_level_numbers(questions):
    """At least 205 questions for lessons 1-6, at least 30 % of them hard (the whole bank's 250 and
    30 % are reached with lessons 8 and 9's own files)."""
    core = questions[questions["lesson_id"].astype(str).isin(CORE)]
    assert len(core) >= 205
    assert (core["difficulty"].astype(str) == "hard").mean() >= 0.30
    table = bank.levels(questions).set_index("lesson_id")
    assert table.loc[list(CORE), "questions"].sum() == len(core)
    assert (table.loc[list(CORE), "hard"] >= 5).all(), "every lesson has hard questions"


def test_every_bank_file_present_has_the_columns_tags_and_sources():
    found = bank.file_problems()
    files = {p.name for p in (tables.DATA_DIR / LESSON / "bank").glob("*.csv")}
    assert set(found) == files and {f"{lesson}.csv" for lesson in CORE} <= files
    assert found == {name: [] for name in files}
    for name in files:
        frame = tables.load(LESSON, f"bank/{name[:-4]}")
        assert list(frame.columns) == list(bank.COLUMNS), name


def test_file_problems_catches_a_file_with_a_wrong_lesson(tmp_path, monkeypatch):
    frame = tables.load(LESSON, "bank/02-gpu").copy()
    frame.loc[0, "lesson_id"] = "05-cloud"
    frame.loc[1, "source"] = "my-notes"
    frame.loc[2, "difficulty"] = "brutal"
    folder = tmp_path / LESSON / "bank"
    folder.mkdir(parents=True)
    frame.to_csv(folder / "02-gpu.csv", index=False)
    frame.to_csv(folder / "10-extras.csv", index=False)
    (tmp_path / LESSON / "references.csv").write_text((tables.DATA_DIR / LESSON / "references.csv").read_text())
    monkeypatch.setattr(tables, "DATA_DIR", tmp_path)
    monkeypatch.setattr(tables, "lessons", lambda: pd.DataFrame({"number": [2], "lesson_id": ["02-gpu"]}))
    found = bank.file_problems(tables.references(LESSON))
    assert any("lesson_id is not 02-gpu" in p for p in found["02-gpu.csv"])
    assert any("'my-notes' is not in references.csv" in p for p in found["02-gpu.csv"])
    assert any("unknown difficulty 'brutal'" in p for p in found["02-gpu.csv"])
    assert any("not named after a lesson" in p for p in found["10-extras.csv"])


def test_no_duplicate_ids_or_questions(questions):
    assert questions["id"].is_unique
    normalised = questions["question"].str.lower().str.split().str.join(" ")
    assert normalised.is_unique


def test_every_tag_is_known_and_every_lesson_has_20(questions):
    assert set(questions["lesson_id"].astype(str)) == set(bank.LESSONS)
    assert set(questions["round"].astype(str)) == set(bank.ROUNDS)
    assert set(questions["difficulty"].astype(str)) == set(bank.DIFFICULTIES)
    counts = questions["lesson_id"].astype(str).value_counts()
    assert all(counts[lesson] >= 20 for lesson in bank.LESSONS)


def test_lessons_are_the_files_present_in_course_order():
    course = [str(x) for x in tables.lessons()["lesson_id"]]
    present = [p.stem for p in (tables.DATA_DIR / LESSON / "bank").glob("*.csv")]
    assert list(bank.LESSONS) == [lesson for lesson in course if lesson in present]
    assert list(bank.LESSONS)[:6] == list(CORE)


def test_answers_are_worked_but_still_spoken_answers(questions):
    """Lessons 1-6 (this lesson's own files): answers worked out, but short enough to say in a minute or two."""
    questions = questions[questions["lesson_id"].astype(str).isin(CORE)]
    words = questions["answer"].str.split().str.len()
    assert words.mean() >= 35, "interview-level answers, not one-line recall"
    sentences = questions["answer"].str.count(r"[.!?](\s|$)")
    assert (sentences <= 5).all(), questions.loc[sentences > 5, "id"].tolist()
    assert (questions["answer"].str.len() < 700).all()
    hard = questions[questions["difficulty"] == "hard"]
    assert hard["answer"].str.split().str.len().mean() >= 45


def test_the_topics_of_issue_18_are_in_the_bank(questions):
    text = " ".join(questions["question"].astype(str) + " " + questions["answer"].astype(str)).lower()
    for topic in ("fully_shard", "devicemesh", "ring attention", "ulysses", "1f1b", "interleav", "zero-bubble",
                  "expert parallelism", "alltoall", "capacity factor", "fp8", "e4m3", "straggler",
                  "silent data corruption", "distributed checkpoint", "resharding", "asynchronous checkpoint",
                  "sharp", "nvls", "rail-only", "gb200 nvl72", "dynamic resource allocation", "cohortname",
                  "v1beta2", "jobset", "leaderworkerset", "waitforpodsready", "multikueue", "provisioningrequest",
                  "multus", "/dev/shm", "podfailurepolicy", "mps", "time-slicing", "neocloud", "tpu",
                  "trainium", "pue", "efa", "srd", "fsx for lustre", "savings plans", "dne", "ecmp",
                  "three tiers", "xid 94", "xid 95", "clocks_event_reasons", "81,559 mib"):
        assert topic in text, topic


def test_coding_and_debugging_items_are_present(questions):
    coding = questions[questions["round"] == "coding"]
    assert len(coding) >= 20
    assert coding["answer"].str.contains("`").sum() >= 10, "coding answers show the command or code"
    debugging = questions["question"].str.contains(r"What is wrong|find|bus error|hang|falls back|slow|MFU",
                                                   case=False, regex=True)
    assert debugging.sum() >= 10


def test_problems_finds_each_kind_of_error(questions):
    broken = questions.copy()
    broken["lesson_id"] = broken["lesson_id"].astype(str)
    broken["round"] = broken["round"].astype(str)
    broken.loc[0, "round"] = "lunch"
    broken.loc[1, "id"] = broken.loc[2, "id"]
    broken.loc[3, "question"] = "  " + broken.loc[4, "question"].upper() + " "
    broken.loc[5, "source"] = "nowhere"
    found = " | ".join(bank.problems(broken, tables.references(LESSON)))
    assert "unknown round 'lunch'" in found
    assert "is used twice" in found
    assert "duplicate question" in found
    assert "'nowhere' is not in references.csv" in found
    few = questions[questions["lesson_id"].astype(str) != "05-cloud"].head(200)
    few = pd.concat([few, questions[questions["lesson_id"].astype(str) == "05-cloud"].head(19)])
    assert any("05-cloud has 19" in p for p in bank.problems(few))


def test_filter_by_number_equals_filter_by_id(questions):
    by_number = bank.filter_bank(questions, lesson=3)
    by_id = bank.filter_bank(questions, lesson="03-distributed")
    assert len(by_number) == len(by_id) == (questions["lesson_id"] == "03-distributed").sum()
    assert by_number["id"].tolist() == by_id["id"].tolist()


def test_filter_combines_tags(questions):
    picked = bank.filter_bank(questions, lesson=[2, 3], round="deep-dive", difficulty=("medium", "hard"))
    assert len(picked) > 0
    assert set(picked["lesson_id"].astype(str)) <= {"02-gpu", "03-distributed"}
    assert set(picked["round"].astype(str)) == {"deep-dive"}
    assert set(picked["difficulty"].astype(str)) <= {"medium", "hard"}
    expected = questions[questions["lesson_id"].astype(str).isin(["02-gpu", "03-distributed"])
                         & (questions["round"] == "deep-dive") & questions["difficulty"].isin(["medium", "hard"])]
    assert len(picked) == len(expected)


def test_filter_text_and_spelling_variants(questions):
    nccl = bank.filter_bank(questions, contains="NCCL")
    assert len(nccl) >= 3
    assert all("nccl" in (q + a).lower() for q, a in zip(nccl["question"], nccl["answer"]))
    assert len(bank.filter_bank(questions, round="Behavioral")) == (questions["round"] == "behavioural").sum()


@pytest.mark.parametrize("kwargs", [{"lesson": 7}, {"lesson": 12}, {"lesson": "gpus"}, {"round": "lunch"},
                                    {"difficulty": "extreme"}])
def test_unknown_tags_raise(questions, kwargs):
    with pytest.raises(ValueError):
        bank.filter_bank(questions, **kwargs)


def test_coverage_counts_add_up(questions):
    table = bank.coverage(questions)
    assert table.to_numpy().sum() == len(questions)
    assert list(table.columns) == list(bank.ROUNDS)
    assert bank.coverage(questions, by="difficulty").sum(axis=1).tolist() == \
        questions["lesson_id"].value_counts().reindex(bank.LESSONS).tolist()


def _answer(questions, qid):
    return str(questions.set_index("id").loc[qid, "answer"])


def _numbers(text):
    return [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*\.?\d*", text)]


def _has(text, *numbers):
    """Every number (as written, e.g. "1,138" or "17.9%") appears in ``text``."""
    missing = [n for n in numbers if n not in text]
    assert not missing, f"{missing} not in: {text}"


def test_worked_numbers_in_answers_match_the_formulas(questions):
    """Answers that quote a computed number agree with infraprep.estimates (computed here, then
    compared with the text)."""
    a = {qid: str(text) for qid, text in zip(questions["id"], questions["answer"])}
    e = estimates

    assert round(e.ridge_point(989e12, 3.35e12)) == 295 and round(e.ridge_point(989e12, 4.8e12)) == 206
    assert round(e.ridge_point(2250e12, 8e12)) == 281
    _has(a["gpu-013"], "295", "206", "281")
    assert 65_536 // 128 // 32 == 16 and 16 / 64 == 0.25
    _has(a["gpu-016"], "512", "16 warps", "25%")
    assert 81_559 * 2**20 / 1e9 == pytest.approx(85.5, abs=0.05) and 81_559 / 1024 == pytest.approx(79.6, abs=0.05)
    _has(a["gpu-031"], "85.5", "79.6")
    assert e.weights_bytes(70e9) / (8 * 3.35e12) * 1e3 == pytest.approx(5.2, abs=0.05)
    _has(a["gpu-032"], "5.2 ms", "26.8 TB/s")
    kv = e.kv_cache_bytes_per_token(80, 8, 128)
    assert kv == 327_680 and kv * 32_768 / 1e9 == pytest.approx(10.7, abs=0.05)
    _has(a["gpu-033"], "327,680", "10.7 GB")
    assert e.zero_bytes_per_gpu(7e9, 1, 0) / 1e9 == pytest.approx(112)
    _has(a["gpu-027"], "112 GB")
    assert e.weights_bytes(70e9) / 1e9 == pytest.approx(140)
    _has(a["gpu-028"], "140 GB")

    z = [e.zero_bytes_per_gpu(70e9, 64, stage) / 1e9 for stage in (1, 2, 3)]
    assert [round(z[0]), round(z[1]), z[2]] == [293, 155, 17.5]
    _has(a["dst-005"], "293 GB", "155 GB", "17.5 GB")
    assert round(100 * e.pipeline_bubble_fraction(8, 32), 1) == 17.9
    assert round(100 * e.pipeline_bubble_ratio(8, 32), 1) == 21.9
    assert round(100 * e.pipeline_bubble_ratio(8, 32, 4), 1) == 5.5
    assert round(100 * e.pipeline_bubble_fraction(8, 32, 4), 1) == 5.2
    _has(a["dst-009"], "(p − 1)/(m + p − 1)", "(p − 1)/m", "17.9%", "21.9%", "5.5%", "5.2%", "whole step",
         "ideal compute time", "divides")
    ring = e.ring_allreduce_time_s(1e6, 512, 5e-6, 50e9) * 1e3
    tree = e.tree_allreduce_time_s(1e6, 512, 5e-6, 50e9) * 1e3
    assert round(ring, 2) == 5.15 and round(tree, 2) == 0.45 and round(ring / tree) == 11
    _has(a["dst-015"], "5.15 ms", "0.45 ms", "11×")
    young, daly = e.young_interval(60, 3 * 3600), e.daly_interval(60, 3 * 3600)
    assert (round(young), round(daly)) == (1138, 1078)
    _has(a["dst-023"], "1,138 s", "1,078 s", "first-order approximation")
    waste = e.waste_fraction(young, 60, 10_800)
    assert round(100 * waste, 1) == 10.5 and round(100 * e.waste_fraction(e.young_interval(5, 10_800), 5, 10_800)) == 3
    _has(a["rol-028"], "10.5%", "3%")
    assert 6 * 405e9 * 15.6e12 == pytest.approx(3.8e25, rel=0.01)
    _has(a["dst-028"], "3.8e25")
    assert round(100 * e.mfu(6 * 8e9 * 9000, 989e12)) == 44
    _has(a["dst-029"], "44%")
    assert 1.25 * 4096 * 2 / 8 == 1280
    _has(a["dst-037"], "1,280")
    tp = e.ring_allreduce_time_s(8192 * 8192 * 2, 8, 0, 450e9) * 1e3
    tp_ib = e.ring_allreduce_time_s(8192 * 8192 * 2, 8, 0, 50e9) * 1e3
    assert (round(tp, 2), round(tp_ib, 1)) == (0.52, 4.7)
    _has(a["dst-046"], "134 MB", "0.52 ms", "4.7 ms")

    hours = e.gpu_hours(7e9, 1e12, 989e12, 0.4)
    assert abs(hours - 29_500) / 29_500 < 0.01
    assert round(hours * 55 / 8, -3) == 203_000 and round(hours * 2.5, -3) == 74_000
    _has(a["cld-006"], "29,500", "$203,000", "$74,000")
    days = e.training_time_s(70e9, 2e12, 1024, 989e12, 0.4) / 86400
    gpu_h = e.gpu_hours(70e9, 2e12, 989e12, 0.4)
    assert round(days) == 24 and round(gpu_h, -4) == 590_000 and round(gpu_h * 6.88 / 1e6, 1) == 4.1
    _has(a["cld-020"], "24 days", "590,000", "$4.1M")
    job_mtbf_min = 1 / e.job_interruption_rate(1 / 50, 16) * 60
    assert job_mtbf_min == pytest.approx(187.5)
    assert round(e.young_interval(3, job_mtbf_min)) == 34 and round(100 * e.waste_fraction(
        e.young_interval(3, job_mtbf_min), 3, job_mtbf_min)) == 18
    _has(a["cld-008"], "0.32", "34 minutes", "18%")
    assert round(55 / 8 / 0.989, 2) == 6.95 and round(22 / 8 / 0.312, 2) == 8.81
    _has(a["cld-028"], "$6.88", "$6.95", "$8.81", "21%")
    assert e.commitment_break_even_utilisation(0.4) == pytest.approx(0.6)
    _has(a["cld-029"], "60%", "0.71")
    inf = float("inf")
    storage = e.tiered_cost_usd(500 * 1024, [(0, 50 * 1024, 0.023), (50 * 1024, 500 * 1024, 0.022), (500 * 1024, inf, 0.021)])
    egress_tiers = tables.load("05-cloud", "egress_tiers")
    aws = egress_tiers[egress_tiers["cloud"] == "aws"]
    egress = e.tiered_cost_usd(100 * 1024, list(zip(aws["from_gb"], aws["to_gb"], aws["usd_per_gb"])))
    assert round(storage, -2) == 11_300 and round(500 * 1024 * 0.023) == 11_776 and round(egress, -3) == 8_000
    _has(a["cld-030"], "$11,300", "$11,776", "$8,000")
    assert round(10.2 * 1.3 * 0.08, 2) == 1.06 and round(10.2 * 1.3 * 0.08 / 8, 2) == 0.13
    _has(a["cld-033"], "$1.06", "$0.13")

    assert e.checkpoint_bytes(70e9) / 1e9 == pytest.approx(980)
    _has(a["stn-008"], "14 bytes a parameter", "2 for the BF16 weights", "12 for the FP32", "980 GB")
    assert e.checkpoint_write_time_s(e.checkpoint_bytes(70e9), 100e9) == pytest.approx(9.8)
    _has(a["stn-009"], "9.8 s", "0.96 GB")
    assert round(e.checkpoint_bytes(405e9) / 1e12, 1) == 5.7
    _has(a["stn-035"], "5.7 TB", "57 s")
    assert round(1_000_000 / 5_500) == 182
    _has(a["stn-006"], "182")
    assert e.bisection_bandwidth_bytes_s(1024, e.gbit_to_bytes_s(400)) / 1e12 == pytest.approx(25.6)
    _has(a["stn-018"], "25.6 TB/s", "12.8 TB/s")
    assert e.allreduce_busbw(200e9, 8) / 1e9 == pytest.approx(350)
    _has(a["stn-020"], "350 GB/s", "78%")
    assert 8 * e.gbit_to_bytes_s(400) / 1e9 == pytest.approx(400) and round(365 / 400 * 100) == 91
    _has(a["stn-028"], "400 GB/s", "91%")
    assert e.two_level_fat_tree(64)["hosts"] == 2048 and e.three_level_fat_tree_hosts(64) == 65_536
    assert e.three_level_fat_tree_hosts(128) == 524_288
    _has(a["stn-032"], "2,048", "65,536", "524,288")
    _has(a["stn-026"], "2,048")
    assert e.loader_bandwidth_bytes_s(400, 110e3, 512) / 1e9 == pytest.approx(22.5, abs=0.05)
    assert e.files_opened_per_s(512 * 400) == 204_800 and round(512 * 400 / (100e6 / 110e3)) == 225
    _has(a["stn-034"], "22.5 GB/s", "204,800", "225")

    assert 240_000 + 0.15 * 240_000 + 800_000 / 4 == 476_000
    _has(a["rol-018"], "$476,000")
    assert 800_000 * 0.05 == 40_000 and 2 * 200_000 - 800_000 * 0.20 == 240_000
    _has(a["rol-019"], "$40,000", "$120,000", "$240,000")


def test_checkpoint_bytes_have_one_definition(questions):
    """14 bytes a parameter for a full mixed-precision Adam checkpoint, stated where it is used;
    16 bytes only for the in-memory model state (gradients included)."""
    text = questions["question"].astype(str) + " " + questions["answer"].astype(str)
    about = text[text.str.contains("checkpoint", case=False) & text.str.contains(r"bytes a parameter|14 bytes", regex=True)]
    assert len(about) >= 2
    for answer in about:
        if re.search(r"16 bytes a parameter", answer):
            assert "in memory" in answer or "memory" in answer.lower(), answer
    for qid in ("stn-008", "stn-035"):
        answer = _answer(questions, qid)
        assert "14 bytes" in answer and "gradients are not saved" in answer
    assert estimates.checkpoint_bytes(1.0) == 14


def test_salaries_cite_public_dated_sources(questions):
    refs = tables.references(LESSON).set_index("key")
    for qid in ("rol-016", "rol-017", "rol-031"):
        row = questions.set_index("id").loc[qid]
        assert row["source"] != "course-seed"
        ref = refs.loc[str(row["source"])]
        assert str(ref["url"]).startswith("https://")
        date.fromisoformat(str(ref["accessed"]))
    assert "2026" in _answer(questions, "rol-016") and "May 2024" in _answer(questions, "rol-031")


def test_gpu_figures_match_the_course_facts_table(questions):
    """The GPU figures the bank quotes are the ones lesson 2's datasheet table holds."""
    sheet = tables.load("02-gpu", "datasheets").set_index("gpu")
    h100, h200, mi300x = sheet.loc["H100 SXM"], sheet.loc["H200 SXM"], sheet.loc["MI300X"]
    _has(_answer(questions, "gpu-007"), f"{h100['memory_gb']:g} GB", f"{h100['bandwidth_tb_s']:g} TB/s")
    _has(_answer(questions, "gpu-008"), f"{h100['bf16_dense_tflops']:,.0f}", f"{h100['bf16_sparse_tflops']:,.0f}")
    _has(_answer(questions, "gpu-009"), f"{h200['memory_gb']:g} GB", f"{h200['bandwidth_tb_s']:g} TB/s")
    _has(_answer(questions, "gpu-011"), f"{mi300x['memory_gb']:g} GB", f"{mi300x['bandwidth_tb_s']:g} TB/s")
    assert h100["compute_units"] == 132
    _has(_answer(questions, "gpu-001"), "132 SMs", "148")
    _has(_answer(questions, "gpu-002"), "32 threads")
    _has(_answer(questions, "gpu-021"), "up to 7")
    _has(_answer(questions, "gpu-011"), "448 GB/s", "64 GB/s", "450 GB/s")
    _has(_answer(questions, "stn-012"), "QDR 40", "FDR 56", "EDR 100", "HDR 200", "NDR 400", "XDR 800")


def test_references_are_well_formed():
    refs = tables.references(LESSON)
    assert refs["key"].is_unique
    assert list(refs.columns) == ["key", "title", "publisher", "url", "accessed"]
    for value in refs["accessed"]:
        date.fromisoformat(str(value))


def test_every_source_column_points_at_a_reference():
    keys = set(tables.references(LESSON)["key"].astype(str))
    for name in [f"bank/{lesson}" for lesson in bank.LESSONS] + ["incident_steps", "mock_prompts", "mock_inputs", "model_answers"]:
        used = set(tables.load(LESSON, name)["source"].astype(str))
        assert used <= keys, (name, used - keys)


def test_practice_quiz_has_six_checked_questions():
    quiz = PracticeQuiz.for_lesson(LESSON)
    assert len(quiz.questions) >= 6
    for index, question in enumerate(quiz.questions):
        quiz.choose(index, question.answer)
        assert quiz.check(index) is True
    assert quiz.score == (len(quiz.questions), len(quiz.questions))
