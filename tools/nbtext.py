"""Convert a course notebook to a plain-text form and back, for editing with a text editor.

    python tools/nbtext.py to-text source/01_fundamentals/01_fundamentals.ipynb > ch01.txt
    python tools/nbtext.py to-ipynb ch01.txt source/01_fundamentals/01_fundamentals.ipynb

In the text form each cell starts with a header line

    %% markdown id=<grade_id>                    read-only markdown
    %% code readonly id=<grade_id>               read-only (locked) code
    %% code solution id=<grade_id>               the student's answer cell
    %% code test id=<grade_id> points=<points>   a locked, graded test cell

The ``.ipynb`` stays the source of truth (DEVELOPERS.md); the text form is a scratch view.
"""

import re
import sys

import nbformat

HEADER = re.compile(
    r"^%% (markdown|code)(?: (readonly|solution|test))? id=([A-Za-z0-9_-]+)(?: points=(\d+(?:\.\d+)?))?$"
)
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def to_text(nb):
    parts = []
    for cell in nb.cells:
        meta = cell.metadata["nbgrader"]
        if cell.cell_type == "markdown":
            header = f"%% markdown id={meta['grade_id']}"
        elif meta["solution"]:
            header = f"%% code solution id={meta['grade_id']}"
        elif meta["grade"]:
            points = meta["points"]
            points = int(points) if float(points).is_integer() else points
            header = f"%% code test id={meta['grade_id']} points={points}"
        else:
            header = f"%% code readonly id={meta['grade_id']}"
        parts.append(f"{header}\n{cell.source}\n")
    return "\n".join(parts)


def to_notebook(text):
    cells, header, lines = [], None, []

    def flush():
        if header is None:
            return
        kind, role, grade_id, points = header
        source = "\n".join(lines).strip("\n")
        role = role or ("readonly" if kind == "markdown" else None)
        if role is None:
            raise ValueError(f"code cell {grade_id} needs a role (readonly, solution or test)")
        meta = {
            "grade": role == "test",
            "grade_id": grade_id,
            "locked": role != "solution",
            "schema_version": 3,
            "solution": role == "solution",
            "task": False,
        }
        if role == "test":
            meta["points"] = float(points) if points and "." in points else int(points or 1)
        new = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cell = new(source, id=grade_id)
        cell.metadata["nbgrader"] = meta
        cells.append(cell)

    for line in text.splitlines():
        match = HEADER.match(line)
        if match:
            flush()
            header, lines = match.groups(), []
        elif line.startswith("%% "):
            raise ValueError(f"malformed cell header: {line!r}")
        else:
            lines.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    nbformat.validate(nb)
    return nb


def main(argv):
    if len(argv) == 2 and argv[0] == "to-text":
        sys.stdout.write(to_text(nbformat.read(argv[1], as_version=4)))
    elif len(argv) == 3 and argv[0] == "to-ipynb":
        with open(argv[1], encoding="utf-8") as f:
            nb = to_notebook(f.read())
        nbformat.write(nb, argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
