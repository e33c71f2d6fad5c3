"""A small assignment of the red team's own, graded beside lesson 1 in the catalogue's test course.

It holds one question of every kind the grader's mechanisms serve, so that attacks on those
mechanisms cost seconds, not the minutes a full lesson takes:

- ``q1``: a number from inputs drawn for the student (``variants.Assignment.rng``, shown with ``V.show``);
- ``q2``: a multiple-choice question whose options are shuffled for the student (``V.mcq``);
- ``q3``: a coding task checked on hidden cases drawn with ``V.hidden_rng`` and called through the
  judge, with the course's own functions for the job forbidden (static check and tripwire);
- ``q4``: a coding task whose hidden cases go through ``ck.call``, with the course's function forbidden
  by the static check only (the shape of lesson 7's Q12);
- ``q5``: a YAML manifest parsed and checked by ``infraprep.manifests`` in the hidden test;
- ``q6``: a coding task returning a table, compared with ``ck.frame`` on a hidden table and a hidden ``n``;
- ``q7``: a written answer (markdown, graded by hand): what the formgrader shows the instructor.

The text below is the source notebook in ``scripts/nbtext.py``'s format; :func:`source_notebook` builds
it (cell ids fixed, so every build is the same).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import nbformat

LESSON = "90-redteam"
NB = f"{LESSON}.ipynb"
ROOT = Path(__file__).resolve().parents[2]

TEXT = r'''
# %% [markdown]
# Red-team assignment

Seven short questions; the catalogue of tests/integrity grades attacks on them.

# %% [setup setup_1]
import random
import re

import pandas as pd

from infraprep import checking as ck, estimates, manifests
from infraprep.assessment import variants
from infraprep.practice import incident

V = variants.Assignment("90-redteam")


def rt_timeout_line(host, rank, seq):
    """One ProcessGroupNCCL watchdog timeout line, as torchrun merges them."""
    return (f"{host}: [rank{rank}]:[E0301 10:00:{rank % 60:02d}.000000123 ProcessGroupNCCL.cpp:616] [Rank {rank}] "
            f"Watchdog caught collective operation timeout: WorkNCCL(SeqNum={seq}, OpType=ALLREDUCE, NumelIn=8, "
            f"NumelOut=8, Timeout(ms)=600000) ran for 600012 milliseconds before timing out.")

# %% [readonly q1_prompt]
**Q1 (2 points).** How many GPU-hours does a job use on the GPUs below for the hours below?

# %% [setup q1_inputs]
_r = V.rng("q1")
q1_gpus = _r.randrange(64, 8193, 64)
q1_hours = _r.randrange(24, 721)
V.show("q1", GPUs=q1_gpus, hours=q1_hours)

# %% [answer q1]
q1 = ...
### BEGIN SOLUTION
q1 = q1_gpus * q1_hours
### END SOLUTION

# %% [tests q1_tests points=2]
ck.is_number("Q1", q1, unit="GPU-hours")
### BEGIN HIDDEN TESTS
ck.number("Q1", q1, q1_gpus * q1_hours, rel=1e-6, unit="GPU-hours")
### END HIDDEN TESTS

# %% [readonly q2_prompt]
**Q2 (1 point).** Which statement about optimiser state is right?

# %% [setup q2_options]
q2_mc = V.mcq("q2", [
    "Adam keeps two moment estimates for every parameter",
    "Adam keeps no state between steps",
    "Plain SGD keeps three moment estimates for every parameter",
    "Plain SGD keeps two moment estimates for every parameter",
])
q2_mc

# %% [answer q2]
q2 = ...
### BEGIN SOLUTION
q2 = q2_mc.letter_of("Adam keeps two")
### END SOLUTION

# %% [tests q2_tests points=1]
ck.is_choice("Q2", q2, q2_mc.letters)
### BEGIN HIDDEN TESTS
ck.choice("Q2", q2, q2_mc.letter_of("Adam keeps two"))
### END HIDDEN TESTS

# %% [readonly q3_prompt]
**Q3 (3 points, coding).** Write `silent(text, world_size)`: the sorted ranks of `0 ... world_size - 1`
that never logged a watchdog timeout in the merged log `text`. Write the parsing yourself.

# %% [setup q3_inputs]
_r = V.rng("q3")
q3_world = _r.randrange(8, 33)
q3_log = "\n".join(rt_timeout_line(f"node{r // 8}", r, 7) for r in range(q3_world) if r % 5)

# %% [answer q3]
q3 = ...
### BEGIN SOLUTION
def silent(text, world_size):
    seen = {int(r) for r in re.findall(r"\[Rank (\d+)\] Watchdog caught collective operation timeout", text)}
    return [r for r in range(world_size) if r not in seen]


q3 = silent
### END SOLUTION

# %% [tests q3_tests points=3]
ck.is_callable("Q3", q3)
ck.is_list("Q3", ck.call("Q3", q3, q3_log, q3_world), item=int)
### BEGIN HIDDEN TESTS
_r = V.hidden_rng("q3")
_cases = []
for _ in range(3):
    _world = _r.randrange(8, 48)
    _quiet = set(_r.sample(range(_world), _r.randrange(1, 4)))
    _text = "\n".join(rt_timeout_line(f"node{_k // 8}", _k, _r.randrange(1, 999)) for _k in range(_world) if _k not in _quiet)
    _cases.append(((_text, _world), incident.silent_ranks(_text, _world)))
ck.function_cases("Q3", q3, _cases, name="silent",
                  forbid=["infraprep.practice.incident.silent_ranks", "infraprep.practice.incident.parse_stderr"])
### END HIDDEN TESTS

# %% [readonly q4_prompt]
**Q4 (2 points, coding).** Write `ring(message_bytes, gpus, alpha_s, bandwidth_bytes_s)`: the alpha-beta time of a
ring AllReduce in seconds. Write the formula yourself.

# %% [answer q4]
q4 = ...
### BEGIN SOLUTION
def ring(message_bytes, gpus, alpha_s, bandwidth_bytes_s):
    steps = 2 * (gpus - 1)
    return steps * alpha_s + steps / gpus * message_bytes / bandwidth_bytes_s


q4 = ring
### END SOLUTION

# %% [tests q4_tests points=2]
ck.is_callable("Q4", q4)
ck.is_number("Q4", ck.call("Q4", q4, 1e6, 8, 1e-5, 1e10))
### BEGIN HIDDEN TESTS
ck.function_cases("Q4", q4, [], forbid=["infraprep.estimates.ring_allreduce_time_s"])
_r = V.hidden_rng("q4")
for _ in range(3):
    _args = (_r.randrange(10**5, 10**9), _r.choice([8, 16, 64, 512]), _r.randrange(1, 50) * 1e-6, _r.choice([25e9, 50e9, 100e9]))
    ck.number("Q4", ck.call("Q4", q4, *_args), estimates.ring_allreduce_time_s(*_args), rel=1e-6)
### END HIDDEN TESTS

# %% [readonly q5_prompt]
**Q5 (2 points).** Write a `Pod` manifest, as a YAML string, with one container that requests 4 GPUs and
tolerates the taint `gpu=a100:NoSchedule`.

# %% [answer q5]
q5 = ...
### BEGIN SOLUTION
q5 = """
apiVersion: v1
kind: Pod
metadata:
  name: trainer
spec:
  tolerations:
    - key: gpu
      operator: Equal
      value: a100
      effect: NoSchedule
  containers:
    - name: train
      image: nvcr.io/nvidia/pytorch:24.08-py3
      resources:
        limits:
          nvidia.com/gpu: 4
"""
### END SOLUTION

# %% [tests q5_tests points=2]
ck.is_text("Q5", q5)
### BEGIN HIDDEN TESTS
_summary = manifests.grade_gpu_workload("Q5", q5, gpus_per_pod=4, taint="gpu=a100:NoSchedule")
ck.equal("Q5", _summary["gpus_per_pod"], 4, what="the GPUs per pod")
### END HIDDEN TESTS

# %% [readonly q6_prompt]
**Q6 (1 point, coding).** Write `largest(table, n)`: the `n` rows of a table with columns `name` and `gpus`
that have the most GPUs, most first (ties by name), columns `name` and `gpus`, rows numbered 0, 1, ...

# %% [answer q6]
q6 = ...
### BEGIN SOLUTION
def largest(table, n):
    ordered = table.sort_values(["gpus", "name"], ascending=[False, True])
    return ordered[["name", "gpus"]].head(n).reset_index(drop=True)


q6 = largest
### END SOLUTION

# %% [tests q6_tests points=1]
ck.is_callable("Q6", q6)
_shown = ck.call("Q6", q6, pd.DataFrame({"name": ["a", "b", "c"], "gpus": [8, 64, 16]}), 2)
### BEGIN HIDDEN TESTS
_r = V.hidden_rng("q6")
_n = _r.randrange(3, 10)
_table = pd.DataFrame({"name": [f"job{_k:02d}" for _k in range(12)], "gpus": [_r.choice([8, 16, 32, 64, 128]) for _k in range(12)]})
_want = _table.sort_values(["gpus", "name"], ascending=[False, True]).head(_n).reset_index(drop=True)
ck.frame("Q6", ck.call("Q6", q6, _table.copy(), _n), _want, check_order=True)
### END HIDDEN TESTS

# %% [readonly q7_prompt]
**Q7 (2 points, written; graded by hand).** In two sentences: why does a checkpoint matter for a long job?

# %% [written q7 points=2]
### BEGIN SOLUTION
A failure without a checkpoint throws away every step since the start; with one, only the steps since it.
### END SOLUTION
'''


@lru_cache(maxsize=1)
def _nbtext():
    spec = importlib.util.spec_from_file_location("nbtext", ROOT / "scripts" / "nbtext.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def source_notebook() -> nbformat.NotebookNode:
    """The instructor's notebook of the red-team assignment (same cell ids every time)."""
    nb = _nbtext().build(TEXT.strip() + "\n")
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"rt{index:04d}"
    return nb


def write_source(course: Path) -> Path:
    """Put the assignment's source into a course directory (``source/90-redteam/90-redteam.ipynb``)."""
    folder = course / "source" / LESSON
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NB
    nbformat.write(source_notebook(), str(path))
    return path
