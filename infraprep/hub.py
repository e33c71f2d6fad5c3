"""Run a cohort on a JupyterHub: one server, real Unix users, nbgrader's multi-course exchange.

``infraprep hub setup --roster roster.csv --cohort spring`` (as root, on Debian) does everything, and
is safe to run again (for the same cohort, or to add another):

1. checks the roster: every student id must be a valid Unix user name, and must not be an existing
   account that infraprep did not create (the error names the roster line);
2. installs the hub's environment in ``PREFIX/venv`` (made from Debian's ``/usr/bin/python3`` so
   that every user may run it): the course's ``requirements.txt``, the course package itself (not
   editable) and JupyterHub (``deploy/requirements-hub.txt``); ``configurable-http-proxy`` from
   the npm registry into ``PREFIX/proxy`` (``deploy/package.json``, ``deploy/package-lock.json``);
3. creates the Unix accounts (students in the group ``infraprep-students``, the instructor in
   ``infraprep-instructors``; homes readable by their owner only) - accounts that already exist
   and are ours are kept as they are;
4. copies the course (``nbgrader_config.py``, ``source/``, ``release/``) into the instructor's home
   (``~instructor/course``) and creates the cohort there (``infraprep cohort create``: its own
   nbgrader course id ``ai-infra-prep-NAME`` and gradebook; SQLite, or ``--db URL``);
5. makes the shared exchange (``/srv/nbgrader/exchange``, writable by all with the sticky bit;
   nbgrader's own permissions inside keep students out of each other's submissions and feedback);
6. writes ``PREFIX/etc/hub.json`` (the settings ``deploy/jupyterhub_config.py`` reads: users,
   cohorts, ports) and, with ``--start``, (re)starts the hub.

The hub runs ``infraprep watch`` for every cohort as the instructor (grading on submit: a managed
service of the hub, started by ``infraprep hub start`` and stopped by ``hub stop``; ``--no-watch``
turns it off), and gives each student's server their variant key (``INFRAPREP_VARIANT_KEY``) from
the cohort's secret.

Students see only the cohorts whose hub group (``nbgrader-COURSE_ID``) they are in, through
nbgrader's ``JupyterHubAuthPlugin``; the instructor is in ``formgrade-COURSE_ID`` and their server
runs nbgrader's formgrader on the newest cohort set up.
"""

from __future__ import annotations

import csv
import grp
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PREFIX = Path("/opt/infraprep-hub")
DEFAULT_EXCHANGE = Path("/srv/nbgrader/exchange")
STUDENT_GROUP = "infraprep-students"
INSTRUCTOR_GROUP = "infraprep-instructors"
SYSTEM_PYTHON = "/usr/bin/python3"
#: a portable Unix user name (useradd's default rule, restricted to lower case as JupyterHub normalises names)
UNIX_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
GECOS_MARK = "infraprep"
DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class HubError(ValueError):
    """Setting up or running the hub cannot go on; the message says why (and which roster line)."""


# ---------------------------------------------------------------- accounts from the roster

@dataclass(frozen=True)
class Account:
    name: str
    full_name: str
    role: str           # "student" or "instructor"
    line: int | None    # roster line (None for the instructor, who is not on the roster)
    exists: bool        # already there (and ours)


def roster_lines(path: str | Path) -> dict[str, int]:
    """Student id -> its line in the roster CSV (the line numbers ``read_roster`` reports)."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        if "id" not in header:
            return {}
        where = header.index("id")
        lines: dict[str, int] = {}
        for row in reader:
            if len(row) > where and row[where].strip():
                lines.setdefault(row[where].strip(), reader.line_num)
    return lines


def _lookup(name: str):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def is_ours(name: str) -> bool:
    """Whether the account ``name`` was made by infraprep: a member of one of our groups, or marked in GECOS."""
    entry = _lookup(name)
    if entry is None:
        return False
    for group in (STUDENT_GROUP, INSTRUCTOR_GROUP):
        try:
            g = grp.getgrnam(group)
        except KeyError:
            continue
        if name in g.gr_mem or entry.pw_gid == g.gr_gid:
            return True
    return entry.pw_gecos.split(",")[0].endswith(f"({GECOS_MARK})")


def plan_accounts(roster: str | Path, instructor: str = "instructor",
                  lookup: Callable[[str], object | None] = _lookup,
                  ours: Callable[[str], bool] = is_ours) -> list[Account]:
    """The accounts a roster needs, checked: refused (:class:`HubError` naming the roster line) if a
    student id is not a valid Unix user name, is the instructor's name, or is an existing account
    that infraprep did not create. ``lookup`` and ``ours`` are replaceable for tests."""
    from .grading.roster import read_roster

    roster = Path(roster)
    students = read_roster(roster)  # RosterError (a ValueError) names the line of a malformed row
    lines = roster_lines(roster)
    if not UNIX_NAME.match(instructor):
        raise HubError(f"instructor name {instructor!r} is not a valid Unix user name "
                       "(lower-case letters, digits, '_' and '-', starting with a letter or '_'; at most 32)")
    accounts = []
    for role, name, full_name, line in [("instructor", instructor, "Instructor", None)] + \
            [("student", s.id, s.name, lines.get(s.id)) for s in students]:
        where = f"{roster.name} line {line}: " if line else ""
        if role == "student" and not UNIX_NAME.match(name):
            raise HubError(f"{where}student id {name!r} is not a valid Unix user name (lower-case letters, "
                           "digits, '_' and '-', starting with a letter or '_'; at most 32 characters)")
        if role == "student" and name == instructor:
            raise HubError(f"{where}student id {name!r} is the instructor's account")
        existing = lookup(name)
        if existing is not None and not ours(name):
            uid = getattr(existing, "pw_uid", "?")
            raise HubError(f"{where}user name {name!r} is taken by an existing system account (uid {uid}) "
                           "that infraprep did not create: rename the student in the roster")
        accounts.append(Account(name, full_name, role, line, existing is not None))
    return accounts


def _run(cmd: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise HubError(f"{what} failed ({proc.returncode}): {' '.join(cmd)}\n{(proc.stdout + proc.stderr)[-3000:]}")
    return proc


def ensure_group(name: str) -> None:
    try:
        grp.getgrnam(name)
    except KeyError:
        _run(["groupadd", name], f"creating group {name}")


def ensure_account(account: Account) -> bool:
    """Create the account (home mode 0700) if missing; make sure it is in its infraprep group.
    Returns True when it was created."""
    group = INSTRUCTOR_GROUP if account.role == "instructor" else STUDENT_GROUP
    created = False
    if _lookup(account.name) is None:
        gecos = f"{account.full_name.replace(',', ' ').replace(':', ' ')} ({GECOS_MARK})"
        _run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", gecos, "--groups", group,
              account.name], f"creating user {account.name}")
        created = True
    elif account.name not in grp.getgrnam(group).gr_mem:
        _run(["usermod", "--append", "--groups", group, account.name], f"adding {account.name} to {group}")
    entry = pwd.getpwnam(account.name)
    home = Path(entry.pw_dir)
    if not home.is_dir():
        home.mkdir(parents=True, mode=0o700)
        os.chown(home, entry.pw_uid, entry.pw_gid)
    home.chmod(0o700)  # students never read each other's homes, nor the instructor's course
    return created


# ---------------------------------------------------------------- the hub's environment

@dataclass(frozen=True)
class Layout:
    prefix: Path

    @property
    def venv(self) -> Path:
        return self.prefix / "venv"

    @property
    def proxy(self) -> Path:
        return self.prefix / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"

    @property
    def etc(self) -> Path:
        return self.prefix / "etc"

    @property
    def state(self) -> Path:
        return self.prefix / "state"

    @property
    def settings(self) -> Path:
        return self.etc / "hub.json"

    @property
    def config(self) -> Path:
        return self.etc / "jupyterhub_config.py"

    @property
    def instructor_config(self) -> Path:
        return self.etc / "jupyter-instructor"

    @property
    def pidfile(self) -> Path:
        return self.state / "jupyterhub.pid"

    @property
    def log(self) -> Path:
        return self.state / "jupyterhub.log"

    @property
    def token(self) -> Path:
        return self.state / "api_token"


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for base in paths:
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file()
                                                       and "__pycache__" not in p.parts and p.suffix != ".pyc")
        for f in files:
            h.update(str(f.relative_to(base.parent)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def _log(message: str) -> None:
    print(message, flush=True)


def install_environment(layout: Layout, course: Path) -> None:
    """The hub's venv (from Debian's python3, readable by every user) with the course, nbgrader and
    JupyterHub; reinstalled only when requirements or the course package changed."""
    os.umask(0o022)
    py = layout.venv / "bin" / "python"
    if not py.exists():
        if not Path(SYSTEM_PYTHON).exists():
            raise HubError(f"{SYSTEM_PYTHON} is missing: apt-get install python3 python3-venv")
        _log(f"hub: creating {layout.venv} from {SYSTEM_PYTHON}")
        proc = subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(layout.venv)], capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(layout.venv, ignore_errors=True)
            raise HubError("python3 -m venv failed (on Debian: apt-get install python3-venv):\n" + proc.stderr[-2000:])
    requirements = course / "requirements.txt"
    hub_requirements = DEPLOY / "requirements-hub.txt"
    reqs_digest = _digest([requirements, hub_requirements])
    pkg_digest = _digest([course / "infraprep", course / "pyproject.toml"])
    stamp = layout.venv / ".infraprep-stamp.json"
    old = json.loads(stamp.read_text()) if stamp.exists() else {}
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "UV_LINK_MODE": "copy"}
    # uv (installed beside the course's Python by `make setup`) installs the same pins several times faster
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    pip = [uv, "pip", "install", "--quiet", "--python", str(py)] if uv else [str(py), "-m", "pip", "install", "--quiet"]
    if old.get("requirements") != reqs_digest:
        _log("hub: installing the course's requirements and JupyterHub into the hub's environment")
        filtered = layout.prefix / "requirements-course.txt"  # without the editable `-e .` line
        filtered.write_text("".join(line for line in requirements.read_text().splitlines(keepends=True)
                                    if not line.strip().startswith("-e")))
        _run([*pip, "-r", str(filtered), "-r", str(hub_requirements)], "pip install (hub environment)", env=env)
        old = {}
    if old.get("package") != pkg_digest:
        _log("hub: installing the course package into the hub's environment")
        build = layout.prefix / "build"
        shutil.rmtree(build, ignore_errors=True)
        build.mkdir(parents=True)
        src = build / "course"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            if (course / name).exists():
                shutil.copy(course / name, src / name)
        shutil.copytree(course / "infraprep", src / "infraprep",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        _run([*pip, "--no-deps", "--force-reinstall", str(src)], "pip install (course package)", env=env)
        shutil.rmtree(build, ignore_errors=True)
    if old.get("package") != pkg_digest or not old.get("configured"):
        _configure_jupyter(layout, course)
    stamp.write_text(json.dumps({"requirements": reqs_digest, "package": pkg_digest, "configured": True}))


def _configure_jupyter(layout: Layout, course: Path) -> None:
    """Students' view for everyone (assignment list, validate); the formgrader for instructors only."""
    jupyter = str(layout.venv / "bin" / "jupyter")
    env = {**os.environ, "PATH": f"{layout.venv / 'bin'}:{SAFE_PATH}"}
    for cmd in (["labextension", "disable", "--level=sys_prefix", "@jupyter/nbgrader:formgrader",
                 "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:course-list"],
                ["server", "extension", "disable", "--sys-prefix", "nbgrader.server_extensions.formgrader"],
                ["server", "extension", "disable", "--sys-prefix", "nbgrader.server_extensions.course_list"]):
        _run([jupyter, *cmd], "jupyter " + " ".join(cmd[:3]), env=env)
    overrides = course / "deploy" / "jupyterlab-overrides.json"
    if overrides.exists():
        settings = layout.venv / "share" / "jupyter" / "lab" / "settings"
        settings.mkdir(parents=True, exist_ok=True)
        shutil.copy(overrides, settings / "overrides.json")


def _write_instructor_config(layout: Layout) -> None:
    """PREFIX/etc/jupyter-instructor, added to the instructor's JUPYTER_CONFIG_PATH: the formgrader on."""
    instr = layout.instructor_config
    (instr / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
    (instr / "labconfig").mkdir(parents=True, exist_ok=True)
    (instr / "jupyter_server_config.d" / "infraprep-instructor.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": True,
                                               "nbgrader.server_extensions.course_list": True}}}, indent=2))
    (instr / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyter/nbgrader:formgrader": False, "@jupyter/nbgrader:create-assignment": False,
                                "@jupyter/nbgrader:course-list": False}}, indent=2))


def install_proxy(layout: Layout) -> None:
    """configurable-http-proxy from the npm registry, at the version locked in deploy/package-lock.json."""
    target = layout.prefix / "proxy"
    lock = DEPLOY / "package-lock.json"
    stamp = target / ".infraprep-stamp"
    digest = _digest([DEPLOY / "package.json", lock])
    if layout.proxy.exists() and stamp.exists() and stamp.read_text() == digest:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise HubError("npm is missing (it installs configurable-http-proxy): apt-get install nodejs npm "
                       "(or run `make hub-deps` as root)")
    _log("hub: installing configurable-http-proxy from the npm registry")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY / "package.json", target / "package.json")
    shutil.copy(lock, target / "package-lock.json")
    _run([npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], "npm ci (configurable-http-proxy)",
         cwd=target)
    stamp.write_text(digest)


# ---------------------------------------------------------------- the course and its cohorts

def install_course(course: Path, instructor: str) -> Path:
    """The course (config, sources, releases) in the instructor's home: ``~instructor/course``.
    Refreshed from the repository on every run; cohorts, gradebooks and submissions are never touched."""
    entry = pwd.getpwnam(instructor)
    target = Path(entry.pw_dir) / "course"
    target.mkdir(exist_ok=True)
    shutil.copy(course / "nbgrader_config.py", target / "nbgrader_config.py")
    for name in ("source", "release"):
        shutil.copytree(course / name, target / name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    _chown_tree(target, entry.pw_uid, grp.getgrnam(INSTRUCTOR_GROUP).gr_gid, skip={"cohorts"})
    return target


def _chown_tree(root: Path, uid: int, gid: int, skip: set[str] = frozenset()) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def ensure_cohort(course_dir: Path, name: str, roster: Path, db_url: str | None, instructor: str) -> str:
    """Create the cohort (or add the roster's new students to it); returns its nbgrader course id."""
    from .grading import cohort as cohorts
    from .grading.roster import read_roster, write_roster

    root = cohorts.cohort_root(course_dir, name)
    bindir = str(Path(sys.executable).parent)  # nbgrader runs `alembic` on a new gradebook
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", SAFE_PATH)
    if (root / "nbgrader_config.py").exists():
        course = cohorts.open_course(course_dir, name)
        known = cohorts.roster(course)
        new = [s for s in read_roster(roster) if s.id not in known]
        if new:
            write_roster(root / "roster.csv", [*known.values(), *new])
        cohorts.add_students(course, list(cohorts.roster(course).values()))  # idempotent
        if db_url and normalize(db_url) != normalize(course.db_url):
            _log(f"hub: cohort {name} keeps its gradebook {course.db_url} (--db is only used when a cohort is created)")
        _log(f"hub: cohort {name} exists; {len(new)} new student(s) added")
    else:
        course = cohorts.create_cohort(course_dir, name, roster, db_url=db_url)
        _log(f"hub: cohort {name} created: {course.root} (gradebook {course.db_url})")
    entry = pwd.getpwnam(instructor)
    _chown_tree(root, entry.pw_uid, grp.getgrnam(INSTRUCTOR_GROUP).gr_gid)
    os.chown(root.parent, entry.pw_uid, grp.getgrnam(INSTRUCTOR_GROUP).gr_gid)
    return course.course_id


def normalize(url: str) -> str:
    from .grading.course import normalize_db_url

    return normalize_db_url(url)


def ensure_exchange(exchange: Path) -> None:
    """The shared exchange: everyone may create in it, nobody may remove what another user made."""
    exchange.mkdir(parents=True, exist_ok=True)
    for parent in exchange.parents:
        if parent == Path("/"):
            break
        if not parent.stat().st_mode & 0o001:
            raise HubError(f"{parent} is not searchable by other users: the exchange {exchange} would be unreachable")
    exchange.chmod(0o1777)


# ---------------------------------------------------------------- settings, start, stop

def write_settings(layout: Layout, *, exchange: Path, instructor: str, course_dir: Path, cohort: str,
                   course_id: str, students: list[str], ip: str, port: int, watch: bool = True,
                   watch_workers: int = 1) -> dict:
    """Merge this cohort into ``PREFIX/etc/hub.json`` (other cohorts are kept) and install the config."""
    layout.etc.mkdir(parents=True, exist_ok=True)
    layout.state.mkdir(parents=True, exist_ok=True)
    layout.state.chmod(0o700)
    settings = json.loads(layout.settings.read_text()) if layout.settings.exists() else {}
    cohorts = settings.get("cohorts", {})
    previous = set(cohorts.get(cohort, {}).get("students", []))
    order = cohorts.get(cohort, {}).get("order") or 1 + max((c.get("order", 0) for c in cohorts.values()), default=0)
    cohorts[cohort] = {"course_id": course_id, "students": sorted(previous | set(students)), "order": order}
    settings.update({
        "prefix": str(layout.prefix), "venv": str(layout.venv), "proxy": str(layout.proxy),
        "state": str(layout.state), "exchange": str(exchange), "instructor": instructor,
        "instructor_config": str(layout.instructor_config), "course_dir": str(course_dir),
        "course_id_base": os.environ.get("INFRAPREP_COURSE_ID", "ai-infra-prep"),
        "ip": ip, "port": port, "hub_port": port + 1, "proxy_api_port": port + 2,
        "cohorts": cohorts, "formgrader_cohort": cohort,
        "watch": watch, "watch_workers": watch_workers, "watch_interval": 1,
    })
    layout.settings.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
    shutil.copy(DEPLOY / "jupyterhub_config.py", layout.config)
    if not layout.token.exists():
        layout.token.write_text(secrets.token_hex(32))
    layout.token.chmod(0o600)
    # Everyone's nbgrader: the shared exchange, course ids in its paths, courses from the hub's groups.
    (layout.venv / "etc" / "jupyter").mkdir(parents=True, exist_ok=True)
    (layout.venv / "etc" / "jupyter" / "nbgrader_config.py").write_text(
        '"""nbgrader on the infraprep hub (written by `infraprep hub setup`)."""\n'
        "from nbgrader.auth import JupyterHubAuthPlugin\n\n"
        "c = get_config()  # noqa: F821\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        "c.Exchange.path_includes_course = True\n"
        "c.Authenticator.plugin_class = JupyterHubAuthPlugin\n")
    _write_instructor_config(layout)
    # The instructor's formgrader works on the newest cohort set up (any cohort: `infraprep --cohort NAME`).
    (layout.instructor_config / "nbgrader_config.py").write_text(
        '"""The formgrader\'s course: a cohort of the infraprep hub (written by `infraprep hub setup`)."""\n'
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(course_dir / 'cohorts' / cohort / 'nbgrader_config.py')!r})  # noqa: F821\n"
        "from nbgrader.auth import JupyterHubAuthPlugin\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        "c.Authenticator.plugin_class = JupyterHubAuthPlugin\n")
    return settings


def _pid(layout: Layout) -> int | None:
    try:
        pid = int(layout.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if b"jupyterhub" in cmdline else None


def running(prefix: Path = DEFAULT_PREFIX) -> int | None:
    """The hub's process id, if it runs."""
    return _pid(Layout(Path(prefix)))


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def start(prefix: Path = DEFAULT_PREFIX, timeout: float = 90) -> int:
    """Start the hub in the background (log: ``PREFIX/state/jupyterhub.log``); wait until it answers."""
    layout = Layout(Path(prefix))
    if not layout.settings.exists():
        raise HubError(f"no hub set up in {layout.prefix}: run `infraprep hub setup` first")
    pid = _pid(layout)
    if pid:
        return pid
    settings = json.loads(layout.settings.read_text())
    host = "127.0.0.1" if settings["ip"] in ("", "0.0.0.0") else settings["ip"]
    for port in (settings["port"], settings["hub_port"], settings["proxy_api_port"]):
        if _port_open(host if port == settings["port"] else "127.0.0.1", port):
            raise HubError(f"port {port} is in use: choose another with --port (the hub uses PORT, PORT+1, PORT+2)")
    env = {"PATH": f"{layout.venv / 'bin'}:{SAFE_PATH}", "LANG": "C.UTF-8", "HOME": "/root",
           "INFRAPREP_HUB_SETTINGS": str(layout.settings)}
    log = layout.log.open("ab")
    proc = subprocess.Popen([str(layout.venv / "bin" / "jupyterhub"), "-f", str(layout.config)], cwd=layout.state,
                            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    log.close()
    layout.pidfile.write_text(str(proc.pid))
    url = f"http://{host}:{settings['port']}/hub/api/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HubError(f"the hub exited ({proc.returncode}); its log {layout.log} ends:\n{_tail(layout.log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return proc.pid
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    stop(prefix)
    raise HubError(f"the hub did not answer at {url} in {timeout:.0f} s; its log ends:\n{_tail(layout.log)}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(prefix: Path = DEFAULT_PREFIX, timeout: float = 60) -> bool:
    """Stop the hub: it stops every user's server and its proxy on the way out. Returns whether it ran."""
    layout = Layout(Path(prefix))
    pid = _pid(layout)
    if pid is None:
        layout.pidfile.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            break  # a zombie: exited, not yet reaped by its parent
        time.sleep(0.2)
    else:
        os.killpg(pid, signal.SIGKILL)
    _stop_watchers(layout)
    # a proxy left behind by a hub that was killed
    proxy_pid = layout.state / "jupyterhub-proxy.pid"
    try:
        ppid = int(proxy_pid.read_text().strip())
        if b"configurable-http-proxy" in Path(f"/proc/{ppid}/cmdline").read_bytes():
            os.kill(ppid, signal.SIGTERM)
    except (OSError, ValueError):
        pass
    layout.pidfile.unlink(missing_ok=True)
    return True


def _watchers(layout: Layout) -> dict[str, int | None]:
    """cohort -> the pid of its running `infraprep watch` (from the watcher's status file), or None."""
    try:
        settings = json.loads(layout.settings.read_text())
    except (OSError, ValueError):
        return {}
    found: dict[str, int | None] = {}
    for name in settings.get("cohorts", {}):
        status = Path(settings["course_dir"]) / "cohorts" / name / ".infraprep-watch-status.json"
        pid = None
        try:
            candidate = int(json.loads(status.read_text()).get("pid"))
            cmdline = Path(f"/proc/{candidate}/cmdline").read_bytes().split(b"\0")
            if b"watch" in cmdline and name.encode() in cmdline:
                pid = candidate
        except (OSError, ValueError, TypeError):
            pass
        found[name] = pid
    return found


def _stop_watchers(layout: Layout, timeout: float = 20) -> None:
    """A watcher the hub did not stop (the hub was killed): stop it by its own pid."""
    for pid in [p for p in _watchers(layout).values() if p]:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            continue
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            stat = Path(f"/proc/{pid}/stat").read_text().split() if Path(f"/proc/{pid}/stat").exists() else []
            if len(stat) > 2 and stat[2] == "Z":
                break
            time.sleep(0.2)
        else:
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)


def setup(roster: str | Path, cohort: str, *, course: str | Path = ".", db_url: str | None = None,
          prefix: str | Path = DEFAULT_PREFIX, exchange: str | Path = DEFAULT_EXCHANGE,
          instructor: str = "instructor", ip: str = "", port: int = 8000, start_hub: bool = False,
          watch: bool = True, watch_workers: int = 1) -> dict:
    """Everything ``infraprep hub setup`` does (see the module's docstring). Safe to run again."""
    from .grading.course import safe_name

    safe_name(cohort)
    course = Path(course).resolve()
    if not (course / "nbgrader_config.py").exists() or not (course / "source").is_dir():
        raise HubError(f"{course} is not the course's folder (no nbgrader_config.py and source/)")
    roster = Path(roster).resolve()
    accounts = plan_accounts(roster, instructor)  # refused before anything is changed
    if os.geteuid() != 0:
        raise HubError("`infraprep hub setup` creates Unix users and installs into /opt: run it as root")
    began = time.monotonic()
    layout = Layout(Path(prefix).resolve())
    layout.prefix.mkdir(parents=True, exist_ok=True)
    layout.prefix.chmod(0o755)
    install_environment(layout, course)
    install_proxy(layout)
    for group in (STUDENT_GROUP, INSTRUCTOR_GROUP):
        ensure_group(group)
    created = [a.name for a in accounts if ensure_account(a)]
    _log(f"hub: {len(accounts)} account(s) ready ({len(created)} created: {', '.join(created) or 'none'})")
    course_dir = install_course(course, instructor)
    course_id = ensure_cohort(course_dir, cohort, roster, db_url, instructor)
    ensure_exchange(Path(exchange))
    settings = write_settings(layout, exchange=Path(exchange), instructor=instructor, course_dir=course_dir,
                              cohort=cohort, course_id=course_id,
                              students=[a.name for a in accounts if a.role == "student"], ip=ip, port=port,
                              watch=watch, watch_workers=watch_workers)
    _log(f"hub: set up in {time.monotonic() - began:.0f} s (cohort {cohort}: course id {course_id}, "
         f"exchange {exchange}, config {layout.config})")
    if start_hub:
        if _pid(layout):
            _log("hub: restarting to load the new settings")
            stop(layout.prefix)
        pid = start(layout.prefix)
        shown = settings["ip"] or "this-machine"
        _log(f"hub: running (pid {pid}) at http://{shown}:{port}/ - log {layout.log}")
    elif _pid(layout):
        _log("hub: running with the old settings; `infraprep hub start --restart` loads the new ones")
    return settings


# ---------------------------------------------------------------- command line (`infraprep hub ...`)
