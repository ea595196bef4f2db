"""Benchmark: serial `nbgrader autograde` against `python -m course autograde --jobs N`.

    .venv/bin/python tools/bench_autograde.py [--chapter 01_fundamentals] [--students 12] [--jobs 2]

Builds a scratch course with one chapter and STUDENTS submissions (a third each: the solutions,
the blank release, one exercise solved), grades them serially with plain `nbgrader autograde`,
then again in parallel, checks that both give the same scores, and prints the speed-up and a
projection for a whole class. Not a test: the timings depend on the machine and its load.
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course import notebooks, pipeline  # noqa: E402
from course.cli import DEMO_STUDENTS, _student_version  # noqa: E402
from course.grading.parallel import autograde  # noqa: E402


def build(course_dir, chapter, students):
    pipeline.make_course(course_dir, [chapter])
    pipeline.generate(course_dir, chapter)
    release = notebooks.release_path(chapter)
    names = []
    for i in range(students):
        kind = DEMO_STUDENTS[i % len(DEMO_STUDENTS)]
        name = f"{kind}-{i:03d}"
        folder = course_dir / "submitted" / name / chapter
        folder.mkdir(parents=True)
        nbformat.write(_student_version(kind, chapter, release), str(folder / f"{chapter}.ipynb"))
        names.append(name)
    return names


def scores(course_dir, chapter, names):
    return {n: pipeline.grades(course_dir, chapter, n).score for n in names}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", default="01_fundamentals")
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--class-size", type=int, default=300)
    parser.add_argument("--chapters", type=int, default=7)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="course-bench-"))
    try:
        course_dir = work / "course"
        names = build(course_dir, args.chapter, args.students)
        print(f"{args.students} submissions of {args.chapter} in {course_dir}")

        started = time.perf_counter()
        result = pipeline.autograde(course_dir, args.chapter)
        serial = time.perf_counter() - started
        assert result.returncode == 0, result.stderr[-2000:]
        serial_scores = scores(course_dir, args.chapter, names)
        print(f"serial nbgrader autograde: {serial:.1f} s ({serial / args.students:.1f} s per submission)")

        summary = autograde(course_dir, args.chapter, jobs=args.jobs, force=True)
        parallel = summary.seconds
        assert not summary.failed and scores(course_dir, args.chapter, names) == serial_scores
        print(f"python -m course autograde --jobs {args.jobs}: {parallel:.1f} s; same scores as serial")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    speedup = serial / parallel
    efficiency = speedup / args.jobs
    per = serial / args.students
    work_s = args.class_size * args.chapters * per
    print(f"\nspeed-up {speedup:.2f}x on {args.jobs} jobs (parallel efficiency {efficiency:.0%})")
    print(f"\nprojection, {args.class_size} students x {args.chapters} chapters, assuming every chapter costs what "
          f"{args.chapter} cost here ({per:.1f} s of one core per submission):")
    print(f"  serial: {args.class_size} x {args.chapters} x {per:.1f} s = {work_s:.0f} s = {work_s / 3600:.1f} h")
    for label, slots in (("one 16-core machine", 16), ("10 machines x 16 cores (Dask)", 160)):
        seconds = work_s / (slots * efficiency)
        print(f"  {label}: {work_s:.0f} s / ({slots} x {efficiency:.2f}) = {seconds:.0f} s = {seconds / 3600:.2f} h")
    print("  (each of 16 concurrent kernels may use Sandbox.memory_limit: 16 x 4 GiB = 64 GiB per machine)")

if __name__ == "__main__":
    main()
