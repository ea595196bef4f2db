"""The course's command line: ``python -m course COMMAND`` (release, demo, autograde, prepare, check, start, unflag,
stats, export, timing)."""

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course import ROOT, available_chapters, notebooks, pipeline
from course.grading import FLAG_MARKER, unflag
from course.grading.feedback import failure_message, redact
from course.grading.sandbox import Sandbox

DEMO_STUDENTS = ("solution-sam", "blank-bea", "partial-pat")


# --- release --------------------------------------------------------------------------------
def cmd_release(args):
    for chapter in args.chapters or ["*"]:
        pipeline.generate(ROOT, chapter)
    for chapter in args.chapters or available_chapters():
        print(f"release/{chapter}/ generated from source/{chapter}/")
    return 0


# --- demo -----------------------------------------------------------------------------------
def _student_version(student, chapter, fetched):
    """The notebook a demo student hands in, starting from the fetched release notebook."""
    release = notebooks.read(fetched)
    if student == "blank-bea":
        return release
    source = notebooks.read(notebooks.source_path(chapter))
    if student == "solution-sam":
        return source
    # partial-pat solves the first exercise only
    first = notebooks.exercises(source)[0].name
    solved = next(cell for cell in source.cells if notebooks.meta(cell).get("grade_id") == first)
    for cell in release.cells:
        if notebooks.meta(cell).get("grade_id") == first:
            cell.source = solved.source
    return release


def _print_warnings(step, log):
    """The distinct warnings of an nbgrader step (an untouched submission should cause none)."""
    warnings = list(dict.fromkeys(line.strip() for line in log.splitlines()
                                  if re.search(r"\bWARNING\]|Warning:", line)))
    print(f"{step}: {len(warnings)} distinct warning(s)" + "".join(f"\n  {w}" for w in warnings[:10]))


def _columns(head, body):
    """Rows of cells as left-aligned text columns under a dashed line."""
    widths = [max(len(str(r[i])) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _table(rows, chapters):
    head = ["student", *chapters, "total"]
    body = []
    for student, scores in rows.items():
        total = sum(s.score for s in scores.values()), sum(s.max_score for s in scores.values())
        body.append([student, *(f"{scores[c].score:g}/{scores[c].max_score:g}" for c in chapters),
                     f"{total[0]:g}/{total[1]:g}"])
    return _columns(head, body)


def _capstone_tier(grade):
    """(tier reached, top tier) of one graded notebook: tier k counts when test_capstone_tier1..k kept full marks."""
    tiers = sorted(int(name.removeprefix("test_capstone_tier")) for name in grade.cells
                   if name.startswith("test_capstone_tier"))
    reached = 0
    for k in tiers:
        cell = grade.cells[f"test_capstone_tier{k}"]
        if cell.score < cell.max_score:
            break
        reached = k
    return reached, len(tiers)


def _tier_cell(grade):
    reached, top = _capstone_tier(grade)
    return f"{reached}/{top}" if top else "-"


def _tier_table(scores, chapters):
    head = ["capstone tier", *chapters]
    body = [[student, *(_tier_cell(scores[student][c]) for c in chapters)] for student in scores]
    return _columns(head, body)


def cmd_demo(args):
    chapters = args.chapters or available_chapters()
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="course-demo-"))
    if args.dir and work.exists():
        shutil.rmtree(work)
    course_dir, exchange = work / "course", work / "exchange"
    exchange.mkdir(parents=True)
    print(f"Mock class in {work}")
    pipeline.make_course(course_dir, chapters)
    print(Sandbox(config=pipeline.course_config(course_dir)).describe())
    started = time.perf_counter()
    pipeline.generate(course_dir)
    for chapter in chapters:
        pipeline.release_to_exchange(course_dir, chapter, exchange)
    print(f"Generated and released {', '.join(chapters)}")
    for student in DEMO_STUDENTS:
        home = work / "students" / student
        for chapter in chapters:
            fetched = pipeline.fetch(home, chapter, exchange) / f"{chapter}.ipynb"
            nbformat.write(_student_version(student, chapter, fetched), str(fetched))
            pipeline.submit(home, chapter, exchange, student)
    for chapter in chapters:
        pipeline.collect(course_dir, chapter, exchange)
    print(f"{len(DEMO_STUDENTS)} students fetched, worked and submitted; submissions collected. Autograding ...")
    result = pipeline.autograde(course_dir)
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
        print("nbgrader autograde reported errors (see above)")
    _print_warnings("nbgrader autograde", result.stdout + result.stderr)
    _print_warnings("nbgrader generate_feedback", pipeline.feedback(course_dir))
    rows = pipeline.export(course_dir)
    print(f"\nnbgrader export wrote {course_dir / 'grades.csv'} ({len(rows)} rows)")
    scores = {s: {c: pipeline.grades(course_dir, c, s) for c in chapters} for s in DEMO_STUDENTS}
    print(f"\n{_table(scores, chapters)}\n")
    print("Capstones (tier reached on the validation and the unseen split / top tier):")
    print(f"{_tier_table(scores, chapters)}\n")
    print(f"Grading pipeline took {time.perf_counter() - started:.0f} s")
    keep = args.keep or args.dir
    if keep:
        feedback = course_dir / "feedback" / "solution-sam" / chapters[0] / f"{chapters[0]}.html"
        print(f"Feedback for students, e.g. {feedback}")

    problems = []
    for chapter in chapters:
        sam, bea, pat = (scores[s][chapter] for s in DEMO_STUDENTS)
        if sam.score != sam.max_score:
            problems.append(f"{chapter}: solution-sam scored {sam.score:g}/{sam.max_score:g}, expected full marks")
        if bea.score != 0:
            problems.append(f"{chapter}: blank-bea scored {bea.score:g}, expected 0")
        sam_tier, bea_tier = _capstone_tier(sam), _capstone_tier(bea)
        if sam_tier[0] != sam_tier[1]:
            problems.append(f"{chapter}: solution-sam's capstone reached tier {sam_tier[0]} of {sam_tier[1]}")
        if bea_tier[0] != 0:
            problems.append(f"{chapter}: blank-bea's capstone reached tier {bea_tier[0]}, expected 0")
        if not 0 < pat.score < pat.max_score:
            problems.append(f"{chapter}: partial-pat scored {pat.score:g}/{pat.max_score:g}, expected in between")
    for problem in problems:
        print(f"FAIL {problem}")
    if not keep:
        shutil.rmtree(work)
    print("Demo OK: full marks (every capstone at its top tier) for the solutions, zero (tier 0) for the stubs, "
          "partial credit in between."
          if not problems else "Demo FAILED.")
    return 1 if problems else 0


# --- check ----------------------------------------------------------------------------------
def _chapter_of(path, chapters):
    for chapter in chapters:
        if chapter in path.name:
            return chapter
    return None


def cmd_check(args):
    path = Path(args.notebook).resolve()
    if not path.is_file():
        print(f"No such notebook: {path}")
        return 2
    chapters = available_chapters()
    chapter = args.chapter or _chapter_of(path, chapters)
    if chapter not in chapters:
        print(f"Cannot tell which chapter {path.name} belongs to; pass --chapter (one of {', '.join(chapters)}).")
        return 2
    with tempfile.TemporaryDirectory(prefix="course-check-") as tmp:
        course_dir = pipeline.make_course(Path(tmp) / "course", [chapter])
        pipeline.generate(course_dir, chapter)
        submitted = course_dir / "submitted" / "self-check" / chapter
        submitted.mkdir(parents=True)
        shutil.copy(path, submitted / f"{chapter}.ipynb")
        print(f"Grading {path.name} against the hidden tests of {chapter} ...")
        result = pipeline.autograde(course_dir, chapter, "self-check")
        graded_path = course_dir / "autograded" / "self-check" / chapter / f"{chapter}.ipynb"
        if not graded_path.exists():
            print("Grading failed:\n" + (result.stdout + result.stderr)[-3000:])
            return 2
        graded = redact(notebooks.read(graded_path))  # the hidden tests' code stays hidden here too
        grade = pipeline.grades(course_dir, chapter, "self-check")
    cells = {notebooks.meta(c).get("grade_id"): c for c in graded.cells}
    if graded.cells and graded.cells[0].cell_type == "markdown" and FLAG_MARKER in graded.cells[0].source:
        print("\n" + graded.cells[0].source + "\n")
    source = notebooks.read(notebooks.source_path(chapter))
    rows = [("exercise", "test cell", "points", "result")]
    for exercise in notebooks.exercises(source):
        for test in exercise.tests:
            cell_grade = grade.cells[test.grade_id]
            cell = cells.get(test.grade_id, {})
            message = "passed" if cell_grade.auto_score == cell_grade.max_score else failure_message(cell) or "failed"
            rows.append((exercise.name, test.grade_id, f"{cell_grade.score:g} / {cell_grade.max_score:g}", message))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    indent = " " * (sum(widths) + 8)
    for name, test, points, message in rows:
        lines = message.splitlines() or [""]
        print(f"  {name.ljust(widths[0])}  {test.ljust(widths[1])}  {points.rjust(widths[2])}  {lines[0]}")
        for line in lines[1:6]:
            print(f"{indent}{line}")
    print(f"\n  total: {grade.score:g} / {grade.max_score:g} points")
    return 0


# --- autograde ------------------------------------------------------------------------------
def cmd_autograde(args):
    from course.grading.parallel import autograde

    summary = autograde(args.course_dir, args.chapter, jobs=args.jobs, scheduler=args.scheduler,
                        students=args.student, force=args.force)
    print("\n".join(summary.lines()))
    return 1 if summary.failed else 0


# --- prepare --------------------------------------------------------------------------------
def cmd_prepare(args):
    chapters = available_chapters(Path(args.course_dir))
    unknown = [c for c in args.chapters or [] if c not in chapters]
    if unknown:
        print(f"Unknown chapter(s) {', '.join(unknown)}; available: {', '.join(chapters)}")
        return 2
    exchange, released = pipeline.prepare(args.course_dir, chapters, release=args.chapters or [])
    print(f"Formgrader ready: {len(chapters)} chapters in the gradebook; released to students in {exchange}: "
          + (", ".join(released) if released else "none yet"))
    if not args.chapters:
        print("Release a chapter with: python -m course prepare --chapters 01_fundamentals  (or in Formgrader)")
    return 0


# --- stats, export --------------------------------------------------------------------------
def cmd_stats(args):
    from course import report

    result = report.stats(args.course_dir, args.chapter)
    print("\n".join(report.stats_lines(result, top=args.top)))
    if result.students and not args.no_figure:
        figure = Path(args.figure or Path(args.course_dir) / f"stats_{args.chapter}.png")
        print(f"\nFigure: {report.stats_figure(result, figure)}")
    return 0 if result.students else 1


def cmd_export(args):
    from course import report

    path, rows, missing = report.export(args.course_dir, args.chapters, args.lms, args.out)
    print(f"Wrote {path}: {rows} student(s), one column per exercise; {missing} missing submission(s) "
          "left empty (not 0)")
    return 0


# --- start ----------------------------------------------------------------------------------
def cmd_start(args):
    target = Path(args.workdir) / args.chapter
    release = notebooks.release_path(args.chapter).parent
    if not release.exists():
        print(f"Unknown chapter {args.chapter}; available: {', '.join(available_chapters())}")
        return 2
    if target.exists():
        print(f"{target} already exists; your work there is left untouched.")
    else:
        shutil.copytree(release, target)
        print(f"Copied the student version of {args.chapter} to {target}/")
    notebook = target / f"{args.chapter}.ipynb"
    print(f"Open {notebook} in JupyterLab (make lab); grade it with: make check NB={notebook}")
    return 0


# --- unflag ---------------------------------------------------------------------------------
def cmd_unflag(args):
    db_url = f"sqlite:///{Path(args.course_dir).resolve() / 'gradebook.db'}"
    changed = unflag(db_url, args.chapter, args.student)
    print(f"Restored the autograder's scores of {args.student}/{args.chapter} ({changed} notebook(s)).")
    return 0


# --- timing ---------------------------------------------------------------------------------
def _time_notebook(path, cell_timeout):
    """Execute a notebook top to bottom: (total seconds, {grade_id: seconds per cell})."""
    durations, started_at = {}, {}

    def on_start(cell, cell_index):
        started_at[cell_index] = time.perf_counter()

    def on_executed(cell, cell_index, execute_reply):
        name = notebooks.meta(cell).get("grade_id", str(cell_index))
        durations[name] = time.perf_counter() - started_at[cell_index]

    client = NotebookClient(notebooks.read(path), timeout=cell_timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_start=on_start, on_cell_executed=on_executed)
    started = time.perf_counter()
    client.execute()
    return time.perf_counter() - started, durations


def cmd_timing(args):
    """Execute each source notebook and report its wall time and slowest cells."""
    failed = False
    for chapter in args.chapters or available_chapters():
        try:
            total, durations = _time_notebook(notebooks.source_path(chapter), args.cell_timeout)
        except CellExecutionError as error:
            print(f"{chapter}: FAILED\n{error}")
            failed = True
            continue
        slowest = sorted(durations.items(), key=lambda item: -item[1])[:3]
        verdict = "OK" if total <= 60 else "OVER BUDGET (60 s)"
        print(f"{chapter}: {total:.1f} s top to bottom, {verdict}; slowest cells: "
              + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest))
    return 1 if failed else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m course", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="generate release/ from source/ with nbgrader generate_assignment")
    p.add_argument("chapters", nargs="*")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("demo", help="grade a mock class (solutions, blanks, one exercise) end to end")
    p.add_argument("chapters", nargs="*")
    p.add_argument("--keep", action="store_true", help="keep the temporary course directory")
    p.add_argument("--dir", help="build the mock class here (replaced if it exists) and keep it")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("autograde", help="autograde a chapter's collected submissions in parallel (instructors)")
    p.add_argument("chapter")
    p.add_argument("--jobs", type=int, help="local worker processes (default: one per core)")
    p.add_argument("--scheduler", help="grade on a Dask cluster instead, e.g. tcp://host:8786")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--force", action="store_true", help="regrade submissions that were graded already")
    p.add_argument("--course-dir", default=".", help="the course directory (default: here)")
    p.set_defaults(func=cmd_autograde)

    p = sub.add_parser("prepare", help="record every chapter in the gradebook; release only the chapters asked for")
    p.add_argument("--chapters", nargs="+", help="release these chapters to the exchange (default: none)")
    p.add_argument("--course-dir", default=str(ROOT), help="the course directory (default: this repository)")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("stats", help="per-exercise score distribution and the most common failures of a chapter")
    p.add_argument("chapter")
    p.add_argument("--course-dir", default=".", help="the course directory holding gradebook.db")
    p.add_argument("--top", type=int, default=3, help="messages shown per test cell")
    p.add_argument("--figure", help="where to save the figure (default: COURSE_DIR/stats_CHAPTER.png)")
    p.add_argument("--no-figure", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("export", help="grades per exercise as CSV for an LMS gradebook (Canvas, Moodle)")
    p.add_argument("chapters", nargs="*", help="default: every chapter in the gradebook")
    p.add_argument("--lms", choices=["canvas", "moodle", "plain"], default="canvas")
    p.add_argument("--course-dir", default=".", help="the course directory holding gradebook.db")
    p.add_argument("--out", help="the CSV file (default: COURSE_DIR/grades_LMS.csv)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("check", help="grade your copy of a release notebook against the hidden tests")
    p.add_argument("notebook")
    p.add_argument("--chapter", help="the chapter, if the file name does not contain it")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("start", help="copy a chapter's student notebook into a work folder of yours")
    p.add_argument("chapter")
    p.add_argument("--workdir", default="work", help="where to put your copy (default: work/)")
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("unflag", help="restore the autograder's scores of a submission flagged by the integrity check")
    p.add_argument("chapter")
    p.add_argument("student")
    p.add_argument("--course-dir", default=".", help="the course directory holding gradebook.db")
    p.set_defaults(func=cmd_unflag)

    p = sub.add_parser("timing", help="execute the source notebooks and report their run time")
    p.add_argument("chapters", nargs="*")
    p.add_argument("--cell-timeout", type=int, default=120)
    p.set_defaults(func=cmd_timing)

    args = parser.parse_args(argv)
    return args.func(args)
