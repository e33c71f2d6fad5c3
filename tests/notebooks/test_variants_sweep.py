"""For many student ids in every assignment, the instructor's solutions pass every hidden test and no
wrong answer or typical mistake passes one (variants_sweep.py; its command line runs the deep sweep
of 1,000 ids an assignment)."""

from __future__ import annotations

import pytest

import builders as b

from . import variants_sweep

STUDENTS = 30  # the suite's share; each id is a fresh draw of every question's inputs and hidden cases


@pytest.mark.parametrize("assignment", b.assignments())
def test_every_students_variant_is_answerable(assignment, tmp_path, monkeypatch):
    monkeypatch.setenv("INFRAPREP_HOME", str(tmp_path))
    failed = variants_sweep.sweep(assignment, variants_sweep.student_ids(STUDENTS, start=10_000))
    assert not failed, f"{assignment}: the solutions fail for some students: {failed}"


@pytest.mark.parametrize("assignment", b.assignments())
def test_no_wrong_answer_or_typical_mistake_passes_for_any_student(assignment, tmp_path, monkeypatch):
    # the round trips try each mistake for one student; a tolerance can be tight for most draws and
    # loose for some (a factor that is 1 for some inputs, a mistake that lands inside the tolerance)
    monkeypatch.setenv("INFRAPREP_HOME", str(tmp_path))
    for mistakes in variants_sweep.mistake_sets(assignment):
        passed = variants_sweep.accepted(assignment, variants_sweep.student_ids(STUDENTS, start=20_000), mistakes)
        assert not passed, f"{assignment}: these answers passed their hidden test for some students: {passed}"


def test_the_sweep_names_the_question_and_the_students_it_fails_for(tmp_path, monkeypatch):
    monkeypatch.setenv("INFRAPREP_HOME", str(tmp_path))
    first = b.answer_ids(b.source_nb("01-roles"))[0]
    failed = variants_sweep.sweep("01-roles", ["ann", "bob"], replace={first: f"{first} = 'not an answer'"})
    assert list(failed) == [f"{first}_tests"] and [e.split(":")[0] for e in failed[f"{first}_tests"]] == ["ann", "bob"]
    # and a "mistake" that is in fact the solution is named as accepted, for each student
    solution = next(c.source for c in b.source_nb("01-roles").cells if b.grade_id(c) == first)
    assert variants_sweep.accepted("01-roles", ["ann", "bob"], {first: solution}) == {first: ["ann", "bob"]}


def test_a_float_artefact_of_the_right_formula_still_counts():
    # assignment 3's Q10 (an expert's capacity): for about 1 student in 150, k·T/E·f is a whole number
    # that the natural formula computes a hair above, so it rounded up once more and was marked wrong
    failed = variants_sweep.sweep("03-distributed", [f"sweep{n:05d}" for n in (249, 482)])
    assert not failed, failed
