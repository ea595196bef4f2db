"""`make hub-test`: the whole class loop on a real JupyterHub in headless Chromium, and every refusal.

Run as root on a machine where `deploy/jupyterhub/setup.sh` may create accounts (it is run here with
two demo students and one chapter). The hub is started on its own port with the real PAM
authenticator and the demo accounts' passwords, and stopped at the end.

The loop: the instructor releases one chapter (Formgrader); two students log in, fetch it (their
Assignment List), solve part of it, validate and submit; the instructor collects, autogrades (the
contained grading, in the instructor's own server) and releases feedback; each student fetches and
opens their own feedback (math rendered as MathML, the message first). Browser actions go through
the pages and the same HTTP endpoints the Lab extensions call, with each user's own session.

The refusals, each asserted: a student opening Formgrader or the instructor's server; a student
reading the course directory (solutions, hidden tests), the gradebook, the repository's source/,
another student's home, the exchange's inbound (other submissions) and feedback; a student
submitting as someone else (collect refuses it); a student's code, while it is graded, reading
other submissions (the kernel's sandbox).

Screenshots: a few on success in docs/screenshots/, and one per failed check in build/hub-test/.
Exit status 0 only if every check passed.
"""

import hashlib
import json
import os
import subprocess
import sys
import time
import traceback
import urllib.request
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from course import notebooks  # noqa: E402

HOME = Path("/srv/ml-recsys")
COURSE = HOME / "course"
EXCHANGE = Path("/usr/local/share/nbgrader/exchange/ml-recsys")
CHAPTER = "01_fundamentals"
INSTRUCTOR = "instructor"
STUDENTS = ("student1", "student2")
PORT = int(os.environ.get("HUB_TEST_PORT", "8765"))
BASE = f"http://127.0.0.1:{PORT}"
SHOTS = REPO / "docs" / "screenshots"
FAILED_SHOTS = REPO / "build" / "hub-test"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]

results = []  # (name, ok, detail)


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def check(name, ok, detail="", page=None):
    results.append((name, bool(ok), detail))
    log(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))
    if not ok and page is not None:
        FAILED_SHOTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(FAILED_SHOTS / f"{len(results):02d}.png"), full_page=True)
        except Exception:  # noqa: BLE001 - a screenshot must not hide the failure itself
            pass
    return ok


def as_user(user, *cmd, env=None):
    """Run a command as a Unix account (what the student could do in their own terminal)."""
    full = ["runuser", "-u", user, "--", "env", f"HOME=/home/{user}", f"USER={user}", f"LOGNAME={user}",
            f"PATH={HOME / 'venv' / 'bin'}:/usr/bin:/bin", *(env or []), *cmd]
    return subprocess.run(full, capture_output=True, text=True, cwd="/", timeout=600)


def refuse_listing(user, path, what):
    result = as_user(user, "ls", str(path))
    check(f"refused: {user} listing {what}", result.returncode != 0 and "Permission denied" in result.stderr,
          result.stderr.strip() or result.stdout[:200])


def passwords():
    lines = (HOME / "hub" / "demo-passwords.txt").read_text().split("\n")
    return dict(line.split(" ", 1) for line in lines if " " in line)


# --- the hub ---------------------------------------------------------------------------------------
def start_hub():
    env = {**os.environ, "COURSE_HUB_HOME": str(HOME), "COURSE_INSTRUCTOR": INSTRUCTOR,
           "COURSE_HUB_BIND": BASE}
    logfile = open(HOME / "hub" / "hub-test.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([str(HOME / "venv" / "bin" / "jupyterhub"), "-f",
                             str(REPO / "deploy" / "jupyterhub" / "jupyterhub_config.py")],
                            cwd=HOME / "hub", env=env, stdout=logfile, stderr=subprocess.STDOUT)
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{BASE}/hub/health", timeout=2)
            return proc
        except OSError:
            time.sleep(1)
    raise RuntimeError("the hub did not start; see /srv/ml-recsys/hub/hub-test.log")


class User:
    """One browser context (its own cookies) logged in as one user, and their server."""

    def __init__(self, browser, name, password):
        self.name = name
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(300_000)
        self.page.goto(f"{BASE}/hub/login")
        self.page.fill("input#username_input", name)
        self.page.fill("input#password_input", password)
        self.page.click("#login_submit")
        self.page.wait_for_url(f"**/user/{name}/lab**", timeout=600_000)
        self.page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=600_000)
        self.server = f"{BASE}/user/{name}"

    def xsrf(self):
        return next((c["value"] for c in self.context.cookies() if c["name"] == "_xsrf"), "")

    def post(self, path, form=None, timeout=600_000):
        return self.context.request.post(f"{self.server}{path}", form=form or {},
                                         headers={"X-XSRFToken": self.xsrf()}, timeout=timeout)

    def get(self, url):
        return self.context.request.get(url if url.startswith("http") else f"{self.server}{url}",
                                        max_redirects=0, fail_on_status_code=False)

    def put_notebook(self, path, nb):
        body = {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(nb))}
        return self.context.request.put(f"{self.server}/api/contents/{path}", data=json.dumps(body),
                                        headers={"X-XSRFToken": self.xsrf(), "Content-Type": "application/json"})

    def get_notebook(self, path):
        reply = self.context.request.get(f"{self.server}/api/contents/{path}?content=1")
        return nbformat.reads(json.dumps(reply.json()["content"]), as_version=4)


def open_assignment_list(user, shot=None):
    page = user.page
    page.goto(f"{user.server}/lab")
    page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=600_000)
    page.click(".lm-MenuBar-itemLabel >> text=Nbgrader")
    page.click(".lm-Menu-itemLabel >> text=Assignment List")
    page.wait_for_selector("text=Released assignments", timeout=60_000)
    page.wait_for_timeout(3000)
    if shot:
        page.screenshot(path=str(SHOTS / shot))


# --- the student's work ----------------------------------------------------------------------------
SNOOP = '''
import os as _os
for _path in ["/srv/ml-recsys/course/submitted", "/srv/ml-recsys/course/source",
              "/usr/local/share/nbgrader/exchange/ml-recsys/inbound", "/home/student2",
              "/home/instructor/course", "/home/instructor/.jupyter"]:
    try:  # a hidden directory is an empty tmpfs in the sandbox: nothing to see is a refusal too
        _seen = sorted(_os.listdir(_path))
        print("SNOOP-SAW" if _seen else "SNOOP-REFUSED", _path, _seen[:5])
    except OSError as _error:
        print("SNOOP-REFUSED", _path, type(_error).__name__)
'''


def solve_part(nb, student):
    """student1 solves the first exercise (and tries to read others' work from the grading kernel);
    student2 solves the first two exercises."""
    source = notebooks.read(notebooks.source_path(CHAPTER, COURSE))
    solved = {notebooks.meta(c)["grade_id"]: c.source for c in source.cells if notebooks.is_solution(c)}
    names = [e.name for e in notebooks.exercises(source)]
    todo = names[:1] if student == "student1" else names[:2]
    for cell in nb.cells:
        grade_id = notebooks.meta(cell).get("grade_id")
        if grade_id in todo:
            cell.source = solved[grade_id]
        if student == "student1" and grade_id == names[1]:
            cell.source = SNOOP + cell.source
    return nb


def _uid(user):
    import pwd

    return pwd.getpwnam(user).pw_uid


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- the run ---------------------------------------------------------------------------------------
def main():
    if os.geteuid() != 0:
        print("make hub-test needs root (it creates Unix accounts and starts JupyterHub)")
        return 2
    started = time.perf_counter()
    SHOTS.mkdir(parents=True, exist_ok=True)
    log("setting up the hub (two demo students, one chapter)")
    setup = subprocess.run([str(REPO / "deploy" / "jupyterhub" / "setup.sh"), "--demo-accounts",
                            os.environ.get("HUB_TEST_ACCOUNTS", "2"), "--chapters", CHAPTER],
                           capture_output=True, text=True) if not os.environ.get("HUB_TEST_SKIP_SETUP") else None
    if setup and setup.returncode:
        print(setup.stdout, setup.stderr)
        return 1
    for student in STUDENTS:  # a fresh class: no earlier work, nothing released
        subprocess.run(["rm", "-rf", f"/home/{student}/{CHAPTER}"])
    subprocess.run(["rm", "-rf", str(EXCHANGE), *(str(COURSE / d) for d in ("submitted", "autograded", "feedback"))])
    if (COURSE / "gradebook.db").exists():
        subprocess.run(["runuser", "-u", INSTRUCTOR, "--", str(HOME / "venv" / "bin" / "python"), "-c",
                        "from nbgrader.api import Gradebook\n"
                        f"with Gradebook('sqlite:///{COURSE}/gradebook.db') as gb:\n"
                        f"    [gb.remove_submission('{CHAPTER}', s.student.id) for s in "
                        f"list(gb.find_assignment('{CHAPTER}').submissions)]"], check=True)
    hub = start_hub()
    log(f"hub up at {BASE} after {time.perf_counter() - started:.0f} s")
    from playwright.sync_api import sync_playwright

    pw = passwords()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            run(browser, pw)
            browser.close()
    except Exception:  # noqa: BLE001 - reported as a failed check
        check("the loop ran to the end", False, traceback.format_exc())
    finally:
        hub.terminate()
        try:
            hub.wait(30)
        except subprocess.TimeoutExpired:
            hub.kill()
    failed = [r for r in results if not r[1]]
    print(f"\nhub-test: {len(results) - len(failed)} of {len(results)} checks passed in "
          f"{time.perf_counter() - started:.0f} s")
    for name, _, detail in failed:
        print(f"  FAILED {name}: {detail[:2000]}")
    return 1 if failed else 0


def run(browser, pw):
    # The instructor releases one chapter in Formgrader.
    teacher = User(browser, INSTRUCTOR, pw[INSTRUCTOR])
    fg = teacher.page
    fg.goto(f"{teacher.server}/formgrader/manage_assignments")
    fg.wait_for_selector(f"text={CHAPTER}", timeout=60_000)
    check("formgrader lists the prepared chapter, not released", "released" not in fg.inner_text("body").lower()
          .replace("unreleased", ""), fg.inner_text("body")[:300], fg)
    reply = teacher.post(f"/formgrader/api/assignment/{CHAPTER}/release")
    check("instructor releases one chapter", reply.ok and reply.json().get("success"), reply.text()[:500], fg)
    check("only that chapter is in the exchange", sorted(p.name for p in (EXCHANGE / "outbound").iterdir())
          == [CHAPTER])
    fg.goto(f"{teacher.server}/formgrader/manage_assignments")
    fg.wait_for_selector("text=released", timeout=60_000)
    fg.screenshot(path=str(SHOTS / "hub-formgrader-released.png"))

    # Two students log in, fetch, solve part of the chapter, validate and submit.
    students = {name: User(browser, name, pw[name]) for name in STUDENTS}
    for name, user in students.items():
        open_assignment_list(user, "hub-student-assignment-list.png" if name == "student1" else None)
        reply = user.post("/assignments/fetch", {"course_id": "ml-recsys", "assignment_id": CHAPTER})
        check(f"{name} fetches the chapter", reply.ok and reply.json().get("success"), reply.text()[:500], user.page)
        path = f"{CHAPTER}/{CHAPTER}.ipynb"
        nb = solve_part(user.get_notebook(path), name)
        check(f"{name} saves their work", user.put_notebook(path, nb).ok)
        reply = user.context.request.post(f"{user.server}/assignments/validate", form={"path": path},
                                          headers={"X-XSRFToken": user.xsrf()}, timeout=600_000)
        check(f"{name} validates (the equivalent of make check's visible tests)", reply.ok, reply.text()[:300])
        reply = user.post("/assignments/submit", {"course_id": "ml-recsys", "assignment_id": CHAPTER})
        check(f"{name} submits", reply.ok and reply.json().get("success"), reply.text()[:500], user.page)

    # Refusals: what a student must not reach, through the hub and as their Unix account.
    s1 = students["student1"]
    for url, what in [(f"{s1.server}/formgrader", "Formgrader on their own server"),
                      (f"{teacher.server}/formgrader", "the instructor's Formgrader"),
                      (f"{teacher.server}/lab", "the instructor's server"),
                      (f"{teacher.server}/api/contents/", "the instructor's files (API)"),
                      (f"{students['student2'].server}/api/contents/", "another student's server")]:
        reply = s1.get(url)
        status = reply.status
        if 300 <= status < 400:  # the hub sends unauthorised users back to the login / their own server
            status = s1.context.request.get(url).status
        check(f"refused: student1 opening {what}", status in (403, 404), f"HTTP {status}")
    s1.page.goto(f"{teacher.server}/formgrader")
    s1.page.wait_for_timeout(1500)
    s1.page.screenshot(path=str(SHOTS / "hub-student-refused-formgrader.png"))
    for path, what in [(COURSE / "source" / CHAPTER / f"{CHAPTER}.ipynb", "the course's source (solutions)"),
                       (COURSE / "gradebook.db", "the gradebook"),
                       (REPO / "source" / CHAPTER / f"{CHAPTER}.ipynb", "the repository's source/"),
                       (Path("/home/student2") / CHAPTER / f"{CHAPTER}.ipynb", "another student's home")]:
        result = as_user("student1", "cat", str(path))
        check(f"refused: student1 reading {what}", result.returncode != 0 and "Permission denied" in result.stderr,
              result.stderr.strip() or "read succeeded")
    refuse_listing("student1", EXCHANGE / "inbound", "the exchange's submissions")
    # Impersonation: student1 submits a notebook as student2 (`nbgrader submit --student` names it freely).
    genuine = {n: sha(next((EXCHANGE / "inbound").glob(f"{n}+{CHAPTER}+*")) / f"{CHAPTER}.ipynb")
               for n in STUDENTS}
    fake = as_user("student1", "bash", "-c",
                   f"mkdir -p /tmp/fake/{CHAPTER} && cp ~/{CHAPTER}/{CHAPTER}.ipynb /tmp/fake/{CHAPTER}/ && "
                   f"cd /tmp/fake && nbgrader submit {CHAPTER} --course ml-recsys --student student2")
    check("student1 could hand in a folder named for student2 (nbgrader submit --student)",
          fake.returncode == 0 and any(p.stat().st_uid != _uid("student2")
                                       for p in (EXCHANGE / "inbound").glob(f"student2+{CHAPTER}+*")),
          fake.stdout + fake.stderr)

    # The instructor collects, autogrades (contained), generates and releases feedback.
    reply = teacher.post(f"/formgrader/api/assignment/{CHAPTER}/collect")
    body = reply.json()
    check("instructor collects", reply.ok and body.get("success"), reply.text()[:500], fg)
    check("refused: the submission handed in under student2's name is not collected",
          "REFUSED" in body.get("log", "") and sha(COURSE / "submitted" / "student2" / CHAPTER / f"{CHAPTER}.ipynb")
          == genuine["student2"], body.get("log", "")[-1500:])
    for name in STUDENTS:
        check(f"{name}'s submission arrived intact (checksum)",
              sha(COURSE / "submitted" / name / CHAPTER / f"{CHAPTER}.ipynb") == genuine[name])
    graded_at = time.perf_counter()
    for name in STUDENTS:
        reply = teacher.post(f"/formgrader/api/submission/{CHAPTER}/{name}/autograde")
        body = reply.json()
        check(f"instructor autogrades {name} in Formgrader", reply.ok and body.get("success"),
              body.get("error", "")[-1500:] or body.get("log", "")[-1500:], fg)
        check(f"the autograde dialog of {name} has no DEBUG lines", "[DEBUG]" not in body.get("log", ""),
              body.get("log", "")[:500])
        check(f"{name} graded fully contained (no 'CONTAINMENT LOST' in the log)",
              "CONTAINMENT LOST" not in body.get("log", ""), body.get("log", "")[:800])
        check(f"no checksum warnings for {name}'s untouched test cells", "Attribute 'checksum'" not in body.get(
            "log", ""), body.get("log", "")[:800])
    log(f"autograde of two submissions: {time.perf_counter() - graded_at:.0f} s")
    graded = nbformat.read(str(COURSE / "autograded" / "student1" / CHAPTER / f"{CHAPTER}.ipynb"), as_version=4)
    snoop = "\n".join(o.get("text", "") for c in graded.cells for o in c.get("outputs", []) if o.get(
        "output_type") == "stream")
    check("refused: student1's code, while graded, reading other submissions and the course",
          snoop.count("SNOOP-REFUSED") == 6 and "SNOOP-SAW" not in snoop, snoop[:1500])
    fg.goto(f"{teacher.server}/formgrader/manage_submissions/{CHAPTER}")
    fg.wait_for_selector("text=student2", timeout=60_000)
    fg.wait_for_timeout(1500)
    fg.screenshot(path=str(SHOTS / "hub-formgrader-graded.png"))
    for action in ("generate_feedback", "release_feedback"):
        reply = teacher.post(f"/formgrader/api/assignment/{CHAPTER}/{action}")
        check(f"instructor: {action}", reply.ok and reply.json().get("success"), reply.text()[:800], fg)

    refuse_listing("student1", EXCHANGE / "feedback", "the exchange's feedback")

    # Each student fetches and opens their own feedback.
    for name, user in students.items():
        reply = user.post("/assignments/fetch_feedback", {"course_id": "ml-recsys", "assignment_id": CHAPTER})
        check(f"{name} fetches feedback", reply.ok and reply.json().get("success"), reply.text()[:500])
        found = sorted(Path(f"/home/{name}/{CHAPTER}/feedback").glob(f"*/{CHAPTER}.html"))
        if not check(f"{name}'s feedback is in their home", found):
            continue
        rel = found[-1].relative_to(f"/home/{name}")
        page = user.page
        page.goto(f"{user.server}/files/{rel}")
        page.wait_for_selector("table.course-index", timeout=60_000)
        text = page.inner_text("body")
        check(f"{name}'s feedback is theirs (student1's own code is in it, in student2's not)",
              ("SNOOP" in text) == (name == "student1"), page=page)
        box = page.locator("math").first.bounding_box()
        check(f"{name}'s feedback renders math offline (MathML laid out by the browser)",
              page.locator("math").count() > 0 and box and box["height"] > 5 and "$$" not in text, str(box), page)
        check(f"{name}'s feedback: index by exercise with points", "Test cell" not in text
              and page.locator("table.course-index tr").count() > 5, page=page)
        check(f"{name}'s feedback shows no grader paths or hidden tests",
              "checks.py" not in text and "site-packages" not in text and "/tmp/course-" not in text
              and "BEGIN HIDDEN" not in text, page=page)
        if name == "student1":
            page.screenshot(path=str(SHOTS / "hub-feedback-index.png"))
            first_fail = page.locator(".output_error").first
            if first_fail.count():
                first_fail.scroll_into_view_if_needed()
                page.wait_for_timeout(500)
                page.screenshot(path=str(SHOTS / "hub-feedback-message-first.png"))
            math = page.locator("math[display=block]").first
            if math.count():
                math.scroll_into_view_if_needed()
                page.wait_for_timeout(500)
                page.screenshot(path=str(SHOTS / "hub-feedback-math.png"))
        other = "student2" if name == "student1" else "student1"
        reply = user.get(f"{BASE}/user/{other}/files/{CHAPTER}/feedback/")
        check(f"refused: {name} opening {other}'s feedback", reply.status in (302, 403, 404), f"HTTP {reply.status}")


if __name__ == "__main__":
    sys.exit(main())
