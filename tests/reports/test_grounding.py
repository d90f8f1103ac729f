"""The grounding check's rules (reports/grounding.py's docstring), one case each."""

from __future__ import annotations

import pytest

from reports.grounding import check_grounding

FACTS = {
    "customer": {"id": "C-0042"},
    "revenue_at_risk_12m": 12345.67,
    "relative_change_12m_pct": -34.2,
    "share": 0.25,
    "p_value": 0.0003,
    "onset_month": "2024-09",
    "horizon_months": 12,
    "level": 3,
    "big": 2_400_000.0,
    "explanation": "Revenue fell 41% since the peak.",
}


@pytest.mark.parametrize(
    "text",
    [
        "12,345.67 at risk",
        "$12,346 at risk",
        "€12.3k at risk",
        "about 12,000 at risk",
        "fell by 34.2%",
        "fell −34%",
        "a change of -34.2 %",
        "25% of the segment",
        "a share of 0.25",
        "p-value 0.0003",
        "p = 3e-4",
        "p < 0.001",
        "since 2024-09",
        "customer C-0042",
        "over the next 12 months, a 12-month change",
        "level 3",
        "2.4m in the segment",
        "£2.4 million",
        "41% below the peak",
        "1. Call within 7 days.\n2. Offer within 2–4 weeks.",
        "in 2025 and in Q3, the 2nd call",
    ],
)
def test_formats_of_a_fact_are_grounded(text):
    result = check_grounding(text, FACTS)
    assert result.unmatched == [], result.unmatched


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("98,765 at risk", "98,765"),
        ("fell by 35.2%", "35.2%"),
        ("p < 0.0001", "< 0.0001"),
        ("since 2024-10", "2024-10"),
        ("7.5k at risk", "7.5k"),
        ("a 13-month change", "13"),
    ],
)
def test_a_figure_not_in_the_facts_is_flagged(text, flagged):
    result = check_grounding(text, FACTS)
    assert [item["text"] for item in result.unmatched] == [flagged]
    item = result.unmatched[0]
    assert text[item["start"] : item["end"]] == flagged
