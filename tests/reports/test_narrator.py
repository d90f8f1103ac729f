"""The offline narrator: deterministic, every section, labelled, grounded by construction."""

from __future__ import annotations

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
