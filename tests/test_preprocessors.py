import nbformat

from infraprep.grading.preprocessors import StripHiddenTests


def test_hidden_regions_and_tracebacks_are_removed():
    cell = nbformat.v4.new_code_cell(
        'ck.is_number("Q1", q1)\n### BEGIN HIDDEN TESTS\nck.number("Q1", q1, 42.0)\n### END HIDDEN TESTS\nprint("after")'
    )
    cell.outputs = [nbformat.v4.new_output(
        "error", ename="WrongAnswer", evalue="Q1: too large",
        traceback=["\x1b[0;31m---\x1b[0m", 'ck.number("Q1", q1, 42.0)', "WrongAnswer: Q1: too large"],
    )]
    out, _ = StripHiddenTests().preprocess_cell(cell, {}, 0)
    assert "42.0" not in out.source and "BEGIN HIDDEN" not in out.source
    assert out.source.splitlines()[0] == 'ck.is_number("Q1", q1)'
    assert out.source.splitlines()[-1] == 'print("after")'
    assert out.outputs[0]["traceback"] == ["WrongAnswer: Q1: too large"]


def test_cells_without_hidden_tests_are_untouched():
    cell = nbformat.v4.new_code_cell("x = 1\n\ny = 2\n")
    out, _ = StripHiddenTests().preprocess_cell(cell, {}, 0)
    assert out.source == "x = 1\n\ny = 2\n"
