"""What students get back: no hidden tests' code, the message first, math that renders offline.

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

``ReadableFeedback`` then makes the page readable (``nbgrader generate_feedback`` only):

- a failing cell shows its message (``AssertionError: expected …, got …, Hint: …``) first, then
  only the frames in the student's own cells: no frames of ``course/checks.py`` or of the
  libraries, no file paths of the grader's machine;
- the index at the top names each exercise, its points and its first failure (not "Test cell");
- math (``$…$``, ``$$…$$``) becomes MathML when the feedback is generated: browsers render it
  natively, offline, and Lab's untrusted view keeps it (no MathJax from a CDN, no script).
"""

import html
import re

from nbconvert.exporters import HTMLExporter
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List

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


# nbconvert configures display_data_priority for every preprocessor; nbgrader's base class declares
# it without config=True, so a subclass that does not re-declare it warns on every run.
_PRIORITY = ["text/html", "application/pdf", "text/latex", "image/svg+xml", "image/png", "image/jpeg", "text/plain"]


class HideHiddenTests(NbGraderPreprocessor):
    """``nbgrader generate_feedback``: the feedback shows no hidden-test code (see the module)."""

    display_data_priority = List(_PRIORITY).tag(config=True)

    def preprocess(self, nb, resources):
        return redact(nb), resources


# --- readable feedback ---------------------------------------------------------------------------
# IPython's traceback entries: a frame in a notebook cell starts "Cell In[3], line 5", a frame in a
# file "File /path/to/module.py:120, in name(...)"; the last entry is "Name: message".
_CELL_FRAME = re.compile(r"^\s*(Cell In\s*\[|Input In\s*\[|<ipython-input-)")
_PATH = re.compile(r"(?<![\w.])(?:/[\w.+-]+){2,}/?")


def tidy_error(output):
    """An error output with its message first and only the frames in notebook cells (in place)."""
    message = f"{output.ename}: {output.evalue}" if output.evalue else output.ename
    frames = []
    for entry in output.get("traceback", [])[:-1]:
        plain = strip_ansi(entry)
        if _CELL_FRAME.match(plain):
            frames.append(_PATH.sub("…", plain.rstrip()))
    where = ["", "Where it failed, in this notebook's cells:", *frames] if frames else []
    output.traceback = [message, *where]  # the message as raised (a student's own error may name a path)
    return output


_FENCE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|(?<![\\$\w])\$(?!\s)([^$\n]+?)(?<![\s\\])\$(?![\w$])|\\\((.+?)\\\)",
                   re.S)


def _to_mathml(latex, display):
    from latex2mathml.converter import convert

    try:
        return convert(latex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - an unsupported command: show the LaTeX source instead
        return f"<code>{html.escape(latex.strip())}</code>"


def math_to_mathml(markdown):
    """``markdown`` with each formula replaced by MathML (code spans and blocks are left alone)."""
    def convert(match):
        display = match.group(1) or match.group(2)
        if display is not None:
            return "\n\n" + _to_mathml(display, True).replace("\n", " ") + "\n\n"
        return _to_mathml(match.group(3) or match.group(4), False).replace("\n", " ")

    parts = _FENCE.split(markdown)
    return "".join(part if i % 2 else _MATH.sub(convert, part) for i, part in enumerate(parts))


def _exercise_of(nb):
    """grade_id of each test cell -> the solution cell (exercise) it follows."""
    owner, current = {}, None
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            current = meta.get("grade_id")
        elif meta.get("grade") and cell.cell_type == "code":
            owner[meta.get("grade_id")] = current or meta.get("grade_id")
    return owner


class ReadableFeedback(NbGraderPreprocessor):
    """``nbgrader generate_feedback``: message-first errors, an index by exercise, MathML (see the module)."""

    display_data_priority = List(_PRIORITY).tag(config=True)

    def preprocess(self, nb, resources):
        owner = _exercise_of(nb)
        index = {}
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = math_to_mathml(cell.source)
                continue
            message = ""
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    tidy_error(output)
                    message = message or output.traceback[0]
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
                entry = index.setdefault(owner[meta["grade_id"]], {
                    "anchor": meta["grade_id"], "score": 0.0, "points": 0.0, "message": ""})
                entry["score"] += float(meta.get("score") or 0)
                entry["points"] += float(meta.get("points") or 0)
                entry["message"] = entry["message"] or message.splitlines()[0] if message else entry["message"]
        resources.setdefault("course", {})["index"] = [
            {"exercise": name, **entry} for name, entry in index.items()]
        return nb, resources


_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->|"
                      r"<script[^>]*(?:mathjax|MathJax)[^>]*>.*?</script>|<!-- Loading mathjax macro -->", re.S)
_TOC = re.compile(r'<div id="toc">.*?</div>', re.S)
_STYLE = """<style>
/* course: long messages and code wrap instead of running off the right edge */
div.output_area pre, div.input_area pre, div.highlight pre { white-space: pre-wrap; overflow-wrap: anywhere; }
table.course-index { width: 100%; margin: 0.5em 0; }
table.course-index td, table.course-index th { padding: 0.2em 0.6em; vertical-align: top; }
table.course-index td.msg { color: #a94442; font-family: monospace; white-space: pre-wrap; overflow-wrap: anywhere; }
table.course-index tr.full td.pts { color: #3c763d; }
math[display="block"] { margin: 0.6em 0; }
</style>
"""


def index_html(index):
    """The page's index: one row per exercise with its points and its first failure message."""
    rows = []
    for entry in index:
        full = entry["score"] >= entry["points"]
        message = "passed" if full else entry["message"] or "failed"
        rows.append(
            f'<tr class="{"full" if full else "lost"}"><td><a href="#{html.escape(entry["anchor"])}">'
            f'{html.escape(entry["exercise"])}</a></td><td class="pts">{entry["score"]:g} / {entry["points"]:g}</td>'
            f'<td class="msg">{html.escape(message)}</td></tr>')
    return ('<div id="toc"><table class="course-index"><tr><th>exercise</th><th>points</th><th>result</th></tr>'
            + "".join(rows) + "</table></div>")


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback page, then: the index by exercise with points and first failure, wrapped
    lines, no MathJax (``ReadableFeedback`` turned the math into MathML). nbgrader_config.py sets it as
    ``GenerateFeedback.exporter_class``."""

    def from_notebook_node(self, nb, resources=None, **kw):
        output, resources = super().from_notebook_node(nb, resources, **kw)
        index = (resources or {}).get("course", {}).get("index")
        output = _MATHJAX.sub("", output)
        if index is not None:
            output = _TOC.sub(lambda _: index_html(index), output, count=1)
        output = output.replace("</head>", _STYLE + "</head>", 1)
        return output, resources
