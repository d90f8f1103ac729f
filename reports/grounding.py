"""The grounding check: which numbers in a report appear nowhere in its fact sheet.

The rules, in the order they apply:

1. Text copied from the facts is not read: every string value of the fact sheet that
   contains a digit (customer ids such as "C-0042", months such as "2024-09") is blanked
   out of the answer where it occurs verbatim.
2. Not claims about the data, so ignored: bare years (1900–2100 written without
   separators, decimals or units); list ordinals ("1." or "2)" at the start of a line, "1st",
   "2nd"); digits glued after a letter or underscore ("Q3", "H1", "v2"); deadlines — a number
   or range followed by day(s), week(s), hour(s) or business/working days, since the prompt
   asks the recommended actions for a timeframe and the data is monthly.
3. A number is read with its formatting: thousands separators (1,234 or a no-break space), decimals,
   a sign (-, −, –, +), a currency sign ($ € £ ¥), a unit suffix (% · pp · k/K/thousand ·
   m/M/mn/million · bn/billion), scientific notation (3.1e-4).
4. It matches a fact when, ignoring signs (prose says "fell by 34%" for −34 %), it equals the
   fact, the fact × 100 (a fraction written as a percentage) or the fact ÷ 100, up to the
   rounding its own digits imply: "34%" matches 34.2 (±0.5), "12.3k" matches 12,340 (±50).
   A whole number of 1,000 or more ending in zeros may be rounded to those zeros ("12,000"
   matches 12,345). "m" may be a million or months ("12m"): either matches.
5. A month or date written as 2024-09 or 2024-09-30 is one claim: grounded only by rule 1
   (the same string among the facts), never by its digits.
6. "p < 0.001" (a comparator before the number) matches when the number itself is a fact
   or a fact whose key names a p-value lies below it (above it for > ≥).

Limitations: small integers ("3 customers") almost always match some fact, so the check
is strongest for money, percentages and p-values; a number the model computed itself (a
sum, a difference) is reported even when it is right — it is listed, not rejected.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

_SEPARATORS = ",\u00a0\u202f\u2009"
NUMBER = re.compile(
    r"""
    (?<![A-Za-z_\d])
    (?P<cmp>[<>≤≥]\s?)?
    (?P<sign>[-−–+]\s?)?
    (?P<currency>[$€£¥]\s?)?
    (?<![A-Za-z_\d.,])
    (?P<digits>\d{1,3}(?:[,\u00a0\u202f\u2009]\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
    (?P<exp>[eE][-−+]?\d+)?
    (?:\s?(?P<suffix>%|pp\b|percentage\ points?\b|k\b|K\b|thousand\b|mn\b|m\b|M\b
        |million\b|bn\b|billion\b))?
    (?P<ordinal>st\b|nd\b|rd\b|th\b)?
    """,
    re.X,
)
# A month or date: a claim of its own, matched only verbatim (rule 1), never as numbers.
ISO_DATE = re.compile(r"(?<![\w-])(?:19|20)\d{2}-[01]\d(?:-[0-3]\d)?(?![\w-])")
LIST_ORDINAL = re.compile(r"^\s*(?:[-*+]\s+)?\d{1,2}[.)](?=\s)", re.M)
DEADLINE = re.compile(
    r"\s*(?:(?:[-–—]|to)\s*\d+\s*)?(?:business\s+|working\s+)?(?:days?|weeks?|hours?)\b", re.I
)
SCALES = {
    "k": (1e3,),
    "K": (1e3,),
    "thousand": (1e3,),
    "m": (1e6, 1.0),
    "M": (1e6,),
    "mn": (1e6,),
    "million": (1e6,),
    "bn": (1e9,),
    "billion": (1e9,),
}
YEARS = range(1900, 2101)


@dataclass(frozen=True)
class Mention:
    text: str
    start: int
    end: int
    values: tuple[float, ...]  # candidate readings (a suffix may be ambiguous); () for a date
    tolerance: tuple[float, ...]
    comparator: str = ""


@dataclass
class GroundingResult:
    checked: int = 0
    unmatched: list[dict] = field(default_factory=list)

    @property
    def grounded(self) -> bool:
        return not self.unmatched

    def as_dict(self) -> dict:
        return {"checked": self.checked, "unmatched": self.unmatched}


def check_grounding(text: str, facts: dict) -> GroundingResult:
    """Every number of ``text`` compared with the numbers of ``facts`` (see the rules)."""
    values, p_values, strings = _fact_numbers(facts)
    result = GroundingResult()
    for mention in mentions(_blank_out(text, strings)):
        result.checked += 1
        if not _matches(mention, values, p_values):
            result.unmatched.append(
                {
                    "text": text[mention.start : mention.end],
                    "start": mention.start,
                    "end": mention.end,
                    "value": mention.values[0] if mention.values else None,
                }
            )
    return result


def mentions(text: str) -> Iterator[Mention]:
    """The numbers of ``text`` that make a claim (rule 2 drops the others)."""
    ordinals = {m.end() - 1 for m in LIST_ORDINAL.finditer(text)}
    dates = [Mention(m.group(0), m.start(), m.end(), (), ()) for m in ISO_DATE.finditer(text)]
    numbers = []
    for match in NUMBER.finditer(text):
        if any(d.start <= match.start("digits") < d.end for d in dates):
            continue
        mention = _reading(match, text, ordinals)
        if mention is not None:
            numbers.append(mention)
    yield from sorted([*dates, *numbers], key=lambda m: m.start)


def _reading(match: re.Match, text: str, ordinals: set[int]) -> Mention | None:
    digits, suffix = match["digits"], match["suffix"] or ""
    if match["ordinal"] or match.end("digits") in ordinals:
        return None
    if DEADLINE.match(text, match.end()) and not suffix:
        return None
    plain = digits.isdigit() and not (match["exp"] or suffix or match["currency"])
    if plain and int(digits) in YEARS:
        return None
    number = float(re.sub(f"[{_SEPARATORS}]", "", digits) + _exponent(match["exp"]))
    places = len(digits.split(".")[1]) if "." in digits else 0
    step = 10.0**-places
    if match["exp"]:
        step = abs(number) * 1e-3 or 1e-12  # three significant figures
    elif not places and number >= 1000:
        whole = str(int(number))
        step = 10.0 ** (len(whole) - len(whole.rstrip("0")))
    scales = SCALES.get(suffix.strip(), (1.0,))
    values = tuple(abs(number) * scale for scale in scales)
    tolerances = tuple(
        step * scale / 2 + 1e-9 * max(1.0, v) for scale, v in zip(scales, values, strict=True)
    )
    start = match.start("cmp") if match["cmp"] else match.start()
    comparator = (match["cmp"] or "").strip()
    return Mention(match.group(0).strip(), start, match.end(), values, tolerances, comparator)


def _exponent(exp: str | None) -> str:
    return (exp or "").replace("−", "-")


def _matches(mention: Mention, values: list[float], p_values: list[float]) -> bool:
    for number, tolerance in zip(mention.values, mention.tolerance, strict=True):
        for fact in values:
            if any(abs(c - number) <= tolerance for c in (fact, fact * 100, fact / 100)):
                return True
        if mention.comparator in ("<", "≤") and any(0 <= p < number for p in p_values):
            return True
        if mention.comparator in (">", "≥") and any(p > number for p in p_values):
            return True
    return False


def _fact_numbers(facts) -> tuple[list[float], list[float], list[str]]:
    """(absolute values of every number, the p-values, strings holding digits)."""
    values: list[float] = []
    p_values: list[float] = []
    strings: list[str] = []
    for key, value in _leaves(facts, ""):
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            if math.isfinite(value):
                values.append(abs(float(value)))
                if "p_value" in key:
                    p_values.append(abs(float(value)))
        elif isinstance(value, str) and any(c.isdigit() for c in value):
            strings.append(value)
            values.extend(v for m in mentions(value) for v in m.values)
    return values, p_values, sorted(set(strings), key=len, reverse=True)


def _leaves(node, key: str):
    if isinstance(node, dict):
        for name, value in node.items():
            yield from _leaves(value, str(name))
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _leaves(value, key)
    else:
        yield key, node


def _blank_out(text: str, strings: list[str]) -> str:
    """Rule 1: fact strings replaced by spaces (positions stay those of the answer)."""
    for value in strings:
        if len(value) >= 2:
            text = text.replace(value, " " * len(value))
    return text
