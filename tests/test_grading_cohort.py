"""The whole cohort round trip through the `infraprep` command, on SQLite and on PostgreSQL:
cohort create -> release -> students fetch and submit through the exchange -> collect (missing, late)
-> autograde -> feedback (no hidden-test line anywhere) -> export (CSV) -> report (HTML + PNG)."""

from __future__ import annotations

import csv
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

import builders as b
from infraprep.grading.course import normalize_db_url

LESSON = "01-roles"
COURSE_ID = "ai-infra-prep"


# ---------------------------------------------------------------- a throwaway PostgreSQL on loopback

def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    path = Path(found[-1]) if found else (Path(shutil.which("initdb")) if shutil.which("initdb") else None)
    if path is None:
        pytest.fail("PostgreSQL is not installed: `make system-deps` installs Debian's postgresql")
    return path.resolve().parent


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL cluster of its own (trust auth, loopback only, a free port), stopped afterwards."""
    bindir = _pg_bin()
    base = Path(tempfile.mkdtemp(prefix="infraprep-pg-"))
    base.chmod(0o755)
    data, sockets = base / "data", base / "run"
    sockets.mkdir()
    runas = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
        runas = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *cmd: subprocess.run([*runas, *cmd], check=True, capture_output=True, text=True, timeout=120)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off -c full_page_writes=off"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "-t", "60", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*runas, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def new_database(server: str, name: str) -> str:
    import psycopg2

    conn = psycopg2.connect(f"{server}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return f"{server}/{name}"


# ---------------------------------------------------------------- the round trip

def cohort_round_trip(tmp_path: Path, db_url: str | None) -> None:
    course = b.new_course(tmp_path, [LESSON])
    b.add_course_config(course, "c.SafeCollect.clock_slack = 10**9  # the submissions below are played in the past")
    exchange = tmp_path / "exchange"
    roster = b.write_roster(tmp_path / "roster.csv", ["ann", "bob", "cat", "dan"])
    args = ["--db", db_url] if db_url else []
    out = b.infraprep(course, "cohort", "create", "spring", "--roster", str(roster), *args).stdout
    assert "4 students" in out
    cohort = course / "cohorts" / "spring"
    (cohort / "schedule.csv").write_text(f"lesson,due\n{LESSON},2026-01-15 12:00:00\n")
    spring = ["--cohort", "spring"]

    assert f"released {LESSON}" in b.infraprep(course, "release", *spring).stdout
    cid = f"{COURSE_ID}-spring"
    assert (exchange / cid / "outbound" / LESSON / f"{LESSON}.ipynb").exists()

    homes = tmp_path / "homes"
    b.student_submit(exchange, cid, "ann", LESSON, b.submission(LESSON, "all"), homes / "ann",
                     when="2026-01-15 10:00:00 UTC")
    b.student_submit(exchange, cid, "bob", LESSON, b.submission(LESSON), homes / "bob", when="2026-01-16 00:00:00 UTC")
    b.student_submit(exchange, cid, "cat", LESSON, "{ not json", homes / "cat", when="2026-01-15 11:00:00 UTC")

    collected = b.infraprep(course, "collect", *spring).stdout
    assert f"{LESSON}: 3 submitted, 1 missing, 1 late" in collected
    assert "missing: dan" in collected and "late: bob (12.0 h" in collected

    graded = b.infraprep(course, "autograde", *spring, "--workers", "2").stdout
    assert "autograded 2 notebook(s)" in graded and "1 problem(s)" in graded
    assert f"cat / {LESSON} / {LESSON}: not a notebook" in graded

    db = normalize_db_url(db_url) if db_url else f"sqlite:///{cohort / 'gradebook.db'}"
    tests = b.test_cells(b.source_nb(LESSON))
    got = b.gradebook_scores(db, LESSON, cid)
    assert got["ann"] == tests
    assert got["bob"] == {t: 0.0 for t in tests} and got["cat"] == {t: 0.0 for t in tests}
    assert "dan" not in got
    assert not (course / "gradebook.db").exists(), "the cohort must not write the course's own gradebook"

    fb = b.infraprep(course, "feedback", *spring).stdout
    assert "2 feedback page(s)" in fb
    pages = sorted((cohort / "feedback").rglob("*.html"))
    assert {p.parts[-3] for p in pages} == {"ann", "bob"}
    released = sorted((exchange / cid / "feedback").glob("*.html"))
    assert len(released) == 2
    secrets = b.hidden_lines(LESSON)
    assert secrets
    for page in pages + released:
        text = b.visible_text(page)
        leaked = [line for line in secrets if line in text]
        assert not leaked, f"{page} shows hidden-test lines: {leaked[:3]}"
        assert "HIDDEN TESTS" not in text.replace("hidden tests ran here", "")
    bob_page = b.visible_text(cohort / "feedback" / "bob" / LESSON / f"{LESSON}.html")
    assert "NotImplementedError" in bob_page, "feedback shows the student's own errors"

    b.infraprep(course, "export", *spring, "-o", str(tmp_path / "grades.csv"))
    with (tmp_path / "grades.csv").open() as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle)}
    assert list(next(iter(rows.values()))) == ["student_id", "name", "email", LESSON, "total"]
    assert set(rows) == {"ann", "bob", "cat", "dan"}
    assert float(rows["ann"][LESSON]) == float(rows["ann"]["total"]) == sum(tests.values())
    assert float(rows["dan"]["total"]) == 0 and rows["dan"]["email"] == "dan@example.org"

    # the same grades in the import formats of Canvas and Moodle
    b.infraprep(course, "export", *spring, "--format", "canvas", "-o", str(tmp_path / "canvas.csv"))
    with (tmp_path / "canvas.csv").open() as handle:
        canvas = list(csv.reader(handle))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", LESSON]
    max_points = sum(float(b.meta(c)["points"]) for c in b.source_nb(LESSON).cells if b.meta(c).get("grade"))
    assert canvas[1] == ["Points Possible", "", "", "", "", f"{max_points:g}"]
    ann = next(r for r in canvas if r[2] == "ann")
    assert ann == ["Ann, Student", "", "ann", "ann@example.org", "spring", f"{sum(tests.values()):g}"]
    b.infraprep(course, "export", *spring, "--format", "moodle", "-o", str(tmp_path / "moodle.csv"))
    with (tmp_path / "moodle.csv").open() as handle:
        moodle = {r["ID number"]: r for r in csv.DictReader(handle)}
    assert list(moodle["dan"]) == ["First name", "Last name", "ID number", "Email address", LESSON]
    assert moodle["ann"]["Email address"] == "ann@example.org" and float(moodle["ann"][LESSON]) == sum(tests.values())

    b.infraprep(course, "report", *spring, "-o", str(tmp_path / "report"))
    page = (tmp_path / "report" / "report.html").read_text()
    for png in ("scores.png", f"questions-{LESSON}.png", f"items-{LESSON}.png", "missing-late.png"):
        assert (tmp_path / "report" / png).stat().st_size > 1000 and f'src="{png}"' in page
    assert "dan" in page and "bob" in page
    # read at a glance: questions as students see them, autograded points apart from written answers
    assert "Q1 · " in page and "q1_tests" not in page.split("<h2>")[0]
    auto = sum(tests.values())
    assert f"{auto / 3:.1f} / {auto:g}" in page, "the mean of ann (all), bob and cat (zero): autograded points only"
    assert "not graded yet" in page and "not a notebook" in page
    with (tmp_path / "report" / "items.csv").open() as handle:
        items = list(csv.DictReader(handle))
    assert [r["grade_cell"] for r in items][:len(tests)] == list(tests)
    fragment = (tmp_path / "report" / "fragment.html").read_text()
    assert fragment.startswith('<div class="infraprep-report"') and "<html" not in fragment
    assert fragment.count('src="data:image/png;base64,') == page.count('<img src=')

    # a second cohort lives beside the first without mixing grades
    other = b.write_roster(tmp_path / "fall.csv", ["zed"])
    b.infraprep(course, "cohort", "create", "fall", "--roster", str(other))
    b.infraprep(course, "export", "--cohort", "fall", "-o", str(tmp_path / "fall.csv"))
    with (tmp_path / "fall.csv").open() as handle:
        fall = list(csv.DictReader(handle))
    assert [r["student_id"] for r in fall] == ["zed"] and float(fall[0]["total"]) == 0


@pytest.mark.roundtrip
def test_cohort_round_trip_sqlite(tmp_path):
    cohort_round_trip(tmp_path, None)


@pytest.mark.roundtrip
def test_cohort_round_trip_postgresql(tmp_path, postgres):
    cohort_round_trip(tmp_path, new_database(postgres, "spring_gradebook"))


def test_bad_roster_creates_no_cohort(tmp_path):
    course = b.new_course(tmp_path, [LESSON])
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email\nann,Ann,ann@x.org\nann,Ann Again,ann2@x.org\n")
    run = b.infraprep(course, "cohort", "create", "spring", "--roster", str(roster), check=False)
    assert run.returncode == 1
    assert "line 3" in run.stderr and "duplicate id 'ann'" in run.stderr
    assert not (course / "cohorts" / "spring").exists()
