"""JupyterHub (>= 5) for one class of the course: one instructor, many students, real Unix accounts.

Started by `make hub` (deploy/jupyterhub/setup.sh prepares the machine first); see the README's
"Teaching a class on JupyterHub". Everything a deployment may change comes from the environment
that setup.sh writes to /srv/ml-recsys/hub/hub.env:

  COURSE_HUB_HOME     /srv/ml-recsys          the hub's state (hub/), the environment (venv/), the course
  COURSE_INSTRUCTOR   instructor              the Unix account that owns the course directory
  COURSE_HUB_AUTH     pam | native | dummy    PAM (real accounts' passwords; the default), NativeAuthenticator
                                              (students sign up, the instructor approves), or the test-only
                                              DummyAuthenticator (COURSE_HUB_TEST_PASSWORD; `make hub-test`)
  COURSE_HUB_BIND     http://127.0.0.1:8000   where the proxy listens (put HTTPS in front: README)

Who may do what (nbgrader's "one class, one grader"): the instructor's own server runs Formgrader
over the course directory, which only the instructor's account can read; students' servers have no
Formgrader and no Create Assignment (both disabled for the environment, enabled for the instructor's
account only), and JupyterHub lets each user reach only their own server. The roster is
/srv/ml-recsys/roster.csv (id,first_name,last_name,email): only those accounts may log in.
"""

import csv
import os
import pwd
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner

c = get_config()  # noqa: F821 - provided by JupyterHub

HOME = Path(os.environ.get("COURSE_HUB_HOME", "/srv/ml-recsys"))
VENV = HOME / "venv"
STATE = HOME / "hub"
INSTRUCTOR = os.environ.get("COURSE_INSTRUCTOR", "instructor")
AUTH = os.environ.get("COURSE_HUB_AUTH", "pam")


def roster():
    path = HOME / "roster.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [row["id"].strip() for row in csv.DictReader(f) if row.get("id", "").strip()]


STUDENTS = [s for s in roster() if s != INSTRUCTOR]

# --- the hub and its proxy ------------------------------------------------------------------------
c.JupyterHub.bind_url = os.environ.get("COURSE_HUB_BIND", "http://127.0.0.1:8000")
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.ConfigurableHTTPProxy.command = [os.environ.get("COURSE_HUB_PROXY", "configurable-http-proxy")]
c.JupyterHub.cleanup_servers = True
c.JupyterHub.shutdown_on_logout = True

# --- accounts -----------------------------------------------------------------------------------
if AUTH == "dummy":  # tests only: one shared password, still only the roster's accounts
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = os.environ["COURSE_HUB_TEST_PASSWORD"]
elif AUTH == "native":  # students sign up; the instructor (an admin here) approves them at /hub/authorize
    c.JupyterHub.authenticator_class = "nativeauthenticator.NativeAuthenticator"
    c.NativeAuthenticator.open_signup = False
    c.Authenticator.admin_users = {INSTRUCTOR}
else:  # the machine's own accounts and passwords
    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.open_sessions = False  # no systemd-logind in containers; not needed for notebooks
c.Authenticator.allowed_users = {INSTRUCTOR, *STUDENTS}
c.Authenticator.allow_all = False

# Groups and roles (JupyterHub 5 RBAC). Users reach only their own server (the default "user" role);
# nobody gets access:servers on another's. The instructor may list the class and see activity.
c.JupyterHub.load_groups = {
    "instructors": {"users": [INSTRUCTOR]},
    "students": {"users": STUDENTS},
}
c.JupyterHub.load_roles = [
    {"name": "course-instructor", "description": "list the class, see who is active",
     "scopes": ["list:users", "read:users:activity", "read:users:name", "read:groups"],
     "groups": ["instructors"]},
]

# --- single-user servers: the course environment, as the user, in their home ---------------------


def grading_cgroups():
    """cgroup (v1) directories, one per controller, delegated to the instructor's account: the contained
    grading (course/grading/cgroups.py) then gives every grading kernel its own memory and pids limit,
    as it does when the grader runs as root. Without them it falls back to rlimits and says so."""
    dirs = []
    try:
        own = dict(line.split(":", 2)[1:] for line in Path("/proc/self/cgroup").read_text().splitlines())
        for controller in ("memory", "pids"):
            root = Path("/sys/fs/cgroup") / controller
            if controller not in own or not root.is_dir():
                return []
            d = root / own[controller].lstrip("/") / "ml-recsys-instructor"
            d.mkdir(exist_ok=True)
            uid, gid = pwd.getpwnam(INSTRUCTOR)[2:4]
            for path in [d, *d.iterdir()]:
                if path.is_dir() or path.name in ("cgroup.procs", "tasks", "cgroup.clone_children"):
                    os.chown(path, uid, gid)
            dirs.append(d)
    except (OSError, KeyError, ValueError):
        return []
    return dirs


GRADING_CGROUPS = grading_cgroups()


class CourseSpawner(LocalProcessSpawner):
    """LocalProcessSpawner that starts the instructor's server inside the delegated grading cgroups
    (while still root, just before it becomes the instructor)."""

    def make_preexec_fn(self, name):
        become = super().make_preexec_fn(name)
        if name != INSTRUCTOR or not GRADING_CGROUPS:
            return become

        def preexec():
            for d in GRADING_CGROUPS:
                (d / "cgroup.procs").write_text(str(os.getpid()))
            become()

        return preexec


c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.cmd = [str(VENV / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {
    "PATH": f"{VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    "OMP_NUM_THREADS": "1",  # many kernels on few cores: one thread each
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
c.LocalProcessSpawner.shell_cmd = []
