"""JupyterHub configuration of the infraprep course: one server, real Unix users, nbgrader per cohort.

`infraprep hub setup` copies this file to PREFIX/etc/jupyterhub_config.py and writes the settings
it reads, PREFIX/etc/hub.json (ports, paths, the instructor, and every cohort with its nbgrader
course id and students). Nothing here needs editing for a new cohort: run the setup again.

- Users log in with their Unix password (PAM); only the roster's students and the instructor may.
- Each user's server runs as that user (LocalProcessSpawner) from the hub's environment, a venv
  every user can read, with the course's requirements and nbgrader.
- nbgrader's multi-course setup: a course per cohort, `Exchange.path_includes_course`, and the
  JupyterHub auth plugin, which reads a user's courses from their hub groups: `nbgrader-COURSE`
  for the cohort's students, `formgrade-COURSE` for the instructor. A student sees only the
  cohorts whose group they are in.
- The instructor's server has the formgrader (JUPYTER_CONFIG_PATH adds PREFIX/etc/jupyter-instructor);
  nobody else's has.
- The service `infraprep-admin` holds the token in PREFIX/state/api_token (root only) for scripts
  and the end-to-end test: create user tokens, start and stop servers through the REST API.
- Grading on submit: for every cohort, the hub runs `infraprep watch --cohort NAME` as the
  instructor (a managed service, `infraprep-watch-NAME`: started with the hub, restarted by it if it
  exits, stopped with it). A student presses Submit, then Fetch Feedback, and sees a score.
- Each student's server gets their variant key, INFRAPREP_VARIANT_KEY = HMAC(cohort secret, user),
  so their notebook draws the inputs the grader expects; the secret itself never leaves the hub
  and the instructor's folder (cohorts/NAME/variant_secret). A student in several cohorts gets the
  key of the newest one set up.
"""

import json
import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub

SETTINGS = Path(os.environ.get("INFRAPREP_HUB_SETTINGS") or Path(__file__).with_name("hub.json"))
settings = json.loads(SETTINGS.read_text())
state = Path(settings["state"])
venv = Path(settings["venv"])
instructor = settings["instructor"]
cohorts = settings["cohorts"]
students = sorted({name for cohort in cohorts.values() for name in cohort["students"]})

# ---------------------------------------------------------------- network, state
c.JupyterHub.bind_url = f"http://{settings['ip']}:{settings['port']}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True   # stopping the hub stops every user's server
c.JupyterHub.cleanup_proxy = True

# ---------------------------------------------------------------- who may log in
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False
c.Authenticator.allowed_users = set(students) | {instructor}
c.Authenticator.admin_users = set()   # nobody is a hub admin; the instructor gets a role below

# ---------------------------------------------------------------- each user's server
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(venv / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90


def cohort_secret(name):
    """The cohort's variant secret (readable by the instructor and root only), "" if it has none."""
    try:
        return (Path(settings["course_dir"]) / "cohorts" / name / "variant_secret").read_text().strip()
    except OSError:
        return ""


def variant_key(spawner):
    """INFRAPREP_VARIANT_KEY of the user whose server starts: HMAC(secret, user) for a cohort's student."""
    from infraprep.assessment import variants

    user = spawner.user.name
    mine = [name for name, cohort in cohorts.items() if user in cohort["students"]
            and (Path(settings["course_dir"]) / "cohorts" / name / "nbgrader_config.py").exists()]
    if not mine or not variants.valid_identity(user):
        return ""
    newest = max(mine, key=lambda name: (cohorts[name].get("order", 0), name))
    secret = cohort_secret(newest)
    return variants.key_for(user, secret) if secret else ""


c.Spawner.environment = {
    "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    "INFRAPREP_EXCHANGE": settings["exchange"],
    "INFRAPREP_COURSE_ID": settings["course_id_base"],
    "INFRAPREP_VARIANT_KEY": variant_key,
}
# The server's own token may read its user's groups (nbgrader finds the user's courses in them).
SERVER_SCOPES = ["access:servers!server", "users:activity!user", "read:users:name!user", "read:users:groups!user"]
INSTRUCTOR_SCOPES = ["list:users", "read:users:name", "read:users:groups", "list:groups", "read:groups",
                     *[f"groups!group=nbgrader-{cohort['course_id']}" for cohort in cohorts.values()]]


def server_token_scopes(spawner):
    return SERVER_SCOPES + (INSTRUCTOR_SCOPES if spawner.user.name == instructor else [])


c.Spawner.server_token_scopes = server_token_scopes


def pre_spawn_hook(spawner):
    if spawner.user.name == instructor:  # the formgrader, on the newest cohort set up
        spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": settings["instructor_config"]}


c.Spawner.pre_spawn_hook = pre_spawn_hook

# ---------------------------------------------------------------- nbgrader's courses as hub groups
groups = {}
for cohort in cohorts.values():
    groups[f"nbgrader-{cohort['course_id']}"] = {"users": sorted(cohort["students"])}
    groups[f"formgrade-{cohort['course_id']}"] = {"users": [instructor]}
c.JupyterHub.load_groups = groups

c.JupyterHub.load_roles = [
    {"name": "infraprep-instructor", "description": "The course's instructor: sees users, manages cohort groups",
     "scopes": INSTRUCTOR_SCOPES, "users": [instructor]},
    {"name": "admin", "services": ["infraprep-admin"]},
]
c.JupyterHub.services = [{"name": "infraprep-admin", "api_token": (state / "api_token").read_text().strip()}]

# ---------------------------------------------------------------- grading on submit, a watcher a cohort
instructor_home = str(Path(settings["course_dir"]).parent)
for name in sorted(cohorts):
    if not settings.get("watch", True):
        break
    if not (Path(settings["course_dir"]) / "cohorts" / name / "nbgrader_config.py").exists():
        continue  # a cohort whose folder is gone has nothing to watch
    c.JupyterHub.services.append({
        "name": f"infraprep-watch-{name}",
        "command": [str(venv / "bin" / "infraprep"), "watch", "--course", settings["course_dir"], "--cohort", name,
                    "--interval", str(settings.get("watch_interval", 1)),
                    "--workers", str(settings.get("watch_workers", 1))],
        "user": instructor,
        "cwd": settings["course_dir"],
        "environment": {"PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": instructor_home,
                        "INFRAPREP_EXCHANGE": settings["exchange"], "INFRAPREP_COURSE_ID": settings["course_id_base"],
                        "PYTHONUNBUFFERED": "1"},
    })
