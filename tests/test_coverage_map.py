"""docs/coverage.md, the map of the notes' topics to the course, stays true (issue 19)."""

import sys
from pathlib import Path

import pytest

from course import ROOT, notebooks

sys.path.insert(0, str(ROOT / "tools"))
import coverage as coverage_map  # noqa: E402

TOPICS = coverage_map.read()
GRADE_IDS = {short: {notebooks.meta(cell).get("grade_id") for cell in notebooks.read(notebooks.source_path(name)).cells}
             for short, name in coverage_map.CHAPTER_NAMES.items() if notebooks.source_path(name).exists()}
SOLUTIONS = {short: {notebooks.meta(cell).get("grade_id") for cell in notebooks.read(notebooks.source_path(name)).cells
                     if notebooks.is_solution(cell)}
             for short, name in coverage_map.CHAPTER_NAMES.items() if notebooks.source_path(name).exists()}


def test_the_map_has_every_topic_once_and_current_totals():
    assert [t.number for t in TOPICS] == list(range(1, len(TOPICS) + 1))
    text = coverage_map.MAP.read_text()
    assert coverage_map.rewrite(text, TOPICS) == text, "the totals are stale: run .venv/bin/python tools/coverage.py"


@pytest.mark.parametrize("topic", [t for t in TOPICS if t.status in ("GRADED", "TEXT", "ERRATA-ONLY")],
                         ids=lambda t: f"{t.number}")
def test_every_covered_topic_points_at_a_cell_that_exists(topic):
    assert topic.chapter in GRADE_IDS, f"row {topic.number}: chapter {topic.chapter!r} is not one of the course's"
    ids = topic.cell_ids()
    assert ids, f"row {topic.number}: no grade_id in its cell column {topic.cell!r}"
    assert ids[0] in GRADE_IDS[topic.chapter], \
        f"row {topic.number} ({topic.gloss}): {ids[0]!r} is not a cell of chapter {topic.chapter}"
    if topic.status == "GRADED":
        assert set(ids) & SOLUTIONS[topic.chapter], \
            f"row {topic.number} ({topic.gloss}) is GRADED but names no solution cell of chapter {topic.chapter}: {ids}"


def test_missing_and_out_of_scope_topics_say_why():
    for topic in TOPICS:
        if topic.status in ("MISSING", "OUT-OF-SCOPE"):
            assert topic.remark or topic.cell, f"row {topic.number}: {topic.status} without a remark"


def test_the_shared_map_is_where_the_project_copy_came_from():
    shared = ROOT.parent / "shared" / "coverage.md"
    if shared.exists():  # the project's copy may have moved on; it must still have the same topics
        assert [t.topic for t in coverage_map.read(shared)] == [t.topic for t in TOPICS]
    assert Path(coverage_map.MAP).exists()
