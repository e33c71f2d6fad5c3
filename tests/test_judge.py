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


def test_the_grader_reads_only_lines_with_its_nonce_and_takes_the_last():
    text = 'noise\n@@n@@{"t": "int", "v": "1"}\n@@other@@{"t": "int", "v": "2"}\n@@n@@{"t": "int", "v": "3"}\n'
    assert kernelcodec.decode(kernelcodec.parse_emitted(text, "@@n@@")) == 3
    assert kernelcodec.parse_emitted("nothing here", "@@n@@") is None
    assert isinstance(kernelcodec.decode({"t": "int", "v": "x"}), kernelcodec.ForeignValue)
    with pytest.raises(kernelcodec.Missing):
        kernelcodec.decode({"t": "missing"})
