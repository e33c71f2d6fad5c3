"""Autograding on a Dask cluster (infraprep.grading.executors.DaskExecutor): a real
dask.distributed LocalCluster of worker processes over loopback TCP gives the expected scores."""

from __future__ import annotations

import os

import pytest

import builders as b
from infraprep.grading.coordinator import autograde
from infraprep.grading.course import Course

LESSON = "01-roles"


@pytest.mark.roundtrip
def test_autograde_on_a_dask_local_cluster(tmp_path, monkeypatch):
    from distributed import Client, LocalCluster

    course = b.new_course(tmp_path, [LESSON])
    b.nbgrader(course, "generate_assignment", LESSON, "--force")
    students = {"ann": b.submission(LESSON, "all"), "bob": b.submission(LESSON), "cy": b.submission(LESSON, "all"),
                "dee": "not json at all"}
    for student, nb in students.items():
        b.submit(course, student, LESSON, nb)
    for key, value in b.nbgrader_env(course).items():
        if key.startswith("INFRAPREP_"):
            monkeypatch.setenv(key, value)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        worker_pids = set(client.run(os.getpid).values())
        assert len(worker_pids) == 2 and os.getpid() not in worker_pids
        summary = autograde(Course(course), scheduler=cluster.scheduler_address, progress=False)
        # each worker keeps its kernel pool between tasks: the pay-once cost is paid once a worker
        pools = client.run(lambda: __import__("infraprep.grading.executors", fromlist=["x"])._DASK_POOL is not None)

    assert summary.executor == f"Dask cluster at {cluster.scheduler_address}"
    assert summary.graded == 3 and [p.student for p in summary.problems] == ["dee"]
    assert any(pools.values())
    tests = b.test_cells(b.source_nb(LESSON))
    got = b.scores(course, LESSON)
    assert got["ann"] == got["cy"] == tests
    assert got["bob"] == got["dee"] == {t: 0.0 for t in tests}
