"""Per-kernel cgroups: a memory and a pids limit, an OOM count, and a kill of everything inside.

Created under the grader's own cgroup (cgroup v1 ``memory`` and ``pids`` hierarchies, or a
delegated cgroup v2), so they nest in whatever limits the grader itself runs under.
"""

import os
import re
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path


def _mounts():
    """{(fstype, controller or ''): mount point} from /proc/self/mountinfo."""
    found = {}
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fstype, _, options = (right.split() + ["", "", ""])[:3]
        mount_point = left.split()[4]
        if fstype == "cgroup2":
            found.setdefault(("cgroup2", ""), mount_point)
        elif fstype == "cgroup":
            for option in options.split(","):
                if option in ("memory", "pids"):
                    found.setdefault(("cgroup", option), mount_point)
    return found


def _own_cgroups():
    """{controller or '': path} of this process, from /proc/self/cgroup."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    return own


def probe():
    if sys.platform != "linux":
        return None, f"no cgroups on {sys.platform}"
    try:
        mounts, own = _mounts(), _own_cgroups()
    except OSError as error:
        return None, f"cannot read cgroups: {error}"
    problems = []
    if ("cgroup", "memory") in mounts and ("cgroup", "pids") in mounts:
        parents = {c: Path(mounts[("cgroup", c)] + own.get(c, "/").rstrip("/")) for c in ("memory", "pids")}
        backend = CgroupV1(parents)
        problem = backend.check()
        if not problem:
            return backend, ""
        problems.append(problem)
    if ("cgroup2", "") in mounts:
        parent = Path(mounts[("cgroup2", "")] + own.get("", "/").rstrip("/"))
        backend = CgroupV2(parent)
        problem = backend.check()
        if not problem:
            return backend, ""
        problems.append(problem)
    return None, "; ".join(problems) or "no memory and pids cgroup controllers are mounted"


class CgroupV1:
    version = "v1"

    def __init__(self, parents):
        self.parents = parents  # controller -> the grader's own cgroup directory

    def check(self):
        for parent in self.parents.values():
            _sweep(parent)
        for controller, parent in self.parents.items():
            probe_dir = parent / f"course-probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
            try:
                probe_dir.mkdir()
                probe_dir.rmdir()
            except OSError as error:
                return f"cgroup v1 {controller} at {parent} is not writable ({error.strerror})"
        return ""

    def create(self, name, memory, processes):
        dirs = {c: p / name for c, p in self.parents.items()}
        for d in dirs.values():
            d.mkdir()
        group = KernelCgroup(self, dirs, list(dirs.values()))
        if memory:
            _write(dirs["memory"] / "memory.limit_in_bytes", memory)
            _write(dirs["memory"] / "memory.memsw.limit_in_bytes", memory, quiet=True)  # no swapping
            _write(dirs["memory"] / "memory.swappiness", 0, quiet=True)
        if processes:
            _write(dirs["pids"] / "pids.max", processes)
        return group

    @staticmethod
    def oom_kills(dirs):
        text = _read(dirs["memory"] / "memory.oom_control")
        match = re.search(r"^oom_kill (\d+)", text, re.MULTILINE)
        return int(match.group(1)) if match else int(_read(dirs["memory"] / "memory.failcnt") or 0)


class CgroupV2:
    version = "v2"

    def __init__(self, parent):
        self.parent = parent

    def check(self):
        enabled = _read(self.parent / "cgroup.subtree_control").split()
        if not {"memory", "pids"} <= set(enabled):
            return (f"cgroup v2 at {self.parent} does not delegate the memory and pids controllers "
                    "(run the grader in a systemd unit with Delegate=yes)")
        return CgroupV1({"memory": self.parent}).check().replace("v1 memory", "v2")

    def create(self, name, memory, processes):
        d = self.parent / name
        d.mkdir()
        if memory:
            _write(d / "memory.max", memory)
            _write(d / "memory.swap.max", 0, quiet=True)
        if processes:
            _write(d / "pids.max", processes)
        return KernelCgroup(self, {"memory": d, "pids": d}, [d])

    @staticmethod
    def oom_kills(dirs):
        match = re.search(r"^oom_kill (\d+)", _read(dirs["memory"] / "memory.events"), re.MULTILINE)
        return int(match.group(1)) if match else 0


def _sweep(parent):
    """Remove the cgroups of kernels whose grader is gone (killed before it could clean up)."""
    for stale in parent.glob("course-kernel-*"):
        pid = stale.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            group = KernelCgroup(None, {"memory": stale, "pids": stale}, [stale])
            group.kill()
            group.remove()


def _write(path, value, quiet=False):
    try:
        path.write_text(str(value))
    except OSError:
        if not quiet:
            raise


def _read(path):
    try:
        return path.read_text()
    except OSError:
        return ""


@dataclass
class KernelCgroup:
    backend: object
    dirs: dict
    all_dirs: list

    @property
    def procs_files(self):
        return [str(d / "cgroup.procs") for d in self.all_dirs]

    def oom_kills(self):
        return self.backend.oom_kills(self.dirs)

    def pids(self):
        return {int(p) for d in self.all_dirs for p in _read(d / "cgroup.procs").split()}

    def kill(self):
        """SIGKILL everything left in the cgroup (a fork bomb races this, so repeat)."""
        kill_file = self.dirs["pids"] / "cgroup.kill"
        if kill_file.exists():
            _write(kill_file, 1, quiet=True)
        for _ in range(200):
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)
        return not self.pids()

    def remove(self):
        for d in self.all_dirs:
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
