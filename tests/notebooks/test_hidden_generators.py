"""Hidden tests that build their cases from a state they simulate must build valid cases for every
student's seed, not only for the ids the round trips use: a generator that raises for some seeds would
cost those students the question. Lesson 8's Q14 (paged-KV allocation) simulates several steps of a
block allocator; its case builder is run here for many seeds, with the answer checks stubbed out."""

from __future__ import annotations

import random
import types

import builders as b

SEEDS = range(200)


def _hidden_part(assignment: str, question: str) -> str:
    cell = next(c for c in b.source_nb(assignment).cells if b.grade_id(c) == f"{question}_tests")
    return cell.source.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS", 1)[0]


def test_lesson_8_q14_builds_valid_allocator_cases_for_every_seed():
    code = compile(_hidden_part("08-inference", "q14"), "q14 hidden tests", "exec")
    built = []
    for seed in SEEDS:
        rng = random.Random(seed)
        ck = types.SimpleNamespace(function_cases=lambda q, f, cases, **kw: built.append(len(cases)))
        exec(code, {"V": types.SimpleNamespace(hidden_rng=lambda _q, rng=rng: rng), "ck": ck, "q14": None})
    assert built == [40] * len(SEEDS)
