"""The grading kernels' cheaper tracebacks (infraprep/grading/tracebacks.py) print exactly what IPython prints."""

import inspect
import re
import subprocess
import sys
import textwrap
import types

import nbformat
import pytest
from traitlets.config import Config

from infraprep.grading import tracebacks

ERRORS = [
    "def f():\n    raise NotImplementedError('Not answered yet')\nf()",
    "x = (",
    "undefined_name + 1",
    "import pandas as pd\npd.DataFrame({'a': [1]})['b']",
    "assert 1 == 2, 'nope'",
    "def g(n):\n    return g(n - 1) if n else 1 / 0\ng(3)",
]


def _cell_names(text: str) -> str:
    """Tracebacks name a cell by its execution count and a temporary file, and a library file by a path
    that IPython shortens to ``~/...`` under the kernel's home (the sandbox's home is /tmp): the same
    error, run twice, differs only there."""
    text = re.sub(r"Cell In\[\d+\]", "Cell In[N]", text)
    text = re.sub(r"/tmp/ipykernel_\d+/\d+\.py", "CELL.py", text)
    return re.sub(r"[^\s\x1b]*/site-packages/", "SITE-PACKAGES/", text)


def test_coloured_tracebacks_are_unchanged_character_for_character():
    script = textwrap.dedent(f"""
        import contextlib, io, json
        from IPython.core.interactiveshell import InteractiveShell
        from infraprep.grading import tracebacks
        shell = InteractiveShell.instance()
        def run_all():
            out = []
            for code in {ERRORS!r}:
                buf = io.StringIO()
                with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                    shell.run_cell(code)
                out.append(buf.getvalue())
            return out
        before = run_all()
        tracebacks.install()
        tracebacks.install()
        print(json.dumps([before, run_all(), run_all()]))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    import json

    before, after, again = json.loads(run.stdout.strip().splitlines()[-1])
    assert all("\x1b[" in text for text in before), "IPython's tracebacks here are coloured"
    assert [_cell_names(t) for t in after] == [_cell_names(t) for t in before]
    assert [_cell_names(t) for t in again] == [_cell_names(t) for t in before]


def test_getmodule_answers_as_before_and_sees_modules_loaded_later(tmp_path):
    original = inspect.getmodule
    remembering = tracebacks._remembering_getmodule(original)
    frame = sys._getframe()
    code = compile("1", str(tmp_path / "late_module.py"), "exec")
    for obj in (frame, frame.f_code, inspect, pytest.raises, code):
        assert remembering(obj) is original(obj)
    assert remembering(code) is None  # the file belongs to no module yet: remembered
    (tmp_path / "late_module.py").write_text("1\n")
    module = types.ModuleType("late_module")
    module.__file__ = str(tmp_path / "late_module.py")
    sys.modules["late_module"] = module
    try:
        assert remembering(code) is module  # a module was loaded since: looked up again
    finally:
        del sys.modules["late_module"]


def _error_tracebacks(nb) -> list[str]:
    return [_cell_names("\n".join(o.traceback)) for cell in nb.cells for o in cell.get("outputs", [])
            if o.output_type == "error"]


def test_a_forked_grading_kernel_prints_the_tracebacks_a_plain_kernel_prints(tmp_path):
    from nbgrader.preprocessors import Execute

    from infraprep.grading import forkserver

    if not forkserver.available():
        pytest.fail("the fork server needs bubblewrap (make sandbox-deps)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in ERRORS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    plain, _ = Execute(config=Config()).preprocess(nbformat.from_dict(nb), {"metadata": {"path": str(tmp_path)}})
    server = forkserver.ForkServer().start()
    try:
        forked, _ = server.run(Execute, Config(), nbformat.from_dict(nb), {"metadata": {"path": str(tmp_path)}}, "python3")
    finally:
        server.close()
    assert len(_error_tracebacks(plain)) == len(ERRORS)
    assert _error_tracebacks(forked) == _error_tracebacks(plain)
