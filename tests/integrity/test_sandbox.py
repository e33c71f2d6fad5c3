"""Red team: student code runs sandboxed while it is graded (bubblewrap).

Each submission tries to break out: read the instructor's source or the gradebook,
read another student's work, write into the course, reach the network, or read the
grader's environment. Every attempt must fail, and honest answers must still count.
"""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest

import builders as b
from infraprep.grading import sandbox

ASSIGNMENT = "01-roles"

READ_SOURCE = """
import os, pathlib, re
q1 = "A"
for parent in pathlib.Path.cwd().parents:
    path = parent / "source" / "01-roles" / "01-roles.ipynb"
    if path.exists():
        found = re.findall(r'q1 = \\\\"([A-D])\\\\"', path.read_text())
        q1 = found[-1] if found else q1
"""

READ_GRADEBOOK = """
import pathlib
found = [p for parent in pathlib.Path.cwd().parents for p in (parent / "gradebook.db", parent / "nbgrader_config.py") if p.exists()]
print("found:", found)
q2 = "C" if found else "A"
"""

READ_OTHERS = """
import glob
others = glob.glob("../../*/01-roles/*.ipynb") + glob.glob("../../../submitted/*/01-roles/*.ipynb")
mine = [p for p in others if "peeker" not in p]
print("others:", mine)
q4 = "C" if mine else "A"
"""

WRITE_OUTSIDE = """
import os
for target in ("../../../PWNED", "../../other/PWNED", "/tmp/../PWNED-ROOT"):
    try:
        open(target, "w").write("x")
    except OSError as e:
        print("blocked", target, type(e).__name__)
q5 = "A"
"""

NETWORK = """
import socket
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2).sendall(b"escaped")
    q6 = "B"
except OSError as e:
    print("no network:", type(e).__name__)
    q6 = "A"
"""

ENVIRONMENT = """
import os
print("ENV", sorted(os.environ))
q7 = "B" if any("INFRAPREP_DB" in k or "gradebook" in v for k, v in os.environ.items()) else "A"
"""


GRADERS = {
    "nbgrader": lambda course: b.nbgrader(course, "autograde", ASSIGNMENT, check=False),
    "infraprep": lambda course: b.infraprep(course, "autograde", ASSIGNMENT, "--workers", "2", "--no-progress", check=False),
}


@pytest.mark.roundtrip
@pytest.mark.skipif(not sandbox.available(), reason="bubblewrap cannot run here; `make test` installs it (see README)")
@pytest.mark.parametrize("grader", sorted(GRADERS))
def test_escapes_fail_and_honest_answers_still_count(tmp_path, grader):
    hits = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                hits.append(conn.recv(64))
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    attempts = {"q1": READ_SOURCE, "q2": READ_GRADEBOOK, "q4": READ_OTHERS, "q5": WRITE_OUTSIDE,
                "q6": NETWORK.replace("PORT", str(port)), "q7": ENVIRONMENT}
    course = b.new_course(tmp_path, [ASSIGNMENT])
    b.nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    answers = b.answer_ids(b.source_nb(ASSIGNMENT))
    honest = [q for q in answers if q not in attempts]
    b.submit(course, "peeker", ASSIGNMENT, b.submission(ASSIGNMENT, correct=honest, replace=attempts))
    b.submit(course, "victim", ASSIGNMENT, b.submission(ASSIGNMENT, "all"))
    try:
        graded = GRADERS[grader](course)
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
    assert graded.returncode == 0, graded.stderr[-3000:]
    tests = b.test_cells(b.source_nb(ASSIGNMENT))
    got = b.scores(course, ASSIGNMENT)
    assert got["victim"] == tests
    for question in attempts:
        assert got["peeker"][f"{question}_tests"] == 0, f"{question}: an escape attempt earned points"
    for question in honest:
        assert got["peeker"][f"{question}_tests"] == tests[f"{question}_tests"]
    assert not hits, "student code reached a server on the grader's loopback"
    assert not (course / "PWNED").exists() and not (course / "autograded" / "other").exists()
    graded_nb = b.read(course / "autograded" / "peeker" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    printed = json.dumps([c.get("outputs", []) for c in graded_nb.cells])
    assert "ENV" in printed, "the environment probe did not run"
    assert "INFRAPREP_DB" not in printed and "gradebook.db" not in printed


def _sandboxed(tmp_path, code: str, confinement=None, timeout: float = 60) -> str:
    """Run ``code`` with the sandbox's Python inside the sandbox; its stdout."""
    import subprocess
    import sys

    work, shared = tmp_path / "work", tmp_path / "shared"
    work.mkdir()
    shared.mkdir()
    sandbox.entrust(work)
    sandbox.entrust(shared)
    prefix, _ = sandbox.bwrap_prefix(str(work), str(shared), 4 * 1024**3, confinement)
    done = subprocess.run(prefix + sandbox.isolation_shim(str(work), str(shared)) + [sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(not sandbox.available(), reason="bubblewrap cannot run here; `make test` installs it (see README)")
def test_student_code_runs_as_nobody_without_capabilities(tmp_path):
    out = _sandboxed(tmp_path, "import os\n"
                     "caps = {l.split(':')[0]: l.split()[1] for l in open('/proc/self/status') if l.startswith('Cap')}\n"
                     "print(os.getuid(), os.getgid(), caps['CapEff'], caps['CapBnd'])\n"
                     "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                     "print('userns' if libc.unshare(0x10000000) == 0 else 'no userns')\n")  # CLONE_NEWUSER
    uid, gid, effective, bounding, userns = out.split()[:5]
    assert (uid, gid) == ("65534", "65534")
    assert int(effective, 16) == 0 and int(bounding, 16) == 0, out
    assert out.split("\n")[1] == "no userns"


FORKS = """
import os, time
children = []
for _ in range(1000):          # bounded: never more than 1,000 children, whatever the limit
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    children.append(pid)
print(len(children))
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
"""


@pytest.mark.skipif(not sandbox.available(), reason="bubblewrap cannot run here; `make test` installs it (see README)")
def test_process_count_is_limited(tmp_path):
    from infraprep.grading import limits

    confinement = limits.Confinement.create(pids=64, memory_bytes=0)
    if confinement is None and os.geteuid() == 0:
        pytest.fail("running as root but no cgroup could be made: root has no process limit in the sandbox")
    try:
        started = int(_sandboxed(tmp_path, FORKS, confinement, timeout=120))
    finally:
        if confinement is not None:
            confinement.close()
    limit = 64 if confinement is not None else limits.PIDS
    assert 0 < started < limit, f"{started} processes started; the limit is {limit}"


MEMORY = """
chunks = []
try:
    for _ in range(12):                      # bounded: at most 12 x 256 MiB = 3 GiB
        chunks.append(bytearray(256 * 1024**2))
except MemoryError:
    pass
print(len(chunks))
"""


@pytest.mark.skipif(not sandbox.available(), reason="bubblewrap cannot run here; `make test` installs it (see README)")
def test_memory_is_limited(tmp_path):
    import subprocess
    import sys

    from infraprep.grading import limits

    confinement = limits.Confinement.create(pids=64, memory_bytes=1024**3)
    work, shared = tmp_path / "work", tmp_path / "shared"
    work.mkdir()
    shared.mkdir()
    sandbox.entrust(work)
    sandbox.entrust(shared)
    try:
        prefix, _ = sandbox.bwrap_prefix(str(work), str(shared), 2 * 1024**3, confinement)
        done = subprocess.run(prefix + sandbox.isolation_shim(str(work), str(shared)) + [sys.executable, "-c", MEMORY],
                              capture_output=True, text=True, timeout=120)
    finally:
        if confinement is not None:
            confinement.close()
    # either the address-space limit raised MemoryError, or the cgroup's OOM killer ended the process
    if done.returncode == 0:
        assert int(done.stdout) < 8, f"{done.stdout} x 256 MiB allocated under a 2 GiB limit"
    else:
        assert done.returncode in (-9, 137), done.stderr[-2000:]


def test_only_folders_the_grader_made_go_to_the_sandbox_account(tmp_path):
    course = b.ROOT  # the instructor's course: never the kernel's to write, whoever starts a kernel where
    import tempfile

    made = sandbox.new_folder("infraprep-test-")
    assert sandbox.made_for_the_sandbox(made) and sandbox.made_for_the_sandbox(os.path.join(made, "nb-1"))
    assert not sandbox.made_for_the_sandbox(course) and not sandbox.made_for_the_sandbox(tmp_path)
    assert not sandbox.made_for_the_sandbox(tempfile.gettempdir()) and not sandbox.made_for_the_sandbox(made + "-x")
    os.rmdir(made)
    if sandbox.sandbox_account() is not None:  # a root grader: the one that hands folders over
        owner = os.stat(course / "README.md").st_uid
        with pytest.raises(RuntimeError, match="refusing to give"):
            sandbox.hand_over(course, recursive=True)
        assert os.stat(course / "README.md").st_uid == owner


@pytest.mark.skipif(not sandbox.available(), reason="bubblewrap cannot run here; `make test` installs it (see README)")
def test_a_kernel_started_in_the_course_folder_works_in_a_folder_of_its_own():
    import asyncio

    async def where():
        km = sandbox.SandboxedKernelManager(kernel_name="python3")
        await km.start_kernel(cwd=str(b.ROOT))
        try:
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=60)
            reply = await kc.execute_interactive(
                "import os; open('written.txt', 'w').write('x'); print(os.getcwd())", timeout=60,
                output_hook=lambda msg: seen.append(msg["content"].get("text", "")))
            kc.stop_channels()
            return reply
        finally:
            await km.shutdown_kernel(now=True)

    seen: list[str] = []
    asyncio.run(where())
    assert not (b.ROOT / "written.txt").exists()
    assert os.stat(b.ROOT / "README.md").st_uid == os.getuid()
    assert "".join(seen).strip() and str(b.ROOT) not in "".join(seen)
