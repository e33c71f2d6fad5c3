"""Red team on the grader's own work (classes 8 and 11 of tests/integrity/redteam.py), at the judge's boundary.

What a kernel sends the judge is plain data (:mod:`infraprep.grading.kernelcodec`), but its size and
shape are the student's to choose: each attempt below sends the judge exactly what a kernel can send
(a fetched answer, a call's result, a reply), and checks that the grader's cost stays bounded and
that the next student on the same worker is graded as if nobody had been there before.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from infraprep.grading import judgeproc, kernelcodec

SETUP = ["import pandas as pd\nfrom infraprep import checking as ck, tables"]
Q1 = 'ck.is_choice("Q1", q1, "ABCD")\nck.choice("Q1", q1, "B")'


def job(student: str, fetched: list, code: str = Q1, setup: list[str] = SETUP) -> dict:
    """One test cell's job, as JudgedExecute._judge_one sends it."""
    return {"assignment": "01-roles", "student": student, "secret": "", "setup": list(setup), "grade_id": "q1_tests",
            "code": code, "fetched": fetched}


def test_one_notebook_cannot_exhaust_the_judge_for_the_next_student():
    """Every type name a kernel reports becomes a class in the judge's process (kernelcodec.foreign keeps
    them in _FOREIGN for ever), and the judge's process serves the worker's whole cohort. A notebook
    whose answers hold 100,000 objects of distinct classes a test cell drives the judge to its memory
    limit; there a set-up that needs 30 MB fails, and JudgedExecute takes a failing set-up for a broken
    environment: grading stops for everyone (GradingEnvironmentError)."""
    judge = judgeproc.JudgeProcess(1024**3)  # a smaller limit than the course's 3 GiB, reached sooner
    try:
        for cell in range(8):  # bounded: the limit is reached after about four
            bloat = [["q1", {"t": "list", "v": [{"t": "other", "type": f"K{cell}x{i}"} for i in range(100_000)]}]]
            verdict, _ = judge.run(job("attacker", bloat), lambda request: None, 60)
            if verdict["status"] in ("limit", "crash"):
                break
        honest = [["q1", {"t": "str", "v": "B"}]]
        setup = SETUP + ["_table = bytearray(30 * 2**20)  # the course's tables, say"]
        verdict, _ = judge.run(job("next-student", honest, setup=setup), lambda request: None, 60)
    finally:
        judge.kill()
    assert verdict["status"] == "pass", (
        f"the next student's honest answer got {verdict} after another student's notebook filled the judge "
        "('setup' stops the whole cohort as a broken environment)")


def test_a_yaml_alias_bomb_costs_the_judge_one_cell_and_no_more():
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    manifest = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: bomb\nspec:\n  " + "\n  ".join(bomb) +
                "\n  containers:\n  - name: x\n    image: y\n    resources:\n      limits:\n        nvidia.com/gpu: *a11\n")
    code = ('from infraprep import manifests\n'
            '_summary = manifests.grade_gpu_workload("Q5", q5, gpus_per_pod=4, taint="gpu=a100:NoSchedule")')
    judge = judgeproc.JudgeProcess()
    try:
        job_ = dict(job("bomber", [["q5", {"t": "str", "v": manifest}]], code), grade_id="q5_tests")
        started = time.monotonic()
        verdict, used = judge.run(job_, lambda request: None, 3.0)
        elapsed = time.monotonic() - started
        after, _ = judge.run(job("next-student", [["q1", {"t": "str", "v": "B"}]]), lambda request: None, 20)
    finally:
        judge.kill()
    # stopped by the judge's limit, or refused by the course's bounded YAML loader (manifests.load_yaml):
    # either way the one question scores zero
    assert verdict["status"] in ("limit", "fail"), verdict
    assert elapsed < 3.0 + 10, f"the judge spent {elapsed:.0f} s on one cell whose limit is 3 s"
    assert after["status"] == "pass", after


def test_a_deeply_nested_reply_is_refused_by_the_host_not_raised_through_it():
    """A kernel whose notebook rebinds exec answers the judge's user expressions itself: its reply can be
    any text. The host decodes it in the worker (kernelcodec.parse_expression), where a RecursionError
    escapes and fails the whole notebook instead of the one answer."""
    nonce = "@@infraprep-" + "0" * 24 + "@@"
    deep = nonce + '{"t": "many", "v": [["q2", ' + '{"t": "list", "v": [' * 100_000 + "]}" * 100_000 + "]]}"
    result = {"status": "ok", "data": {"text/plain": repr(deep)}}
    try:
        tree = kernelcodec.parse_expression(result, nonce)
    except RecursionError:
        pytest.fail("a nested reply raised RecursionError in the grader's worker (the notebook fails as a whole)")
    assert tree is None or type(tree) is dict


@pytest.mark.skipif(not __import__("infraprep.grading.sandbox", fromlist=["x"]).available(),
                    reason="the grading kernel runs under bubblewrap")
@pytest.mark.xfail(strict=True, reason="known limit (docs/grading-integrity.md): a kernel's reply is received and "
                   "decoded whole before any cap sees it, so one 150 MB reply costs the grader's worker about 350 MiB "
                   "for that notebook; bounding it needs a relay process with its own memory limit")
def test_a_kernels_oversized_reply_costs_the_grader_no_more_memory_than_its_caps():
    """The byte caps count a message once the grader has received and decoded it: a 150 MB execute reply
    (payloads are not output, so no cap counts them at all) is held in the grader's worker several times
    over before anything looks at its size. The grader's memory must stay bounded by what it keeps."""
    script = textwrap.dedent('''
        import resource, sys, tempfile
        import nbformat
        from traitlets.config import Config
        from infraprep.grading.judge import JudgedExecute
        size = int(sys.argv[1])
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        code = ('get_ipython().payload_manager.write_payload({"source": "page", "data": {"text/plain": "p" * %d}, '
                '"start": 0})' % size) if size else "1"
        nb.cells = [nbformat.v4.new_code_cell(code)]
        cfg = Config()
        cfg.JudgedExecute.preflight = False
        cfg.JudgedExecute.timeout = 120
        resources = {"nbgrader": {"student": "s1", "assignment": "x", "notebook": "x"},
                     "metadata": {"path": tempfile.mkdtemp(), "name": "x"},
                     "infraprep": {"trusted_cells": {"tests": {}, "setup": []}}}
        JudgedExecute(config=cfg).preprocess(nb, resources)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    ''')

    def peak(size: int) -> int:
        done = subprocess.run([sys.executable, "-c", script, str(size)], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return int(done.stdout.split()[-1])

    grown = peak(150_000_000) - peak(0)
    assert grown < 100, f"a kernel's 150 MB reply made the grader's worker {grown} MiB larger"
