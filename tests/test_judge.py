"""Unit tests of the judge's pieces: which names hidden code needs, and plain data across the kernel boundary."""

import math

import pandas as pd
import pytest

from infraprep import checking as ck
from infraprep.grading import kernelcodec
from infraprep.grading.cells import split_hidden
from infraprep.grading.judge import free_names


def test_free_names_are_what_the_hidden_code_reads_but_never_binds():
    code = "_t = tables.load('x', 'y')\nfor _r in _t:\n    ck.number('Q', q8 * _r, 3)\nck.function_cases('Q', f, [((a,), 1) for a in range(3)])"
    assert sorted(free_names(code)) == ["ck", "f", "q8", "tables"]


def test_split_hidden_separates_visible_and_hidden_lines():
    visible, hidden = split_hidden("a\n### BEGIN HIDDEN TESTS\nb\n### END HIDDEN TESTS\nc")
    assert (visible, hidden) == ("a\nc", "b")


def _round_trip(value):
    """Encode with the kernel-side code (run here), decode as the grader does."""
    namespace = {}
    exec(kernelcodec.KERNEL_CODE, namespace)
    return kernelcodec.decode(namespace["_enc"](value, [10_000]))


def test_plain_data_survives_exactly():
    value = {"a": [1, 2.5, None, True, "x"], "b": (0.1 + 0.2,), 3: {1, 2}}
    assert _round_trip(value) == {"a": [1, 2.5, None, True, "x"], "b": [0.1 + 0.2], 3: {1, 2}}
    assert _round_trip(...) is Ellipsis
    assert math.isnan(_round_trip(float("nan")))
    frame = pd.DataFrame({"level": ["A", "B"], "usd": [1.0, 2.0]})
    pd.testing.assert_frame_equal(_round_trip(frame), frame.astype(object), check_dtype=False)


def test_objects_that_pretend_arrive_as_foreign_values_and_are_refused():
    class LyingFloat(float):
        def __eq__(self, other):
            return True

    decoded = _round_trip(LyingFloat(1.0))
    assert isinstance(decoded, kernelcodec.ForeignValue) and type(decoded).__name__ == "LyingFloat"
    with pytest.raises(ck.WrongForm, match="LyingFloat"):
        ck.number("Q1", decoded, 1.0)


def _evaluate_in_fake_kernel(expression: str, user_ns: dict) -> dict:
    """What ipykernel does with a user expression: evaluate it in the user's namespace, return its repr."""

    class Shell:
        pass

    shell = Shell()
    shell.user_ns = user_ns
    user_ns.setdefault("__builtins__", __builtins__)
    user_ns.setdefault("get_ipython", lambda: shell)
    try:
        value = eval(expression, user_ns, user_ns)  # IPython's user_global_ns is its user_ns
    except Exception as exc:
        return {"status": "error", "ename": type(exc).__name__}
    return {"status": "ok", "data": {"text/plain": repr(value)}, "metadata": {}}


def test_a_user_expression_brings_back_the_learners_names_as_tagged_data():
    user_ns = {"q1": 42, "frame": pd.DataFrame({"a": [1]}), "f": lambda x: x * 2}
    expression = kernelcodec.expression("_fetch_many", "@@n@@", ["q1", "f", "nope"])
    payload = kernelcodec.parse_expression(_evaluate_in_fake_kernel(expression, user_ns), "@@n@@")
    assert payload["t"] == "many"
    names = {name: tree for name, tree in payload["v"]}
    assert kernelcodec.decode(names["q1"]) == 42
    assert names["f"]["t"] == "callable" and names["nope"] == {"t": "missing"}
    assert "_enc" not in user_ns and "__infraprep_result" not in user_ns  # the codec's names stay private


def test_a_call_through_a_user_expression_returns_the_result_or_the_error_type():
    import base64
    import pickle

    def boom(x):
        raise ZeroDivisionError

    user_ns = {"f": lambda x: x * 2, "boom": boom}
    args = base64.b64encode(pickle.dumps((21,))).decode()
    result = _evaluate_in_fake_kernel(kernelcodec.expression("_call", "@@n@@", "f", args), user_ns)
    assert kernelcodec.decode(kernelcodec.parse_expression(result, "@@n@@")) == 42
    result = _evaluate_in_fake_kernel(kernelcodec.expression("_call", "@@n@@", "boom", args), user_ns)
    assert kernelcodec.parse_expression(result, "@@n@@") == {"t": "raised", "type": "ZeroDivisionError"}


def test_the_grader_trusts_no_reply_without_its_nonce_and_evaluates_nothing():
    ok = lambda text: {"status": "ok", "data": {"text/plain": text}}  # noqa: E731
    assert kernelcodec.parse_expression(ok(repr('@@other@@{"t": "int", "v": "1"}')), "@@n@@") is None
    assert kernelcodec.parse_expression(ok("__import__('os').system('true')"), "@@n@@") is None
    assert kernelcodec.parse_expression(ok("12"), "@@n@@") is None
    assert kernelcodec.parse_expression({"status": "error", "ename": "NameError"}, "@@n@@") is None
    assert kernelcodec.parse_expression(ok(repr("@@n@@{not json")), "@@n@@") == {"t": "other", "type": "malformed"}
    # IPython may print a long string as implicitly joined pieces: still one string
    joined = "('@@n@@{\"t\": \"int\",'\n ' \"v\": \"3\"}')"
    assert kernelcodec.decode(kernelcodec.parse_expression(ok(joined), "@@n@@")) == 3
    assert isinstance(kernelcodec.decode({"t": "int", "v": "x"}), kernelcodec.ForeignValue)
    with pytest.raises(kernelcodec.Missing):
        kernelcodec.decode({"t": "missing"})


_HONEST = '''
import re
def silent(text, world_size):
    seen = {int(r) for r in re.findall(r"\\[Rank (\\d+)\\] Watchdog", text)}
    return [r for r in range(world_size) if r not in seen]
'''
_DELEGATING = {
    "an alias": "_f = incident.silent_ranks\ndef silent(text, world_size):\n    return _f(text, world_size)\n",
    "a run-time name": "def silent(text, world_size):\n    return getattr(incident, 'sknar_tnelis'[::-1])(text, world_size)\n",
    "a copy of the code object": (
        "import types\n_f = types.FunctionType(incident.silent_ranks.__code__, incident.silent_ranks.__globals__)\n"
        "def silent(text, world_size):\n    return _f(text, world_size)\n"),
    "a second copy of the module": (
        "import importlib.util as u\n_s = u.spec_from_file_location('infraprep.practice.copy_of', incident.__file__)\n"
        "_m = u.module_from_spec(_s)\n_s.loader.exec_module(_m)\n"
        "def silent(text, world_size):\n    return _m.silent_ranks(text, world_size)\n"),
    "the code recompiled under another file name": (
        "import inspect\n_g = dict(vars(incident))\n"
        "exec(compile(inspect.getsource(incident.silent_ranks).replace('def silent_ranks', 'def other'), 'mine.py', 'exec'), _g)\n"
        "def silent(text, world_size):\n    return _g['other'](text, world_size)\n"),
    "exec rebound in the namespace": (
        "def exec(*a):\n    raise SystemExit\ndef silent(text, world_size):\n    return incident.silent_ranks(text, world_size)\n"),
    "the profile hook taken out and put back": (
        "import sys\ndef silent(text, world_size):\n    hook = sys.getprofile()\n"
        "    try:\n        sys.setprofile(None)\n    except BaseException:\n        pass\n"
        "    found = incident.silent_ranks(text, world_size)\n"
        "    try:\n        sys.setprofile(hook)\n    except BaseException:\n        pass\n    return found\n"),
}


@pytest.mark.parametrize("how", sorted(_DELEGATING))
def test_the_guard_sees_the_course_function_run_however_it_is_reached(how):
    """The judge's guard watches every frame the learner's function runs (by file and name, and by
    bytecode), names nothing the notebook can rebind, and keeps no state the learner can reach and undo."""
    import base64
    import builtins
    import pickle

    from infraprep.practice import incident

    args = base64.b64encode(pickle.dumps(("[Rank 1] Watchdog caught", 4))).decode()
    forbid = ["infraprep.practice.incident.silent_ranks"]
    honest = {"__builtins__": builtins, "__name__": "__main__", "incident": incident}
    exec(_HONEST, honest)
    result = _evaluate_in_fake_kernel(kernelcodec.expression("_call", "@@n@@", "silent", args, forbid), honest)
    assert kernelcodec.decode(kernelcodec.parse_expression(result, "@@n@@")) == [0, 2, 3]
    user_ns = {"__builtins__": builtins, "__name__": "__main__", "incident": incident}
    exec(_DELEGATING[how], user_ns)
    result = _evaluate_in_fake_kernel(kernelcodec.expression("_call", "@@n@@", "silent", args, forbid), user_ns)
    assert kernelcodec.parse_expression(result, "@@n@@")["t"] == "raised"
    assert kernelcodec.parse_expression(result, "@@n@@")["type"] in ("UsesCoursesOwnFunction", "BaseException")


def test_a_kernel_whose_builtins_were_replaced_fails_the_call():
    import base64
    import pickle

    fake = dict(__builtins__ if isinstance(__builtins__, dict) else vars(__builtins__))
    fake["exec"] = lambda *a: None
    user_ns = {"__builtins__": fake, "f": lambda x: x}
    args = base64.b64encode(pickle.dumps((1,))).decode()
    result = _evaluate_in_fake_kernel(kernelcodec.expression("_call", "@@n@@", "f", args, ["math.sqrt"]), user_ns)
    assert kernelcodec.parse_expression(result, "@@n@@") == {"t": "raised", "type": "EscapesTheGradersChecks"}
