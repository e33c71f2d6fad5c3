import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import nbtext  # noqa: E402

TEXT = """# %% [markdown]
# Title
# %% [setup]
import math
# %% [answer q1]
q1 = ...
# %% [tests q1_tests points=2]
ck.is_number("Q1", q1)
# %% [written q2 points=5]
Answer here
"""


def test_build_sets_nbgrader_metadata_and_kernel():
    nb = nbtext.build(TEXT)
    assert nb.metadata.kernelspec.name == "python3"
    kinds = [(c.cell_type, c.metadata.get("nbgrader", {}).get("grade_id")) for c in nb.cells]
    assert kinds == [("markdown", None), ("code", "setup_1"), ("code", "q1"), ("code", "q1_tests"), ("markdown", "q2")]
    tests = nb.cells[3].metadata.nbgrader
    assert tests["grade"] and tests["locked"] and tests["points"] == 2 and not tests["solution"]
    written = nb.cells[4].metadata.nbgrader
    assert written["grade"] and written["solution"] and written["points"] == 5


def test_dump_then_build_round_trips():
    nb = nbtext.build(TEXT)
    again = nbtext.build(nbtext.dump(nb))
    assert [(c.source, c.metadata.get("nbgrader")) for c in again.cells] == [
        (c.source, c.metadata.get("nbgrader")) for c in nb.cells
    ]


def test_errors_are_clear():
    with pytest.raises(ValueError, match="needs points"):
        nbtext.build("# %% [tests q1_tests]\nx")
    with pytest.raises(ValueError, match="needs an id"):
        nbtext.build("# %% [answer]\nx")
    with pytest.raises(ValueError, match="before the first cell marker"):
        nbtext.build("stray\n# %%\nx")
