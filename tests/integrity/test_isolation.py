"""Each notebook starts from nothing another notebook touched: a writer and a reader, back to back.

The writer notebook leaves something behind of every kind a kernel can reach - files, IPC objects
(POSIX message queues, semaphores and shared memory, System V ones), keyrings, extended attributes,
timestamps, the scheduling policy, I/O priority, nice value and limits of PID 1 and its parent, the
environment, the umask, a background process and an abstract socket - and the reader notebook,
graded next by the same worker, looks for each. Nothing may reach the reader, and the sandbox's
zygote must not even need replacing. The same holds for a kernel started on its own (the
fallback without a fork server), and no host file is the sandbox's to change.
"""

from __future__ import annotations

import os

import pytest

from infraprep.grading import forkserver, sandbox

from .forkrun import last_json, run

pytestmark = pytest.mark.skipif(not forkserver.available(), reason="the isolation tests need bubblewrap")

COMMON = r"""
import ctypes, json, os, resource, socket, stat
libc = ctypes.CDLL(None, use_errno=True)
librt = ctypes.CDLL("librt.so.1", use_errno=True)
SYS_ADD_KEY, SYS_KEYCTL, SYS_IOPRIO_SET, SYS_IOPRIO_GET = 248, 250, 251, 252
KEYRINGS = {"user": -4, "user session": -5, "session": -3}
def keyctl(*args):
    return libc.syscall(SYS_KEYCTL, *args)
def persistent():
    return keyctl(22, ctypes.c_int(-1), -4)  # KEYCTL_GET_PERSISTENT into the user keyring
MARK = 1_234_567_890
"""

WRITER = COMMON + r"""
done = {}
def attempt(name, action):
    try:
        action()
        done[name] = "ok"
    except Exception as exc:
        done[name] = f"refused: {type(exc).__name__}"
for path in ("/tmp/leak.txt", "/dev/shm/leak.txt", os.path.expanduser("~/.leak"), "../leak.txt", "/leak.txt", "/dev/leak"):
    attempt(f"file {path}", lambda p=path: open(p, "w").write("secret"))
mq = librt.mq_open(b"/leak-queue", os.O_CREAT | os.O_RDWR, 0o600, None)
done["mq"] = "ok" if mq >= 0 and librt.mq_send(mq, b"secret", 6, 0) == 0 else "refused"
sem = libc.sem_open(b"/leak-sem", os.O_CREAT, 0o600, 3)
done["sem"] = "ok" if sem else "refused"
done["sysv shm"] = libc.shmget(0x1EA7, 4096, 0o1600)
done["sysv msg"] = libc.msgget(0x1EA8, 0o1600)
done["sysv sem"] = libc.semget(0x1EA9, 1, 0o1600)
for name, ring in dict(KEYRINGS, persistent=persistent()).items():
    done[f"key {name}"] = libc.syscall(SYS_ADD_KEY, b"user", b"leak", b"secret", 6, ring)
for path in ("/tmp", "/dev/shm", "."):
    attempt(f"xattr {path}", lambda p=path: os.setxattr(p, "user.leak", b"secret"))
for path in ("/tmp", "/dev/shm", "/dev/null", "/dev/urandom"):
    attempt(f"utime {path}", lambda p=path: os.utime(p, (MARK, MARK)))
    attempt(f"chmod {path}", lambda p=path: os.chmod(p, 0o600))
for pid in sorted({1, os.getppid()}):
    attempt(f"sched {pid}", lambda p=pid: os.sched_setscheduler(p, os.SCHED_IDLE, os.sched_param(0)))
    attempt(f"ioprio {pid}", lambda p=pid: libc.syscall(SYS_IOPRIO_SET, 1, p, 3 << 13) == 0 or 1 / 0)
    attempt(f"nice {pid}", lambda p=pid: os.setpriority(os.PRIO_PROCESS, p, 19))
    attempt(f"rlimit {pid}", lambda p=pid: resource.prlimit(p, resource.RLIMIT_NOFILE, (64, 64)))
os.environ["LEAK"] = "secret"
os.putenv("LEAK2", "secret")
os.umask(0o777)
resource.setrlimit(resource.RLIMIT_MSGQUEUE, (64, 64))
attempt("hostname", lambda: socket.sethostname("leaky") if hasattr(socket, "sethostname") else 1 / 0)
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind("\0leak-socket")
listener.listen(1)
if os.fork() == 0:  # a background process that outlives the notebook if nothing stops it
    os.setsid()
    import time
    time.sleep(300)
    os._exit(0)
print("WROTE " + json.dumps(done))
"""

READER = COMMON + r"""
seen = {}
for path in ("/tmp/leak.txt", "/dev/shm/leak.txt", os.path.expanduser("~/.leak"), "../leak.txt", "/leak.txt", "/dev/leak"):
    seen[f"file {path}"] = os.path.exists(path)
seen["mq"] = librt.mq_open(b"/leak-queue", os.O_RDONLY, 0, None) >= 0
seen["sem"] = bool(libc.sem_open(b"/leak-sem", 0))
seen["sysv shm"] = libc.shmget(0x1EA7, 4096, 0o600) >= 0
seen["sysv msg"] = libc.msgget(0x1EA8, 0o600) >= 0
seen["sysv sem"] = libc.semget(0x1EA9, 1, 0o600) >= 0
for name, ring in dict(KEYRINGS, persistent=persistent()).items():
    seen[f"key {name}"] = keyctl(10, ring, b"user", b"leak", 0) > 0  # KEYCTL_SEARCH
for path in ("/tmp", "/dev/shm", "."):
    try:
        seen[f"xattr {path}"] = os.getxattr(path, "user.leak") == b"secret"
    except OSError:
        seen[f"xattr {path}"] = False
for path in ("/tmp", "/dev/shm", "/dev/null", "/dev/urandom"):
    info = os.stat(path)
    seen[f"utime {path}"] = int(info.st_mtime) == MARK
    seen[f"chmod {path}"] = stat.S_IMODE(info.st_mode) == 0o600
for pid in sorted({1, os.getppid(), os.getpid()}):
    seen[f"sched {pid}"] = os.sched_getscheduler(pid) == os.SCHED_IDLE     # what the writer set
    seen[f"ioprio {pid}"] = libc.syscall(SYS_IOPRIO_GET, 1, pid) == 3 << 13
    seen[f"nice {pid}"] = os.getpriority(os.PRIO_PROCESS, pid) == 19
    seen[f"rlimit {pid}"] = resource.prlimit(pid, resource.RLIMIT_NOFILE)[0] == 64
seen["environ"] = "LEAK" in os.environ or "LEAK2" in os.environ
seen["own rlimit"] = resource.getrlimit(resource.RLIMIT_MSGQUEUE)[0] == 64
old = os.umask(0o022)
seen["umask"] = old == 0o777
seen["hostname"] = socket.gethostname() == "leaky"
probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    probe.connect("\0leak-socket")
    seen["abstract socket"] = True
except OSError:
    seen["abstract socket"] = False
seen["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit()) != sorted({1, os.getpid()})
print("SEEN " + json.dumps(seen))
"""


def test_nothing_one_notebook_leaves_reaches_the_next_on_one_fork_server():
    fs = forkserver.ForkServer().start()
    try:
        started = fs.started
        wrote = last_json(run(fs, WRITER), "WROTE")
        assert not fs._dirty, f"the zygote had to be replaced: {fs.last_problems}"
        seen = last_json(run(fs, READER), "SEEN")
    finally:
        fs.close()
    # the writer really could make these (else the reader's silence would prove nothing)
    for made in ("file /tmp/leak.txt", "file /dev/shm/leak.txt", "mq", "sem", "xattr /tmp", "xattr /dev/shm",
                 "utime /tmp", "utime /dev/shm", "sched 1", "nice 1", "rlimit 1"):
        assert wrote[made] == "ok", f"the writer could not {made} ({wrote[made]}): the test would prove nothing"
    for made in ("sysv shm", "sysv msg", "sysv sem", "key user", "key user session", "key session"):
        assert int(wrote[made]) >= 0, f"the writer could not make its {made} object"
    # nothing of the host's may be changed from inside, and nothing outside its folders written
    for refused in ("file /leak.txt", "file /dev/leak", "utime /dev/null", "chmod /dev/null", "utime /dev/urandom",
                    "chmod /dev/urandom", "hostname"):
        assert wrote[refused].startswith("refused"), f"{refused} was allowed inside the sandbox"
    leaked = sorted(name for name, found in seen.items() if found)
    assert not leaked, f"reached the next notebook: {leaked}"
    assert fs.started == started, "the next notebook must not need a new sandbox: nothing reached the zygote"


def test_a_kernel_started_on_its_own_gets_the_same_isolation(tmp_path):
    """The fallback without a fork server: the same namespaces through the isolation shim."""
    import subprocess
    import sys

    results = []
    for code, tag in ((WRITER, "WROTE"), (READER, "SEEN")):
        work, shared = tmp_path / f"{tag}-work", tmp_path / f"{tag}-shared"
        work.mkdir()
        shared.mkdir()
        sandbox.entrust(work)
        sandbox.entrust(shared)
        prefix, stage = sandbox.bwrap_prefix(str(work), str(shared))
        done = subprocess.run(prefix + sandbox.isolation_shim(str(work), str(shared)) + [sys.executable, "-c", code],
                              capture_output=True, text=True, timeout=180)
        results.append(last_json(done.stdout, tag))
    wrote, seen = results
    assert wrote["file /tmp/leak.txt"] == "ok" and wrote["chmod /dev/null"].startswith("refused")
    leaked = sorted(name for name, found in seen.items() if found and name != "processes")
    assert not leaked, f"reached the next kernel: {leaked}"


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox runs as its own account only when the grader is root")
def test_a_root_grader_runs_the_sandbox_as_an_unprivileged_account(tmp_path):
    import subprocess
    import sys

    account = sandbox.sandbox_account()
    assert account is not None and account[0] != 0
    work, shared = tmp_path / "work", tmp_path / "shared"
    work.mkdir()
    shared.mkdir()
    sandbox.entrust(work)
    sandbox.entrust(shared)
    prefix, _ = sandbox.bwrap_prefix(str(work), str(shared))
    # the working folder is a tmpfs of the sandbox's own (nothing written there reaches the host); the
    # shared folder (the kernel's IPC sockets) is the host's
    code = f"open('made.txt', 'w').write('x'); open({str(shared / 'made.txt')!r}, 'w').write('x'); import os; print(os.getuid())"
    done = subprocess.run(prefix + sandbox.isolation_shim(str(work), str(shared)) + [sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
    assert not (work / "made.txt").exists(), "what the kernel writes in its working folder reached the host's disk"
    made = (shared / "made.txt").stat()
    assert (made.st_uid, made.st_gid) == account, "what the kernel makes belongs to the sandbox's account, not root"
    null = os.stat("/dev/null")
    assert null.st_uid == 0 and oct(null.st_mode & 0o777) == "0o666", "the host's /dev/null is unchanged"
