"""How figures are written, the same in pages, reports, e-mails and downloads.

One rule per kind of figure:
- money: whole currency units with thousands separators and a real minus (``−12,346``),
  the team's ISO currency code before it when it has one (``EUR 12,346``); zero is ``0``.
  Cents are left to the CSV export, which is data rather than reading; two kinds keep
  decimals: money per month (a slope, one) and an upload's control total (two).
- counts: thousands separators (``2,050``), and the noun in the singular only for one.
"""

from __future__ import annotations

import math
from typing import SupportsFloat

MINUS = "\u2212"
NBSP = "\u00a0"
MISSING = "–"


def format_money(
    value: SupportsFloat | None, currency: str = "", *, space: str = NBSP, places: int = 0
) -> str:
    """``places``: 0 for an amount; 1 for money per month (a slope), 2 for a control total."""
    if value is None:
        return MISSING
    number = float(value)
    if math.isnan(number):
        return MISSING
    text = f"{number:,.{places}f}"
    if text.startswith("-") and not text.strip("-0.,"):
        text = text[1:]  # no "−0": an amount that rounds to nothing has no sign
    text = text.replace("-", MINUS)
    return f"{currency}{space}{text}" if currency else text


def format_count(count: int, noun: str, plural: str | None = None) -> str:
    """``format_count(2050, "customer")`` → ``2,050 customers``; ``1 customer``."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
