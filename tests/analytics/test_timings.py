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
