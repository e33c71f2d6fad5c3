"""The committed student versions in release/ are current and reveal no answer."""

from __future__ import annotations

import pytest

import builders as b


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


def _secret_lines(nb) -> list[str]:
    """Lines inside solution and hidden-test regions (long enough to be meaningful)."""
    found = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 8:
                found.append(line.strip())
    return found


@pytest.mark.parametrize("assignment", b.assignments())
def test_release_reveals_no_solution_or_hidden_test(assignment):
    release = b.release_nb(assignment)
    text = "\n".join(c.source for c in release.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "MARK SCHEME"):
        assert marker not in text
    # lines that also appear outside secret regions in the source (e.g. imports) are not secrets
    source = b.source_nb(assignment)
    public = set()
    for cell in source.cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN" in line and ("SOLUTION" in line or "HIDDEN" in line):
                inside = True
            elif "END" in line and ("SOLUTION" in line or "HIDDEN" in line):
                inside = False
            elif not inside:
                public.add(line.strip())
    release_lines = {line.strip() for line in text.splitlines()}
    leaked = [line for line in _secret_lines(source) if line in release_lines and line not in public]
    assert not leaked, f"release/{assignment} contains solution or hidden-test lines: {leaked[:3]}"
    assert not any(c.get("outputs") for c in release.cells if c.cell_type == "code")
