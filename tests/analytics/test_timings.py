"""A run's timings as the command and the run page print them: stages that add up."""

from __future__ import annotations

import re

from analytics.services.runs import timing_summary


def numbers(text: str) -> list[float]:
    return [float(n) for n in re.findall(r"\d+\.\d+", text)]


def test_the_stages_and_the_waiting_add_up_to_the_total():
    timings = {"plan": 0.10, "purchase_fit": 0.09, "read": 0.09, "compute": 1.06,
               "write": 0.09, "segment": 0.91, "finish": 0.92, "total": 2.29}  # fmt: skip
    text = timing_summary(timings)
    assert text == (
        "plan 0.10 (purchase model 0.09), read 0.09, compute 1.06, write 0.09, "
        "finish 0.92 (segmenting 0.91); waiting 0.03; total 2.29"
    )
    stages = re.sub(r"\([^)]*\)", "", text)  # the parts inside a stage are not added again
    *parts, total = numbers(stages)
    assert round(sum(parts), 2) == total


def test_chunks_side_by_side_are_said_to_overlap_rather_than_shown_as_negative_waiting():
    text = timing_summary({"plan": 0.5, "read": 3.0, "compute": 6.0, "write": 2.0,
                           "finish": 1.0, "total": 8.0})  # fmt: skip
    assert text.endswith("; chunks side by side saved 4.50; total 8.00")
    assert "waiting" not in text


def test_a_run_still_going_has_no_total():
    assert timing_summary({"plan": 0.2}) == "plan 0.20"


def test_the_chunks_clock_time_is_the_union_of_their_intervals():
    from analytics.services.finish import chunk_walls

    # Two chunks side by side: the second begins while the first computes.
    chunks = [
        {"began": 100.0, "read": 1.0, "compute": 4.0, "write": 2.0},  # 100–101–105–107
        {"began": 102.0, "read": 1.0, "compute": 3.0, "write": 2.0},  # 102–103–106–108
    ]
    walls = chunk_walls(chunks)
    assert walls["chunks"] == 8.0  # 100 to 108
    assert walls["read_wall"] == 2.0  # 100–101 and 102–103
    assert walls["compute_wall"] == 5.0  # 101–106
    assert walls["write_wall"] == 3.0  # 105–108
    assert chunk_walls([{"read": 1.0}]) == {}  # a chunk from before it was recorded


def test_with_the_chunks_clock_the_stages_add_up_to_the_total():
    timings = {"plan": 0.45, "purchase_fit": 0.09, "read": 4.88, "compute": 10.03,
               "write": 12.77, "read_wall": 2.5, "compute_wall": 6.1, "write_wall": 7.0,
               "chunks": 14.2, "segment": 1.41, "finish": 2.29, "total": 17.04}  # fmt: skip
    text = timing_summary(timings)
    assert text.startswith("plan 0.45 (purchase model 0.09), chunks 14.20 on the clock (read ")
    assert text.endswith("finish 2.29 (segmenting 1.41); waiting 0.10; total 17.04")
    assert "on the clock read 2.50, compute 6.10, write 7.00" in text


def test_a_stage_that_says_when_it_began_is_placed_there():
    """Chunks read ahead: the second chunk's read runs while the first computes."""
    from analytics.services.finish import chunk_walls

    chunks = [
        {"began": 100.0, "read_began": 100.0, "read": 1.0, "compute_began": 101.0,
         "compute": 4.0, "write_began": 105.0, "write": 1.0},  # 100–101–105–106
        {"began": 101.0, "read_began": 101.0, "read": 2.0, "compute_began": 106.0,
         "compute": 4.0, "write_began": 110.0, "write": 1.0},  # 101–103, 106–110–111
    ]  # fmt: skip
    walls = chunk_walls(chunks)
    assert walls["chunks"] == 11.0  # 100 to 111
    assert walls["read_wall"] == 3.0  # 100–103
    assert walls["compute_wall"] == 8.0  # 101–105 and 106–110
    assert walls["write_wall"] == 2.0
