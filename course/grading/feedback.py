"""What students get back never shows the hidden tests' code.

nbgrader builds the feedback HTML from the autograded notebook, whose test cells hold the full
hidden tests (the instructor's formgrader view must keep them). ``HideHiddenTests`` runs in
``nbgrader generate_feedback`` only, and ``redact`` serves ``python -m course check``:

- the region between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` becomes one line,
  ``# hidden tests: not shown``;
- an error keeps its message (``ename: evalue``: expected, got, hint) and its traceback, less
  the lines that show hidden source (the line where a hidden test failed becomes a placeholder);
- printed output (a warning quotes its source line) loses the lines that are hidden source.

A hidden line is a line of a hidden region that does not also appear in the visible part of the
notebook (a bare ``)`` is no secret).
"""

import re

from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
NOT_SHOWN = "# hidden tests: not shown"
HIDDEN_LINE = "(a line of the hidden tests: not shown)"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# IPython prints traceback source lines as "---> 12 code" or "     13 code".
_NUMBERED = re.compile(r"^\s*(?:-*>)?\s*\d+\s?(.*)$")


def strip_ansi(text):
    return _ANSI.sub("", text)


def split_hidden(source):
    """(visible source with each hidden region replaced by NOT_SHOWN, list of hidden lines)."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines(keepends=True):
        stripped = line.strip()
        if not inside and stripped == BEGIN:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            visible.append(f"{indent}{NOT_SHOWN}\n")
        elif inside and stripped == END:
            inside = False
        elif inside:
            hidden.append(line)
        else:
            visible.append(line)
    text = "".join(visible)
    return (text.rstrip("\n") if not source.endswith("\n") else text), hidden


def secret_lines(nb):
    """Stripped hidden-test lines that appear nowhere in the visible part of ``nb``."""
    hidden, visible = set(), set()
    for cell in nb.cells:
        shown, secret = split_hidden(cell.source)
        hidden.update(line.strip() for line in secret)
        visible.update(line.strip() for line in shown.splitlines())
    return {line for line in hidden - visible if line}


def _shows_secret(line, secrets):
    line = strip_ansi(line)
    numbered = _NUMBERED.match(line)
    candidates = {line.strip(), numbered.group(1).strip()} if numbered else {line.strip()}
    return bool(candidates & secrets) or any(marker in line for marker in (BEGIN, END))


def _clean_text(text, secrets):
    """``text`` without the lines that show hidden source; a traceback's current line ("---->")
    is kept as a placeholder so that the frame still says where it stopped."""
    kept = []
    for line in text.splitlines(keepends=True):
        if not _shows_secret(line, secrets):
            kept.append(line)
        elif "->" in strip_ansi(line):
            kept.append(f"----> {HIDDEN_LINE}" + ("\n" if line.endswith("\n") else ""))
    return "".join(kept)


def redact(nb):
    """Remove hidden-test source from ``nb`` in place (sources and outputs); returns ``nb``."""
    secrets = secret_lines(nb)
    for cell in nb.cells:
        if BEGIN in cell.source:
            cell.source, _ = split_hidden(cell.source)
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [_clean_text(entry, secrets) for entry in output.traceback]
                output.evalue = _clean_text(output.evalue, secrets)
            elif output.output_type == "stream":
                output.text = _clean_text(output.text, secrets)
            elif "data" in output and isinstance(output.data.get("text/plain"), str):
                output.data["text/plain"] = _clean_text(output.data["text/plain"], secrets)
    return nb


def failure_message(cell):
    """The first failure of a graded cell as a student may read it (no hidden source)."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            return f"{output.ename}: {output.evalue}".rstrip(": ") if output.evalue else output.ename
        if output.output_type == "stream" and output.name == "stderr":
            return f"the cell wrote to stderr (nbgrader scores that as a failure): {output.text.strip()}"
    return ""


class HideHiddenTests(NbGraderPreprocessor):
    """``nbgrader generate_feedback``: the feedback shows no hidden-test code (see the module)."""

    def preprocess(self, nb, resources):
        return redact(nb), resources
