"""Prove a chapter's capstone thresholds on many seeds: the reference and every catalogued pipeline.

    .venv/bin/python tools/capstone_tiers.py 05_recsys_retrieval --seeds 20

runs the source notebook's code cells in this process up to its capstone solution cell (test cells and
``capstone_validate`` skipped), then trains and scores on seeds 1000, 1001, ... (never the graded hidden
seed, which lives in the hidden tests):

* the reference (the source notebook's ``capstone_train`` / ``capstone_predict``),
* every entry replacing ``capstone_train`` or ``capstone_predict`` in ``tests/wrong_answers/<chapter>.py``,
  ``tests/right_answers/<chapter>.py`` and ``tools/capstone_pipelines/<chapter>.py`` (wrong pipelines name
  the tier they must stay at or below as ``[max tier N]`` in their description).

It writes ``docs/capstones/<chapter>.md`` with, per pipeline, how many seeds reached each tier, the metric's
mean and range, and the verdict: the reference and the right pipelines must reach the top tier on every seed,
a wrong pipeline may exceed its max tier on at most ``--allow`` seeds (default 1 of 20). Notes written by hand
below the table are kept; with ``--only`` the selected pipelines' rows are replaced or added and the others kept.
"""

import argparse
import importlib.util
import os
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from IPython.core.inputtransformer2 import TransformerManager  # noqa: E402

from course import capstone, notebooks  # noqa: E402
from tests import catalogue  # noqa: E402

CAPSTONE_NAMES = ("capstone_train", "capstone_predict")
MAX_TIER = re.compile(r"\[max tier (\d+)\]")


def notebook_namespace(chapter):
    """Execute the source notebook's code cells up to the capstone solution cell; return the namespace."""
    nb = notebooks.read(notebooks.source_path(chapter))
    namespace = {"__name__": "__main__"}
    transform = TransformerManager().transform_cell
    os.chdir(notebooks.source_path(chapter).parent)
    for cell in nb.cells:
        grade_id = notebooks.meta(cell).get("grade_id", "")
        if cell.cell_type != "code" or notebooks.is_test(cell) or grade_id == "capstone_validate":
            continue
        exec(compile(transform(cell.source), f"<{grade_id}>", "exec"), namespace)  # noqa: S102 - our own notebook
        if grade_id == "capstone":
            return namespace
    raise SystemExit(f"{chapter}: no solution cell with grade_id 'capstone'")


def pipelines(chapter):
    """(label, kind, max_tier or None, code or None) for the reference and every catalogued pipeline."""
    found = [("reference", "reference", None, None)]
    sources = [("wrong", ROOT / "tests" / "wrong_answers" / f"{chapter}.py"),
               ("right", ROOT / "tests" / "right_answers" / f"{chapter}.py"),
               ("wrong", ROOT / "tools" / "capstone_pipelines" / f"{chapter}.py")]
    for kind, path in sources:
        if not path.exists():
            continue
        name = f"capstone_pipelines_{kind}_{chapter}_{path.parent.name}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        for entry in catalogue._REGISTRY.get(name, []):
            if entry.replaces in CAPSTONE_NAMES:
                match = MAX_TIER.search(entry.description)
                found.append((f"{entry.name}: {entry.description}", kind, int(match.group(1)) if match else None,
                              entry.code))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapter")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--allow", type=int, default=1, help="seeds a wrong pipeline may exceed its max tier on")
    parser.add_argument("--only", help="a regular expression: run only the pipelines whose label matches")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    namespace = notebook_namespace(args.chapter)
    spec = namespace["CAPSTONE"]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"notebook up to the capstone: {time.perf_counter() - started:.1f} s; seeds {seeds[0]}..{seeds[-1]}")
    rows, ok = [], True
    for label, kind, max_tier, code in pipelines(args.chapter):
        if args.only and not re.search(args.only, label):
            continue
        scope = dict(namespace)
        if code is not None:
            exec(compile(code, f"<{label}>", "exec"), scope)  # noqa: S102 - the project's own catalogue
        train, predict = scope["capstone_train"], scope["capstone_predict"]
        results = []
        for seed in seeds:
            capstone.forget()
            results.append(capstone.run(spec, train, predict, seed=seed, verbose=False))
        tiers = [r.tier for r in results]
        values = [r.value for r in results if r.value is not None]
        seconds = [r.train_seconds for r in results if r.train_seconds is not None]
        counts = [sum(t >= k for t in tiers) for k in range(1, spec.top_tier + 1)]
        if kind in ("reference", "right"):
            verdict = "ok" if min(tiers) == spec.top_tier else f"FAILS: top tier on {counts[-1]}/{len(seeds)}"
        elif max_tier is None:
            verdict = "no [max tier N] in its description"
        else:
            above = sum(t > max_tier for t in tiers)
            verdict = (f"ok (above tier {max_tier} on {above}/{len(seeds)})" if above <= args.allow
                       else f"FAILS: above tier {max_tier} on {above}/{len(seeds)}")
        ok &= verdict.startswith("ok")
        errors = sorted({r.error for r in results if r.error})
        row = (label, kind, counts, (statistics.mean(values), min(values), max(values)) if values else None,
               max(seconds) if seconds else None, verdict, errors[:1])
        rows.append(row)
        spread = f"  {spec.metric_name} {row[3][0]:.4f} ({row[3][1]:.4f} to {row[3][2]:.4f})" if row[3] else ""
        print(f"{label[:70]:<70} tiers>=k {counts}{spread}  {verdict}" + (f"  error: {errors[0]}" if errors else ""))
    if not args.no_write:
        out = ROOT / "docs" / "capstones" / f"{args.chapter}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        old = out.read_text() if out.exists() else ""
        if args.only and old:  # update or add these pipelines' rows, keep the others
            table_lines = merge_rows(old, render(args.chapter, spec, seeds, rows))
        else:
            table_lines = render(args.chapter, spec, seeds, rows)
        out.write_text(table_lines + notes_of(old))
        print(f"wrote {out.relative_to(ROOT)}" + (" (rows of the selected pipelines only)" if args.only else ""))
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0 if ok else 1


TIMING_NOTE = "Timings were measured on the 2-core development machine, often with other work running."


def notes_of(text):
    """What was written by hand below a table (after the tool's timing sentence): kept on every rewrite."""
    return text.split(TIMING_NOTE + "\n", 1)[1] if TIMING_NOTE + "\n" in text else ""


def merge_rows(old, new):
    """The old table with the new table's pipeline rows replacing those of the same pipeline (new ones appended)."""
    def rows(text):
        return [line for line in text.split(TIMING_NOTE)[0].splitlines() if line.startswith("| ")
                and not line.startswith("| pipeline |")]

    def label(line):  # the pipeline's name (its description may have changed)
        return line.split(" | ", 1)[0].split(":", 1)[0]

    fresh = {label(line): line for line in rows(new)}
    kept = [fresh.pop(label(line), line) for line in rows(old)]
    head = new.split(TIMING_NOTE)[0].splitlines()
    head = head[:next(i for i, line in enumerate(head) if line.startswith("|---")) + 1]
    return "\n".join([*head, *kept, *fresh.values(), "", TIMING_NOTE]) + "\n"


def render(chapter, spec, seeds, rows):
    sign = ">=" if spec.higher_is_better else "<="
    tiers = "; ".join(f"tier {k}: {spec.metric_name} {sign} {t:g} ({label})"
                      for k, (t, label) in enumerate(spec.tiers, start=1))
    baselines = "; ".join(f"{name} {value:.4f}" for name, value in spec.baselines.items())
    head = "| pipeline | kind | " + " | ".join(f"tier ≥ {k}" for k in range(1, spec.top_tier + 1)) + \
           f" | {spec.metric_name} mean (min–max) | slowest training | verdict |"
    lines = [
        f"# Capstone of {chapter}: {spec.name}",
        "",
        f"Written by `tools/capstone_tiers.py {chapter} --seeds {len(seeds)}` (seeds {seeds[0]}–{seeds[-1]}; "
        "the graded hidden split uses another seed). Each cell counts the seeds on which the pipeline "
        "reached that tier.",
        "",
        f"Tiers: {tiers}. Training budget {spec.budget_s:g} s (hard stop at {spec.grace:g}×). Baselines: {baselines}.",
        "",
        head,
        "|" + "---|" * (spec.top_tier + 5),
    ]
    for label, kind, counts, stats, slowest, verdict, errors in rows:
        metric = f"{stats[0]:.4f} ({stats[1]:.4f}–{stats[2]:.4f})" if stats else "—"
        slow = f"{slowest:.1f} s" if slowest is not None else "—"
        note = f" ({errors[0]})" if errors else ""
        lines.append(f"| {label.replace('|', '/')} | {kind} | " + " | ".join(f"{c}/{len(seeds)}" for c in counts)
                     + f" | {metric} | {slow} | {verdict}{note} |")
    lines.append("")
    lines.append(TIMING_NOTE)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
