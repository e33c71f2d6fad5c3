"""The front door and the house: a short README whose links resolve, docs that speak of the project alone."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import builders as b

ROOT = b.ROOT
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / line for line in out.splitlines() if line]


def test_readme_is_short_and_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 125, f"README.md has {len(lines)} lines; move details into docs/"
    start = "\n".join(lines[:8])
    assert "make lab" in start and "make test" in start


def test_every_link_in_the_readme_and_docs_resolves():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for match in LINK.finditer(page.read_text(encoding="utf-8")):
            target = (match.group(1) or match.group(2)).split("#")[0]
            if not target or target.startswith(("http://", "https://", "mailto:")):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, f"links that do not resolve: {broken}"


def test_docs_have_a_page_for_each_audience():
    for name in ("learners", "instructors", "grading-integrity", "jupyterhub", "contributing", "architecture",
                 "course-plan", "lesson-guide"):
        assert (ROOT / "docs" / f"{name}.md").is_file(), name


# A developer's machine, a round of work, or an issue tracker nobody outside can read
MACHINE = re.compile(r"/work/(main|wt)\b|\bsession \d+\b|develop" r"ment mach" r"ine|\bissues? #?\d+\b", re.I)


def test_no_tracked_file_names_a_developers_machine_or_a_round_of_work():
    found = []
    for path in tracked():
        if path.suffix in (".png", ".jpg", ".db", ".lock") or path.name == "package-lock.json" or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for match in MACHINE.finditer(line):
                if match.group(0).lower().startswith("issue") and re.search(r"github\.com|[\w.-]+/[\w.-]+[ #]", line):
                    continue  # an issue of a public project, named with its repository
                found.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
    assert not found, f"files that speak of a machine, a round of work or an internal issue: {found[:20]}"
