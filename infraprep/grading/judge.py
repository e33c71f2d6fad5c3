"""Judge hidden tests in the grader's process, never in the learner's kernel.

nbgrader runs test cells, hidden tests included, inside the student's kernel, so
student code that ran earlier can patch the checks, patch builtins, or read the
expected values (jupyter/nbgrader's FAQ: no sandbox). :class:`JudgedExecute`
replaces nbgrader's ``Execute`` in ``Autograde.autograde_preprocessors``:

1. for a test cell, only its *visible* part (form checks) runs in the kernel;
2. the *hidden* part (taken from the gradebook, never from the submission) runs
   here, in the grader, in a namespace built from the assignment's read-only
   set-up cells;
3. every learner name the hidden code uses is fetched from the kernel as plain
   data (:mod:`infraprep.grading.kernelcodec`), with the visible part's own execute
   request (a Jupyter *user expression*, evaluated after the cell; no extra round
   trip); a learner *function* becomes a proxy that sends the hidden inputs to the
   kernel (a silent request with no code) and brings back the result as plain
   data. Expected values never enter the kernel.

A failed check becomes an error output on the cell (one line: the check's message),
which nbgrader's ``SaveAutoGrades`` scores as zero, exactly as a failing assert would.

Runaway code is contained cell by cell, so the rest of a notebook is still graded: a kernel that
dies (``os._exit``, ``exit()``, a crash, a memory kill) or that a cell kept past the time limit is
restarted, the cells that ran well before are replayed, and grading goes on with the next cell (at
most :attr:`JudgedExecute.max_restarts` times a notebook); a cell that prints more than
:attr:`JudgedExecute.max_output_chars` has the rest of its output dropped. Each case is flagged for
the report (:mod:`infraprep.grading.flags`).
"""

from __future__ import annotations

import ast
import asyncio
import os
import base64
import builtins
import pickle
import secrets
import time
from typing import Any

import nbformat
from jupyter_core.utils import ensure_async
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Enum, Float, Integer, Unicode

from . import flags, kernelcodec
from .cells import has_hidden, is_setup_cell, is_test_cell, nbgrader_meta, split_hidden


class StudentCodeError(Exception):
    """The learner's function raised, or could not be run, in the kernel; the class is renamed after the kernel's error."""


_RAISED: dict[str, type] = {}


def _raised(type_name: str) -> BaseException:
    if type_name == "NotImplementedError":
        return NotImplementedError("not written yet")
    safe = "".join(ch for ch in type_name if ch.isalnum() or ch == "_")[:60] or "Error"
    if safe not in _RAISED:
        _RAISED[safe] = type(safe, (StudentCodeError,), {})
    return _RAISED[safe]()


class KernelFunction:
    """A learner's function, left in the kernel; calling it runs it there on pickled inputs."""

    def __init__(self, judge: "JudgedExecute", name: str):
        self._judge, self.__name__ = judge, name

    def __call__(self, *args: Any) -> Any:
        payload = base64.b64encode(pickle.dumps(args, protocol=4)).decode("ascii")
        tree = self._judge._kernel("_call", self.__name__, payload)
        if tree is None:
            raise _raised("NoResult")  # timed out, killed its kernel, or printed nothing
        if type(tree) is dict and tree.get("t") == "raised":
            raise _raised(str(tree.get("type", "Error")))
        return kernelcodec.decode(tree)

    def refers_to(self, forbidden: tuple[str, ...]) -> str | None:
        """Which of ``forbidden`` (dotted names of the course's own functions) the learner's function
        reaches, worked out in the kernel where it lives (:mod:`infraprep.assessment.delegation`)."""
        tree = self._judge._kernel_raw(lambda nonce: kernelcodec.refers_expression(nonce, self.__name__, forbidden))
        return tree.get("v") if type(tree) is dict and tree.get("t") == "str" else None

    def __repr__(self) -> str:
        return f"<function {self.__name__} in the learner's kernel>"


def free_names(code: str) -> list[str]:
    """Names the code reads but never binds (builtins excluded), each once."""
    tree = ast.parse(code)
    bound, loaded = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                if node.id not in loaded:
                    loaded.append(node.id)
            else:
                bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.comprehension):
            for target in ast.walk(node.target):
                if isinstance(target, ast.Name):
                    bound.add(target.id)
    return [name for name in loaded if name not in bound and not hasattr(builtins, name)]


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _nonce() -> str:
    """A fresh tag for one reply: a kernel cannot guess it ahead, so it cannot forge a payload for it."""
    return "@@infraprep-" + secrets.token_hex(12) + "@@"


def _asks_exit(reply_content: dict) -> bool:
    """Whether an execute reply says the code called exit() or quit() (the kernel stops after replying)."""
    return any(isinstance(p, dict) and p.get("source") == "ask_exit" for p in reply_content.get("payload") or [])


def _where(cell: NotebookNode, index: int) -> str:
    """How a flag names a cell: its grade id, else its position."""
    return nbgrader_meta(cell).get("grade_id") or f"cell {index + 1}"


def _failed(cell: NotebookNode) -> bool:
    return any(o.get("output_type") == "error" or (o.get("output_type") == "stream" and o.get("name") == "stderr")
               for o in cell.get("outputs", []))


class TrustedCells:
    """The instructor's versions of a notebook's cells, read from the gradebook (never from a submission)."""

    def __init__(self, tests: dict[str, str], setup: list[str]):
        self.tests, self.setup = tests, setup

    @classmethod
    def from_gradebook(cls, db_url: str, assignment: str, notebook: str) -> "TrustedCells":
        from nbgrader.api import Gradebook

        with Gradebook(db_url) as gb:
            nb = gb.find_notebook(notebook, assignment)
            graded = {c.name for c in nb.grade_cells}
            answers = {c.name for c in nb.solution_cells}
            tests, setup = {}, []
            for cell in nb.source_cells:
                if cell.name in graded and cell.name not in answers and cell.cell_type == "code":
                    tests[cell.name] = cell.source
                elif cell.name not in graded and cell.name not in answers and is_setup_cell(
                    {"locked": cell.locked}, cell.cell_type
                ):
                    setup.append(cell.source)
        return cls(tests, setup)

    def to_dict(self) -> dict:
        """Plain data, to send with a notebook to an executor that has no gradebook."""
        return {"tests": dict(self.tests), "setup": list(self.setup)}

    @classmethod
    def from_dict(cls, data: dict) -> "TrustedCells":
        return cls(dict(data["tests"]), list(data["setup"]))

    @classmethod
    def from_notebook(cls, source_nb: NotebookNode) -> "TrustedCells":
        """From an instructor's source notebook (for tools that grade without a gradebook)."""
        tests = {nbgrader_meta(c)["grade_id"]: c.source for c in source_nb.cells if is_test_cell(c)}
        setup = [c.source for c in source_nb.cells if is_setup_cell(nbgrader_meta(c), c.cell_type)]
        return cls(tests, setup)


class JudgedExecute(Execute):
    """nbgrader's Execute, with hidden tests judged in the grader process (see the module docstring)."""

    judge_timeout = Float(120.0, help="Seconds the grader waits for one answer or one call from the kernel").tag(config=True)
    sandbox = Enum(["auto", "required", "off"], "auto", help=(
        "Run student kernels under bubblewrap (infraprep.grading.sandbox): 'auto' uses it where it works and "
        "warns loudly where it does not; 'required' refuses to grade without it; 'off' never uses it."
    )).tag(config=True)

    max_restarts = Integer(3, help="Kernel restarts allowed in one notebook before the rest is left unrun").tag(config=True)
    max_output_chars = Integer(1_000_000, help="Output characters kept per cell; the rest is dropped").tag(config=True)
    variant_secret = Unicode("", help=(
        "The cohort's secret for per-student variants (infraprep.assessment.variants): with one, nobody can "
        "compute a classmate's inputs from the public code. Empty: variants are keyed by the student id alone."
    )).tag(config=True)

    _riding: dict = {}   # user expressions to add to the next request (a test cell's), while it is sent
    _ridden: dict | None = None  # what they evaluated to, from that request's reply
    _called = False      # the judge sent requests of its own during the current cell

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from . import sandbox

        self.sandboxed = self.sandbox != "off" and sandbox.available()
        if self.sandboxed:
            self.kernel_manager_class = sandbox.SandboxedKernelManager
        elif self.sandbox == "required":
            raise RuntimeError("JudgedExecute.sandbox is 'required' but bubblewrap cannot run on this machine")
        elif self.sandbox == "auto":
            self.log.warning("!!! bubblewrap is not available: student code runs UNSANDBOXED, with the grader's "
                             "rights. Install it (apt-get install bubblewrap) before grading a real cohort. !!!")

    def _identity_env(self) -> dict:
        """What the kernel is told of the graded student: their id and variant key (never the secret)."""
        from infraprep.assessment import variants

        if not variants.valid_identity(self.student):
            return {"INFRAPREP_GRADING": "1"}
        env = {variants.ENV_STUDENT: self.student, "INFRAPREP_GRADING": "1"}
        if self.variant_secret:
            env[variants.ENV_KEY] = variants.key_for(self.student, self.variant_secret)
        return env

    async def async_start_new_kernel(self, **kwargs):
        """nbclient's kernel start, with the graded student's identity in the kernel's environment."""
        if hasattr(self.km, "kernel_env"):
            self.km.kernel_env = dict(self.kernel_env)
        else:
            kwargs["env"] = dict(os.environ, **self.kernel_env)
        return await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    def preprocess(self, nb: NotebookNode, resources: dict, km=None, *args, **kwargs):
        trusted = (resources.get("infraprep") or {}).get("trusted_cells")
        if isinstance(trusted, dict):
            trusted = TrustedCells.from_dict(trusted)
        if trusted is None:
            info = resources["nbgrader"]
            trusted = TrustedCells.from_gradebook(info["db_url"], info["assignment"], info["notebook"])
        self._trusted = trusted
        self._setup_namespace: dict[str, Any] | None = None
        self._ran_well: list[int] = []      # cells that ran without error: replayed after a restart
        self._restarts = 0
        self._output_chars: dict[int, int] = {}
        self._riding, self._ridden = {}, None
        self.student = str((resources.get("nbgrader") or {}).get("student") or "")
        self.kernel_env = self._identity_env()
        if km is not None:
            km.kernel_env = dict(self.kernel_env)
        resources.setdefault("infraprep", {})["sandboxed"] = self.sandboxed
        nb.metadata.setdefault("infraprep", {})["sandboxed"] = self.sandboxed
        return super().preprocess(nb, resources, km, *args, **kwargs)

    # ------------------------------------------------------------------ execution
    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.get("cell_type") != "code" or not cell.get("source", "").strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if self._restarts > self.max_restarts:
            cell.outputs = [_error_output("KernelDied", "not run: the kernel died too often in this notebook")]
            return cell
        started = time.monotonic()
        try:
            self._asked_exit = self._called = False
            await self._execute_judged(cell, cell_index, execution_count, store_history)
            # a cell's own reply shows the kernel alive; calls made for the hidden tests may have killed it
            if self._asked_exit or (self._called and not await ensure_async(self.km.is_alive())):
                raise DeadKernelError("the kernel exited, or died while the tests called the answer")
        except DeadKernelError:
            self.nb.cells[cell_index] = cell
            flags.add(self.nb, flags.KERNEL_DIED, _where(cell, cell_index),
                      "the kernel died in this cell; it was restarted and the rest of the notebook graded")
            cell.outputs.append(_error_output("KernelDied", "the kernel died while running this cell"))
            await self._recover(cell_index)
            return cell
        timeout = self._get_timeout(cell)
        if timeout and time.monotonic() - started >= timeout:
            flags.add(self.nb, flags.TIMEOUT, _where(cell, cell_index),
                      f"stopped after the {timeout} s time limit")
            # the interrupt may not have stopped it (a loop that ignores SIGINT, a kernel that closed its
            # sockets): start a fresh kernel with the cells that ran well, so later cells are not stuck behind it
            await self._recover(cell_index)
        elif not _failed(cell) and not is_test_cell(cell):
            self._ran_well.append(cell_index)
        return cell

    async def _recover(self, cell_index: int) -> None:
        """Restart a dead kernel and replay the cells that ran well before ``cell_index``."""
        if not await self._restart_kernel():
            return
        kept = {}
        try:
            for index in list(self._ran_well):
                if index >= cell_index:
                    break
                kept[index] = self.nb.cells[index]
                replay = nbformat.v4.new_code_cell(kept[index].source)
                await Execute.async_execute_cell(self, replay, index, store_history=False)
        except DeadKernelError:
            await self._restart_kernel()
        finally:
            for index, original in kept.items():  # nbclient stores each executed cell at its index
                self.nb.cells[index] = original

    async def _restart_kernel(self) -> bool:
        """A fresh kernel and client, counted against ``max_restarts``; False once they are used up."""
        self._restarts += 1
        if self._restarts > self.max_restarts:
            return False
        if self.kc is not None:
            self.kc.stop_channels()
        await ensure_async(self.km.restart_kernel(now=True))
        self.kc = await self.async_start_new_kernel_client()
        return True

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        content = (kwargs.get("execute_reply") or {}).get("content", {})
        if _asks_exit(content):
            self._asked_exit = True  # exit() / quit(): the kernel shuts down after its reply
        if self._riding:
            self._ridden = content.get("user_expressions") or {}

    def output(self, outs, msg, display_id, cell_index):
        """nbclient's output handling, with at most ``max_output_chars`` kept per cell."""
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(len(str(v)) for v in (content.get("data") or {}).values())
        size += sum(len(line) for line in content.get("traceback", []) or [])
        used = self._output_chars.get(cell_index, 0)
        if used > self.max_output_chars:
            return None
        self._output_chars[cell_index] = used + size
        if used + size > self.max_output_chars:
            cell = self.nb.cells[cell_index]
            flags.add(self.nb, flags.OUTPUT_TRUNCATED, _where(cell, cell_index),
                      f"more than {self.max_output_chars:,} characters of output; the rest was dropped")
            outs.append(nbformat.v4.new_output("stream", name="stdout",
                                               text=f"\n... output truncated after {self.max_output_chars:,} characters ...\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    async def _execute_judged(self, cell, cell_index, execution_count=None, store_history=True):
        grade_id = nbgrader_meta(cell).get("grade_id")
        trusted = self._trusted.tests.get(grade_id) if is_test_cell(cell) else None
        if trusted is None or not has_hidden(trusted):
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        visible, hidden = split_hidden(trusted)
        names = self._names_needed(hidden) if hidden.strip() else []
        # the learner's names ride on the visible part's own request (a user expression, run after it)
        nonce = _nonce()
        ride = {"infraprep": kernelcodec.expression("_fetch_many", nonce, names)} if names else {}
        cell.source = visible
        self._riding, self._ridden = ride, None
        try:
            await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            cell.source = trusted
            self._riding = {}
        if _failed(cell) or not hidden.strip():
            return cell
        fetched = None
        if names and self._ridden is not None:
            fetched = kernelcodec.parse_expression(self._ridden.get("infraprep"), nonce)
        self._loop, self._index = asyncio.get_running_loop(), cell_index
        try:
            verdict = await self._loop.run_in_executor(None, self._judge, grade_id, hidden, names, fetched)
        finally:
            self.nb.cells[cell_index] = cell  # nbclient stores each executed cell at its index
        if verdict is not None:
            cell.outputs.append(verdict)
        return cell

    # nbclient binds its synchronous wrapper to the base coroutine at class creation;
    # bind it again so the synchronous path (used by nbconvert's preprocess) runs ours.
    execute_cell = run_sync(async_execute_cell)

    def _execute_request(self, code: str, **kwargs) -> str:
        """The client's ``execute``, with the judge's user expressions added to a test cell's request."""
        if self._riding:
            kwargs["user_expressions"] = dict(kwargs.get("user_expressions") or {}, **self._riding)
        return self._plain_execute(code, **kwargs)

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        self._plain_execute = kc.execute
        kc.execute = self._execute_request
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)  # as for execute_cell above

    async def _evaluate(self, expression: str) -> dict | None:
        """Evaluate one user expression in the kernel: a silent request with no code, so no output and
        no execution count; the result comes back in the reply. None if the kernel never answered
        (after the cell time limit the kernel is interrupted, as nbclient does for a cell)."""
        msg_id = self._plain_execute("", silent=True, store_history=False, stop_on_error=False,
                                     user_expressions={"infraprep": expression})
        reply = await self.async_wait_for_reply(msg_id)
        if reply is None:
            return None
        content = reply.get("content") or {}
        if _asks_exit(content):
            self._asked_exit = True
        return (content.get("user_expressions") or {}).get("infraprep")

    def _kernel(self, entry: str, *args: Any) -> Any:
        """Run a kernel-side entry point of the codec; return its tagged payload (or None)."""
        return self._kernel_raw(lambda nonce: kernelcodec.expression(entry, nonce, *args))

    def _kernel_raw(self, make) -> Any:
        """Evaluate the user expression ``make(nonce)`` in the kernel; return its tagged payload (or None)."""
        nonce = _nonce()
        expression = make(nonce)
        self._called = True
        future = asyncio.run_coroutine_threadsafe(self._evaluate(expression), self._loop)
        return kernelcodec.parse_expression(future.result(timeout=self.judge_timeout), nonce)

    # ------------------------------------------------------------------ judging
    def _namespace(self) -> dict[str, Any]:
        if self._setup_namespace is None:
            from infraprep.assessment import variants

            namespace: dict[str, Any] = {"__name__": "__infraprep_judge__"}
            with variants.grading_identity(self.student if variants.valid_identity(self.student) else "unknown",
                                           self.variant_secret):
                for source in self._trusted.setup:
                    exec(compile(source, "<setup>", "exec"), namespace)
            self._setup_namespace = namespace
        return dict(self._setup_namespace)

    def _names_needed(self, hidden: str) -> list[str]:
        """The learner's names the hidden code reads (those the set-up cells do not define); [] if it does not parse."""
        try:
            namespace = self._namespace()
            return [n for n in free_names(hidden) if n not in namespace]
        except Exception:  # noqa: BLE001 - the judge reports it when it runs the hidden code
            return []

    def _judge(self, grade_id: str, hidden: str, names: list[str], fetched: Any = None) -> NotebookNode | None:
        from infraprep.checking import AnswerError

        namespace = self._namespace()
        try:
            if fetched is None:  # the ride failed (or was not taken): fetch on a request of its own
                fetched = self._kernel("_fetch_many", names) if names else {"t": "many", "v": []}
            pairs = fetched.get("v") if type(fetched) is dict and fetched.get("t") == "many" else None
            if type(pairs) is not list or [type(p) is list and len(p) == 2 and p[0] for p in pairs] != names:
                return _error_output("GradingError", f"{grade_id}: your answer could not be read from the notebook")
            for name, tree in pairs:
                if type(tree) is dict and tree.get("t") == "callable":
                    namespace[name] = KernelFunction(self, name)
                else:
                    namespace[name] = kernelcodec.decode(tree)
            exec(compile(hidden, f"<hidden tests {grade_id}>", "exec"), namespace)
        except kernelcodec.Missing:
            return _error_output("NameError", "a name this question needs is not defined (run your answer cell)")
        except AnswerError as error:
            return _error_output(type(error).__name__, str(error))
        except Exception as error:  # the check could not run on this answer: fail, say what kind
            self.log.warning("hidden test %s raised %s: %s", grade_id, type(error).__name__, error)
            return _error_output("GradingError", f"{grade_id}: the check could not run on your answer ({type(error).__name__})")
        return None
