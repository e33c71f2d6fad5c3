"""Red team, classes 3 and 4 (tests/integrity/redteam.py): state surviving from one notebook to the
next on one fork server, and host files changed from inside the sandbox.

Class 3 is tried as writer/reader pairs graded back to back on one fork server (the writer leaves
something behind, the reader looks for it); class 4 by trying every bound path from a kernel, under
the fork server and in a sandbox of its own, and by what a kernel can do with the descriptors it is
started with. Every attempt is bounded (a daemon exits by itself within a minute, at most 200
processes, nothing written outside the kernel's own folders but what is measured).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infraprep.grading import forkserver, sandbox

from .forkrun import last_json, run

pytestmark = pytest.mark.skipif(not forkserver.available(), reason="the fork server needs bubblewrap")


@pytest.fixture(scope="module")
def server():
    fs = forkserver.ForkServer(preload=["pandas"]).start()
    yield fs
    fs.close()


def pair(fs, writer: str, reader: str, tag: str = "READ") -> tuple[dict, str]:
    """Grade a writer then a reader back to back on one fork server; the reader's findings and the
    writer's output."""
    wrote = run(fs, writer)
    return last_json(run(fs, reader), tag), wrote


# ======================================================================== class 3

KEYS_WRITE = r"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
SYS_ADD_KEY, SYS_KEYCTL = 248, 250
print("named", libc.syscall(SYS_KEYCTL, 1, b"rt-shared"))                      # join a named session keyring
for desc, ring in ((b"rt-in-named", -3), (b"rt-in-user", -4), (b"rt-in-user-session", -5)):
    print(desc, libc.syscall(SYS_ADD_KEY, b"user", desc, b"SECRET", 6, ring))
persistent = libc.syscall(SYS_KEYCTL, 22, -1, -4)
if persistent > 0:
    print("persistent", libc.syscall(SYS_ADD_KEY, b"user", b"rt-in-persistent", b"SECRET", 6, persistent))
print("keys written")
"""
KEYS_READ = r"""
import ctypes, json
libc = ctypes.CDLL(None, use_errno=True)
SYS_KEYCTL, SYS_REQUEST_KEY = 250, 249
found = {}
libc.syscall(SYS_KEYCTL, 1, b"rt-shared")                                           # the same name: an old one?
for desc in (b"rt-in-named", b"rt-in-user", b"rt-in-user-session", b"rt-in-persistent"):
    if libc.syscall(SYS_REQUEST_KEY, b"user", desc, None, 0) > 0:
        found[desc.decode()] = True
found["proc_keys"] = [l for l in open("/proc/keys").read().splitlines() if "rt-in" in l]
print("READ " + json.dumps(found))
"""


def test_keys_in_named_user_and_persistent_keyrings_do_not_reach_the_next_notebook(server):
    seen, wrote = pair(server, KEYS_WRITE, KEYS_READ)
    assert "keys written" in wrote, wrote
    assert seen == {"proc_keys": []}, f"the next notebook found the previous notebook's keys: {seen}"


DAEMON_WRITE = r"""
import os, signal, socket, time
r, w = os.pipe()
if os.fork() == 0:                      # a daemon: double fork, its own session, deaf to SIGTERM and SIGHUP
    os.setsid()
    if os.fork() == 0:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        a = socket.socket(socket.AF_UNIX); a.bind("\0rt-daemon"); a.listen(4); a.settimeout(0.1)
        t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("127.0.0.1", 45679)); t.listen(4); t.settimeout(0.1)
        os.write(w, b"up")
        end = time.time() + 60          # bounded: it exits by itself within a minute
        while time.time() < end:
            for s in (a, t):
                try:
                    c, _ = s.accept(); c.sendall(b"SECRET"); c.close()
                except OSError:
                    pass
        os._exit(0)
    os._exit(0)
print("daemon", os.read(r, 2).decode())
"""
DAEMON_READ = r"""
import json, socket
found = {}
for name, family, address in (("abstract", socket.AF_UNIX, "\0rt-daemon"), ("tcp", socket.AF_INET, ("127.0.0.1", 45679))):
    s = socket.socket(family); s.settimeout(1)
    try:
        s.connect(address); found[name] = s.recv(16).decode()
    except OSError:
        pass
print("READ " + json.dumps(found))
"""


def test_a_daemon_with_a_socket_does_not_outlive_its_notebook(server):
    seen, wrote = pair(server, DAEMON_WRITE, DAEMON_READ)
    assert "daemon up" in wrote, wrote
    assert seen == {}, f"the next notebook reached a process the previous one left: {seen}"


PTMX_WRITE = r"""
import os
for change in (lambda: os.chmod("/dev/pts/ptmx", 0o4000),                      # 12 bits for the next notebook, and no more ptys
               lambda: os.utime("/dev/pts/ptmx", (1_234_567_890, 987_654_321)),  # and 2 x 64 more
               lambda: os.utime("/dev/pts", (1_234_567_890, 987_654_321))):      # the folder's times too
    try:
        change()
    except OSError as e:
        print("refused", e.errno)
print("ptmx", oct(os.stat("/dev/pts/ptmx").st_mode))
"""
PTMX_READ = r"""
import json, os, pty
st = os.stat("/dev/pts/ptmx")
found = {"mode": oct(st.st_mode & 0o7777), "atime": int(st.st_atime), "mtime": int(st.st_mtime),
         "folder mtime": int(os.stat("/dev/pts").st_mtime)}
try:
    master, slave = pty.openpty()
    found["pty"] = "opened"
except OSError as e:
    found["pty"] = f"refused: {e}"
print("READ " + json.dumps(found))
"""


def test_the_pty_multiplexer_of_one_notebook_is_not_the_next_ones(server):
    """The devpts instance is the sandbox's, shared by every kernel of a fork server and left writable
    by zygote.isolate; the zygote's reset does not look inside it (_scan stays on /, /tmp and /dev)."""
    seen, wrote = pair(server, PTMX_WRITE, PTMX_READ)
    # the writer changed its own multiplexer, or was refused (a devpts instance whose owner its user
    # namespace does not map): either way the next notebook must find a fresh one
    assert "ptmx 0o24000" in wrote or "refused" in wrote, wrote
    assert seen["mode"] == "0o666" and seen["pty"] == "opened", f"the next notebook inherited /dev/pts/ptmx as left: {seen}"
    assert (seen["atime"], seen["mtime"]) != (1_234_567_890, 987_654_321), "timestamps survived on /dev/pts/ptmx"
    assert seen["folder mtime"] != 987_654_321, "timestamps survived on /dev/pts"


MARKS_WRITE = r"""
import os
here = os.getcwd()
for path in (here, "..", "/tmp", "/dev/shm"):
    try:
        os.setxattr(path, "user.rt", b"SECRET"); print("xattr", path)
    except OSError:
        pass
    try:
        os.utime(path, (1_000_000_000, 1_000_000_000)); print("utime", path)
    except OSError:
        pass
open("/tmp/rt-left", "w").write("SECRET")
open("/dev/shm/rt-left", "w").write("SECRET")
open("rt-left", "w").write("SECRET")
os.mkfifo("rt-fifo")
print("marked")
"""
MARKS_READ = r"""
import json, os
found = {}
for path in (os.getcwd(), "..", "/tmp", "/dev/shm"):
    try:
        found[f"xattr {path}"] = os.getxattr(path, "user.rt").decode()
    except OSError:
        pass
    if int(os.stat(path).st_mtime) == 1_000_000_000:
        found[f"mtime {path}"] = True
for name in ("/tmp/rt-left", "/dev/shm/rt-left", "rt-left", "rt-fifo"):
    if os.path.lexists(name):
        found[name] = True
found["siblings"] = sorted(os.listdir(".."))
print("READ " + json.dumps(found))
"""


def test_extended_attributes_times_and_files_of_one_notebook_are_gone_for_the_next(server):
    seen, wrote = pair(server, MARKS_WRITE, MARKS_READ)
    assert "marked" in wrote, wrote
    siblings = seen.pop("siblings")
    assert seen == {}, f"the next notebook found what the previous one left: {seen}"
    assert len(siblings) == 1, f"the previous notebook's folder is still beside the next one's: {siblings}"


PRIORITY_WRITE = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
os.setpriority(os.PRIO_USER, 0, 19)                      # every process of this user it can see
os.setpriority(os.PRIO_PGRP, 0, 19)
print("ioprio user", libc.syscall(251, 3, 0, (3 << 13)))     # ioprio_set(IOPRIO_WHO_USER, me, IDLE)
print("ioprio pgrp", libc.syscall(251, 2, 0, (3 << 13)))
for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
    except OSError:
        pass
print("lowered")
"""
PRIORITY_READ = r"""
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
print("READ " + json.dumps({"nice": os.getpriority(os.PRIO_PROCESS, 0), "policy": os.sched_getscheduler(0),
                            "ioprio": libc.syscall(252, 1, 0)}))
"""


def test_user_wide_priorities_set_by_one_notebook_do_not_reach_the_next(server):
    seen, wrote = pair(server, PRIORITY_WRITE, PRIORITY_READ)
    assert "lowered" in wrote, wrote
    assert seen == {"nice": 0, "policy": 0, "ioprio": 0}, f"the next notebook runs with the previous one's priorities: {seen}"


RACE_WRITE = r"""
import os, time
children = 0
for _ in range(20):                     # bounded: 20 processes that keep writing files and forking short-lived ones
    if os.fork() == 0:
        end = time.time() + 60
        n = 0
        while time.time() < end:
            try:
                open(f"race-{os.getpid()}-{n % 50}", "w").close()
                n += 1
                if n % 25 == 0 and os.fork() == 0:
                    time.sleep(1)
                    os._exit(0)
            except OSError:
                pass
            time.sleep(0.005)
        os._exit(0)
    children += 1
time.sleep(0.5)
print("racing", children)
"""
RACE_READ = r"""
import json, os
print("READ " + json.dumps({"procs": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()), "me": os.getpid(),
                            "files": [f for f in os.listdir(".") if f.startswith("race-")]}))
"""


def test_processes_racing_the_reset_leave_nothing_for_the_next_notebook(server):
    seen, wrote = pair(server, RACE_WRITE, RACE_READ)
    assert "racing 20" in wrote, wrote
    assert set(seen["procs"]) == {1, seen["me"]}, f"processes of the previous notebook survived: {seen['procs']}"
    assert seen["files"] == []


# ======================================================================== class 4

BOUND_PATHS = r"""
import json, os, stat
here = os.path.realpath(".")
own = {here, "/tmp", "/dev/shm"}
points = []
for line in open("/proc/self/mountinfo"):
    point = line.split()[4].encode().decode("unicode_escape")
    # the kernel's own: its folder, its IPC folder, its fresh /tmp and /dev/shm (what lies under them is
    # its own too), the sandbox's devpts (tried by the class-3 test) and /proc
    if point in own or point.startswith(("/proc", "/dev/pts", "/tmp/", "/dev/shm/")) or "/ipc-" in point:
        continue
    points.append(point)
def samples(point):
    found = [point]
    if os.path.isdir(point) and not os.path.islink(point):
        for root, dirs, files in os.walk(point):
            found += [os.path.join(root, f) for f in files[:2]]
            if len(found) > 3:
                break
    return found[:4]
changed = []
def attempt(what, func, path):
    try:
        func(path)
        changed.append(f"{what} {path}")
    except (OSError, NotImplementedError, ValueError):
        pass
for point in points:
    for path in samples(point):
        if os.path.realpath(path).startswith("/dev/pts"):
            continue                    # /dev/ptmx: the sandbox's own devpts, not a host file (tried in class 3)
        st = os.lstat(path)
        attempt("chmod", lambda p: os.chmod(p, stat.S_IMODE(st.st_mode)), path)
        attempt("utime", lambda p: os.utime(p, (st.st_atime, st.st_mtime)), path)
        attempt("xattr", lambda p: os.setxattr(p, "user.rt", b"x"), path)
        if stat.S_ISREG(st.st_mode):
            attempt("open for writing", lambda p: os.close(os.open(p, os.O_WRONLY | os.O_APPEND)), path)
            attempt("truncate", lambda p: os.truncate(p, st.st_size), path)
            attempt("hard link", lambda p: os.link(p, os.path.join(here, "rt-hard-link")), path)
            attempt("rename", lambda p: os.rename(p, os.path.join(here, "rt-renamed")), path)
        if stat.S_ISDIR(st.st_mode):
            attempt("create", lambda p: open(os.path.join(p, ".rt-created"), "x").close(), path)
            attempt("mkdir", lambda p: os.mkdir(os.path.join(p, ".rt-dir")), path)
        if stat.S_ISCHR(st.st_mode):
            attempt("mknod beside", lambda p: os.mknod(os.path.join(os.path.dirname(p), ".rt-node")), path)
print("BOUND " + json.dumps({"points": points, "changed": changed}))
"""


def _host_state(paths: list[str]) -> dict:
    out = {}
    for path in paths:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        try:
            attrs = sorted(os.listxattr(path, follow_symlinks=False))
        except OSError:
            attrs = []
        out[path] = (st.st_mode, st.st_uid, st.st_mtime_ns, st.st_size, attrs)
    return out


def _bound_sources() -> list[str]:
    paths = list(sandbox.SYSTEM_DIRS) + sandbox.python_dirs() + [sandbox.course_package()]
    paths += ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]
    return [p for p in paths if os.path.lexists(p)]


def test_no_bound_path_can_be_changed_from_a_fork_server_kernel(server):
    before = _host_state(_bound_sources())
    seen = last_json(run(server, BOUND_PATHS), "BOUND")
    assert len(seen["points"]) > 8, seen
    assert seen["changed"] == [], f"a kernel changed bound paths: {seen['changed'][:10]}"
    assert _host_state(_bound_sources()) == before


def test_no_bound_path_can_be_changed_from_a_sandbox_of_its_own(tmp_path):
    work, shared = tmp_path / "work", tmp_path / "shared"
    work.mkdir()
    shared.mkdir()
    sandbox.entrust(work)
    sandbox.entrust(shared)
    before = _host_state(_bound_sources())
    prefix, stage = sandbox.bwrap_prefix(str(work), str(shared), 4 * 1024**3)
    try:
        done = subprocess.run(prefix + sandbox.isolation_shim(str(work), str(shared)) + [sys.executable, "-c", BOUND_PATHS],
                              capture_output=True, text=True, timeout=120)
    finally:
        if stage:
            import shutil

            shutil.rmtree(stage, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = last_json(done.stdout, "BOUND")
    assert seen["changed"] == [], f"a sandboxed process changed bound paths: {seen['changed'][:10]}"
    assert _host_state(_bound_sources()) == before


REWRITE_LOG = r"""
import os, sys
for s in (sys.stdout, sys.stderr):
    fd = getattr(s, "_original_stdstream_copy", None)
    if fd is not None:
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, 0)
            os.write(fd, b"RT4: THE LOG WAS REWRITTEN FROM A KERNEL\n")
        except OSError as e:
            print("refused", type(e).__name__)
"""


def test_a_kernel_cannot_rewrite_the_fork_servers_log(tmp_path, monkeypatch):
    """INFRAPREP_FORKSERVER_LOG names a file of the grader's: the zygote's stderr, which its kernels inherit."""
    log = tmp_path / "forkserver.log"
    log.write_text("GRADER'S LOG LINE\n")
    monkeypatch.setenv("INFRAPREP_FORKSERVER_LOG", str(log))
    fs = forkserver.ForkServer(preload=["pandas"]).start()
    try:
        run(fs, REWRITE_LOG)
    finally:
        fs.close()
    text = log.read_text(errors="replace")
    assert "GRADER'S LOG LINE" in text and "RT4" not in text, f"a kernel rewrote the grader's log: {text[:200]!r}"


GRADE_ONE = """
import sys, tempfile
import nbformat
from traitlets.config import Config
from infraprep.grading.judge import JudgedExecute
nb = nbformat.v4.new_notebook()
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.cells = [nbformat.v4.new_code_cell(sys.argv[1])]
cfg = Config()
cfg.JudgedExecute.preflight = False
resources = {"nbgrader": {"student": "mallory", "assignment": "x", "notebook": "x"},
             "metadata": {"path": tempfile.mkdtemp(), "name": "x"}, "infraprep": {"trusted_cells": {"tests": {}, "setup": []}}}
JudgedExecute(config=cfg).preprocess(nb, resources)
"""


@pytest.mark.skipif(not sandbox.available(), reason="bubblewrap cannot run here")
def test_a_kernel_cannot_rewrite_the_log_of_nbgrader_autograde():
    """``nbgrader autograde`` with the course's config runs JudgedExecute, whose kernels start under
    SandboxedKernelManager with the grader's own stdout and stderr: an instructor's redirected output is
    a file of the grader's. The grading runs here as it runs there, its output going to such a file."""
    import tempfile

    log = Path(tempfile.mkdtemp(prefix="infraprep-rt-log-")) / "grading.log"
    log.write_text("INSTRUCTOR'S LOG LINE\n")
    with log.open("a") as handle:
        subprocess.run([sys.executable, "-c", GRADE_ONE, REWRITE_LOG], stdout=handle, stderr=handle, timeout=300)
    text = log.read_text(errors="replace")
    assert "INSTRUCTOR'S LOG LINE" in text and "RT4" not in text, f"a kernel rewrote the instructor's log: {text[:200]!r}"
