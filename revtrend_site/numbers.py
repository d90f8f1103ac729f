"""How figures are written, the same in pages, reports, e-mails and downloads.

One rule per kind of figure:
- money: whole currency units with thousands separators and a real minus (``−12,346``),
  the team's ISO currency code before it when it has one (``EUR 12,346``); zero is ``0``.
  Cents are left to the CSV export, which is data rather than reading.
- counts: thousands separators (``2,050``), and the noun in the singular only for one.
"""

from __future__ import annotations

import math
from typing import SupportsFloat

MINUS = "\u2212"
NBSP = "\u00a0"
MISSING = "–"


def format_money(value: SupportsFloat | None, currency: str = "", *, space: str = NBSP) -> str:
    if value is None:
        return MISSING
    number = float(value)
    if math.isnan(number):
        return MISSING
    text = f"{number:,.0f}".replace("-", MINUS)
    if text in ("0", f"{MINUS}0"):
        text = "0"
    return f"{currency}{space}{text}" if currency else text


def format_count(count: int, noun: str, plural: str | None = None) -> str:
    """``format_count(2050, "customer")`` → ``2,050 customers``; ``1 customer``."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
