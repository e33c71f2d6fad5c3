"""The judge's own process: hidden tests run here, bounded in time and memory, on the learner's answers.

The hidden tests parse, validate and compare what a student handed in (a YAML manifest, a log, a
table, a number). That work is the grader's, not the student's kernel's, but it runs on student
data, so it must be bounded too: a YAML document whose aliases expand without end, a regular
expression that backtracks on a crafted text, or a comparison of a huge answer must cost one
question, never the cohort. So the hidden tests run in a child process of the grader:

- with an address-space limit (``memory_bytes``), set in the child before it reads any job;
- under a time limit for each test cell and one for the whole notebook, measured while the child
  computes (the time it waits for the learner's kernel is the kernel calls' own budget, see
  :mod:`.judge`); past either, the child is killed, the question scores zero and is flagged, and a
  fresh child is started for the next cell;
- with the learner's functions as proxies: a call sends its arguments to the host, which runs the
  function in the kernel and sends back the result as plain data.

The protocol is one pickled frame each way at a time over the child's stdin and stdout (the host
sends a job; the child answers ``call``/``refers`` requests and finally a ``verdict``). Only the
grader's own code writes frames on either side; what the kernel sends is plain JSON-like data,
rebuilt by :func:`.kernelcodec.decode` in the child.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from .limits import kill_group

MEMORY_BYTES = 3 * 1024**3
_HEADER = struct.Struct("!Q")
_PRELOAD = ("numpy", "pandas", "yaml", "infraprep.checking", "infraprep.tables", "infraprep.estimates",
            "infraprep.assessment.variants", "infraprep.grading.kernelcodec")


class JudgeFailed(RuntimeError):
    """The judge's child process died, or could not be started."""


# ======================================================================== the child

def _write(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=4)
    data = _HEADER.pack(len(data)) + data
    while data:
        data = data[os.write(fd, data):]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read(fd: int) -> Any:
    head = _read_exact(fd, _HEADER.size)
    if head is None:
        return None
    body = _read_exact(fd, _HEADER.unpack(head)[0])
    return None if body is None else pickle.loads(body)


class _Proxy:
    """A learner's function, seen from the child: calling it asks the host to run it in the kernel."""

    def __init__(self, child: "_Child", name: str):
        self._child, self.__name__ = child, name
        self._forbid: tuple[str, ...] = ()

    def __call__(self, *args: Any) -> Any:
        from .kernelcodec import decode, scrub

        child = self._child
        forbid = tuple(dict.fromkeys(child.forbid.get(self.__name__, ()) + self._forbid))
        if child.hidden:
            child.hidden_calls += 1
        tree = child.ask({"op": "call", "name": self.__name__, "args": args, "forbid": forbid,
                          "signatures": child.signatures(forbid)})
        if type(tree) is dict and tree.get("t") == "raised":
            raise child.raised(str(tree.get("type", "Error")))
        if tree is None:
            raise child.raised("NoResult")
        return decode(scrub(tree))

    def guarded(self, forbid: tuple[str, ...]) -> "_Proxy":
        """The same function, called with the course's own functions for the job watched for (a call
        that runs one of them fails as ``UsesCoursesOwnFunction`` in the kernel). Every later call of this
        function in the test cell is watched too, however the test calls it (``ck.call``, directly)."""
        self._child.forbid_also(self.__name__, forbid)
        other = _Proxy(self._child, self.__name__)
        other._forbid = tuple(forbid)
        return other

    def refers_to(self, forbidden: tuple[str, ...]) -> str | None:
        answer = self._child.ask({"op": "refers", "name": self.__name__, "forbid": tuple(forbidden)})
        return answer if type(answer) is str else None

    def __repr__(self) -> str:
        return f"<function {self.__name__} in the learner's kernel>"


class _Child:
    def __init__(self, fd_in: int, fd_out: int):
        self.fd_in, self.fd_out = fd_in, fd_out
        self.namespaces: dict[tuple, dict] = {}
        self._raised: dict[str, type] = {}
        self.forbid: dict[str, tuple[str, ...]] = {}   # a learner's function -> the course's functions it must not run
        self.hidden = False       # the test cell's hidden part is running
        self.hidden_calls = 0     # calls of a learner's function on hidden inputs, in this test cell
        self.shown: dict[tuple, list] = {}   # the inputs the set-up cells show (V.show), per namespace
        self._signatures: dict[tuple, dict] = {}

    def signatures(self, forbid: tuple[str, ...]) -> dict | None:
        """What the kernel's guard watches for ``forbid`` (:func:`.kernelcodec.signatures`), worked out
        here, where the course is imported anyway, once a list: never on the host's time for the call."""
        if not forbid:
            return None
        if forbid not in self._signatures:
            from .kernelcodec import signatures

            watch, prints = signatures(forbid)
            self._signatures[forbid] = {"watch": watch, "prints": prints}
        return self._signatures[forbid]

    def forbid_also(self, name: str, forbid) -> None:
        self.forbid[name] = tuple(dict.fromkeys(self.forbid.get(name, ()) + tuple(forbid)))

    def ask(self, request: dict) -> Any:
        _write(self.fd_out, request)
        reply = _read(self.fd_in)
        if reply is None:
            raise SystemExit(0)
        return reply.get("value")

    def raised(self, type_name: str) -> BaseException:
        from infraprep.checking import DELEGATED, GUARD_ESCAPED

        if type_name == "NotImplementedError":
            return NotImplementedError("not written yet")
        if self.hidden and type_name not in (DELEGATED, GUARD_ESCAPED):
            type_name = "Error"  # on a hidden input, what the learner's code raised is its choice: it could tell the input
        safe = "".join(ch for ch in type_name if ch.isalnum() or ch == "_")[:60] or "Error"
        if safe not in self._raised:
            self._raised[safe] = type(safe, (Exception,), {"__module__": "learner"})
        return self._raised[safe]()

    @staticmethod
    def _key(job: dict) -> tuple:
        return (job["assignment"], job["student"], job["secret"], job.get("key"), tuple(job["setup"]))

    def namespace(self, job: dict) -> dict:
        from infraprep.assessment import variants

        key = self._key(job)
        if key not in self.namespaces:
            namespace: dict[str, Any] = {"__name__": "__infraprep_judge__"}
            with variants.grading_identity(job["student"], job["secret"], key=job.get("key")), \
                    variants.recording_shown() as shown:
                for source in job["setup"]:
                    exec(compile(source, "<setup>", "exec"), namespace)
            self.namespaces.clear()  # one notebook at a time: keep only the current one
            self.shown.clear()
            self.namespaces[key] = namespace
            self.shown[key] = shown
        return dict(self.namespaces[key])

    @staticmethod
    def _forbidden_in(code: str) -> dict[str | None, tuple[str, ...]]:
        """The ``forbid=`` lists of a test's ``function_cases`` calls, written as literals, by the name of the
        function they check (None: not a plain name): known before the test's first call of that function."""
        import ast

        found: dict[str | None, tuple[str, ...]] = {}
        try:
            tree = ast.parse(code)
        except SyntaxError:
            return found
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if called != "function_cases":
                continue
            for keyword in node.keywords:
                if keyword.arg != "forbid" or not isinstance(keyword.value, (ast.List, ast.Tuple)):
                    continue
                names = tuple(e.value for e in keyword.value.elts if isinstance(e, ast.Constant) and type(e.value) is str)
                target = node.args[1].id if len(node.args) > 1 and isinstance(node.args[1], ast.Name) else None
                found[target] = found.get(target, ()) + names
        return found

    def _run_test(self, job: dict, namespace: dict) -> None:
        """The test's visible part, then its hidden part (from then on, calls of the learner's functions
        are on hidden inputs); the whole code as hidden when the parts are not given or do not compile."""
        question = job["grade_id"]
        visible, hidden = job.get("visible"), job.get("hidden")
        try:
            parts = [(compile(visible, f"<tests {question}>", "exec"), False),
                     (compile(hidden, f"<hidden tests {question}>", "exec"), True)] if (
                type(visible) is str and type(hidden) is str) else None
        except SyntaxError:
            parts = None
        if parts is None:
            parts = [(compile(job["code"], f"<tests {question}>", "exec"), True)]
        for code, hidden_part in parts:
            self.hidden = hidden_part
            exec(code, namespace)

    def _hidden_message(self, question: str, error: Exception) -> str | None:
        """After a call of the learner's function on a hidden input, a check's own words can carry what
        that call chose to return or raise (a length, a type's name, a count): the judge says only that
        the result on a hidden input is wrong. None: the message may stand."""
        if not (self.hidden and self.hidden_calls) or getattr(error, "hidden_safe", False):
            return None
        label = getattr(error, "question", None) or question
        return f"{label}: your function's result on a hidden input is not the expected one"

    def judge(self, job: dict) -> dict:
        from infraprep.checking import AnswerError, PartialCredit

        from .kernelcodec import Missing, decode

        try:
            namespace = self.namespace(job)
        except Exception as error:  # noqa: BLE001 - the course's own set-up failed: a broken environment
            return {"status": "setup", "ename": type(error).__name__, "message": f"{type(error).__name__}: {error}"[:300]}
        question = job["grade_id"]
        self.forbid, self.hidden, self.hidden_calls = {}, False, 0
        try:
            callables = []
            for name, tree in job["fetched"]:
                if type(tree) is dict and tree.get("t") == "callable":
                    namespace[name] = _Proxy(self, name)
                    callables.append(name)
                else:
                    namespace[name] = decode(tree)
            for target, forbid in self._forbidden_in(job["code"]).items():
                for name in ([target] if target is not None else callables):
                    self.forbid_also(name, forbid)
            self._run_test(job, namespace)
        except Missing:
            return {"status": "fail", "ename": "NameError",
                    "message": "a name this question needs is not defined (run your answer cell)"}
        except PartialCredit as credit:
            return {"status": "partial", "fraction": credit.fraction, "ename": type(credit).__name__,
                    "message": self._hidden_message(question, credit) or str(credit)}
        except AnswerError as error:
            said = self._hidden_message(question, error)
            if said is not None:
                return {"status": "fail", "ename": "NotAnswered" if type(error).__name__ == "NotAnswered" else "WrongAnswer",
                        "message": said}
            return {"status": "fail", "ename": type(error).__name__, "message": str(error)}
        except MemoryError:
            return {"status": "limit", "ename": "GradingLimit",
                    "message": f"{question}: checking this answer needed more memory than the grader allows"}
        except RecursionError:
            return {"status": "fail", "ename": "GradingError",
                    "message": f"{question}: the check could not run on your answer (it is nested too deeply)"}
        except Exception as error:  # noqa: BLE001 - the check could not run on this answer: say what kind
            if self._hidden_message(question, error) is not None:
                return {"status": "fail", "ename": "GradingError",
                        "message": f"{question}: the check could not run on your function's result on a hidden input"}
            return {"status": "fail", "ename": "GradingError",
                    "message": f"{question}: the check could not run on your answer ({type(error).__name__})",
                    "detail": f"{type(error).__name__}: {error}"[:300]}
        return {"status": "pass"}

    def compare(self, job: dict) -> dict:
        """Names whose plain value in the kernel differs from the one the set-up cells draw here."""
        from .kernelcodec import Missing, decode

        namespace = self.namespace(job)
        differ = []
        for name, tree in job["compare"]:
            mine = namespace.get(name)
            if type(mine) not in (str, int, float, bool):
                continue
            try:
                theirs = decode(tree)
            except Missing:
                continue
            if type(theirs) is not type(mine) or theirs != mine:
                differ.append(name)
        shown = [[i.question, repr(i), i._repr_markdown_()] for i in self.shown.get(self._key(job), [])]
        return {"status": "pass", "differ": differ, "shown": shown}

    def serve(self) -> None:
        while True:
            job = _read(self.fd_in)
            if job is None:
                return
            from .kernelcodec import forget_foreign

            forget_foreign()  # nothing a previous job's kernel named stays made
            self._raised.clear()
            try:
                verdict = self.compare(job) if "compare" in job else self.judge(job)
            except Exception as error:  # noqa: BLE001 - never die on a job: answer what went wrong
                verdict = {"status": "setup", "ename": type(error).__name__, "message": f"{type(error).__name__}: {error}"[:300]}
            _write(self.fd_out, {"op": "verdict", "value": verdict})


def child_main(argv: list[str] | None = None) -> None:
    """Entry point of the judge's child: ``python -c '...child_main()' MEMORY_BYTES``."""
    argv = sys.argv if argv is None else argv
    memory = int(argv[1]) if len(argv) > 1 else MEMORY_BYTES
    fd_in, fd_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # whatever a hidden test prints goes to the log, never into the protocol
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import importlib

    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing optional module only costs its first user
            pass
    if memory:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    _write(fd_out, {"op": "ready", "pid": os.getpid()})
    _Child(fd_in, fd_out).serve()


# ======================================================================== the host's side

_ENTRY = "import sys; from infraprep.grading.judgeproc import child_main; child_main()"


class JudgeProcess:
    """The host's handle on one judge child (started lazily, replaced after a kill or a crash)."""

    def __init__(self, memory_bytes: int = MEMORY_BYTES):
        self.memory_bytes = memory_bytes
        self.proc: subprocess.Popen | None = None
        self.started = 0
        self._jobs = 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        self.close()
        env = dict(os.environ)
        for key in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
            env[key] = "1"  # an address-space limit and many BLAS threads do not mix
        env["MPLBACKEND"] = "Agg"
        log = os.environ.get("INFRAPREP_JUDGE_LOG")
        stderr = open(log, "ab") if log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", _ENTRY, str(self.memory_bytes)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                         env=env, start_new_session=True)
        except OSError as exc:
            raise JudgeFailed(f"the judge process could not start: {exc}") from exc
        finally:
            if log:
                stderr.close()
        self.started += 1
        self._ready = False
        self._jobs = 0  # jobs this child was sent

    def _ensure(self) -> None:
        if not self.alive():
            self.start()

    def _recv(self, timeout: float | None) -> tuple[str, Any]:
        """("frame", obj), ("timeout", None) or ("eof", None)."""
        assert self.proc is not None
        fd = self.proc.stdout.fileno()
        if timeout is not None:
            ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
            if not ready:
                return "timeout", None
        try:
            obj = _read(fd)
        except (OSError, pickle.UnpicklingError, EOFError):
            obj = None
        return ("eof", None) if obj is None else ("frame", obj)

    def _cpu(self) -> float:
        """CPU seconds the child has used (user and system), from ``/proc``; wall time elsewhere."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return time.monotonic()

    def _wait(self, allowance: float) -> tuple[str, Any, float]:
        """The child's next frame, counting the CPU time it spends meanwhile against ``allowance``
        (a busy machine must not fail a check that is only waiting for a core); a wall-clock cap of
        four times the allowance plus 30 s catches a child that blocks without computing."""
        cpu0, wall0 = self._cpu(), time.monotonic()
        while True:
            kind, msg = self._recv(min(0.25, max(0.0, allowance)))
            spent = max(0.0, self._cpu() - cpu0)
            if kind != "timeout":
                return kind, msg, spent
            if spent >= allowance or time.monotonic() - wall0 > 4 * allowance + 30:
                return "timeout", None, spent

    def _send(self, obj: Any) -> bool:
        try:
            _write(self.proc.stdin.fileno(), obj)
            return True
        except OSError:
            return False

    def run(self, job: dict, answer: Callable[[dict], Any], compute_s: float) -> tuple[dict, float]:
        """Judge one test cell. ``answer(request)`` serves the child's requests (kernel calls) and is
        not charged to ``compute_s``, the child's own time allowance. Returns (verdict, compute used).

        The child serves one notebook after another, so nothing one left behind may count against the
        next: a child that ran out of memory on an answer is replaced before the next job, and a set-up
        that fails in a child that has judged before is tried again in a fresh one (only a fresh child's
        failure says the environment is broken; the set-up runs before any call of a learner's function)."""
        served = self.alive() and self._jobs > 0
        verdict, used = self._run_once(job, answer, compute_s)
        if verdict.get("status") == "setup" and served:
            self.kill()
            verdict, more = self._run_once(job, answer, compute_s)
            used += more
        if verdict.get("status") == "limit" or verdict.get("ename") == "MemoryError":
            self.kill()  # its heap may stay full or fragmented: the next job gets a fresh child
        return verdict, used

    def _run_once(self, job: dict, answer: Callable[[dict], Any], compute_s: float) -> tuple[dict, float]:
        self._ensure()
        used = 0.0
        if not self._ready:  # the child imports pandas and the course first: not charged to the cell
            kind, msg = self._recv(120.0)
            if kind != "frame" or msg.get("op") != "ready":
                self.kill()
                raise JudgeFailed("the judge process did not start")
            self._ready = True
        self._jobs += 1
        if not self._send(job):
            self.kill()
            return {"status": "crash", "message": "the judge process is gone"}, used
        while True:
            kind, msg, spent = self._wait(compute_s - used)
            used += spent
            if kind == "timeout":
                self.kill()
                return {"status": "limit", "message": "checking this answer took longer than the grader allows"}, used
            if kind == "eof":
                status = self.proc.poll() if self.proc else None
                self.kill()
                return {"status": "crash", "message": f"the check of this answer crashed the judge ({status})"}, used
            if msg.get("op") == "verdict":
                return msg["value"], used
            try:
                value = answer(msg)
            except Exception as exc:  # noqa: BLE001 - the host could not serve it: the learner's call failed
                value = {"t": "raised", "type": type(exc).__name__}
            if not self._send({"value": value}):
                self.kill()
                return {"status": "crash", "message": "the judge process is gone"}, used

    def compare(self, request: dict) -> list[str]:
        """The drawn names whose values in the kernel differ from this student's (see :meth:`_Child.compare`)."""
        return self.compare_all(request)[0]

    def compare_all(self, request: dict) -> tuple[list[str], list[list[str]]]:
        """As :meth:`compare`, and the inputs the set-up cells show this student: ``[question, text, markdown]``."""
        verdict, _ = self.run(request, lambda _request: None, 20.0)
        return list(verdict.get("differ") or []), list(verdict.get("shown") or [])

    def kill(self) -> None:
        kill_group(self.proc)
        self.close()

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if proc.poll() is None:
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


_SHARED: JudgeProcess | None = None


def shared(memory_bytes: int = MEMORY_BYTES) -> JudgeProcess:
    """This process's judge child (one a grading worker or nbgrader process), started on first use."""
    global _SHARED
    if _SHARED is None or _SHARED.memory_bytes != memory_bytes:
        if _SHARED is not None:
            _SHARED.close()
        _SHARED = JudgeProcess(memory_bytes)
        import atexit

        atexit.register(_SHARED.close)
    return _SHARED
