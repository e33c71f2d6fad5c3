"""Submit -> feedback latency of grading on submit (`infraprep watch`) on a real JupyterHub.

Sets up a hub the way the end-to-end test does (`infraprep hub setup` on a loopback port, the Unix
users `instructor` and `hubstudent1..3`, prefix /opt/infraprep-hub-test) with a cohort of its own,
`hubbench`, and no attempt limit. The instructor releases lesson 1; then, ``--submissions`` times
(default 10), one after the other, a student saves an answered notebook in their server and presses
Submit (the server's nbgrader endpoint), and presses Fetch Feedback every quarter second until the
page of *that* submission, with its score, is in their folder. The latency is the time from the
Submit request to that page. Prints every latency, the median and the worst, and writes them to
``artifacts/hub/watch-latency.json``. The hub is stopped at the end and the benchmark's cohort removed
(its folders, its exchange course and its entry in the hub's settings).

    sudo .venv/bin/python benchmarks/watch_latency.py [--submissions 10]

Needs root (it creates Unix users), like `make test-hub`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import pwd
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "hub")]

import builders as b  # noqa: E402
import test_hub_e2e as e2e  # noqa: E402  (the hub test's client: tokens, servers, nbgrader endpoints)

COHORT = "hubbench"
COURSE_ID = f"{os.environ.get('INFRAPREP_COURSE_ID', 'ai-infra-prep')}-{COHORT}"
LESSON = e2e.LESSON
STUDENTS = ["hubstudent1", "hubstudent2", "hubstudent3"]


def _forget_previous_run() -> None:
    """This benchmark's cohort, gone from the test hub: its folders, its exchange course, its entry in
    hub.json (so the end-to-end test's students see only their own cohorts)."""
    e2e._infraprep("hub", "stop", "--prefix", str(e2e.PREFIX))
    settings = e2e.PREFIX / "etc" / "hub.json"
    if settings.exists():
        data = json.loads(settings.read_text())
        if data.get("cohorts", {}).pop(COHORT, None) is not None:
            settings.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    for name in (e2e.INSTRUCTOR, *STUDENTS):
        try:
            home = Path(pwd.getpwnam(name).pw_dir)
        except KeyError:
            continue
        shutil.rmtree(home / COURSE_ID, ignore_errors=True)
        shutil.rmtree(home / ".local" / "share" / "jupyter" / "nbgrader_cache" / COURSE_ID, ignore_errors=True)
        if name == e2e.INSTRUCTOR:
            shutil.rmtree(home / "course" / "cohorts" / COHORT, ignore_errors=True)
    shutil.rmtree(e2e.EXCHANGE / COURSE_ID, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=10)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("run as root: the benchmark creates Unix users and a JupyterHub", file=sys.stderr)
        return 2
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "infraprep-watch-bench"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tmp.chmod(0o755)
    roster = b.write_roster(tmp / "roster.csv", STUDENTS)
    _forget_previous_run()
    port = e2e._free_ports()
    began = time.monotonic()
    e2e._infraprep("hub", "setup", "--roster", str(roster), "--cohort", COHORT, "--prefix", str(e2e.PREFIX),
                   "--exchange", str(e2e.EXCHANGE), "--instructor", e2e.INSTRUCTOR, "--ip", "127.0.0.1",
                   "--port", str(port), "--start")
    print(f"hub set up and started in {time.monotonic() - began:.0f} s")
    hub = e2e.Hub(port)
    latencies: list[float] = []
    try:
        users = [e2e.INSTRUCTOR, *STUDENTS]
        for user in users:
            hub.login(user)
        hub.start_servers(users)
        course_dir = Path(pwd.getpwnam(e2e.INSTRUCTOR).pw_dir) / "course"
        cohort_dir = course_dir / "cohorts" / COHORT
        e2e._instructor_runs(hub, course_dir, "release", "--cohort", COHORT, LESSON)
        for student in STUDENTS:
            r = hub.post(student, "/assignments/fetch", data={"course_id": COURSE_ID, "assignment_id": LESSON})
            assert r.status_code == 200 and r.json().get("success"), r.text[:300]
        answers = b.answer_ids(b.source_nb(LESSON))
        points = b.test_cells(b.source_nb(LESSON))
        for i in range(args.submissions):
            student = STUDENTS[i % len(STUDENTS)]
            correct = "all" if i % 2 == 0 else answers[: (i % len(answers)) + 1]
            answered = set(answers) if correct == "all" else set(correct)
            score = sum(p for cell, p in points.items() if cell.removesuffix("_tests") in answered)
            path = f"/api/contents/{COURSE_ID}/{LESSON}/{LESSON}.ipynb"
            r = hub.sessions[student].put(hub.server(student) + path, timeout=60, json={
                "type": "notebook", "format": "json", "content": b.submission(LESSON, correct=correct)})
            assert r.status_code in (200, 201), r.text[:300]
            before = set(e2e.fetched_pages(hub, student, LESSON, COURSE_ID))
            start = time.monotonic()
            r = hub.post(student, "/assignments/submit", data={"course_id": COURSE_ID, "assignment_id": LESSON})
            assert r.status_code == 200 and r.json().get("success"), r.text[:300]
            while True:
                pages = e2e.fetched_pages(hub, student, LESSON, COURSE_ID)
                new = [stamp for stamp in pages if stamp not in before]
                if new:
                    break
                if time.monotonic() - start > 300:
                    raise AssertionError(f"no feedback after 300 s; watcher status:\n"
                                         f"{(cohort_dir / '.infraprep-watch-status.json').read_text()}")
                time.sleep(0.25)
            seconds = time.monotonic() - start
            text = e2e._visible(pages[new[0]])
            assert f"Score: {score:.1f}" in text, f"submission {i + 1}: the page does not show {score}"
            latencies.append(round(seconds, 2))
            print(f"submission {i + 1:2d} ({student}, score {score:g}): feedback after {seconds:.1f} s", flush=True)
    finally:
        _forget_previous_run()
    median, worst = statistics.median(latencies), max(latencies)
    result = {"date": dt.date.today().isoformat(), "command": "sudo .venv/bin/python benchmarks/watch_latency.py",
              "cores": os.cpu_count(), "machine": platform.machine(), "submissions": len(latencies),
              "latencies_s": latencies, "median_s": median, "worst_s": worst}
    out = ROOT / "artifacts" / "hub"
    out.mkdir(parents=True, exist_ok=True)
    (out / "watch-latency.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"submit -> feedback over {len(latencies)} submissions: median {median:.1f} s, worst {worst:.1f} s "
          f"({os.cpu_count()} cores); target: median <= 15 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
