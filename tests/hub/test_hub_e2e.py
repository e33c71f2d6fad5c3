"""A whole cohort on a real JupyterHub, with real Unix users, driven through the hub's REST API.

`infraprep hub setup` (the instructor's one command) sets the hub up on a loopback port with the
course's configuration (deploy/jupyterhub_config.py) and the users `instructor`, `hubstudent1..3`,
then starts it. Through the hub's REST API the test creates a token for each user and starts their
servers (LocalProcessSpawner: each server runs as its own Unix user); then, only through those
servers and the hub's proxy:

- the instructor, in a kernel of their own server, runs `infraprep release` (lesson 1);
- each student lists and fetches it with nbgrader's assignment-list endpoints, writes their answers
  with the Jupyter contents API (all correct, half correct, blank) and submits;
- the hub's watcher (`infraprep watch`, a service of the hub running as the instructor) grades each
  submission as it arrives and releases its feedback: each student fetches it and sees their score
  and how many attempts remain (the cohort's schedule allows two);
- the instructor runs `infraprep collect`, `infraprep autograde` and `infraprep feedback` by hand as
  well (they take turns with the watcher on the gradebook);
- each student fetches their feedback; a second submission is graded on submit and says no attempt
  remains, a third is kept and not graded;
- on lesson 2 (questions with per-student variants) a student's notebook shows the inputs the grader
  then expects: the answers computed from them score full marks.

Then it checks the exact scores in the cohort's gradebook, that each student received their own
feedback and nobody else's, that a student can neither find another student's submission nor read
the instructor's `source/`, nor reach another user's server, that only the instructor's server has
the formgrader, that running the setup again changes no account and loses no submission, and that
`infraprep hub stop` leaves no hub, proxy or user server running and no port open.

Needs root (it creates Unix users). Not root: skipped with a loud reason, or failed when CI is set.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import builders as b

pytestmark = pytest.mark.hub

PREFIX = Path(os.environ.get("INFRAPREP_HUB_TEST_PREFIX", "/opt/infraprep-hub-test"))
EXCHANGE = PREFIX / "exchange"
COHORT = "hubtest"
COURSE_ID = f"{os.environ.get('INFRAPREP_COURSE_ID', 'ai-infra-prep')}-{COHORT}"
SECOND = "hubtestb"  # a second cohort on the same hub: only hubstudent3 is in it
SECOND_ID = f"{os.environ.get('INFRAPREP_COURSE_ID', 'ai-infra-prep')}-{SECOND}"
LESSON = "01-roles"
VARIANT_LESSON = "02-gpu"
INSTRUCTOR = "instructor"
ANSWERS = b.answer_ids(b.source_nb(LESSON))
STUDENTS = {  # who answers what
    "hubstudent1": "all",
    "hubstudent2": ANSWERS[: len(ANSWERS) // 2],
    "hubstudent3": [],
}
TIMINGS: dict[str, float] = {}
ARTIFACTS = b.ROOT / "artifacts" / "hub"


def _require_root() -> None:
    if os.geteuid() == 0:
        return
    message = ("THE JUPYTERHUB END-TO-END TEST DID NOT RUN: it must run as root (it creates the Unix users "
               "instructor, hubstudent1..3 and starts a hub). Run `sudo make test-hub`.")
    print(f"\n*** {message} ***\n", file=sys.stderr)
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _free_ports() -> int:
    """A port P with P, P+1, P+2 free on loopback (public, hub API, proxy API)."""
    for _ in range(200):
        base = random.randint(20000, 40000)
        ok = True
        for port in (base, base + 1, base + 2):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no three free consecutive ports")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _infraprep(*args: str, timeout: float = 900) -> str:
    proc = subprocess.run([str(b.BIN / "infraprep"), *args], cwd=b.ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"infraprep {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _timed(name: str):
    class Timer:
        def __enter__(self):
            self.t = time.monotonic()

        def __exit__(self, *exc):
            TIMINGS[name] = round(time.monotonic() - self.t, 1)
    return Timer()


def _forget_previous_run() -> None:
    """Leftovers of an earlier run of this test only: its cohort, its course in the exchange, what its
    students fetched. (The accounts and the hub's environment stay: setup reuses them.)"""
    _infraprep("hub", "stop", "--prefix", str(PREFIX))
    for name in (INSTRUCTOR, *STUDENTS):
        try:
            home = Path(pwd.getpwnam(name).pw_dir)
        except KeyError:
            continue
        for cohort, course_id in ((COHORT, COURSE_ID), (SECOND, SECOND_ID)):
            shutil.rmtree(home / course_id, ignore_errors=True)
            shutil.rmtree(home / ".local" / "share" / "jupyter" / "nbgrader_cache" / course_id, ignore_errors=True)
            if name == INSTRUCTOR:
                shutil.rmtree(home / "course" / "cohorts" / cohort, ignore_errors=True)
    for course_id in (COURSE_ID, SECOND_ID):
        shutil.rmtree(EXCHANGE / course_id, ignore_errors=True)


class Hub:
    def __init__(self, port: int):
        import requests

        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.admin = requests.Session()
        self.admin.headers["Authorization"] = "token " + (PREFIX / "state" / "api_token").read_text().strip()
        self.sessions: dict[str, requests.Session] = {}
        self.tokens: dict[str, str] = {}

    def api(self, method: str, path: str, **kwargs):
        r = self.admin.request(method, f"{self.url}/hub/api{path}", timeout=60, **kwargs)
        assert r.status_code < 400, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r.json() if r.text else None

    def login(self, user: str):
        """A hub API token of the user's own (made by the admin service), as a requests session."""
        import requests

        token = self.api("POST", f"/users/{user}/tokens", json={"note": "hub e2e test", "expires_in": 3600})["token"]
        s = requests.Session()
        s.headers["Authorization"] = f"token {token}"
        self.sessions[user], self.tokens[user] = s, token
        return s

    def start_servers(self, users: list[str], timeout: float = 180) -> None:
        for user in users:
            r = self.sessions[user].post(f"{self.url}/hub/api/users/{user}/server", timeout=60)
            assert r.status_code in (201, 202), f"starting {user}'s server: {r.status_code} {r.text[:300]}"
        deadline = time.monotonic() + timeout
        waiting = set(users)
        while waiting and time.monotonic() < deadline:
            for user in sorted(waiting):
                model = self.api("GET", f"/users/{user}")
                server = model["servers"].get("")
                if server and server.get("ready"):
                    waiting.discard(user)
            time.sleep(0.5)
        assert not waiting, f"servers not ready after {timeout} s: {sorted(waiting)}\n{_hub_log()}"

    def server(self, user: str) -> str:
        return f"{self.url}/user/{user}"

    def get(self, user: str, path: str, **kwargs):
        return self.sessions[user].get(self.server(user) + path, timeout=120, **kwargs)

    def post(self, user: str, path: str, **kwargs):
        return self.sessions[user].post(self.server(user) + path, timeout=600, **kwargs)

    def assignments(self, user: str, action: str | None = None) -> list[dict]:
        """nbgrader's assignment-list endpoints of the user's server (what the Assignments tab calls)."""
        args = {"course_id": COURSE_ID, "assignment_id": LESSON}
        if action:
            r = self.post(user, f"/assignments/{action}", data=args)
        else:
            r = self.get(user, "/assignments", params={"course_id": COURSE_ID})
        assert r.status_code == 200, f"{user} {action or 'list'}: {r.status_code} {r.text[:500]}"
        body = r.json()
        assert body.get("success"), f"{user} {action or 'list'} failed: {body}"
        return body["value"]

    def run(self, user: str, code: str, timeout: float = 600) -> dict:
        """Run Python in a new kernel of the user's server (REST + the kernel's websocket); the code
        prints one JSON line starting with '@@', which is returned."""
        r = self.post(user, "/api/kernels", json={"name": "python3"})
        assert r.status_code == 201, f"{user}: starting a kernel: {r.status_code} {r.text[:300]}"
        kernel = r.json()["id"]
        try:
            text = asyncio.run(_execute(self.server(user).replace("http://", "ws://") + f"/api/kernels/{kernel}/channels",
                                        self.tokens[user], code, timeout))
        finally:
            self.sessions[user].delete(f"{self.server(user)}/api/kernels/{kernel}", timeout=60)
        found = [line[2:] for line in text.splitlines() if line.startswith("@@")]
        assert found, f"{user}'s kernel printed no result:\n{text[-5000:]}"
        return json.loads(found[-1])


async def _execute(url: str, token: str, code: str, timeout: float) -> str:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
    msg_id, session = uuid.uuid4().hex, uuid.uuid4().hex
    await ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "e2e", "session": session, "msg_type": "execute_request",
                   "version": "5.3", "date": dt.datetime.now(dt.timezone.utc).isoformat()},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    out: list[str] = []
    replied = idle = False
    deadline = time.monotonic() + timeout
    while not (replied and idle):
        raw = await asyncio.wait_for(ws.read_message(), max(1.0, deadline - time.monotonic()))
        assert raw is not None, "the kernel's websocket closed:\n" + "".join(out)
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            out.append("\n".join(msg["content"]["traceback"]))
        elif kind == "execute_reply":
            replied = True
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            idle = True
    ws.close()
    return "".join(out)


def _hub_log() -> str:
    try:
        return "\n".join((PREFIX / "state" / "jupyterhub.log").read_text(errors="replace").splitlines()[-60:])
    except OSError:
        return "(no hub log)"


def _lab_disabled(hub: Hub, user: str) -> list[str]:
    """The JupyterLab plugins disabled in the page the user's server sends (its page config)."""
    import re

    r = hub.get(user, "/lab")
    assert r.status_code == 200, f"{user}'s JupyterLab: {r.status_code}"
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', r.text, re.S)
    assert found, f"no page config in {user}'s JupyterLab page"
    return json.loads(found.group(1)).get("disabledExtensions", [])


def _instructor_runs(hub: Hub, course_dir: Path, *args: str) -> str:
    """`infraprep ARGS` in the instructor's own server (a kernel there runs it as the instructor)."""
    code = ("import json, subprocess\n"
            f"p = subprocess.run(['infraprep', *{list(args)!r}], cwd={str(course_dir)!r}, capture_output=True, text=True)\n"
            "print('@@' + json.dumps({'rc': p.returncode, 'out': p.stdout[-6000:], 'err': p.stderr[-6000:]}))\n")
    result = hub.run(INSTRUCTOR, code)
    assert result["rc"] == 0, f"infraprep {' '.join(args)} as the instructor failed:\n{result['out']}\n{result['err']}"
    return result["out"]


def _watch_state(cohort_dir: Path) -> dict:
    try:
        return json.loads((cohort_dir / ".infraprep-watch.json").read_text())
    except (OSError, ValueError):
        return {}


def _inbound(course_id: str, student: str, lesson: str) -> list[str]:
    """The student's submissions of a lesson in the exchange, oldest first."""
    return sorted((p.name for p in (EXCHANGE / course_id / "inbound").glob(f"{student}+{lesson}+*")),
                  key=lambda name: name.rsplit("+", 3)[2])


def _wait_released(cohort_dir: Path, student: str, lesson: str, entry: str, timeout: float = 240) -> float:
    """Wait until the watcher has released the feedback of ``entry``; returns the seconds waited."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if _watch_state(cohort_dir).get(f"{student}/{lesson}", {}).get("released") == entry:
            return time.monotonic() - began
        time.sleep(0.25)
    status = (cohort_dir / ".infraprep-watch-status.json")
    raise AssertionError(f"the watcher did not release {entry} in {timeout} s; its status: "
                         f"{status.read_text() if status.exists() else '(none)'}\n{_hub_log()}")


def fetched_pages(hub: "Hub", student: str, lesson: str, course_id: str = COURSE_ID) -> dict[str, str]:
    """Fetch Feedback as the student (their server's endpoint), then read every page they have: time stamp -> HTML."""
    r = hub.post(student, "/assignments/fetch_feedback", data={"course_id": course_id, "assignment_id": lesson})
    assert r.status_code == 200 and r.json().get("success"), f"{student} fetch_feedback: {r.status_code} {r.text[:300]}"
    folder = f"/api/contents/{course_id}/{lesson}/feedback"
    listing = hub.get(student, folder)
    pages = {}
    if listing.status_code != 200:
        return pages
    for stamp in listing.json()["content"]:
        for item in hub.get(student, f"/api/contents/{stamp['path']}").json()["content"]:
            if item["name"].endswith(".html"):
                page = hub.get(student, f"/api/contents/{item['path']}", params={"format": "text", "type": "file"})
                pages[stamp["name"]] = page.json()["content"]
    return pages


def _visible(page: str) -> str:
    import html
    import re

    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


PROBE = r"""
import glob, json, os
from pathlib import Path
exchange, cid, me, other, course = {args!r}
tried = {{}}
def attempt(name, fn):
    try:
        tried[name] = ["allowed", repr(fn())[:300]]
    except OSError as exc:
        tried[name] = ["denied", type(exc).__name__]
base = Path(exchange) / cid
attempt("list the exchange's inbound", lambda: os.listdir(base / "inbound"))
attempt("list the exchange's feedback", lambda: os.listdir(base / "feedback"))
found = glob.glob(str(base / "inbound" / (other + "+*")))
tried["find the other student's submission"] = ["allowed", found] if found else ["denied", "nothing found"]
attempt("list the other student's home", lambda: os.listdir(Path("~" + other).expanduser()))
attempt("read the other student's fetched feedback",
        lambda: [p.read_text() for p in (Path("~" + other).expanduser() / cid / {lesson!r} / "feedback").rglob("*.html")])
attempt("list the instructor's source/", lambda: os.listdir(Path(course) / "source"))
attempt("read the instructor's source notebook",
        lambda: (Path(course) / "source" / {lesson!r} / ({lesson!r} + ".ipynb")).read_text()[:100])
attempt("read the cohort's gradebook", lambda: (Path(course) / "cohorts" / {cohort!r} / "gradebook.db").read_bytes()[:16])
print("@@" + json.dumps({{"whoami": os.getuid(), "tried": tried}}))
"""


VARIANT_KERNEL = r"""
import json, os
import nbformat
nb = nbformat.read({path!r}, as_version=4)
ns = {{}}
for cell in nb.cells:
    meta = cell.get("metadata", {{}}).get("nbgrader", {{}})
    if cell.cell_type == "code" and meta.get("locked") and not meta.get("grade"):
        exec(cell.source, ns)
row = ns["datasheets"].set_index("gpu")
q4 = float(row.loc[ns["q4_gpu"], "bf16_dense_tflops"] * ns["q4_cap_percent"] / 100 / row.loc[ns["q4_gpu"], "bandwidth_tb_s"])
q5 = [float(min(row.loc[ns["q5_gpu"], "bf16_dense_tflops"], i * row.loc[ns["q5_gpu"], "bandwidth_tb_s"]))
      for i in (ns["q5_intensity_a"], ns["q5_intensity_b"])]
print("@@" + json.dumps({{"key": os.environ.get("INFRAPREP_VARIANT_KEY", ""), "q4_gpu": ns["q4_gpu"],
                         "q4_cap_percent": int(ns["q4_cap_percent"]), "q5_gpu": ns["q5_gpu"],
                         "q5_intensities": [int(ns["q5_intensity_a"]), int(ns["q5_intensity_b"])],
                         "q1_options": list(ns["q1_mc"].options), "q4": q4, "q5": q5}}))
"""


def _user_processes(uids: set[int]) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            status = (proc / "status").read_text()
            uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
            if uid in uids:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{proc.name} {cmdline[:120]}")
        except (OSError, StopIteration, ValueError):
            continue
    return found


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    _require_root()
    tmp = tmp_path_factory.mktemp("hub")
    tmp.chmod(0o755)
    roster = b.write_roster(tmp / "roster.csv", STUDENTS)
    second = b.write_roster(tmp / "second.csv", ["hubstudent3"])
    _forget_previous_run()
    port = _free_ports()
    common = ["--prefix", str(PREFIX), "--exchange", str(EXCHANGE), "--instructor", INSTRUCTOR,
              "--ip", "127.0.0.1", "--port", str(port)]
    args = ["hub", "setup", "--roster", str(roster), "--cohort", COHORT, *common]
    try:
        with _timed("setup, second cohort (infraprep hub setup)"):
            _infraprep("hub", "setup", "--roster", str(second), "--cohort", SECOND, *common)
        with _timed("setup and start (infraprep hub setup --start)"):
            out = _infraprep(*args, "--start")
        print(out)
        yield Hub(port), roster, args
    finally:
        _infraprep("hub", "stop", "--prefix", str(PREFIX))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")
        shutil.copy(PREFIX / "state" / "jupyterhub.log", ARTIFACTS / "jupyterhub.log") \
            if (PREFIX / "state" / "jupyterhub.log").exists() else None


def test_a_cohort_on_a_real_jupyterhub(hub):
    hub, roster, setup_args = hub
    began = time.monotonic()
    users = [INSTRUCTOR, *STUDENTS]
    uids = {pwd.getpwnam(u).pw_uid for u in users}
    course_dir = Path(pwd.getpwnam(INSTRUCTOR).pw_dir) / "course"
    cohort_dir = course_dir / "cohorts" / COHORT

    # every user has a real Unix account, and a server of their own started through the REST API
    with _timed("start 4 servers"):
        for user in users:
            hub.login(user)
        hub.start_servers(users)
    groups = {g["name"]: sorted(g["users"]) for g in hub.api("GET", "/groups")}
    assert groups[f"nbgrader-{COURSE_ID}"] == sorted(STUDENTS)
    assert groups[f"formgrade-{COURSE_ID}"] == [INSTRUCTOR]
    assert groups[f"nbgrader-{SECOND_ID}"] == ["hubstudent3"]

    # only the instructor's server has the formgrader (server extension and JupyterLab plugin)
    r = hub.get(INSTRUCTOR, "/formgrader/api/assignments")
    assert r.status_code == 200, f"the instructor's formgrader: {r.status_code} {r.text[:300]}"
    assert "@jupyter/nbgrader:formgrader" not in _lab_disabled(hub, INSTRUCTOR)
    for student in STUDENTS:
        assert hub.get(student, "/formgrader/api/assignments").status_code == 404
        assert "@jupyter/nbgrader:formgrader" in _lab_disabled(hub, student)
    # nobody reaches another user's server
    r = hub.sessions["hubstudent1"].get(hub.server("hubstudent2") + "/api/contents", timeout=60, allow_redirects=False)
    assert r.status_code in (302, 403, 404), f"hubstudent1 reached hubstudent2's server: {r.status_code}"

    # the instructor releases lesson 1 (in their own server)
    with _timed("instructor: infraprep release (two cohorts)"):
        _instructor_runs(hub, course_dir, "release", "--cohort", COHORT, LESSON)
        _instructor_runs(hub, course_dir, "release", "--cohort", SECOND, LESSON)
    assert (EXCHANGE / COURSE_ID / "outbound" / LESSON / f"{LESSON}.ipynb").exists()

    # two attempts graded on submit (the instructor's schedule.csv), a watcher running for each cohort
    schedule = cohort_dir / "schedule.csv"
    lines = schedule.read_text().splitlines()
    schedule.write_text("\n".join([lines[0]] + [line.rsplit(",", 1)[0] + (",2" if line.startswith(LESSON + ",") else ",")
                                                for line in lines[1:]]) + "\n")
    shutil.chown(schedule, INSTRUCTOR)
    watchers = subprocess.run([str(b.BIN / "infraprep"), "hub", "status", "--prefix", str(PREFIX)],
                              capture_output=True, text=True).stdout
    assert f"cohort {COHORT}: infraprep watch running" in watchers and f"cohort {SECOND}: infraprep watch running" \
        in watchers, watchers
    watcher_pid = int(watchers.split(f"cohort {COHORT}: infraprep watch running (pid ")[1].split(")")[0])
    assert pwd.getpwuid(os.stat(f"/proc/{watcher_pid}").st_uid).pw_name == INSTRUCTOR, "the watcher runs as the instructor"

    # each student: sees the cohort's lesson, fetches it, answers it in their server, submits
    with _timed("students: list, fetch, answer, submit"):
        for student, correct in STUDENTS.items():
            listed = hub.assignments(student)
            assert [(a["course_id"], a["assignment_id"], a["status"]) for a in listed] == [(COURSE_ID, LESSON, "released")]
            r = hub.get(student, "/courses")  # each student sees only their own cohorts
            mine = sorted([COURSE_ID, SECOND_ID] if student == "hubstudent3" else [COURSE_ID])
            assert r.json()["value"] == mine, f"{student} sees courses {r.json()}"
            fetched = hub.assignments(student, "fetch")
            assert fetched[0]["status"] == "fetched"
            path = f"/api/contents/{COURSE_ID}/{LESSON}/{LESSON}.ipynb"
            assert hub.get(student, path).status_code == 200, "the fetched notebook is in the student's home"
            nb = b.submission(LESSON, correct=correct)
            r = hub.sessions[student].put(hub.server(student) + path, timeout=60,
                                          json={"type": "notebook", "format": "json", "content": nb})
            assert r.status_code in (200, 201), f"{student} saving their answers: {r.status_code} {r.text[:300]}"
            submitted = hub.assignments(student, "submit")
            assert any(a["status"] == "submitted" for a in submitted), submitted
    inbound = sorted(p.name.split("+")[0] for p in (EXCHANGE / COURSE_ID / "inbound").iterdir())
    assert inbound == sorted(STUDENTS)
    for path in (EXCHANGE / COURSE_ID / "inbound").iterdir():  # each submission is its student's own file
        assert pwd.getpwuid(path.stat().st_uid).pw_name == path.name.split("+")[0]

    # graded on submit: each student fetches feedback with their score and the attempts left
    points = b.test_cells(b.source_nb(LESSON))
    written = sum(float(b.meta(c)["points"]) for c in b.source_nb(LESSON).cells
                  if b.meta(c).get("grade") and b.meta(c).get("solution"))
    with _timed("watcher: grade on submit, 3 students"):
        for student in STUDENTS:
            _wait_released(cohort_dir, student, LESSON, _inbound(COURSE_ID, student, LESSON)[-1])
    for student, correct in STUDENTS.items():
        answered = set(ANSWERS) if correct == "all" else set(correct)
        score = sum(pts for cell, pts in points.items() if cell.removesuffix("_tests") in answered)
        pages = fetched_pages(hub, student, LESSON)
        assert len(pages) == 1, f"{student} fetched {len(pages)} page(s)"
        text = _visible(next(iter(pages.values())))
        assert f"Score: {score:.1f} / {sum(points.values()) + written:.1f}" in text, text[:800]
        assert "Attempt 1 of 2: 1 attempt remains" in text and f"autograded {score:g} / {sum(points.values()):g}" in text

    # the instructor collects, autogrades, makes and releases feedback by hand too (beside the watcher)
    with _timed("instructor: infraprep collect"):
        out = _instructor_runs(hub, course_dir, "collect", "--cohort", COHORT, LESSON)
        assert "3 submitted, 0 missing" in out, out
    with _timed("instructor: infraprep autograde"):
        out = _instructor_runs(hub, course_dir, "autograde", "--cohort", COHORT, LESSON, "--workers", "2", "--no-progress")
    with _timed("instructor: infraprep feedback"):
        _instructor_runs(hub, course_dir, "feedback", "--cohort", COHORT, LESSON)

    # exact scores, from the cohort's gradebook
    got = b.gradebook_scores(f"sqlite:///{cohort_dir / 'gradebook.db'}", LESSON, COURSE_ID)
    assert set(got) == set(STUDENTS)
    for student, correct in STUDENTS.items():
        answered = set(ANSWERS) if correct == "all" else set(correct)
        expected = {cell: (pts if cell.removesuffix("_tests") in answered else 0.0) for cell, pts in points.items()}
        assert got[student] == expected, f"{student}: {got[student]} != {expected}\nautograde said:\n{out}"
    totals = {s: sum(v.values()) for s, v in got.items()}
    assert totals["hubstudent1"] == sum(points.values()) and totals["hubstudent3"] == 0
    assert 0 < totals["hubstudent2"] < totals["hubstudent1"]

    # each student fetches their own feedback, and only theirs
    made = {s: (cohort_dir / "feedback" / s / LESSON / f"{LESSON}.html").read_text() for s in STUDENTS}
    assert len(set(made.values())) == len(STUDENTS), "every student's feedback differs"
    with _timed("students: fetch feedback"):
        for student in STUDENTS:
            hub.assignments(student, "fetch_feedback")
            folder = f"/api/contents/{COURSE_ID}/{LESSON}/feedback"
            stamps = hub.get(student, folder).json()["content"]
            pages = []
            for stamp in stamps:
                for item in hub.get(student, f"/api/contents/{stamp['path']}").json()["content"]:
                    if item["name"].endswith(".html"):
                        page = hub.get(student, f"/api/contents/{item['path']}", params={"format": "text", "type": "file"})
                        pages.append(page.json()["content"])
            assert pages == [made[student]], f"{student} fetched {len(pages)} page(s), not exactly their own feedback"

    # a second attempt is graded on submit; a third is over the limit: kept, not graded
    student = "hubstudent2"
    path = f"/api/contents/{COURSE_ID}/{LESSON}/{LESSON}.ipynb"
    for attempt, correct in ((2, "all"), (3, [])):
        nb = b.submission(LESSON, correct=correct)
        r = hub.sessions[student].put(hub.server(student) + path, timeout=60,
                                      json={"type": "notebook", "format": "json", "content": nb})
        assert r.status_code in (200, 201)
        hub.assignments(student, "submit")
        entries = _inbound(COURSE_ID, student, LESSON)
        assert len(entries) == attempt
        if attempt == 2:
            with _timed("watcher: submit -> feedback, one submission"):
                _wait_released(cohort_dir, student, LESSON, entries[-1])
            newest = _visible(fetched_pages(hub, student, LESSON)[max(fetched_pages(hub, student, LESSON))])
            assert "Attempt 2 of 2: no attempts remain" in newest and f"Score: {sum(points.values()):.1f}" in newest
        else:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                note = _watch_state(cohort_dir).get(f"{student}/{LESSON}", {}).get("note", "")
                if "1 later submission is kept" in note:
                    break
                time.sleep(0.25)
            assert "1 later submission is kept" in note, note
            assert _watch_state(cohort_dir)[f"{student}/{LESSON}"]["released"] == entries[1], "attempt 2 still counts"
    after = b.gradebook_scores(f"sqlite:///{cohort_dir / 'gradebook.db'}", LESSON, COURSE_ID)[student]
    assert after == points, "the third attempt (blank) was not graded: the second's full marks stand"
    got[student] = after

    # per-student variants: the inputs a student's notebook shows are the ones the grader expects
    _instructor_runs(hub, course_dir, "release", "--cohort", COHORT, VARIANT_LESSON)
    student = "hubstudent1"
    secret = (cohort_dir / "variant_secret").read_text().strip()
    assert (cohort_dir / "variant_secret").stat().st_mode & 0o077 == 0, "the secret is the instructor's alone"
    r = hub.post(student, "/assignments/fetch", data={"course_id": COURSE_ID, "assignment_id": VARIANT_LESSON})
    assert r.status_code == 200 and r.json().get("success"), r.text[:300]
    shown = hub.run(student, VARIANT_KERNEL.format(path=str(Path(pwd.getpwnam(student).pw_dir) / COURSE_ID
                                                            / VARIANT_LESSON / f"{VARIANT_LESSON}.ipynb")))
    from infraprep.assessment import variants
    from infraprep.grading.similarity import variant_truth

    assert shown["key"] == variants.key_for(student, secret) != variants.key_for(student)
    truth = variant_truth(b.SOURCE / VARIANT_LESSON / f"{VARIANT_LESSON}.ipynb", VARIANT_LESSON, student, secret,
                          {"q1", "q4", "q5"})
    assert [shown["q4_gpu"], shown["q4_cap_percent"]] == [truth["q4"]["inputs"][k] for k in ("q4_gpu", "q4_cap_percent")]
    assert [shown["q5_gpu"], *shown["q5_intensities"]] == [truth["q5"]["inputs"][k]
                                                          for k in ("q5_gpu", "q5_intensity_a", "q5_intensity_b")]
    assert shown["q1_options"] == truth["q1"]["options"]
    nb = b.submission(VARIANT_LESSON, replace={"q4": f"q4 = {shown['q4']!r}", "q5": f"q5 = {shown['q5']!r}"})
    path = f"/api/contents/{COURSE_ID}/{VARIANT_LESSON}/{VARIANT_LESSON}.ipynb"
    r = hub.sessions[student].put(hub.server(student) + path, timeout=60,
                                  json={"type": "notebook", "format": "json", "content": nb})
    assert r.status_code in (200, 201)
    r = hub.post(student, "/assignments/submit", data={"course_id": COURSE_ID, "assignment_id": VARIANT_LESSON})
    assert r.status_code == 200 and r.json().get("success"), r.text[:300]
    _wait_released(cohort_dir, student, VARIANT_LESSON, _inbound(COURSE_ID, student, VARIANT_LESSON)[-1], timeout=300)
    graded = b.gradebook_scores(f"sqlite:///{cohort_dir / 'gradebook.db'}", VARIANT_LESSON, COURSE_ID)[student]
    wanted = b.test_cells(b.source_nb(VARIANT_LESSON))
    assert graded["q4_tests"] == wanted["q4_tests"] and graded["q5_tests"] == wanted["q5_tests"], graded

    # what a student may not do, tried in their own kernel, as their own Unix user
    with _timed("students: try to reach others' work"):
        for me, other in (("hubstudent2", "hubstudent1"), ("hubstudent3", "hubstudent2")):
            seen = hub.run(me, PROBE.format(args=[str(EXCHANGE), COURSE_ID, me, other, str(course_dir)],
                                            lesson=LESSON, cohort=COHORT))
            assert seen["whoami"] == pwd.getpwnam(me).pw_uid
            allowed = {what: detail for what, (result, detail) in seen["tried"].items() if result != "denied"}
            assert not allowed, f"{me} could: {allowed}"

    # running the setup again: no new account, no lost submission or grade
    passwd_before = Path("/etc/passwd").read_text()
    inbound_before = sorted(p.name for p in (EXCHANGE / COURSE_ID / "inbound").iterdir())
    assert sorted({name.split("+")[0] for name in inbound_before}) == sorted(STUDENTS)
    with _timed("setup again (idempotent)"):
        _infraprep(*setup_args)
    assert Path("/etc/passwd").read_text() == passwd_before
    assert sorted(p.name for p in (EXCHANGE / COURSE_ID / "inbound").iterdir()) == inbound_before
    assert b.gradebook_scores(f"sqlite:///{cohort_dir / 'gradebook.db'}", LESSON, COURSE_ID) == got

    # stopping the hub stops every user's server and the proxy, and frees every port
    ports = {hub.port, hub.port + 1, hub.port + 2}
    for model in hub.api("GET", "/users"):
        if model["name"] in users:
            assert model["servers"][""]["ready"]
    routes = hub.api("GET", "/proxy")  # the proxy's routing table: where each user's server listens
    server_ports = {int(route["target"].rsplit(":", 1)[1].split("/")[0]) for path, route in routes.items()
                    if path.startswith("/user/")}
    assert len(server_ports) == len(users), f"user servers in the proxy: {routes}"
    with _timed("infraprep hub stop"):
        out = _infraprep("hub", "stop", "--prefix", str(PREFIX))
    assert "hub stopped" in out
    leftovers = _user_processes(uids)
    assert not leftovers, f"processes of the hub's users still run: {leftovers}"
    still_open = sorted(p for p in ports | server_ports if _port_open(p))
    assert not still_open, f"ports still open after stop: {still_open}"
    assert "hub not running" in subprocess.run([str(b.BIN / "infraprep"), "hub", "status", "--prefix", str(PREFIX)],
                                               capture_output=True, text=True).stdout
    TIMINGS["whole test (after setup)"] = round(time.monotonic() - began, 1)
