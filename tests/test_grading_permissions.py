"""Exchange permissions: no student can find or read another student's submission or feedback
(jupyter/nbgrader#978, #1225). As root, two real Unix accounts submit through the exchange and one
tries to reach the other's files; otherwise the exchange's permission bits are checked."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

import builders as b

LESSON = "01-roles"
CID = "ai-infra-prep-perm"

AS_STUDENT = r"""
import json, os, sys
from pathlib import Path
exchange, cid, student, lesson, home, nb_path = sys.argv[1:7]
action = sys.argv[7]
if action == "submit":
    import nbformat
    from infraprep.grading.simulate import submit_as_student
    inbound = submit_as_student(Path(exchange), cid, student, lesson, nbformat.read(nb_path, as_version=4), Path(home))
    print(json.dumps({"inbound": str(inbound)}))
else:
    other = json.loads(action)
    tried = {}
    def attempt(name, fn):
        try:
            tried[name] = ["ok", repr(fn())[:200]]
        except OSError as exc:
            tried[name] = ["denied", type(exc).__name__]
    base = Path(exchange) / cid
    attempt("list inbound", lambda: os.listdir(base / "inbound"))
    attempt("list feedback", lambda: os.listdir(base / "feedback"))
    found = sorted(str(p) for p in (base / "inbound").glob(other["student"] + "+*"))
    tried["find other's submission"] = ["ok", found] if found else ["denied", "nothing found"]
    found = sorted(str(p) for p in (base / "feedback").glob("*.html"))
    tried["find any released feedback"] = ["ok", found] if found else ["denied", "nothing found"]
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeFetchFeedback
    from traitlets.config import Config
    cfg = Config()
    cfg.Exchange.root = exchange
    cfg.Exchange.path_includes_course = True
    cfg.Exchange.cache = str(Path(home) / ".nbgrader-cache")
    cfg.CourseDirectory.course_id = cid
    cfg.CourseDirectory.assignment_id = lesson
    cfg.CourseDirectory.student_id = student
    cfg.CourseDirectory.root = home
    os.chdir(home)
    ExchangeFetchFeedback(coursedir=CourseDirectory(config=cfg), authenticator=Authenticator(config=cfg), config=cfg).start()
    pages = sorted(str(p) for p in Path(home).rglob("feedback/*/*.html"))
    print(json.dumps({"tried": tried, "feedback": pages,
                      "texts": [Path(p).read_text() for p in pages]}))
"""


def _user(name: str, home: Path) -> None:
    subprocess.run(["useradd", "-M", "-N", "-d", str(home), "-s", "/usr/sbin/nologin", name], check=True,
                   capture_output=True)
    home.mkdir(mode=0o700)
    shutil.chown(home, name)


def _reachable(path: Path) -> bool:
    """Whether any user may execute ``path`` (every folder above it searchable by others)."""
    path = path.resolve()
    return path.exists() and all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _student_python() -> list[str]:
    """An interpreter another account may run, with this venv's packages (a venv built from an
    interpreter under /root is not runnable by other users; Debian's python3.X of the same version is)."""
    import sysconfig

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (Path(sys.executable), Path(f"/usr/bin/python{version}"), Path(f"/usr/local/bin/python{version}")):
        if _reachable(candidate):
            packages = sysconfig.get_paths()["purelib"]
            prelude = (f"import site, sys; sys.path.insert(0, {packages!r}); site.addsitedir({packages!r}); "
                       f"sys.path.insert(0, {str(b.ROOT)!r})\n")
            return [str(candidate), "-c", prelude + AS_STUDENT]
    pytest.fail(f"no Python {version} that another account may run (install Debian's python{version})")


def _open_passage(*paths: Path) -> dict[Path, int]:
    """Let other accounts pass through (search, not list) every folder above ``paths``: a clone under a
    private folder (``mktemp -d`` makes them 0700) would hide this venv from the students. Returns the
    modes changed, for :func:`_close_passage`."""
    changed: dict[Path, int] = {}
    for path in paths:
        for folder in path.resolve().parents:
            mode = stat.S_IMODE(folder.stat().st_mode)
            if not mode & stat.S_IXOTH and folder not in changed:
                changed[folder] = mode
                folder.chmod(mode | stat.S_IXOTH)
    return changed


def _close_passage(changed: dict[Path, int]) -> None:
    for folder, mode in changed.items():
        folder.chmod(mode)


def _as(user: str, home: Path, *args: str) -> dict:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    proc = subprocess.run([shutil.which("runuser") or "/usr/sbin/runuser", "-u", user, "--", *_student_python(), *args], env=env,
                          capture_output=True, text=True, timeout=300, cwd=str(home))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.roundtrip
def test_students_cannot_reach_each_others_submissions_or_feedback(tmp_path):
    course = b.new_course(tmp_path, [LESSON])
    shared = Path(tempfile.mkdtemp(prefix="infraprep-perm-"))
    shared.chmod(0o755)
    exchange = shared / "exchange"
    env = {"INFRAPREP_EXCHANGE": str(exchange)}
    b.write_roster(tmp_path / "roster.csv", ["alice", "bruno"])
    b.infraprep(course, "cohort", "create", "perm", "--roster", str(tmp_path / "roster.csv"), env=env)
    b.infraprep(course, "release", "--cohort", "perm", env=env)
    inbound = exchange / CID / "inbound"
    mode = stat.S_IMODE(inbound.stat().st_mode)
    assert not mode & (stat.S_IRGRP | stat.S_IROTH), f"inbound must not be listable by students ({oct(mode)})"

    if os.geteuid() != 0:  # no second account to try with: the bits that protect students must hold
        return

    users = {s: f"ip{s[0]}{os.getpid()}" for s in ("alice", "bruno")}
    homes = {s: shared / s for s in users}
    import nbformat

    answers = {"alice": shared / "alice.ipynb", "bruno": shared / "bruno.ipynb"}
    nbformat.write(b.submission(LESSON, "all"), str(answers["alice"]))
    nbformat.write(b.submission(LESSON), str(answers["bruno"]))
    for path in answers.values():
        path.chmod(0o644)
    passage = _open_passage(Path(sysconfig.get_paths()["purelib"]), b.ROOT)
    try:
        for student, user in users.items():
            _user(user, homes[student])
        for student, user in users.items():
            out = _as(user, homes[student], str(exchange), CID, student, LESSON, str(homes[student]), str(answers[student]), "submit")
            assert Path(out["inbound"]).name.startswith(f"{student}+{LESSON}+")
        b.infraprep(course, "collect", "--cohort", "perm", env=env)
        b.infraprep(course, "autograde", "--cohort", "perm", "--workers", "1", env=env)
        b.infraprep(course, "feedback", "--cohort", "perm", env=env)
        cohort = course / "cohorts" / "perm"
        assert len(list((exchange / CID / "feedback").glob("*.html"))) == 2, "both students' feedback is released"
        seen = _as(users["bruno"], homes["bruno"], str(exchange), CID, "bruno", LESSON, str(homes["bruno"]),
                   str(answers["bruno"]), json.dumps({"student": "alice"}))
        assert set(seen["tried"]) == {"list inbound", "list feedback", "find other's submission",
                                      "find any released feedback"}
        for what, (result, detail) in seen["tried"].items():
            assert result == "denied", f"bruno could {what}: {detail}"
        theirs = (cohort / "feedback" / "alice" / LESSON / f"{LESSON}.html").read_text()
        own = (cohort / "feedback" / "bruno" / LESSON / f"{LESSON}.html").read_text()
        assert theirs != own
        assert seen["texts"] == [own], "a student fetches their own feedback and nobody else's"
    finally:
        _close_passage(passage)
        for user in users.values():
            subprocess.run(["userdel", user], capture_output=True)
        shutil.rmtree(shared, ignore_errors=True)
