"""Judge graded test cells in the grader, never in the learner's kernel: the grade is the judge's verdict.

nbgrader runs test cells, hidden tests included, inside the student's kernel, and scores a test cell
from its outputs (an error scores zero; an ``execute_result`` that is not a number scores full marks).
Both let student code decide its own grade. :class:`JudgedExecute` replaces nbgrader's ``Execute``
(in ``Autograde.autograde_preprocessors``, for ``nbgrader autograde`` and ``infraprep autograde``):

1. Every cell runs in the kernel in order, as nbgrader would; for a test cell only its *visible* part
   runs there (what the student sees), and the learner's names the test reads are taken out of the
   kernel as plain data on that same request (a Jupyter *user expression*, :mod:`.kernelcodec`).
2. After the last cell, the judge runs each test cell's whole code, visible and hidden (taken from the
   gradebook, never from the submission), in its own bounded process (:mod:`.judgeproc`), with the
   variants drawn for the gradebook's student (:mod:`infraprep.assessment.variants`). The learner's
   functions are called in the kernel on the hidden inputs *now*, when no student cell is left to
   run: their outputs are dropped and nothing they leave behind can reach the notebook.
3. Then every test cell's outputs are replaced by the judge's verdict: nothing, an error (zero), or a
   number (partial credit). That is all nbgrader's ``SaveAutoGrades`` sees: whatever the kernel
   printed, displayed or returned in a test cell is gone.

The judge's own work on student data is bounded: a time and memory limit for each cell's checks and
a time limit for the notebook (:mod:`.judgeproc`), and a time budget for the learner's function
calls of each cell, in total. Runaway student code is contained cell by cell: a kernel that dies or
that a cell kept past the time limit is restarted and the cells that ran well are replayed; every
output message counts against a byte cap per cell and per notebook, whatever its kind. Each case is
flagged for the report (:mod:`.flags`).

The kernel never works in a folder the grader keeps: it gets a fresh scratch copy of the regular
files (no links) of the notebook's folder, and nothing is copied back. Before grading the first
notebook of an assignment, the instructor's own solutions are graded the same way (the *preflight*):
if they do not get full marks, grading stops, naming the cells and the errors.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import builtins
import json
import os
import pickle
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import nbformat
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import CellControlSignal, DeadKernelError
from nbclient.util import run_sync
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Enum, Float, Integer, Unicode

from . import flags, judgeproc, kernelcodec
from .cells import is_setup_cell, is_test_cell, nbgrader_meta, split_hidden


class GradingEnvironmentError(RuntimeError):
    """The grader itself cannot grade this assignment (the instructor's solutions fail): stop, loudly."""


def free_names(code: str) -> list[str]:
    """Names the code reads but never binds (builtins excluded), each once."""
    tree = ast.parse(code)
    bound, loaded = bound_names(code, tree), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in loaded:
            loaded.append(node.id)
    return [name for name in loaded if name not in bound and not hasattr(builtins, name)]


def bound_names(code: str, tree: ast.AST | None = None) -> set[str]:
    """Every name the code binds anywhere (assignments, imports, definitions, loop and comprehension targets)."""
    tree = ast.parse(code) if tree is None else tree
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return bound


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


def _size(msg: dict) -> int:
    """Bytes a kernel message carries: its whole content (text, data, metadata, transient, buffers)."""
    try:
        size = len(json.dumps(msg.get("content", {}), default=str, ensure_ascii=False))
    except (TypeError, ValueError, RecursionError):
        size = 1 << 30
    return size + sum(len(b) for b in msg.get("buffers") or [])


def _well_formed(msg: dict) -> dict | None:
    """The message as nbclient may read it, or None (dropped): its content and parent header are dicts
    and its type is text; an execution count that is no count (text, a fraction, a negative number, a
    bool) is taken out, an ``execute_result``'s becomes null (nbclient copies any message's count into
    the cell, and nbformat refuses the notebook or the output that holds it)."""
    if (type(msg) is not dict or type(msg.get("content")) is not dict or type(msg.get("parent_header")) is not dict
            or type(msg.get("msg_type")) is not str):
        return None
    content = msg["content"]
    count = content.get("execution_count")
    if "execution_count" in content and not (count is None or (type(count) is int and count >= 0)):
        content = dict(content)
        if msg["msg_type"] == "execute_result":
            content["execution_count"] = None
        else:
            del content["execution_count"]
        msg = dict(msg, content=content)
    return msg


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

    def setup_names(self) -> set[str]:
        names: set[str] = set()
        for source in self.setup:
            try:
                names |= bound_names(source)
            except SyntaxError:
                continue
        return names


class Verdict(dict):
    """What the judge decided for one test cell: ``status`` (pass, fail, partial, limit, crash, unrun),
    ``ename`` and ``message`` (one line for the student), ``fraction`` (partial credit)."""

    def outputs(self, points: float) -> list[NotebookNode]:
        status = self.get("status")
        if status == "pass":
            return []
        if status == "partial":
            earned = round(points * float(self.get("fraction", 0.0)), 4)
            return [nbformat.v4.new_output("stream", name="stdout", text=str(self.get("message", "")) + "\n"),
                    nbformat.v4.new_output("execute_result", data={"text/plain": repr(earned)}, execution_count=None)]
        ename = str(self.get("ename") or ("GradingLimit" if status in ("limit", "crash") else "GradingError"))
        return [_error_output(ename, str(self.get("message") or "not graded"))]


# the results of preflights, per process: (assignment, source's mtime, settings) -> None (passed) or the failure
_PREFLIGHTS: dict[tuple, str | None] = {}


class JudgedExecute(Execute):
    """nbgrader's Execute, with every test cell judged in the grader (see the module docstring)."""

    judge_timeout = Float(120.0, help="Seconds the grader waits for one call of a learner's function").tag(config=True)
    judge_cell_seconds = Float(20.0, help="Seconds of the judge's own computing for one test cell").tag(config=True)
    judge_notebook_seconds = Float(120.0, help="Seconds of the judge's own computing for one notebook").tag(config=True)
    judge_memory_bytes = Integer(judgeproc.MEMORY_BYTES, help="Address-space limit of the judge's process").tag(config=True)
    sandbox = Enum(["auto", "required", "off"], "auto", help=(
        "Run student kernels under bubblewrap (infraprep.grading.sandbox): 'auto' uses it where it works and "
        "warns loudly where it does not; 'required' refuses to grade without it; 'off' never uses it."
    )).tag(config=True)
    max_restarts = Integer(3, help="Kernel restarts allowed in one notebook before the rest is left unrun").tag(config=True)
    max_output_bytes = Integer(1_000_000, help="Bytes of output messages kept per cell; the rest is dropped").tag(config=True)
    max_notebook_output_bytes = Integer(10_000_000, help="Bytes of output messages kept per notebook").tag(config=True)
    variant_secret = Unicode("", help=(
        "The cohort's secret for per-student variants (infraprep.assessment.variants): with one, nobody can "
        "compute a classmate's inputs from the public code. Empty: variants are keyed by the student id alone."
    )).tag(config=True)
    preflight = Bool(True, help=(
        "Grade the instructor's own solutions first (once an assignment a process) and stop if they do "
        "not get full marks: a broken grading environment must not zero every student."
    )).tag(config=True)
    store_widget_state = Bool(False, help="Widget state from a student's kernel is not kept (nbclient's option)").tag(config=True)
    warn_unsandboxed = Bool(True, help="Warn loudly when student code runs without the sandbox").tag(config=True)

    _riding: dict = {}   # user expressions to add to the next request (a test cell's), while it is sent
    _ridden: dict | None = None  # what they evaluated to, from that request's reply

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from . import sandbox

        self.sandboxed = self.sandbox != "off" and sandbox.available()
        if self.sandboxed:
            self.kernel_manager_class = sandbox.SandboxedKernelManager
        elif self.sandbox == "required":
            raise RuntimeError("JudgedExecute.sandbox is 'required' but bubblewrap cannot run on this machine")
        elif self.sandbox == "auto" and self.warn_unsandboxed:
            self.log.warning("!!! bubblewrap is not available: student code runs UNSANDBOXED, with the grader's "
                             "rights. Install it (apt-get install bubblewrap) before grading a real cohort. !!!")
        self.verdicts: dict[str, Verdict] = {}

    # ------------------------------------------------------------------ identity
    def _identity_env(self) -> dict:
        """What the kernel is told of the graded student: their id and variant key (never the secret)."""
        from infraprep.assessment import variants

        env = {"INFRAPREP_GRADING": "1", "NBGRADER_EXECUTION": "autograde"}
        if variants.valid_identity(self.student):
            env[variants.ENV_STUDENT] = self.student
            if self.variant_key:
                env[variants.ENV_KEY] = self.variant_key
        return env

    async def async_start_new_kernel(self, **kwargs):
        """nbclient's kernel start, with the graded student's identity in the kernel's environment."""
        if hasattr(self.km, "kernel_env"):
            self.km.kernel_env = dict(self.kernel_env)
        else:
            kwargs["env"] = dict(os.environ, **self.kernel_env)
        # the kernel's own console talk (ipykernel's start-up notes) is not the grader's output
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        return await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    # ------------------------------------------------------------------ the notebook
    def preprocess(self, nb: NotebookNode, resources: dict, km=None):
        info = resources.get("nbgrader") or {}
        trusted = (resources.get("infraprep") or {}).get("trusted_cells")
        if isinstance(trusted, dict):
            trusted = TrustedCells.from_dict(trusted)
        if trusted is None:
            trusted = TrustedCells.from_gradebook(info["db_url"], info["assignment"], info["notebook"])
        self._trusted = trusted
        self._setup_names = trusted.setup_names()
        self.student = str(info.get("student") or "")
        self.assignment = str(info.get("assignment") or "")
        from infraprep.assessment import variants

        if self.student and not variants.valid_identity(self.student) and any(
                re.search(r"\bvariants\b", source) for source in trusted.setup):
            # the kernel could not draw this student's inputs, nor the judge check against them: an honest
            # notebook would score zero, so it is not graded, with the reason (nbgrader reports it)
            from .escape import printable

            raise ValueError(f"student id {printable(self.student)!r} cannot draw this assignment's variants (letters, "
                             "digits or _ . @ + -, at most 64): not graded; rename the student")

        given = (resources.get("infraprep") or {}).get("variant_key")  # a learner's own check: their round's key
        self.variant_key = given or (variants.key_for(self.student, self.variant_secret)
                                     if self.variant_secret and variants.valid_identity(self.student) else "")
        self.kernel_env = self._identity_env()
        if km is not None:
            km.kernel_env = dict(self.kernel_env)
        self._ran_well: list[int] = []      # cells that ran without error: replayed after a restart
        self._restarts = 0
        self._asked_exit = False
        self._output_bytes: dict[int, int] = {}
        self._notebook_bytes = 0
        self._tests: list[dict] = []        # test cells to judge after the last cell, in order
        self._judge_seconds = 0.0
        self._riding, self._ridden = {}, None
        self.verdicts = {}
        resources.setdefault("infraprep", {})["sandboxed"] = self.sandboxed
        nb.metadata.setdefault("infraprep", {})["sandboxed"] = self.sandboxed
        if self.preflight and not (resources.get("infraprep") or {}).get("preflight"):
            self._preflight(resources)
        metadata = resources.setdefault("metadata", {})
        kept_path = metadata.get("path")
        scratch = self._scratch(kept_path)
        metadata["path"] = scratch
        if hasattr(self, "workdir"):  # the warm-kernel class copies its files from here
            self.workdir = scratch
        try:
            NotebookClient.__init__(self, nb, km)
            self.reset_execution_trackers()
            self._check_assign_resources(resources)
            with self.setup_kernel():
                info_msg = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = (info_msg or {}).get("content", {}).get("language_info", {})
                for index, cell in enumerate(self.nb.cells):
                    self.preprocess_cell(cell, resources, index)
                run_sync(self._async_judge_all)()
            self._write_verdicts()
        finally:
            metadata["path"] = kept_path
            shutil.rmtree(scratch, ignore_errors=True)
            if kept_path:
                _keep_course_files(Path(kept_path), self.config, self.assignment, info.get("notebook"))
        return self.nb, self.resources

    @staticmethod
    def _scratch(folder: str | None) -> str:
        """A fresh folder for the kernel with a copy of the regular files of ``folder`` (no links, no
        notebooks, no hidden files): the kernel never writes where the grader keeps anything."""
        from .sandbox import new_folder

        scratch = new_folder("infraprep-nb-")
        if not folder or not os.path.isdir(folder):
            return scratch
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(root, d))]
            for name in files:
                path = os.path.join(root, name)
                if name.startswith(".") or name.endswith(".ipynb") or os.path.islink(path) or not os.path.isfile(path):
                    continue
                target = os.path.join(scratch, os.path.relpath(path, folder))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(path, target)
        return scratch

    # ------------------------------------------------------------------ execution
    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.get("cell_type") != "code" or not cell.get("source", "").strip():
            if is_test_cell(cell):
                self._queue_test(cell, cell_index, None)
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if self._restarts > self.max_restarts:
            cell.outputs = [_error_output("KernelDied", "not run: the kernel died too often in this notebook")]
            if is_test_cell(cell):
                self._queue_test(cell, cell_index, None)
            return cell
        started = time.monotonic()
        try:
            self._asked_exit = False
            await self._execute_cell(cell, cell_index, execution_count, store_history)
            if self._asked_exit:
                raise DeadKernelError("the kernel exited")
        except DeadKernelError:
            self.nb.cells[cell_index] = cell
            flags.add(self.nb, flags.KERNEL_DIED, _where(cell, cell_index),
                      "the kernel died in this cell; it was restarted and the rest of the notebook graded")
            cell.outputs.append(_error_output("KernelDied", "the kernel died while running this cell"))
            await self._recover(cell_index)
            return cell
        timeout = self._get_timeout(cell)
        if timeout and time.monotonic() - started >= timeout:
            flags.add(self.nb, flags.TIMEOUT, _where(cell, cell_index), f"stopped after the {timeout} s time limit")
            # the interrupt may not have stopped it (a loop that ignores SIGINT, a kernel that closed its
            # sockets): start a fresh kernel with the cells that ran well, so later cells are not stuck behind it
            await self._recover(cell_index)
        elif not _failed(cell) and not is_test_cell(cell):
            self._ran_well.append(cell_index)
        return cell

    execute_cell = run_sync(async_execute_cell)  # nbclient binds its synchronous wrapper to the base coroutine

    async def _execute_cell(self, cell, cell_index, execution_count, store_history):
        """Run a cell; for a test cell, only its visible part, taking the names its tests read along."""
        if not is_test_cell(cell):
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        grade_id = nbgrader_meta(cell).get("grade_id")
        trusted = self._trusted.tests.get(grade_id)
        if trusted is None:
            self._queue_test(cell, cell_index, None)
            return cell
        visible, hidden = split_hidden(trusted)
        code = visible + "\n" + hidden
        names = self._names_needed(code)
        nonce = _nonce()
        self._riding = {"infraprep": kernelcodec.expression("_fetch_many", nonce, names)} if names else {}
        self._ridden = None
        cell.source = visible
        try:
            await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            cell.source = trusted
            self._riding = {}
        fetched = None
        if names and self._ridden is not None:
            fetched = kernelcodec.parse_expression(self._ridden.get("infraprep"), nonce)
        elif not names:
            fetched = {"t": "many", "v": []}
        self._queue_test(cell, cell_index, {"code": code, "names": names, "fetched": fetched,
                                            "visible": visible, "hidden": hidden})
        self.nb.cells[cell_index] = cell
        return cell

    def _queue_test(self, cell, cell_index: int, job: dict | None) -> None:
        grade_id = nbgrader_meta(cell).get("grade_id") or f"cell {cell_index + 1}"
        self._tests = [t for t in self._tests if t["index"] != cell_index]
        self._tests.append({"index": cell_index, "grade_id": grade_id, "job": job})

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
        self._reply_error(kwargs.get("cell"), kwargs.get("cell_index"), kwargs.get("execute_reply"))
        content = (kwargs.get("execute_reply") or {}).get("content", {})
        if _asks_exit(content):
            self._asked_exit = True  # exit() / quit(): the kernel shuts down after its reply
        if self._riding:
            self._ridden = content.get("user_expressions") or {}

    def _reply_error(self, cell, cell_index, reply) -> None:
        """What nbgrader's ``Execute.on_cell_executed`` does (an error the reply reports and no output
        recorded, as after a timeout or an error output the caps dropped, is added to the cell), with
        that error as one more output message: counted against the same caps, and cut to its name and
        the start of its message when the whole would not fit."""
        content = (reply or {}).get("content") if type(reply) is dict else None
        if cell is None or type(content) is not dict or content.get("status") != "error":
            return
        ename = content.get("ename")
        if any(o.get("output_type") == "error" and o.get("ename") == ename for o in cell.get("outputs", [])):
            return
        traceback = content.get("traceback")
        if traceback == []:
            traceback = ["ERROR: An error occurred while showtraceback was disabled"]
        error = {"ename": ename, "evalue": content.get("evalue"), "traceback": traceback}
        msg = {"msg_type": "error", "header": {"msg_type": "error"}, "parent_header": {}, "metadata": {},
               "content": error}
        size, used = _size(msg), self._output_bytes.get(cell_index, 0)
        if used + size > self.max_output_bytes or self._notebook_bytes + size > self.max_notebook_output_bytes:
            name, value = str(ename)[:200], str(content.get("evalue"))
            value = value[:2000] + (" ... (truncated)" if len(value) > 2000 else "")
            msg["content"] = {"ename": name, "evalue": value, "traceback": [f"{name}: {value}"]}
            if used <= self.max_output_bytes:
                self._output_bytes[cell_index] = self.max_output_bytes + 1
                flags.add(self.nb, flags.OUTPUT_TRUNCATED, _where(cell, cell_index),
                          f"an error of {size:,} bytes (more than the cap of output); its name and the start "
                          "of its message were kept")
            size = _size(msg)  # a few kB: kept past the cell's cap (the cell's error says why it failed)
            if self._notebook_bytes + size <= self.max_notebook_output_bytes:
                self._notebook_bytes += size
                self._process(msg, cell, cell_index)
            return
        self.process_message(msg, cell, cell_index)

    def process_message(self, msg: dict, cell: NotebookNode, cell_index: int):
        """nbclient's handling of one output message, counted in bytes against the cell's and the
        notebook's caps whatever its kind (streams, displays and their metadata, updates of earlier
        displays, widget messages); past a cap the message is dropped and the cell flagged. A malformed
        message (a field of the wrong type, an execution count that is no count) costs that message only."""
        msg = _well_formed(msg)
        if msg is None:
            return None
        if msg.get("msg_type") in ("status", "execute_input"):
            return self._process(msg, cell, cell_index)
        size = _size(msg)
        used = self._output_bytes.get(cell_index, 0)
        if used + size > self.max_output_bytes or self._notebook_bytes + size > self.max_notebook_output_bytes:
            if used <= self.max_output_bytes:
                self._output_bytes[cell_index] = self.max_output_bytes + 1
                what = (f"{self.max_output_bytes:,} bytes of output in this cell"
                        if used + size > self.max_output_bytes else
                        f"{self.max_notebook_output_bytes:,} bytes of output in the notebook")
                flags.add(self.nb, flags.OUTPUT_TRUNCATED, _where(cell, cell_index), f"more than {what}; the rest was dropped")
                cell.outputs.append(nbformat.v4.new_output(
                    "stream", name="stdout", text=f"\n... output truncated: more than {what} ...\n"))
            return None
        self._output_bytes[cell_index] = used + size
        self._notebook_bytes += size
        return self._process(msg, cell, cell_index)

    def _process(self, msg: dict, cell: NotebookNode, cell_index: int):
        try:
            return super().process_message(msg, cell, cell_index)
        except CellControlSignal:
            raise
        except Exception as exc:  # noqa: BLE001 - nbformat refused the output it would make of it
            self.log.warning("%s: a malformed %s message from the kernel was dropped (%s)",
                             _where(cell, cell_index), str(msg.get("msg_type"))[:40], type(exc).__name__)
            return None

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

    async def _evaluate(self, expression: str, timeout: float | None = None) -> dict | None:
        """Evaluate one user expression in the kernel: a silent request with no code, so no output and
        no execution count; the result comes back in the reply. None if the kernel did not answer in
        ``timeout`` seconds (it is then interrupted) or is gone."""
        if self.kc is None or not await ensure_async(self.km.is_alive()):
            return None
        msg_id = self._plain_execute("", silent=True, store_history=False, stop_on_error=False,
                                     user_expressions={"infraprep": expression})
        try:
            reply = await asyncio.wait_for(self.async_wait_for_reply(msg_id), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            await self._unstick(msg_id)
            return None
        except DeadKernelError:
            return None
        if reply is None:
            return None
        content = reply.get("content") or {}
        if _asks_exit(content):
            self._asked_exit = True
        return (content.get("user_expressions") or {}).get("infraprep")

    async def _unstick(self, msg_id: str) -> None:
        """A call ran past its budget: interrupt it; if the kernel still does not answer, replace it."""
        try:
            await ensure_async(self.km.interrupt_kernel())
            await asyncio.wait_for(self.async_wait_for_reply(msg_id), 5)
        except Exception:  # noqa: BLE001 - it ignored the interrupt, or died: a fresh kernel for the rest
            await self._recover(len(self.nb.cells))

    # ------------------------------------------------------------------ judging, after the last cell
    def _names_needed(self, code: str) -> list[str]:
        """The learner's names a test reads (those the set-up cells do not define); [] if it does not parse."""
        try:
            return [n for n in free_names(code) if n not in self._setup_names]
        except SyntaxError:
            return []

    async def _async_judge_all(self) -> None:
        self._loop = asyncio.get_running_loop()
        missing = [t for t in self._tests if t["job"] is not None and t["job"]["fetched"] is None]
        if missing:  # the visible part failed, or its ride did not come back: fetch what is left at once
            names = sorted({n for t in missing for n in t["job"]["names"]})
            nonce = _nonce()
            tree = kernelcodec.parse_expression(
                await self._evaluate(kernelcodec.expression("_fetch_many", nonce, names), self.judge_timeout), nonce)
            pairs = dict(tree.get("v") or []) if type(tree) is dict and tree.get("t") == "many" else None
            for test in missing:
                if pairs is not None and all(n in pairs for n in test["job"]["names"]):
                    test["job"]["fetched"] = {"t": "many", "v": [[n, pairs[n]] for n in test["job"]["names"]]}
        for test in self._tests:
            verdict = await self._loop.run_in_executor(None, self._judge_one, test)
            self.verdicts[test["grade_id"]] = verdict
            if verdict.get("status") in ("limit", "crash"):
                flags.add(self.nb, flags.JUDGE_LIMIT, test["grade_id"], str(verdict.get("message", "")))
            if verdict.get("status") == "setup":
                raise GradingEnvironmentError(
                    f"the assignment's own set-up cells fail in the grader: {verdict.get('message')}")
        await self._check_variants()

    def _judge_one(self, test: dict) -> Verdict:
        """Judge one test cell in the judge's process (runs in a thread; kernel calls go to the loop)."""
        job = test["job"]
        if job is None:
            return Verdict(status="unrun", ename="GradingError", message=f"{test['grade_id']}: this test did not run")
        fetched = job["fetched"]
        pairs = fetched.get("v") if type(fetched) is dict and fetched.get("t") == "many" else None
        if type(pairs) is not list or [p[0] if type(p) is list and len(p) == 2 else None for p in pairs] != job["names"]:
            return Verdict(status="fail", ename="GradingError",
                           message=f"{test['grade_id']}: your answer could not be read from the notebook")
        left = self.judge_notebook_seconds - self._judge_seconds
        if left <= 0:
            return Verdict(status="limit", message="the grader's time for checking this notebook ran out")
        self._call_seconds = 0.0
        self._call_budget = float(self.timeout or self.judge_timeout)
        request = {"assignment": self.assignment, "student": self.student if self._valid_student() else "unknown",
                   "secret": self.variant_secret, "key": self.variant_key or None,
                   "setup": list(self._trusted.setup), "grade_id": test["grade_id"],
                   "code": job["code"], "visible": job.get("visible"), "hidden": job.get("hidden"), "fetched": pairs}
        judge = judgeproc.shared(self.judge_memory_bytes)
        verdict, used = judge.run(request, self._serve, min(self.judge_cell_seconds, left))
        self._judge_seconds += used
        if self._call_seconds > self._call_budget:
            flags.add(self.nb, flags.TIMEOUT, test["grade_id"],
                      f"the calls of your function took more than the {self._call_budget:g} s this cell allows")
        return Verdict(verdict)

    def _valid_student(self) -> bool:
        from infraprep.assessment import variants

        return variants.valid_identity(self.student)

    def _serve(self, request: dict) -> Any:
        """Serve the judge's request for the kernel: call a learner's function, or ask what it refers to."""
        op = request.get("op")
        left = self._call_budget - self._call_seconds
        if left <= 0:
            return {"t": "raised", "type": "TimeoutError"}
        started = time.monotonic()
        nonce = _nonce()
        if op == "call":
            payload = base64.b64encode(pickle.dumps(tuple(request.get("args", ())), protocol=4)).decode("ascii")
            expression = kernelcodec.expression("_call", nonce, request["name"], payload,
                                                request.get("signatures") or list(request.get("forbid") or ()))
        elif op == "refers":
            expression = kernelcodec.refers_expression(nonce, request["name"], tuple(request.get("forbid") or ()))
        else:
            return None
        timeout = min(left, self.judge_timeout)
        future = asyncio.run_coroutine_threadsafe(self._evaluate(expression, timeout), self._loop)
        try:
            result = future.result(timeout + 30)
        finally:
            self._call_seconds += time.monotonic() - started
        tree = kernelcodec.parse_expression(result, nonce)
        if self._asked_exit or tree is None:
            self._asked_exit = False
            dead = asyncio.run_coroutine_threadsafe(self._revive(), self._loop).result(120)
            if op == "refers":
                return None
            return {"t": "raised", "type": "TimeoutError" if not dead and result is None else "KernelDied"}
        if op == "refers":
            return tree.get("v") if type(tree) is dict and tree.get("t") == "str" else None
        return tree

    async def _revive(self) -> bool:
        """After a call that got no answer: a dead kernel is restarted with the cells that ran well."""
        if self.kc is not None and await ensure_async(self.km.is_alive()):
            return False
        flags.add(self.nb, flags.KERNEL_DIED, "hidden tests",
                  "the kernel died while the tests called your function; it was restarted")
        await self._recover(len(self.nb.cells))
        return True

    async def _check_variants(self) -> None:
        """Flag drawn inputs that differ in the kernel from the ones drawn for this student (an identity
        changed in the notebook, an edited set-up cell, inputs rebound by hand): the grade used the true ones."""
        names = sorted(n for n in self._setup_names if re.match(r"q\d+[a-z]?_", n))
        if not names or not self._valid_student():
            return
        nonce = _nonce()
        tree = kernelcodec.parse_expression(
            await self._evaluate(kernelcodec.expression("_fetch_many", nonce, names), self.judge_timeout), nonce)
        if type(tree) is not dict or tree.get("t") != "many":
            return
        request = {"assignment": self.assignment, "student": self.student, "secret": self.variant_secret,
                   "key": self.variant_key or None, "setup": list(self._trusted.setup), "compare": tree.get("v")}
        differ, shown = await self._loop.run_in_executor(None, judgeproc.shared(self.judge_memory_bytes).compare_all,
                                                         request)
        differ = list(differ) + [q for q in _shown_otherwise(self.nb, shown) if q not in differ]
        if differ:
            flags.add(self.nb, flags.VARIANT_CHANGED, ", ".join(differ[:5]),
                      "inputs in the notebook differ from the ones drawn for this student (identity or set-up "
                      "changed, or made-up inputs shown); the answers were judged against the true inputs")

    def _write_verdicts(self) -> None:
        """Every test cell's outputs become the judge's verdict, and nothing else."""
        judged = {t["index"]: t["grade_id"] for t in self._tests}
        for index, cell in enumerate(self.nb.cells):
            if not is_test_cell(cell):
                continue
            grade_id = judged.get(index, nbgrader_meta(cell).get("grade_id"))
            verdict = self.verdicts.get(grade_id) or Verdict(status="unrun", message="this test did not run")
            points = float(nbgrader_meta(cell).get("points") or 0)
            cell.outputs = verdict.outputs(points)

    # ------------------------------------------------------------------ preflight
    def _preflight(self, resources: dict) -> None:
        """Grade the instructor's solutions of this assignment the same way, once a process; raise
        :class:`GradingEnvironmentError` (naming the failing cells) unless they get full marks."""
        from nbgrader.coursedir import CourseDirectory

        info = resources.get("nbgrader") or {}
        try:
            cd = CourseDirectory(config=self.config)
            source = Path(cd.format_path(cd.source_directory, ".", info["assignment"])) / f"{info['notebook']}.ipynb"
            stamp = source.stat().st_mtime_ns
        except (OSError, KeyError, Exception):  # noqa: BLE001 - no source here: nothing to check against
            return
        key = (str(source), stamp, self.sandboxed, self.variant_secret)
        if key not in _PREFLIGHTS:
            _PREFLIGHTS[key] = preflight_failures(self, source, resources)
        failure = _PREFLIGHTS[key]
        if failure:
            raise GradingEnvironmentError(failure)


def preflight_failures(parent: JudgedExecute, source: Path, resources: dict) -> str | None:
    """None if the instructor's solutions in ``source`` get every autograded point in the grading
    kernel, else a message naming each test cell that did not and why."""
    nb = nbformat.read(str(source), as_version=4)
    info = dict(resources.get("nbgrader") or {})
    info["student"] = "preflight"
    checker = type(parent)(config=parent.config)
    checker.preflight = False
    sent = {"nbgrader": info, "metadata": {"path": str(source.parent), "name": source.stem},
            "infraprep": {"trusted_cells": parent._trusted.to_dict(), "preflight": True}}
    try:
        checker.preprocess(nb, sent)
    except Exception as exc:  # noqa: BLE001 - the grading kernel could not even run it
        return (f"{info.get('assignment')}: the instructor's solutions could not be graded in the grading kernel "
                f"({type(exc).__name__}: {exc}): the grading environment is broken and no student was graded")
    failed = []
    for cell in checker.nb.cells:
        if is_test_cell(cell):
            verdict = checker.verdicts.get(nbgrader_meta(cell).get("grade_id")) or {}
            if verdict.get("status") != "pass":
                failed.append(f"{nbgrader_meta(cell).get('grade_id')}: {verdict.get('ename', '')}: {verdict.get('message', '')}")
        elif cell.cell_type == "code" and _failed(cell):
            error = next((o for o in cell.outputs if o.get("output_type") == "error"), None)
            if error is not None:
                failed.append(f"{_where(cell, checker.nb.cells.index(cell))}: {error.get('ename')}: {error.get('evalue')}")
    if not failed:
        return None
    shown = "; ".join(failed[:6]) + (f"; and {len(failed) - 6} more" if len(failed) > 6 else "")
    return (f"{info.get('assignment')}: the instructor's solutions do not get full marks in the grading kernel, "
            f"so the grading environment is broken and no student was graded: {shown}")


_SHOWN_TEXT = re.compile(r"your inputs for ([A-Za-z0-9_]+)", re.I)


def _shown_otherwise(nb: NotebookNode, shown: list) -> list[str]:
    """Questions whose inputs the notebook's outputs show otherwise than the set-up cells show this
    student's (``shown``: ``[question, text, markdown]`` as :meth:`variants.Assignment.show` renders them):
    made-up inputs displayed or printed beside answers made for them. Every output that says "your
    inputs for Q..." must be one of the true renderings, or each such line one of the true lines."""
    true = {}
    for question, text, markdown in shown:
        true.setdefault(str(question).upper(), set()).update({str(text).strip(), str(markdown).strip()})
    lines = {line.strip() for texts in true.values() for t in texts for line in t.splitlines() if _SHOWN_TEXT.search(line)}
    found: list[str] = []
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            blobs = [output.get("text")] if output.get("output_type") == "stream" else \
                list((output.get("data") or {}).values())
            for blob in blobs:
                blob = "".join(blob) if isinstance(blob, list) else blob
                if not isinstance(blob, str) or not _SHOWN_TEXT.search(blob):
                    continue
                if any(blob.strip() in texts for texts in true.values()):
                    continue
                for line in blob.splitlines():
                    match = _SHOWN_TEXT.search(line)
                    if match and line.strip() not in lines:
                        name = match.group(1).lower()
                        if name not in found:
                            found.append(name)
    return found


def _keep_course_files(folder: Path, config, assignment: str, notebook: str | None) -> None:
    """After grading, the notebook's folder holds only what the course made: the graded notebooks and
    the assignment's own files. Anything else (a student's extra files, links nbgrader followed when it
    copied the submission) goes, so feedback can hand back nothing else."""
    from nbgrader.coursedir import CourseDirectory

    try:
        cd = CourseDirectory(config=config)
        autograded_root = Path(cd.root) / cd.autograded_directory
        source = Path(cd.format_path(cd.source_directory, ".", assignment))
    except Exception:  # noqa: BLE001
        return
    try:
        folder.resolve().relative_to(autograded_root.resolve())
    except ValueError:
        return  # not an autograded folder (a preflight, a learner's own check): leave it alone
    from .tamper import EXCHANGE_FILES

    own = {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()} if source.is_dir() else set()
    own |= EXCHANGE_FILES  # nbgrader's own: feedback is released with the submission's time stamp
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder)
            if os.path.islink(path):
                os.unlink(path)
            elif name in files and not rel.endswith(".ipynb") and rel not in own and not name.startswith("."):
                os.unlink(path)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
