"""Golden files: fixed fact sheets and the narrator's text for them.

``REVTREND_UPDATE_GOLDEN=1 pytest tests/reports`` rewrites them; review the diff."""

from __future__ import annotations

import json
import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
KINDS = ("customer", "segment", "group", "portfolio")
UPDATE = os.environ.get("REVTREND_UPDATE_GOLDEN") == "1"


def normalised(facts: dict) -> dict:
    """The facts with database ids replaced by fixed ones: 2 is this run, 1 the previous."""
    facts = json.loads(json.dumps(facts))
    facts["run"]["id"] = 2
    if facts.get("previous_level"):
        facts["previous_level"]["run_id"] = 1
    if facts.get("movers"):
        facts["movers"]["previous_run_id"] = 1
    return facts


def compare(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"differs from {path} (see module doc)"


def facts_text(facts: dict) -> str:
    return json.dumps(facts, indent=2, ensure_ascii=False) + "\n"


def load_facts(kind: str) -> dict:
    return json.loads((GOLDEN / f"{kind}.facts.json").read_text(encoding="utf-8"))
