"""nbgrader configuration of the course (read from the course root, where nbgrader runs)."""

from course import grading

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "ml-recsys"
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

# nbgrader's autograde pipeline with the course's hardened preprocessors (see course/grading.py).
c.Autograde.sanitize_preprocessors = grading.SANITIZE_PREPROCESSORS
c.Autograde.autograde_preprocessors = grading.AUTOGRADE_PREPROCESSORS
