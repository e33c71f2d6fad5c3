"""The committed student versions in release/ are current and reveal no answer."""

from __future__ import annotations

import pytest

import builders as b
from infraprep.grading.cells import split_hidden


def _cells(nb):
    return [(c.cell_type, c.source, b.meta(c).get("grade_id"), b.meta(c).get("points")) for c in nb.cells]


@pytest.mark.parametrize("assignment", b.assignments())
def test_release_is_up_to_date_with_source(tmp_path, assignment):
    course = b.new_course(tmp_path, [assignment])
    b.nbgrader(course, "generate_assignment", assignment, "--force")
    fresh = b.read(course / "release" / assignment / f"{assignment}.ipynb")
    assert _cells(b.release_nb(assignment)) == _cells(fresh), (
        f"release/{assignment} is out of date: run `make release`"
    )


def _public_and_secret(nb) -> tuple[set[str], list[str]]:
    """Lines outside, and meaningful lines (over 8 characters) inside, the solution and hidden-test regions."""
    public, secret = set(), []
    for cell in nb.cells:
        outside, solutions = split_hidden(cell.source, "BEGIN SOLUTION", "END SOLUTION")
        outside, hidden = split_hidden(outside)
        public.update(line.strip() for line in outside.splitlines())
        secret += [line.strip() for line in (solutions + "\n" + hidden).splitlines() if len(line.strip()) > 8]
    return public, secret


@pytest.mark.parametrize("assignment", b.assignments())
def test_release_reveals_no_solution_or_hidden_test(assignment):
    release = b.release_nb(assignment)
    text = "\n".join(c.source for c in release.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "MARK SCHEME"):
        assert marker not in text
    # lines that also appear outside secret regions in the source (e.g. imports) are not secrets
    public, secret = _public_and_secret(b.source_nb(assignment))
    release_lines = {line.strip() for line in text.splitlines()}
    leaked = [line for line in secret if line in release_lines and line not in public]
    assert not leaked, f"release/{assignment} contains solution or hidden-test lines: {leaked[:3]}"
    assert not any(c.get("outputs") for c in release.cells if c.cell_type == "code")
