"""The fork server (infraprep.grading.forkserver): a new kernel process for every notebook, forked from
a sandboxed zygote; nothing one notebook does reaches the next; a notebook cannot stop or change the
zygote; and grading with it gives exactly the scores of grading without it."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest

import builders as b
from infraprep.grading import executors, forkserver

pytestmark = pytest.mark.skipif(not forkserver.available(), reason="the fork server needs bubblewrap")

LESSON = "01-roles"


@pytest.fixture(scope="module")
def server():
    fs = forkserver.ForkServer(preload=["pandas"]).start()
    yield fs
    fs.close()


def run(fs: forkserver.ForkServer, code: str, source=None, finish: bool = True, timeout: float = 60) -> str:
    """Run ``code`` in a new kernel from ``fs`` (in a copy of ``source``); return what it printed."""

    fs.ensure()  # as the executors do before every notebook: a tainted sandbox is replaced

    async def go():
        km = fs.kernel_manager("python3")
        await km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"], cwd=source and str(source))
        kc = km.client()
        kc.start_channels()
        out = []
        try:
            await kc.wait_for_ready(timeout=60)
            await kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: out.append(
                m["content"].get("text", "") if m["msg_type"] == "stream" else ""))
        except Exception as exc:  # the kernel died on purpose in some tests
            out.append(f"<{type(exc).__name__}>")
        finally:
            kc.stop_channels()
            if finish:
                fs.finish(km)
        return "".join(out)

    return asyncio.run(go())


PROBE = """
import json, os, sys
print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(), "files": sorted(os.listdir('.')),
                  "start": open('/proc/self/stat').read().rsplit(')', 1)[1].split()[19],
                  "ns": sorted(k for k in get_ipython().user_ns if not k.startswith('_') and k not in
                               ('In', 'Out', 'get_ipython', 'exit', 'quit', 'open', 'json', 'os', 'sys')),
                  "pandas_loaded": 'pandas' in sys.modules, "env": dict(os.environ),
                  "procs": sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}))
"""


def probe(fs, source=None) -> dict:
    out = run(fs, PROBE, source)
    return json.loads(out.strip().splitlines()[-1])


def test_every_notebook_gets_a_new_process_with_a_fresh_namespace(server, tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    first = run(server, "import infraprep.checking as ck\nck.number = lambda *a, **k: None\nsecret = 42\n"
                        "print(open('/proc/self/stat').read().rsplit(')', 1)[1].split()[19])")
    second = probe(server, tmp_path)
    assert first.strip() != second["start"], "each notebook must run in a process of its own"
    assert (second["pid"], second["ppid"]) == (2, 1), \
        "each kernel is alone in a PID namespace of its own, under its init: it cannot see the zygote"
    assert second["ns"] == [], "the notebook's namespace must start empty"
    assert second["pandas_loaded"], "pre-imported modules are in sys.modules (only)"
    assert second["files"] == ["data.csv"], "the kernel works in a fresh copy of the submission's folder"
    assert second["env"].get("MPLBACKEND") == "Agg" and second["env"].get("INFRAPREP_SANDBOXED") == "1"
    assert "OPENBLAS_NUM_THREADS" not in second["env"], "the kernel's environment is the sandbox's, as for any kernel"
    assert set(second["procs"]) == {1, second["pid"]}, "no other process in the sandbox"
    patched = run(server, "import infraprep.checking as ck\nprint(ck.number.__module__)")
    assert patched.strip() == "infraprep.checking", "patching a module in one kernel must not reach the next"


LITTER = r"""
import os, subprocess, ctypes
open('left-in-cwd.txt', 'w').write('x')
os.makedirs('/tmp/.ipython/profile_default/startup', exist_ok=True)
open('/tmp/.ipython/profile_default/startup/00-evil.py', 'w').write('evil = True')
open('/tmp/pandas.py', 'w').write('raise SystemExit')
open('/dev/shm/posix-shm', 'w').write('x')
for path in ('/evil-root', '/work/evil'):
    try:
        open(path, 'w').write('x')
    except OSError:
        pass
os.makedirs('/tmp/locked/inner', exist_ok=True)
os.chmod('/tmp/locked', 0)
libc = ctypes.CDLL(None, use_errno=True)
shm = libc.shmget(0x1234, 4096, 0o1666)  # IPC_CREAT | 0666
subprocess.Popen(['sh', '-c', '(setsid sleep 600 &) ; sleep 600'], start_new_session=True)
print('littered', shm)
"""

CHECK = r"""
import os, ctypes, json
libc = ctypes.CDLL(None, use_errno=True)
left = [p for p in ('left-in-cwd.txt', '/tmp/.ipython/profile_default/startup/00-evil.py', '/tmp/pandas.py',
                    '/dev/shm/posix-shm', '/evil-root', '/work/evil', '/tmp/locked') if os.path.lexists(p)]
procs = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
print(json.dumps({"left": left, "shm": libc.shmget(0x1234, 4096, 0o666), "procs": procs, "pid": os.getpid(),
                  "evil": 'evil' in get_ipython().user_ns}))
"""


def test_nothing_a_notebook_leaves_behind_reaches_the_next(server):
    out = run(server, LITTER)
    assert "littered" in out and "littered -1" not in out, out
    seen = json.loads(run(server, CHECK).strip().splitlines()[-1])
    assert seen["left"] == [], f"files survived into the next notebook: {seen['left']}"
    assert seen["shm"] == -1, "a System V shared memory segment survived"
    assert set(seen["procs"]) == {1, seen["pid"]}, "a process of the previous notebook is still running"
    assert not seen["evil"]


def test_a_kernel_that_kills_itself_leaves_the_zygote_serving(server):
    started = server.started
    out = run(server, "import os\nos._exit(3)", timeout=5)
    assert "<" in out or out == ""  # the client noticed the kernel died (or saw nothing)
    assert server.alive() and server.started == started
    assert probe(server)["ppid"] == 1


def test_a_notebook_cannot_kill_or_read_the_zygote(server):
    started = server.started
    out = run(server, r"""
import os, signal
for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGSTOP, signal.SIGSEGV):
    for pid in (1, os.getppid()):
        try:
            os.kill(pid, sig)
        except OSError as e:
            print('refused', type(e).__name__)
for name in ('mem', 'environ', 'maps'):
    try:
        open(f'/proc/1/{name}', 'rb').read(16)
        print('READ', name)
    except OSError as e:
        print('unreadable', name)
print('still here')
""")
    assert "still here" in out and "READ" not in out, out
    assert server.alive() and server.started == started, "signals from a kernel must never reach the zygote"
    assert probe(server)["ppid"] == 1


def test_a_notebook_cannot_lower_the_zygotes_limits(server):
    out = run(server, r"""
import os, resource
for pid in (1, os.getppid()):
    try:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (32, 32))
        os.setpriority(os.PRIO_PROCESS, pid, 19)
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
        print('changed', pid)
    except OSError as e:
        print('refused', e)
""", finish=False)
    started = server.started
    server.finish()
    assert not server._dirty, "PID 1 of a kernel's namespace is its own init: the zygote is out of its reach"
    after = run(server, "import os, resource\nprint(resource.getrlimit(resource.RLIMIT_NOFILE), os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0))")
    nice, policy = after.split()[-2:]
    assert "(32, 32)" not in after and nice != "19" and policy == "0", f"the next notebook inherited a change: {out} {after}"
    assert server.started == started


def test_kernels_restart_after_dying_in_the_same_folder(server, tmp_path):
    server.ensure()

    async def go():
        km = server.kernel_manager("python3")
        await km.start_kernel(cwd=str(tmp_path))
        first = km.provisioner.pid
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=60)
        await kc.execute_interactive("open('made.txt', 'w').write('x')", timeout=60)
        kc.stop_channels()
        await km.restart_kernel(now=True)
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=60)
        out = []
        await kc.execute_interactive("import os; print(sorted(os.listdir('.')))", timeout=60,
                                     output_hook=lambda m: out.append(m["content"].get("text", "")))
        second = km.provisioner.pid
        kc.stop_channels()
        server.finish(km)
        return first, second, "".join(out)

    first, second, out = asyncio.run(go())
    assert first != second and "made.txt" in out


def test_make_kernels_falls_back_to_the_kernel_pool(monkeypatch):
    monkeypatch.setenv("INFRAPREP_FORKSERVER", "0")
    assert not forkserver.available()
    pool = executors.make_kernels(())
    try:
        assert isinstance(pool, executors.KernelPool)
    finally:
        pool.close()


@pytest.mark.roundtrip
def test_scores_identical_with_and_without_the_fork_server(tmp_path):
    answers = b.answer_ids(b.source_nb(LESSON))
    subs = {"all": b.submission(LESSON, "all"), "half": b.submission(LESSON, correct=answers[::2]),
            "blank": b.submission(LESSON),
            "broken": b.submission(LESSON, correct=answers[1:], replace={answers[0]: "raise RuntimeError('x')"})}
    forked = b.new_course(tmp_path / "forked", [LESSON])
    b.nbgrader(forked, "generate_assignment", LESSON, "--force")
    for student, nb in subs.items():
        b.submit(forked, student, LESSON, nb)
    pooled = tmp_path / "pooled" / "course"
    shutil.copytree(forked, pooled, symlinks=True)
    b.infraprep(forked, "autograde", LESSON, "--workers", "2", "--no-progress")
    env_off = {"INFRAPREP_FORKSERVER": "0"}
    b.infraprep(pooled, "autograde", LESSON, "--workers", "2", "--no-progress", env=env_off)
    got, expected = b.scores(forked, LESSON), b.scores(pooled, LESSON)
    assert set(got) == set(subs) and got == expected
    assert got["all"] == b.test_cells(b.source_nb(LESSON))
