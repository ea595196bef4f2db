"""`make hub-bench`: 20 students fetch and submit within a minute while the instructor autogrades.

A benchmark, not a test (run as root; it sets up 20 demo accounts with setup.sh). Each student is a
thread with its own HTTP session: log in through the hub (PAM), start their server, then, all within
one minute, load their Lab page, fetch the released chapter, save a notebook of their own and submit
it, through the same endpoints as the Lab extension. Meanwhile the instructor autogrades the chapter's
collected submissions (`python -m course autograde`, contained kernels) in the background. Reported:
p50/p95 of page loads and of fetch/submit, the machine's peak memory above its idle level and the
users' processes' peak RSS, and whether every submission arrived intact (sha256 of what each
student saved against what the instructor collected).
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hub_test  # noqa: E402
from hub_test import BASE, CHAPTER, COURSE, EXCHANGE, HOME, INSTRUCTOR  # noqa: E402

N = int(os.environ.get("HUB_BENCH_STUDENTS", "20"))
AS_INSTRUCTOR = ["runuser", "-u", INSTRUCTOR, "--", "env", f"HOME=/home/{INSTRUCTOR}", f"USER={INSTRUCTOR}",
                 f"PATH={HOME / 'venv' / 'bin'}:/usr/bin:/bin"]
WINDOW = 60.0


def memory_used():
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    kib = lambda key: int(info[key].split()[0])  # noqa: E731
    return (kib("MemTotal") - kib("MemAvailable")) * 1024


def users_rss(users):
    out = subprocess.run(["ps", "-o", "user:32=,rss=", "-A"], capture_output=True, text=True).stdout
    return sum(int(rss) * 1024 for user, rss in (line.split() for line in out.splitlines()) if user in users)


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))] if values else float("nan")


class Student:
    def __init__(self, name, password):
        self.name, self.password = name, password
        self.session = requests.Session()
        self.server = f"{BASE}/user/{name}"
        self.times = {"page": [], "fetch": [], "submit": []}
        self.sha = None
        self.error = None

    def xsrf(self):
        return next((c.value for c in self.session.cookies if c.name == "_xsrf" and c.path.startswith("/user")), "")

    def login_and_spawn(self):
        self.session.get(f"{BASE}/hub/login")
        hub_xsrf = next((c.value for c in self.session.cookies if c.name == "_xsrf"), "")
        self.session.post(f"{BASE}/hub/login?next=", data={"username": self.name, "password": self.password,
                                                            "_xsrf": hub_xsrf})
        for _ in range(180):
            reply = self.session.get(f"{self.server}/api/status", timeout=30)
            if reply.ok and reply.headers.get("content-type", "").startswith("application/json"):
                return
            self.session.get(f"{BASE}/hub/spawn/{self.name}", timeout=30)
            time.sleep(2)
        raise RuntimeError(f"{self.name}'s server did not start")

    def timed(self, kind, call):
        started = time.perf_counter()
        reply = call()
        self.times[kind].append(time.perf_counter() - started)
        reply.raise_for_status()
        return reply

    def work(self):
        try:
            headers = lambda: {"X-XSRFToken": self.xsrf()}  # noqa: E731
            self.timed("page", lambda: self.session.get(f"{self.server}/lab", timeout=120))
            form = {"course_id": "ml-recsys", "assignment_id": CHAPTER}
            reply = self.timed("fetch", lambda: self.session.post(f"{self.server}/assignments/fetch", data=form,
                                                                  headers=headers(), timeout=120))
            assert reply.json().get("success"), reply.text[:300]
            path = f"{CHAPTER}/{CHAPTER}.ipynb"
            nb = self.session.get(f"{self.server}/api/contents/{path}?content=1", timeout=120).json()["content"]
            for cell in nb["cells"]:  # a mark of this student's own in their first solution cell
                if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                    cell["source"] = f"# handed in by {self.name}\n" + "".join(cell["source"])
                    break
            body = {"type": "notebook", "format": "json", "content": nb}
            self.session.put(f"{self.server}/api/contents/{path}", data=json.dumps(body),
                             headers={**headers(), "Content-Type": "application/json"}, timeout=120).raise_for_status()
            self.sha = hashlib.sha256(Path(f"/home/{self.name}/{path}").read_bytes()).hexdigest()
            self.timed("page", lambda: self.session.get(f"{self.server}/lab/tree/{path}", timeout=120))
            reply = self.timed("submit", lambda: self.session.post(f"{self.server}/assignments/submit", data=form,
                                                                   headers=headers(), timeout=120))
            assert reply.json().get("success"), reply.text[:300]
        except Exception as error:  # noqa: BLE001 - reported per student
            self.error = repr(error)


def main():
    if os.geteuid() != 0:
        print("make hub-bench needs root")
        return 2
    setup = subprocess.run([str(hub_test.REPO / "deploy" / "jupyterhub" / "setup.sh"), "--demo-accounts", str(N),
                            "--chapters", CHAPTER], capture_output=True, text=True
                           ) if not os.environ.get("HUB_TEST_SKIP_SETUP") else None
    if setup and setup.returncode:
        print(setup.stdout, setup.stderr)
        return 1
    names = [f"student{i}" for i in range(1, N + 1)]
    for name in names:
        subprocess.run(["rm", "-rf", f"/home/{name}/{CHAPTER}"])
    # earlier submissions out of the way (the instructor's release made inbound/; keep the folder)
    subprocess.run(["find", str(EXCHANGE / "inbound"), "-mindepth", "1", "-delete"])
    if (EXCHANGE / "outbound").is_dir() and not (EXCHANGE / "inbound").is_dir():  # as nbgrader's release makes it
        subprocess.run(["install", "-d", "-o", INSTRUCTOR, "-g", INSTRUCTOR, "-m", "733", str(EXCHANGE / "inbound")])
    passwords = hub_test.passwords()
    hub = hub_test.start_hub()
    try:
        # the instructor releases the chapter (as in Formgrader) and has earlier submissions to grade
        released = subprocess.run([*AS_INSTRUCTOR, str(HOME / "venv" / "bin" / "python"), "-m",
                                   "course", "prepare", "--course-dir", str(COURSE), "--chapters", CHAPTER],
                                  capture_output=True, text=True, cwd=COURSE)
        print(released.stdout.strip())
        students = [Student(name, passwords[name]) for name in names]
        print(f"logging in and starting {N} servers ...", flush=True)
        spawned = time.perf_counter()
        threads = [threading.Thread(target=s.login_and_spawn) for s in students]
        for t in threads:
            t.start()
            time.sleep(0.5)
        for t in threads:
            t.join()
        print(f"{N} servers up in {time.perf_counter() - spawned:.0f} s", flush=True)

        idle = memory_used()
        peak = {"machine": idle, "users": users_rss(set(names) | {INSTRUCTOR})}
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak["machine"] = max(peak["machine"], memory_used())
                peak["users"] = max(peak["users"], users_rss(set(names) | {INSTRUCTOR}))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample)
        sampler.start()
        grader = None
        if list((COURSE / "submitted").glob(f"*/{CHAPTER}")):
            grader = subprocess.Popen([*AS_INSTRUCTOR, "OMP_NUM_THREADS=1", str(HOME / "venv" / "bin" / "python"),
                                       "-m", "course", "autograde", CHAPTER, "--force", "--jobs", "1",
                                       "--course-dir", str(COURSE)],
                                      cwd=COURSE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        window = time.perf_counter()
        workers = []
        for s in students:  # spread over the minute, as a class does
            workers.append(threading.Thread(target=s.work))
            workers[-1].start()
            time.sleep(WINDOW / N / 2)
        for t in workers:
            t.join()
        elapsed = time.perf_counter() - window
        grading = grader.communicate()[0] if grader else "(nothing collected to grade)"
        stop.set()
        sampler.join()

        collect = subprocess.run([*AS_INSTRUCTOR, str(HOME / "venv" / "bin" / "nbgrader"),
                                  "collect", CHAPTER, "--update"], capture_output=True, text=True, cwd=COURSE)
        intact = sum(
            s.sha is not None and (COURSE / "submitted" / s.name / CHAPTER / f"{CHAPTER}.ipynb").exists()
            and hashlib.sha256((COURSE / "submitted" / s.name / CHAPTER / f"{CHAPTER}.ipynb").read_bytes()
                               ).hexdigest() == s.sha
            for s in students)
    finally:
        hub.terminate()
        hub.wait(30)

    errors = [f"{s.name}: {s.error}" for s in students if s.error]
    every = {kind: [t for s in students for t in s.times[kind]] for kind in ("page", "fetch", "submit")}
    print(f"\n{N} students fetched and submitted in {elapsed:.0f} s (window {WINDOW:.0f} s) on {os.cpu_count()} cores, "
          "while the instructor autograded")
    for kind, values in every.items():
        print(f"  {kind:6s} n={len(values):3d}  p50 {percentile(values, 0.5):6.2f} s  "
              f"p95 {percentile(values, 0.95):6.2f} s  max {max(values, default=float('nan')):6.2f} s")
    print(f"  peak memory: machine {(peak['machine'] - idle) / 2**30:+.2f} GiB above the level with {N} idle servers; "
          f"users' processes (servers, kernels, grading) {peak['users'] / 2**30:.2f} GiB RSS at peak")
    print(f"  submissions intact (sha256 saved == collected): {intact} / {N}")
    print("  autograde during the window: " + " | ".join(
        line.strip() for line in grading.splitlines() if re.match(r"\s*(Autograded|Nothing|student)", line))[:400])
    if collect.returncode:
        print(collect.stdout[-1000:], collect.stderr[-1000:])
    for error in errors:
        print(f"  ERROR {error}")
    return 0 if intact == N and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
