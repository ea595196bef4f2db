"""The coverage map (docs/coverage.md): every topic of the notes, its status and the cell that covers it.

    .venv/bin/python tools/coverage.py            # recompute the totals tables from the full table
    .venv/bin/python tools/coverage.py --check    # exit 1 if the totals are stale

Only the rows of the full table are edited by hand (status, chapter, cell, remark); this rewrites the
"Per status", "Per notes section" and "Per chapter" tables and the in-scope sentence from them.
``tests/test_coverage_map.py`` checks that the totals are current and that every row's cell exists.
"""

import argparse
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAP = ROOT / "docs" / "coverage.md"
STATUSES = ("GRADED", "TEXT", "ERRATA-ONLY", "MISSING", "OUT-OF-SCOPE")
CHAPTER_NAMES = {"01": "01_fundamentals", "02": "02_trees", "03": "03_transformers", "04": "04_recsys_models",
                 "05": "05_recsys_retrieval", "06": "06_generative_rec", "07": "07_alignment"}
ROW = re.compile(r"^\| *(\d+) *\|(.*)\|\s*$")


@dataclass
class Topic:
    number: int
    section: str
    topic: str
    gloss: str
    status: str
    chapter: str  # "01".."07" or ""
    cell: str
    remark: str
    line: int

    @property
    def in_scope(self):
        return self.status != "OUT-OF-SCOPE"

    def cell_ids(self):
        """The grade_ids the cell column names in this row's own chapter (the part before any reference to
        another chapter in parentheses), in order."""
        own = re.sub(r"\((0[1-7]|ch0[1-7])\b[^)]*\)", "", self.cell)
        return re.findall(r"(?<![\w.])([a-z][a-z0-9_]*[a-z0-9])(?![\w.(])", own)


def read(path=MAP):
    topics = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = ROW.match(line)
        if not match:
            continue
        cells = [c.strip() for c in match.group(2).split("|")]
        if len(cells) != 7:
            raise ValueError(f"{path.name}:{number}: expected 8 columns, found {len(cells) + 1}")
        section, topic, gloss, status, chapter, cell, remark = cells
        if status not in STATUSES:
            raise ValueError(f"{path.name}:{number}: unknown status {status!r}")
        topics.append(Topic(int(match.group(1)), section, topic, gloss, status, chapter, cell, remark, number))
    return topics


def totals(topics):
    lines = ["### Per status", "", "| status | topics | share |", "|---|---:|---:|"]
    by_status = Counter(t.status for t in topics)
    for status in STATUSES:
        lines.append(f"| {status} | {by_status[status]} | {100 * by_status[status] / len(topics):.1f}% |")
    lines += [f"| **total** | **{len(topics)}** | 100% |", ""]
    scope = [t for t in topics if t.in_scope]
    graded = sum(t.status == "GRADED" for t in scope)
    lines += [f"In-scope topics: {len(scope)}; of these {graded} graded ({100 * graded / len(scope):.0f}%), "
              f"{by_status['TEXT']} text only ({100 * by_status['TEXT'] / len(scope):.0f}%), "
              f"{by_status['ERRATA-ONLY']} errata only, {by_status['MISSING']} missing "
              f"({100 * by_status['MISSING'] / len(scope):.0f}%).", ""]
    lines += ["### Per notes section", "", "| notes section | " + " | ".join(STATUSES) + " | total |",
              "|---|" + "---:|" * (len(STATUSES) + 1)]
    sections = defaultdict(Counter)
    for t in topics:
        sections[t.section][t.status] += 1
    for section, counts in sections.items():
        lines.append(f"| {section} | " + " | ".join(str(counts[s]) for s in STATUSES) + f" | {sum(counts.values())} |")
    lines += ["| **all** | " + " | ".join(f"**{by_status[s]}**" for s in STATUSES) + f" | **{len(topics)}** |", ""]
    lines += ["### Per chapter (primary chapter of each topic)", "",
              "| chapter | GRADED | TEXT | ERRATA-ONLY | total (primary) | graded share of in-scope |",
              "|---|---:|---:|---:|---:|---:|"]
    for short, name in CHAPTER_NAMES.items():
        mine = [t for t in topics if t.chapter == short]
        counts = Counter(t.status for t in mine)
        scope = [t for t in mine if t.in_scope]
        share = f"{100 * counts['GRADED'] / len(scope):.0f}%" if scope else "—"
        lines.append(f"| {name} | {counts['GRADED']} | {counts['TEXT']} | {counts['ERRATA-ONLY']} | {len(mine)} "
                     f"| {share} |")
    rest = [t for t in topics if t.chapter not in CHAPTER_NAMES]
    lines += [f"| none (missing / out of scope) | 0 | 0 | 0 | {len(rest)} |  |", "",
              f"(MISSING and OUT-OF-SCOPE topics have no chapter and are counted in the last row: "
              f"{by_status['MISSING']} missing, {by_status['OUT-OF-SCOPE']} out of scope.)", ""]
    return "\n".join(lines)


def rewrite(text, topics):
    start, end = text.index("### Per status"), text.index("## Full table")
    return text[:start] + totals(topics) + "\n" + text[end:]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = MAP.read_text()
    new = rewrite(text, read())
    if args.check:
        if new != text:
            print("docs/coverage.md: the totals are stale; run tools/coverage.py")
            return 1
        return 0
    MAP.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
