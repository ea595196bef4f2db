"""Start a grading kernel inside its limits: ``python -I launch.py SPEC -- COMMAND...``.

Run by ``course.grading.sandbox`` in place of the kernel command, as a file (standard library
only, so it starts in milliseconds). SPEC is JSON:

- ``cgroup_procs``: ``cgroup.procs`` files to join (the memory and pids limits);
- ``rlimits``: ``{"RLIMIT_FSIZE": bytes, ...}`` set for this process and all it starts;
- ``user``: ``[uid, gid]`` to switch to after joining the cgroups (when started as root).

SIGINT is ignored from here on, so the grader's interrupt (sent to the whole process group)
reaches the kernel, which installs its own handler, and not bubblewrap, which would die of it.
"""

import json
import os
import resource
import signal
import sys


def main(argv):
    spec, command = json.loads(argv[1]), argv[3:]
    assert argv[2] == "--" and command, "usage: launch.py SPEC -- COMMAND..."
    for procs in spec.get("cgroup_procs", []):
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    for name, limit in spec.get("rlimits", {}).items():
        try:
            resource.setrlimit(getattr(resource, name), (limit, limit))
        except (AttributeError, ValueError, OSError) as error:  # e.g. not enforceable on macOS
            print(f"CONTAINMENT LOST, {name} could not be set: {error}", file=sys.stderr)
    user = spec.get("user")
    if user:
        uid, gid = user
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv)
