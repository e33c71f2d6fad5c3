"""`infraprep hub setup` before it touches the machine: the roster becomes Unix accounts only if every
id is a valid Unix user name and is not someone else's account (the error names the roster line);
the JupyterHub configuration built from the settings gives each cohort its nbgrader groups.
These run without root (the real hub is tests/hub/test_hub_e2e.py, under `make test-hub`)."""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path
from types import SimpleNamespace

import pytest

import builders as b
from infraprep import cli, hub


def _roster(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text("id,name,email\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _nobody_exists(name):
    return None


def test_a_good_roster_plans_the_instructor_and_every_student(tmp_path):
    roster = _roster(tmp_path, ["ann,Ann Lee,ann@example.org", "bo_2,Bo Ray,bo@example.org", "cy-3,Cy,cy@example.org"])
    accounts = hub.plan_accounts(roster, "teacher", lookup=_nobody_exists, ours=lambda n: False)
    assert [(a.name, a.role, a.line, a.exists) for a in accounts] == [
        ("teacher", "instructor", None, False), ("ann", "student", 2, False),
        ("bo_2", "student", 3, False), ("cy-3", "student", 4, False)]


@pytest.mark.parametrize("bad", ["Alice", "ann.lee", "9lives", "-dash", "a" * 33, "émile"])
def test_a_student_id_that_is_not_a_unix_name_is_refused_with_its_line(tmp_path, bad):
    roster = _roster(tmp_path, ["ann,Ann Lee,ann@example.org", f"{bad},Bad Name,bad@example.org"])
    with pytest.raises(ValueError) as error:  # HubError, or RosterError for ids the roster itself refuses
        hub.plan_accounts(roster, lookup=_nobody_exists, ours=lambda n: False)
    assert "roster.csv line 3" in str(error.value)
    assert repr(bad) in str(error.value) or bad in str(error.value)


def test_an_existing_account_that_is_not_ours_is_refused_with_its_line(tmp_path):
    roster = _roster(tmp_path, ["ann,Ann Lee,ann@example.org", "root,Root Kit,root@example.org"])
    with pytest.raises(hub.HubError, match=r"roster.csv line 3: user name 'root' is taken by an existing system "
                                           r"account \(uid 0\)"):
        hub.plan_accounts(roster, lookup=hub._lookup, ours=hub.is_ours)
    assert not hub.is_ours("root")


def test_our_own_accounts_from_an_earlier_run_are_kept_not_refused(tmp_path):
    roster = _roster(tmp_path, ["ann,Ann Lee,ann@example.org", "bob,Bob Roe,bob@example.org"])
    existing = {"instructor": SimpleNamespace(pw_uid=1001), "ann": SimpleNamespace(pw_uid=1002)}
    accounts = hub.plan_accounts(roster, lookup=existing.get, ours=lambda n: n in existing)
    assert [(a.name, a.exists) for a in accounts] == [("instructor", True), ("ann", True), ("bob", False)]


def test_a_student_named_like_the_instructor_or_a_bad_instructor_name_is_refused(tmp_path):
    roster = _roster(tmp_path, ["ann,Ann Lee,ann@example.org", "instructor,Sneaky,s@example.org"])
    with pytest.raises(hub.HubError, match="roster.csv line 3: student id 'instructor' is the instructor's account"):
        hub.plan_accounts(roster, lookup=_nobody_exists, ours=lambda n: False)
    with pytest.raises(hub.HubError, match="instructor name 'Prof'"):
        hub.plan_accounts(_roster(tmp_path, ["ann,Ann,ann@example.org"]), "Prof", lookup=_nobody_exists)


def test_malformed_rosters_are_refused_by_line_before_anything_changes(tmp_path, capsys):
    roster = _roster(tmp_path, ["ann,Ann Lee,ann@example.org", "ann,Ann Again,ann2@example.org"])
    prefix = tmp_path / "hub"
    code = cli.main(["hub", "setup", "--roster", str(roster), "--cohort", "spring", "--prefix", str(prefix),
                     "--course", str(b.ROOT)])
    assert code == 1
    assert "roster.csv line 3: duplicate id 'ann'" in capsys.readouterr().err
    assert not prefix.exists()


def test_the_cli_refuses_a_roster_with_a_non_unix_name_naming_the_line(tmp_path, capsys):
    roster = _roster(tmp_path, ["ann,Ann Lee,ann@example.org", "Bob.Smith,Bob Smith,bob@example.org"])
    code = cli.main(["hub", "setup", "--roster", str(roster), "--cohort", "spring", "--prefix", str(tmp_path / "hub"),
                     "--course", str(b.ROOT)])
    assert code == 1
    err = capsys.readouterr().err
    assert "roster.csv line 3" in err and "Bob.Smith" in err and "not a valid Unix user name" in err


def test_the_hub_commands_are_parsed():
    args = cli._parser().parse_args(["hub", "setup", "--roster", "r.csv", "--cohort", "spring", "--db",
                                     "postgresql://u@h/db", "--port", "9000", "--start"])
    assert (args.command, args.action, args.cohort, args.db, args.port, args.start) == (
        "hub", "setup", "spring", "postgresql://u@h/db", 9000, True)
    assert args.prefix == str(hub.DEFAULT_PREFIX) and args.exchange == str(hub.DEFAULT_EXCHANGE)
    for action in ("start", "stop", "status"):
        assert cli._parser().parse_args(["hub", action]).action == action


def test_roster_lines_match_the_csv_lines(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('id,name,email\nann,"Lee, Ann",a@example.org\n\nbob,Bob,b@example.org\n', encoding="utf-8")
    assert hub.roster_lines(path) == {"ann": 2, "bob": 4}


def _load_hub_config(settings: dict, tmp_path: Path):
    """Run deploy/jupyterhub_config.py as JupyterHub would, with these settings; return its config."""
    from traitlets.config import Config

    state = Path(settings["state"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "api_token").write_text("secret-token\n")
    path = tmp_path / "hub.json"
    path.write_text(json.dumps(settings))
    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(b.ROOT / "deploy" / "jupyterhub_config.py")}
    old = os.environ.get("INFRAPREP_HUB_SETTINGS")
    os.environ["INFRAPREP_HUB_SETTINGS"] = str(path)
    try:
        exec(compile((b.ROOT / "deploy" / "jupyterhub_config.py").read_text(), "jupyterhub_config.py", "exec"), namespace)
    finally:
        if old is None:
            os.environ.pop("INFRAPREP_HUB_SETTINGS")
        else:
            os.environ["INFRAPREP_HUB_SETTINGS"] = old
    return config, namespace


def test_the_hub_config_gives_each_cohort_its_nbgrader_groups(tmp_path):
    settings = {
        "prefix": "/opt/h", "venv": "/opt/h/venv", "proxy": "/opt/h/proxy/chp", "state": str(tmp_path / "state"),
        "exchange": "/srv/nbgrader/exchange", "instructor": "instructor", "instructor_config": "/opt/h/etc/ji",
        "course_dir": "/home/instructor/course", "course_id_base": "ai-infra-prep", "ip": "", "port": 8000,
        "hub_port": 8001, "proxy_api_port": 8002, "formgrader_cohort": "autumn",
        "cohorts": {"spring": {"course_id": "ai-infra-prep-spring", "students": ["ann", "bob"]},
                    "autumn": {"course_id": "ai-infra-prep-autumn", "students": ["bob", "cy"]}},
    }
    c, ns = _load_hub_config(settings, tmp_path)
    assert c.JupyterHub.load_groups == {
        "nbgrader-ai-infra-prep-spring": {"users": ["ann", "bob"]},
        "formgrade-ai-infra-prep-spring": {"users": ["instructor"]},
        "nbgrader-ai-infra-prep-autumn": {"users": ["bob", "cy"]},
        "formgrade-ai-infra-prep-autumn": {"users": ["instructor"]},
    }
    assert c.Authenticator.allowed_users == {"ann", "bob", "cy", "instructor"}
    assert c.Authenticator.admin_users == set()
    assert c.JupyterHub.bind_url == "http://:8000" and c.JupyterHub.hub_port == 8001
    assert c.Spawner.cmd == ["/opt/h/venv/bin/jupyterhub-singleuser"]
    assert c.Spawner.environment["INFRAPREP_EXCHANGE"] == "/srv/nbgrader/exchange"
    assert c.JupyterHub.services == [{"name": "infraprep-admin", "api_token": "secret-token"}]
    # a student's server token reads its own groups; the instructor's also manages the cohorts' groups
    student = SimpleNamespace(user=SimpleNamespace(name="ann"), environment={})
    teacher = SimpleNamespace(user=SimpleNamespace(name="instructor"), environment={})
    assert "read:users:groups!user" in c.Spawner.server_token_scopes(student)
    assert not any(s.startswith("groups!") for s in c.Spawner.server_token_scopes(student))
    assert "groups!group=nbgrader-ai-infra-prep-autumn" in c.Spawner.server_token_scopes(teacher)
    c.Spawner.pre_spawn_hook(student)
    c.Spawner.pre_spawn_hook(teacher)
    assert "JUPYTER_CONFIG_PATH" not in student.environment
    assert teacher.environment["JUPYTER_CONFIG_PATH"] == "/opt/h/etc/ji"


def test_settings_merge_cohorts_and_keep_earlier_students(tmp_path):
    layout = hub.Layout(tmp_path / "hub")
    common = dict(exchange=Path("/srv/x"), instructor="instructor", course_dir=Path("/home/instructor/course"),
                  ip="127.0.0.1", port=18000)
    hub.write_settings(layout, cohort="spring", course_id="ai-infra-prep-spring", students=["ann", "bob"], **common)
    hub.write_settings(layout, cohort="autumn", course_id="ai-infra-prep-autumn", students=["cy"], **common)
    settings = hub.write_settings(layout, cohort="spring", course_id="ai-infra-prep-spring", students=["dee"], **common)
    # the order a cohort was first set up in stays (a student in two cohorts gets the newest one's key)
    assert settings["cohorts"] == {"spring": {"course_id": "ai-infra-prep-spring", "students": ["ann", "bob", "dee"],
                                              "order": 1},
                                   "autumn": {"course_id": "ai-infra-prep-autumn", "students": ["cy"], "order": 2}}
    assert settings["watch"] is True and settings["watch_workers"] == 1
    assert settings["formgrader_cohort"] == "spring"
    token = layout.token.read_text()
    hub.write_settings(layout, cohort="spring", course_id="ai-infra-prep-spring", students=[], **common)
    assert layout.token.read_text() == token, "the admin token survives a re-run"
    assert oct(layout.token.stat().st_mode & 0o777) == "0o600"
    nbgrader = (layout.venv / "etc" / "jupyter" / "nbgrader_config.py").read_text()
    assert "JupyterHubAuthPlugin" in nbgrader and "path_includes_course = True" in nbgrader and "'/srv/x'" in nbgrader


def test_hub_stop_and_status_without_a_hub(tmp_path, capsys):
    assert cli.main(["hub", "stop", "--prefix", str(tmp_path)]) == 0
    assert "not running" in capsys.readouterr().out
    assert cli.main(["hub", "status", "--prefix", str(tmp_path)]) == 3
    assert cli.main(["hub", "start", "--prefix", str(tmp_path)]) == 1
    assert "infraprep hub setup" in capsys.readouterr().err


def test_is_ours_knows_accounts_we_did_not_make():
    me = pwd.getpwuid(os.getuid()).pw_name
    assert not hub.is_ours(me) or me != "root"
    assert not hub.is_ours("no-such-user-here-xyz")


def test_the_hub_runs_a_watcher_a_cohort_and_gives_each_student_their_variant_key(tmp_path):
    from infraprep.assessment import variants

    course = tmp_path / "home" / "instructor" / "course"
    for name, secret in (("spring", "s3cret-spring"), ("autumn", "s3cret-autumn")):
        (course / "cohorts" / name).mkdir(parents=True)
        (course / "cohorts" / name / "nbgrader_config.py").write_text("")
        (course / "cohorts" / name / "variant_secret").write_text(secret + "\n")
    settings = {
        "prefix": "/opt/h", "venv": "/opt/h/venv", "proxy": "/opt/h/proxy/chp", "state": str(tmp_path / "state"),
        "exchange": "/srv/nbgrader/exchange", "instructor": "instructor", "instructor_config": "/opt/h/etc/ji",
        "course_dir": str(course), "course_id_base": "ai-infra-prep", "ip": "", "port": 8000,
        "hub_port": 8001, "proxy_api_port": 8002, "formgrader_cohort": "autumn", "watch": True, "watch_workers": 2,
        "cohorts": {"spring": {"course_id": "ai-infra-prep-spring", "students": ["ann", "bob"], "order": 1},
                    "autumn": {"course_id": "ai-infra-prep-autumn", "students": ["bob", "cy"], "order": 2},
                    "gone": {"course_id": "ai-infra-prep-gone", "students": ["cy"], "order": 3}},
    }
    c, _ = _load_hub_config(settings, tmp_path)
    watchers = {s["name"]: s for s in c.JupyterHub.services if s["name"].startswith("infraprep-watch-")}
    assert sorted(watchers) == ["infraprep-watch-autumn", "infraprep-watch-spring"], "no watcher for a cohort whose folder is gone"
    spring = watchers["infraprep-watch-spring"]
    assert spring["user"] == "instructor" and spring["cwd"] == str(course)
    assert spring["command"] == ["/opt/h/venv/bin/infraprep", "watch", "--course", str(course), "--cohort", "spring",
                                 "--interval", "1", "--workers", "2"]
    assert spring["environment"]["INFRAPREP_EXCHANGE"] == "/srv/nbgrader/exchange"
    key = c.Spawner.environment["INFRAPREP_VARIANT_KEY"]
    server = lambda name: SimpleNamespace(user=SimpleNamespace(name=name))  # noqa: E731
    assert key(server("ann")) == variants.key_for("ann", "s3cret-spring")
    assert key(server("bob")) == variants.key_for("bob", "s3cret-autumn"), "in two cohorts: the newest one's key"
    assert key(server("cy")) == variants.key_for("cy", "s3cret-autumn"), "the cohort whose folder is gone has no secret"
    assert key(server("instructor")) == "" and key(server("stranger")) == ""
    assert "s3cret" not in key(server("ann"))
    settings["watch"] = False
    c, _ = _load_hub_config(settings, tmp_path)
    assert not [s for s in c.JupyterHub.services if s["name"].startswith("infraprep-watch-")]
