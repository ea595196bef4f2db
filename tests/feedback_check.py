"""An independent reading of a feedback HTML file: does it show hidden-test code?"""

import html
import re

from course import notebooks

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
NUMBER_PREFIX = re.compile(r"^\s*-*>?\s*\d+\s")


def hidden_lines(chapter):
    """Stripped lines of the source notebook's hidden tests that the release notebook does not show."""
    hidden, inside = set(), False
    for cell in notebooks.read(notebooks.source_path(chapter)).cells:
        for line in cell.source.splitlines():
            if line.strip() == BEGIN:
                inside = True
            elif line.strip() == END:
                inside = False
            elif inside and line.strip():
                hidden.add(line.strip())
    release = {line.strip() for c in notebooks.read(notebooks.release_path(chapter)).cells
               for line in c.source.splitlines()}
    return hidden - release


def text_lines(path):
    """The feedback page as text, one stripped line each (a traceback line also without its number)."""
    text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))
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
