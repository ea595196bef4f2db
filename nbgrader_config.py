"""nbgrader configuration of the course (read from the course root, where nbgrader runs)."""

import os
import warnings
from pathlib import Path

from sqlalchemy.exc import SAWarning

from course import grading

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "ml-recsys"

# The exchange, where released chapters, submissions and feedback pass between instructor and
# students. On a JupyterHub it is nbgrader's shared /usr/local/share/nbgrader/exchange (created by
# the admin, mode 777); on a single machine without it, the course keeps its own in exchange/
# (git-ignored). COURSE_EXCHANGE=/some/path overrides both.
SYSTEM_EXCHANGE = Path("/usr/local/share/nbgrader/exchange")
if os.environ.get("COURSE_EXCHANGE"):
    c.Exchange.root = os.environ["COURSE_EXCHANGE"]
elif not (SYSTEM_EXCHANGE.is_dir() and os.access(SYSTEM_EXCHANGE, os.W_OK)):
    c.Exchange.root = str(Path(__file__).resolve().parent / "exchange")
# Lab's Assignment List (a student's Fetch) puts chapters in work/ rather than beside source/ when
# JupyterLab runs in the course root (make lab; `python -m course prepare` creates work/). On a hub
# students' servers start in their own homes and never read this file.
if (Path(__file__).resolve().parent / "work").is_dir():
    c.Exchange.assignment_dir = str(Path(__file__).resolve().parent / "work")
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
# Never copied into release/ (nor over submissions): anything that could hold solutions.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "__pycache__",
    "*.pyc",
    ".*",
    "feedback",
    "*solution*",
    "*answer*",
    "*.bak",
    "*.orig",
    "*.db",
]

c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("Replace this line with your implementation.")'
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A cell that runs longer is interrupted and fails; the source notebooks keep every cell far below.
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True

# nbgrader's autograde pipeline with the course's hardened preprocessors (course/grading/).
c.Autograde.sanitize_preprocessors = grading.SANITIZE_PREPROCESSORS
c.Autograde.autograde_preprocessors = grading.AUTOGRADE_PREPROCESSORS

# Every grading kernel runs contained (course/grading/sandbox.py): bubblewrap (read-only system,
# course directory, home and /tmp hidden, only the notebook's own directory writable, no network),
# a cgroup per kernel (memory, processes), rlimits. A mechanism this machine lacks is reported in
# every run's log ("CONTAINMENT LOST, ..."); set require = True to refuse to grade instead.
c.Sandbox.memory_limit = "4G"  # per kernel; exceeding it costs the exercise, the rest is graded
c.Sandbox.max_processes = 256  # processes and threads per kernel (a fork bomb stops here)
c.Sandbox.max_file_size = "1G"  # largest file a submission may write
c.Sandbox.notebook_timeout = 600  # wall-clock seconds per notebook, on top of Execute.timeout per cell
c.Sandbox.network = False  # no network inside the kernel (it talks to nbgrader over unix sockets)
c.Sandbox.require = False
# The exchange holds every student's submission (world-readable files in an unlistable inbound/): a
# kernel grading one student must not see it. (The course-local exchange/ is inside the hidden course.)
c.Sandbox.hidden_paths = [str(p) for p in {Path(c.Exchange.root) if "root" in c.Exchange else SYSTEM_EXCHANGE}
                          if p.is_dir()]

# What students get back (nbgrader generate_feedback) shows no hidden-test code, puts each failure's
# message first, indexes the page by exercise and renders math offline (MathML, no MathJax CDN).
c.GenerateFeedback.preprocessors = grading.FEEDBACK_PREPROCESSORS
c.GenerateFeedback.exporter_class = grading.FeedbackExporter

# Formgrader's dialogs show the grading log from INFO up (the server's logger is at DEBUG).
grading.quiet_formgrader_dialogs()
# nbgrader's own SQLAlchemy warnings when it adds a submission ("not in session"): harmless, and three
# per submission in every autograde log.
warnings.filterwarnings("ignore", category=SAWarning)
