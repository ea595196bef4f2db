"""An independent reading of a feedback HTML file: does it show hidden-test code?"""

import html
import re

from course import notebooks

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
NUMBER_PREFIX = re.compile(r"^\s*-*>?\s*\d+\s")


def hidden_lines(chapter, student_nb=None):
    """Stripped lines of the source notebook's hidden tests that the student does not have anyway:
    not in the release notebook, not in the student's own cells (a solution may share a line with a
    reference implementation), and not mere punctuation."""
    hidden, inside = set(), False
    for cell in notebooks.read(notebooks.source_path(chapter)).cells:
        for line in cell.source.splitlines():
            if line.strip() == BEGIN:
                inside = True
            elif line.strip() == END:
                inside = False
            elif inside and any(ch.isalnum() for ch in line):
                hidden.add(line.strip())
    cells = notebooks.read(notebooks.release_path(chapter)).cells
    if student_nb is not None:
        cells = cells + [c for c in student_nb.cells if BEGIN not in c.source]
    return hidden - {line.strip() for c in cells for line in c.source.splitlines()}


def text_lines(path):
    """The feedback page as text, one stripped line each (a traceback line also without its number)."""
    page = re.sub(r"<(style|script)\b.*?</\1>", "", path.read_text(), flags=re.DOTALL | re.IGNORECASE)
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    lines = set()
    for line in text.splitlines():
        lines.add(line.strip())
        lines.add(NUMBER_PREFIX.sub("", line).strip())
    return lines, text


def failures(autograded):
    """(grade_id, first line of the error message) of every graded cell that failed."""
    found = []
    for cell in autograded.cells:
        meta = notebooks.meta(cell)
        if not meta.get("grade"):
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "error" and output.evalue.strip():
                found.append((meta["grade_id"], output.evalue.strip().splitlines()[0]))
    return found
