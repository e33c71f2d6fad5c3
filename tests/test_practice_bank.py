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


def test_bank_is_large_and_valid(questions):
    assert len(questions) >= 150
    assert bank.problems(questions, tables.references(LESSON)) == []


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


def test_lesson_ids_match_the_course_plan():
    course = tables.lessons()
    assert list(bank.LESSONS) == list(course["lesson_id"].astype(str))[:6]


def test_answers_are_short(questions):
    sentences = questions["answer"].str.count(r"[.!?](\s|$)")
    assert (sentences <= 3).all(), questions.loc[sentences > 3, "id"].tolist()
    assert (questions["answer"].str.len() < 400).all()


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


@pytest.mark.parametrize("kwargs", [{"lesson": 9}, {"lesson": "gpus"}, {"round": "lunch"}, {"difficulty": "extreme"}])
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


def test_worked_numbers_in_answers_match_the_formulas(questions):
    """Answers that quote a computed number agree with infraprep.estimates."""
    by_question = questions.set_index("question")["answer"].astype(str)

    def find(fragment):
        hits = [a for q, a in by_question.items() if fragment in q]
        assert len(hits) == 1, fragment
        return hits[0]

    ridge = estimates.ridge_point(989e12, 3.35e12)
    assert "295" in find("ridge point") and round(ridge) == 295
    hours = estimates.gpu_hours(7e9, 1e12, 989e12, 0.4)
    assert "29,500" in find("GPU-hours to train a 7B") and abs(hours - 29_500) / 29_500 < 0.01
    days = estimates.training_time_s(70e9, 2e12, 1024, 989e12, 0.4) / 86400
    assert "24 days" in find("70B model on 2T tokens") and round(days) == 24
    busbw = estimates.allreduce_busbw(200e9, 8) / 1e9
    assert "350 GB/s" in find("algbw 200 GB/s") and busbw == pytest.approx(350)
    bubble = estimates.pipeline_bubble_fraction(4, 16)
    assert "16%" in find("pipeline bubble fraction") and round(100 * bubble) == 16
    tb = 70e9 * estimates.ADAM_MIXED_BYTES_PER_PARAM / 1e12
    assert "1.12 TB" in find("full training checkpoint for a 70B") and tb == pytest.approx(1.12)
    gb = estimates.weights_bytes(70e9) / 1e9
    assert "140 GB" in find("70B model's weights take in BF16") and gb == pytest.approx(140)
    assert "112 GB" in find("training a 7B-parameter model with mixed-precision Adam") and \
        estimates.zero_bytes_per_gpu(7e9, 1, 0) / 1e9 == pytest.approx(112)


def test_gpu_figures_match_the_course_facts_table(questions):
    assert "3.35 TB/s" in _answer(questions, "gpu-007") and "80 GB" in _answer(questions, "gpu-007")
    assert "989" in _answer(questions, "gpu-008") and "1,979" in _answer(questions, "gpu-008")
    assert "141 GB" in _answer(questions, "gpu-009") and "4.8 TB/s" in _answer(questions, "gpu-009")
    assert "192 GB" in _answer(questions, "gpu-011") and "5.3 TB/s" in _answer(questions, "gpu-011")
    assert "32 threads" in _answer(questions, "gpu-002")
    assert "up to 7" in _answer(questions, "gpu-021")


def test_references_are_well_formed():
    refs = tables.references(LESSON)
    assert refs["key"].is_unique
    assert list(refs.columns) == ["key", "title", "publisher", "url", "accessed"]
    for value in refs["accessed"]:
        date.fromisoformat(str(value))


def test_every_source_column_points_at_a_reference():
    keys = set(tables.references(LESSON)["key"].astype(str))
    for name in [f"bank/{lesson}" for lesson in bank.LESSONS] + ["incident_steps", "mock_prompts"]:
        used = set(tables.load(LESSON, name)["source"].astype(str))
        assert used <= keys, (name, used - keys)


def test_practice_quiz_has_six_checked_questions():
    quiz = PracticeQuiz.for_lesson(LESSON)
    assert len(quiz.questions) >= 6
    for index, question in enumerate(quiz.questions):
        quiz.choose(index, question.answer)
        assert quiz.check(index) is True
    assert quiz.score == (len(quiz.questions), len(quiz.questions))
