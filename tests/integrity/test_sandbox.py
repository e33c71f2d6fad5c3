"""Red team: student code runs sandboxed while it is graded (bubblewrap).

Each submission tries to break out: read the instructor's source or the gradebook,
read another student's work, write into the course, reach the network, or read the
grader's environment. Every attempt must fail, and honest answers must still count.
"""

from __future__ import annotations

import json
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
