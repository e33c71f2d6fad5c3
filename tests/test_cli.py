"""The `infraprep` command line (infraprep.cli): arguments reach the grading API; errors are one clear line."""

from __future__ import annotations

import pytest

import builders as b
from infraprep import cli


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in ("cohort", "release", "collect", "autograde", "feedback", "export", "report"):
        assert command in out


def test_autograde_options_are_parsed():
    args = cli._parser().parse_args(["autograde", "01-roles", "02-gpu", "--workers", "3", "--scheduler",
                                     "tcp://127.0.0.1:8786", "--db", "sqlite:///x.db", "--cohort", "spring"])
    assert (args.lessons, args.workers, args.scheduler, args.db, args.cohort) == (
        ["01-roles", "02-gpu"], 3, "tcp://127.0.0.1:8786", "sqlite:///x.db", "spring")


def test_unknown_cohort_and_ungenerated_lesson_are_clear_errors(tmp_path, monkeypatch, capsys):
    course = b.new_course(tmp_path, ["01-roles"])
    monkeypatch.setenv("INFRAPREP_DB", f"sqlite:///{course / 'gradebook.db'}")
    assert cli.main(["export", "--course", str(course), "--cohort", "nope"]) == 1
    assert "no cohort 'nope'" in capsys.readouterr().err
    b.submit(course, "ann", "01-roles", b.submission("01-roles"))
    assert cli.main(["autograde", "01-roles", "--course", str(course), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "not in the gradebook: 01-roles" in err and "release" in err
    # without a lesson named, a folder that is no assignment is reported and the run goes on
    assert cli.main(["autograde", "--course", str(course), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "ann / 01-roles / -: unknown lesson" in out and "1 problem(s)" in out


def test_cohort_create_and_list(tmp_path, capsys):
    course = b.new_course(tmp_path, ["01-roles"])
    roster = b.write_roster(tmp_path / "roster.csv", ["ann", "bob"])
    assert cli.main(["cohort", "create", "spring", "--course", str(course), "--roster", str(roster),
                     "--start", "2026-01-05"]) == 0
    assert "2 students" in capsys.readouterr().out
    cohort = course / "cohorts" / "spring"
    assert (cohort / "source").resolve() == (course / "source").resolve()
    assert (cohort / "schedule.csv").read_text().splitlines()[:2] == ["lesson,due,attempts", "01-roles,2026-01-12 23:59:00,"]
    secret = cohort / "variant_secret"
    assert oct(secret.stat().st_mode & 0o777) == "0o600" and len(secret.read_text().strip()) == 64
    from infraprep.grading import cohort as cohorts

    spring = cohorts.open_course(course, "spring")
    assert cohorts.variant_secret(spring) == secret.read_text().strip(), "the cohort's config loads it for the grader"
    assert cli.main(["cohort", "keys", "spring", "--course", str(course)]) == 0
    from infraprep.assessment import variants

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "id,email,variant_key"
    assert lines[1] == f"ann,ann@example.org,{variants.key_for('ann', secret.read_text().strip())}"
    assert cli.main(["cohort", "create", "spring", "--course", str(course), "--roster", str(roster)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["cohort", "list", "--course", str(course)]) == 0
    assert capsys.readouterr().out.split() == ["spring"]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,email\nann,Ann,not-an-email\n")
    assert cli.main(["cohort", "create", "fall", "--course", str(course), "--roster", str(bad)]) == 1
    assert "line 2: bad email 'not-an-email'" in capsys.readouterr().err
