"""A contained kernel for each graded notebook: a submission is code from a stranger.

``course.grading.Execute`` starts every grading kernel through ``SandboxedKernelManager``, so the
limits hold for plain ``nbgrader autograde``, the formgrader and ``python -m course`` alike. The
limits are ``Sandbox`` settings in ``nbgrader_config.py``; the mechanisms are standard ones:

- memory: a cgroup of its own per kernel (``memory.limit_in_bytes`` / ``memory.max``, no swap), so
  the kernel's own OOM kill stops only that kernel; the grader reports "memory limit of 4 GiB
  exceeded" in the cell, restarts the kernel and grades the rest. Without a usable cgroup:
  ``RLIMIT_AS`` (address space, which counts more than memory: torch alone maps about 1 GiB);
- processes: the cgroup's ``pids`` limit, a PID namespace (bubblewrap) whose processes all die
  with the kernel, and a final kill of whatever is left in the cgroup. Without a cgroup:
  ``RLIMIT_NPROC`` (counts all processes of the kernel's user);
- files: bubblewrap mounts everything read-only, hides the course directory, the project
  checkout, the grader's home and /tmp, shows the Python environment and the ``course`` package
  read-only, and only the notebook's own directory (and a private scratch /tmp) writable. When the
  grader runs as root the kernel also runs as an unprivileged user (``nobody``);
- network: a network namespace with only its own loopback. The kernel talks to the grader
  over unix sockets (ZMQ's ``ipc`` transport) in a private directory;
- environment: only whitelisted variables reach the kernel (no tokens of a JupyterHub);
- time: the per-cell timeout and ``Sandbox.notebook_timeout`` (wall clock per notebook) are
  enforced by ``Execute``.

A missing mechanism (no bubblewrap, no user namespaces, no writable cgroup, macOS) never fails
silently: every kernel start logs a warning naming the guarantee that is lost, and
``python -m course autograde`` repeats it in its summary. ``Sandbox.require = True`` refuses to
grade instead.
"""

import functools
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

import course
from course.grading import cgroups

LAUNCHER = Path(__file__).with_name("launch.py")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)


def parse_size(text):
    """'4G', '512M', '1.5GiB', '1073741824' -> bytes; '' or '0' -> None (no limit)."""
    if text in (None, "", "0", 0):
        return None
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. 4G or 512M)")
    number, unit = match.groups()
    return int(float(number) * 1024 ** " KMGT".index(unit.upper() or " "))


def format_size(n):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            value = n / scale
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


class Sandbox(LoggingConfigurable):
    """The limits of every grading kernel (``c.Sandbox.*`` in ``nbgrader_config.py``)."""

    enabled = Bool(True, help="Run grading kernels contained (see course/grading/sandbox.py).").tag(config=True)
    memory_limit = Unicode("4G", help="Memory per kernel, e.g. 4G or 512M; empty for none.").tag(config=True)
    max_processes = Integer(256, help="Processes and threads per kernel; 0 for no limit.").tag(config=True)
    max_file_size = Unicode("1G", help="Largest file a kernel may write; empty for no limit.").tag(config=True)
    notebook_timeout = Integer(
        600, help="Wall-clock seconds per notebook (on top of the per-cell Execute.timeout); 0 for none."
    ).tag(config=True)
    network = Bool(False, help="Give kernels network access (off: a namespace with only its own loopback).").tag(
        config=True)
    bwrap = Unicode("bwrap", help="bubblewrap executable; empty pretends it is missing.").tag(config=True)
    cgroups = Bool(True, help="Use cgroups for the memory and process limits when the grader may.").tag(config=True)
    user = Unicode("nobody", help="Unprivileged user the kernel runs as when the grader is root.").tag(config=True)
    hidden_paths = List(Unicode(), help="More directories the kernel must not see.").tag(config=True)
    readonly_paths = List(Unicode(), help="Directories the kernel sees read-only inside hidden ones.").tag(
        config=True)
    env_keep = List(Unicode(), [
        "PATH", "LANG", "LC_*", "LANGUAGE", "TZ", "TERM", "NBGRADER_*", "JPY_SESSION_NAME", "PYTHONHASHSEED",
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_*", "PYDEVD_*",
    ], help="Environment variables (glob patterns) passed to the kernel; all others are dropped.").tag(config=True)
    require = Bool(False, help="Refuse to grade when a guarantee cannot be given (instead of warning).").tag(
        config=True)

    @property
    def memory_bytes(self):
        return parse_size(self.memory_limit)

    def mechanisms(self):
        return probe(self.bwrap, self.cgroups, self.user)

    def guarantees(self):
        """[(guarantee, holds, how)] for this machine and configuration."""
        m = self.mechanisms()
        memory = self.memory_bytes
        rows = []
        if memory is None:
            rows.append(("memory", False, "no memory limit configured"))
        elif m.cgroup:
            rows.append(("memory", True, f"{format_size(memory)} per kernel (cgroup {m.cgroup.version})"))
        else:
            rows.append(("memory", False, f"{format_size(memory)} of address space only (RLIMIT_AS; "
                                          f"{m.cgroup_problem})"))
        if not self.max_processes:
            rows.append(("processes", False, "no process limit configured"))
        elif m.cgroup and m.bwrap:
            rows.append(("processes", True, f"{self.max_processes} per kernel (cgroup pids), all killed at the end "
                                            "(PID namespace)"))
        elif m.cgroup:
            rows.append(("processes", False, f"{self.max_processes} per kernel (cgroup pids), killed at the end "
                                             f"through the cgroup, but no PID namespace ({m.bwrap_problem})"))
        else:
            rows.append(("processes", False, f"RLIMIT_NPROC {self.max_processes} only, which counts every process "
                                             f"of the kernel's user ({m.cgroup_problem})"))
        if m.bwrap:
            rows.append(("files", True, "read-only system, course and home hidden, only the notebook's directory "
                                        "writable (bubblewrap)"))
            rows.append(("network", True, "none (network namespace)") if not self.network
                        else ("network", False, "allowed by Sandbox.network = True"))
        else:
            who = f"runs as {self.user!r}" if m.user else "runs as the grader's own user"
            rows.append(("files", False, f"the kernel {who} and can write where that user can ({m.bwrap_problem})"))
            rows.append(("network", False, f"open: the kernel can connect anywhere ({m.bwrap_problem})"))
        rows.append(("time", bool(self.notebook_timeout),
                     f"per-cell timeout and {self.notebook_timeout} s per notebook" if self.notebook_timeout
                     else "per-cell timeout only (no wall-clock limit per notebook)"))
        return rows

    def lost(self):
        """One message per guarantee that does not hold."""
        if not self.enabled:
            return ["containment is off (Sandbox.enabled = False): submissions run with the grader's rights"]
        return [f"{name}: {how}" for name, holds, how in self.guarantees() if not holds]

    def describe(self):
        if not self.enabled:
            return "Containment: OFF (Sandbox.enabled = False)"
        return "Containment: " + "; ".join(f"{name} {'ok' if holds else 'LOST'} ({how})"
                                            for name, holds, how in self.guarantees())


# --- what this machine offers -----------------------------------------------------------------
@dataclass
class Mechanisms:
    bwrap: str | None
    bwrap_problem: str
    cgroup: object | None
    cgroup_problem: str
    user: tuple | None  # (uid, gid) the kernel runs as, when the grader is root


@functools.cache
def probe(bwrap_setting, use_cgroups, user_name):
    """Which mechanisms work here (tried once per process and setting)."""
    user = None
    if os.geteuid() == 0 and user_name:
        try:
            entry = pwd.getpwnam(user_name)
            user = (entry.pw_uid, entry.pw_gid)
        except KeyError:
            pass
    bwrap, bwrap_problem = _probe_bwrap(bwrap_setting, user)
    if user and not bwrap and not _runs(_launcher({"user": list(user)}) + [sys.executable, "-I", "-c", ""]):
        user = None  # it cannot even start Python here (say, under /root); files are then unprotected
    cgroup, cgroup_problem = (cgroups.probe() if use_cgroups else (None, "cgroups disabled (Sandbox.cgroups)"))
    return Mechanisms(bwrap, bwrap_problem, cgroup, cgroup_problem, user)


def _launcher(spec):
    return [sys.executable, "-I", str(LAUNCHER), json.dumps(spec), "--"]


def _runs(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _namespaces(privileged):
    """bubblewrap's namespace options. As root, bubblewrap itself runs privileged and the kernel
    drops to an unprivileged user inside (launch.py); otherwise a user namespace is needed."""
    common = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
              "--die-with-parent"]
    return common if privileged else [*common, "--unshare-user", "--disable-userns"]


def _probe_bwrap(setting, user):
    if sys.platform != "linux":
        return None, f"bubblewrap needs Linux namespaces, not available on {sys.platform}"
    path = shutil.which(setting) if setting else None
    if not path:
        return None, ("bubblewrap is not installed (make setup-grader)" if setting
                      else "bubblewrap disabled (Sandbox.bwrap is empty)")
    cmd = [path, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", *_namespaces(bool(user)), "--", "true"]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"bubblewrap does not run: {error}"
    if result.returncode != 0:
        return None, f"bubblewrap cannot create namespaces here: {result.stderr.strip()[:200]}"
    return path, ""


# --- one contained kernel ---------------------------------------------------------------------
def _course_root(config):
    try:
        from nbgrader.coursedir import CourseDirectory

        return Path(CourseDirectory(config=config).root).resolve()
    except Exception:  # noqa: BLE001 - no nbgrader configuration: only the notebook directory is known
        return None


class Containment:
    """The sandbox of one kernel: its private directory, cgroup, and bubblewrap command."""

    def __init__(self, sandbox, notebook_dir, course_dir, log):
        self.sandbox, self.log = sandbox, log
        self.notebook_dir = Path(notebook_dir or os.getcwd()).resolve()
        self.course_dir = course_dir
        self.mechanisms = sandbox.mechanisms()
        self.private = None
        self.cgroup = None
        self._owner = None

    def start(self):
        lost = self.sandbox.lost()
        for message in lost:
            self.log.warning("CONTAINMENT LOST, %s", message)
        if lost and self.sandbox.require:
            raise RuntimeError("Sandbox.require is set and containment is incomplete: " + "; ".join(lost))
        self.private = Path(tempfile.mkdtemp(prefix="course-kernel-"))
        (self.private / "home").mkdir()
        self._seed_matplotlib_cache()
        m = self.mechanisms
        if m.cgroup:
            name = f"course-kernel-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                self.cgroup = m.cgroup.create(name, self.sandbox.memory_bytes, self.sandbox.max_processes or None)
            except OSError as error:
                self.log.warning("CONTAINMENT LOST, memory and processes: cannot create cgroup %s (%s)", name, error)
        if m.user:
            self._owner = os.stat(self.notebook_dir)
            for path in [self.private, *self.private.rglob("*"), self.notebook_dir, *self.notebook_dir.rglob("*")]:
                os.lchown(path, *m.user)
        return self

    def _seed_matplotlib_cache(self):
        """matplotlib's font list, so that each kernel need not rebuild it (a few seconds)."""
        cache = Path(os.environ.get("MPLCONFIGDIR") or Path(os.environ.get("XDG_CACHE_HOME") or
                                                             Path.home() / ".cache") / "matplotlib")
        target = self.private / "matplotlib"
        target.mkdir()
        for font_list in cache.glob("fontlist-*.json"):
            shutil.copy(font_list, target / font_list.name)

    def connection(self):
        """(connection file, ipc path prefix), both in the private directory."""
        return str(self.private / "kernel.json"), str(self.private / "ipc")

    def environment(self, env):
        keep = {k: v for k, v in env.items() if any(fnmatch(k, pattern) for pattern in self.sandbox.env_keep)}
        home = str(self.private / "home")
        keep.update(HOME=home, TMPDIR="/tmp" if self.mechanisms.bwrap else str(self.private),
                    MPLCONFIGDIR=str(self.private / "matplotlib"), IPYTHONDIR=str(self.private / "ipython"),
                    JUPYTER_RUNTIME_DIR=str(self.private / "runtime"), PYTHONNOUSERSITE="1")
        return keep

    def wrap(self, cmd, kw):
        """The command and Popen arguments that start ``cmd`` contained."""
        env = self.environment(kw.get("env") or os.environ)
        spec = {"cgroup_procs": self.cgroup.procs_files if self.cgroup else [], "rlimits": self._rlimits()}
        user = self.mechanisms.user
        if self.mechanisms.bwrap:
            inner = _launcher({"user": list(user)}) + cmd if user else cmd
            cmd = self._bwrap(inner, env)
            env = {k: env[k] for k in ("PATH", "LANG") if k in env}
        elif user:
            spec["user"] = list(user)
        # The kernel's own stdout only says how to connect to it; its stderr stays in the log.
        return _launcher(spec) + cmd, {"stdout": subprocess.DEVNULL, **kw, "env": env, "cwd": str(self.notebook_dir)}

    def _rlimits(self):
        limits = {"RLIMIT_CORE": 0}
        size = parse_size(self.sandbox.max_file_size)
        if size:
            limits["RLIMIT_FSIZE"] = size
        if not self.cgroup:
            if self.sandbox.memory_bytes:
                limits["RLIMIT_AS"] = self.sandbox.memory_bytes
            if self.sandbox.max_processes and (self.mechanisms.user or os.geteuid() != 0):
                limits["RLIMIT_NPROC"] = self.sandbox.max_processes
        return limits

    def _hidden(self):
        home = {os.environ.get("HOME"), pwd.getpwuid(os.getuid()).pw_dir}
        paths = {Path(tempfile.gettempdir()), Path(course.ROOT), *(Path(p) for p in home if p)}
        if self.course_dir:
            paths.add(self.course_dir)
        try:
            from jupyter_core.paths import jupyter_runtime_dir

            paths.add(Path(jupyter_runtime_dir()))
        except Exception:  # noqa: BLE001
            pass
        paths.update(Path(p) for p in self.sandbox.hidden_paths)
        return {p.resolve() for p in paths if p.resolve() != Path("/")}

    def _readonly(self, hidden):
        """What the kernel needs from inside hidden directories: Python and the course package."""
        needed = {Path(course.__file__).parent, Path(sys.prefix), Path(sys.base_prefix),
                  Path(sys.executable).parent, *(Path(p) for p in self.sandbox.readonly_paths)}
        needed.update(Path(p) for p in sys.path if p and ("site-packages" in p or "dist-packages" in p
                                                          or re.search(r"python\d\.\d+", p)))
        needed = {p.resolve() for p in needed if p.exists()}
        return sorted(p for p in needed if any(p.is_relative_to(h) for h in hidden)
                      and not p.is_relative_to(self.notebook_dir))

    def _bwrap(self, cmd, env):
        hidden = self._hidden()
        args = [self.mechanisms.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                "--perms", "1777", "--tmpfs", "/dev/shm"]
        for path in sorted(hidden, key=lambda p: len(p.parts)):
            if path.is_dir():
                args += ["--perms", "1777" if path == Path(tempfile.gettempdir()).resolve() else "0755",
                         "--tmpfs", str(path)]
        made = set()

        def mount(option, path):
            # bubblewrap makes missing parents 0700: the kernel's user could not pass them.
            for parent in reversed(path.parents):
                if parent not in made and any(parent.is_relative_to(h) and parent != h for h in hidden):
                    args.extend(["--perms", "0755", "--dir", str(parent)])
                    made.add(parent)
            args.extend([option, str(path), str(path)])

        for path in self._readonly(hidden):
            mount("--ro-bind", path)
        for path in (self.notebook_dir, self.private):
            mount("--bind", path)
        namespaces = _namespaces(bool(self.mechanisms.user))
        if self.sandbox.network:
            namespaces.remove("--unshare-net")
        args += [*namespaces, "--chdir", str(self.notebook_dir), "--clearenv"]
        for key, value in sorted(env.items()):
            args += ["--setenv", key, value]
        return [*args, "--", *cmd]

    def death_reason(self):
        """Why the kernel died, if the sandbox knows: the memory limit."""
        if self.cgroup and self.cgroup.oom_kills() > 0 and self.sandbox.memory_bytes:
            return f"memory limit of {format_size(self.sandbox.memory_bytes)} exceeded"
        return None

    def stop(self):
        """Kill everything the kernel started, restore ownership, drop what must not outlive it."""
        if self.cgroup:
            if not self.cgroup.kill():
                self.log.error("Processes of a graded kernel survive in %s", self.cgroup.all_dirs)
            self.cgroup.remove()
            self.cgroup = None
        if self.mechanisms.user and self._owner:
            for path in [self.notebook_dir, *self.notebook_dir.rglob("*")]:
                try:
                    os.lchown(path, self._owner.st_uid, self._owner.st_gid)
                except OSError:
                    pass
        _remove_links(self.notebook_dir, self.log)
        if self.private:
            shutil.rmtree(self.private, ignore_errors=True)
            self.private = None


def _remove_links(directory, log):
    """Symlinks, fifos and devices a kernel left in its directory: the grader (outside the sandbox)
    writes and copies files there next, and must not follow a link to, say, source/."""
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = Path(root) / name
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                log.warning("Removing %s left by the graded kernel (not a regular file)", path)
                path.unlink()


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run contained (``Sandbox`` settings); see the module."""

    containment = None

    async def _async_pre_start_kernel(self, **kw):
        if self.containment:  # a restart through jupyter_client: a fresh sandbox
            self.containment.stop()
        sandbox = Sandbox(parent=self)
        self.containment = Containment(sandbox, kw.get("cwd"), _course_root(self.config), self.log).start()
        self.connection_file, self.ip = self.containment.connection()
        self.transport = "ipc"
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if self.containment.mechanisms.user:  # jupyter_client wrote it 0600 for us
            os.chown(self.connection_file, *self.containment.mechanisms.user)
        kernel_cmd, kw = self.containment.wrap(kernel_cmd, kw)
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def shutdown_kernel(self, now=False, restart=False):
        try:
            await super().shutdown_kernel(now=now, restart=restart)
        finally:
            if self.containment:
                self.containment.stop()

    async def _async_cleanup_resources(self, restart=False):
        try:
            await super()._async_cleanup_resources(restart=restart)
        finally:
            if self.containment:
                self.containment.stop()

    def death_reason(self):
        return self.containment.death_reason() if self.containment else None
