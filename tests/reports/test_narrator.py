"""The offline narrator: deterministic, every section, labelled, grounded by construction."""

from __future__ import annotations

import re

import pytest

from reports.grounding import check_grounding
from reports.narrator import OFFLINE_LABEL, OfflineNarrator, narrate
from reports.prompts import build_prompt
from reports.services import provider_for_settings

from .golden_files import KINDS, compare, load_facts

SECTIONS = ("## Profile", "## Risk analysis", "## Recommended actions")


@pytest.mark.parametrize("kind", KINDS)
def test_the_narrator_writes_the_golden_text_for_a_fixed_fact_sheet(kind):
    facts = load_facts(kind)
    system, prompt = build_prompt(facts)
    completion = OfflineNarrator().generate(system=system, prompt=prompt)
    assert completion.text == narrate(facts)  # the same facts, read back out of the prompt
    compare(f"{kind}.offline.md", completion.text)


@pytest.mark.parametrize("kind", KINDS)
def test_every_section_in_order_labelled_and_numbered_actions(kind):
    text = narrate(load_facts(kind))
    positions = [text.index(heading) for heading in SECTIONS]
    assert positions == sorted(positions)
    assert text.startswith(f"*{OFFLINE_LABEL}")
    actions = text.split("## Recommended actions", 1)[1]
    assert "\n1. " in actions


@pytest.mark.parametrize("kind", KINDS)
def test_every_figure_the_narrator_writes_is_in_the_facts(kind):
    facts = load_facts(kind)
    result = check_grounding(narrate(facts), facts)
    assert result.checked > 5
    assert result.unmatched == []


def test_without_a_key_the_narrator_is_the_provider(settings):
    settings.OPENAI_API_KEY = ""
    assert isinstance(provider_for_settings(), OfflineNarrator)


@pytest.mark.parametrize("kind", KINDS)
def test_every_amount_carries_the_team_currency_and_stays_grounded(kind, monkeypatch):
    import reports.narrator as narrator

    amounts = []
    real = narrator.format_money
    monkeypatch.setattr(
        narrator, "format_money", lambda *a, **k: amounts.append(a[0]) or real(*a, **k)
    )
    facts = load_facts(kind)
    facts["run"]["currency"] = "EUR"
    text = narrate(facts)
    assert amounts  # every kind writes money
    assert len(re.findall(r"EUR [−\d]", text)) == len(amounts) == text.count("EUR")
    assert text.replace("EUR ", "") == narrate(load_facts(kind))
    assert check_grounding(text, facts).unmatched == []


def test_large_counts_have_separators_and_groups_are_addressed_as_groups():
    facts = load_facts("group")
    facts["group"]["customers"] = 2050
    facts["group"]["segment_customers"] = 2100
    text = narrate(facts)
    assert "the 2,050 customers of segment" in text
    assert "call each of the 2,050 customers" in text
    assert "call the customer" not in text


def test_a_mostly_stable_segment_is_not_told_its_revenue_is_falling():
    facts = load_facts("segment")
    facts["level_mix"] = [
        {"level": 0, "label": "Stable or growing", "customers": 203, "share_pct": 96.7},
        {"level": 1, "label": "Mild decline", "customers": 0, "share_pct": 0.0},
        {"level": 2, "label": "Moderate decline", "customers": 0, "share_pct": 0.0},
        {"level": 3, "label": "Sharp decline", "customers": 7, "share_pct": 3.3},
    ]
    actions = narrate(facts).split("## Recommended actions", 1)[1]
    assert "contact the 7 customers at level 3" in actions
    assert "203 customers at level 0 need no intervention" in actions
    assert "call the customer" not in actions
