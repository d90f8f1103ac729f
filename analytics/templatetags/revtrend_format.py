"""Number formatting shared by every page: ``{% load revtrend_format %}``.

The rules (one place, so the dashboard, the table and the diagnostics agree):
- ``money``: whole units with thousands separators (``12,346``, ``845``), the team's ISO
  currency code before it when it has set one (``EUR 12,346``); zero is ``0``
  (``revtrend_site.numbers.format_money``, shared with reports and e-mails).
- ``percent``: a fraction shown as a signed percentage with a real minus sign (U+2212) and a
  no-break space: ``−34 %``, ``+12 %``, ``0 %``; one decimal under 10 % (``−3.4 %``).
- ``pvalue``: three decimals, ``< 0.001`` below that.
- ``money_cents``: a control total (an upload's sum) to the cent, with the currency code.
- ``money_rate``: money per month (a slope): one decimal and the currency code.
- ``signed``: a plain figure with a real minus, thousands separators and ``decimals``
  places (default 1).
- ``level_badge``: the decline level as text (``3 · Sharp decline``, ``Insufficient data``)
  with a coloured mark from ``--level-0..3`` / ``--level-none``: never colour alone.
Missing values (None, NaN) show as an en dash.
"""

from __future__ import annotations

import math

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from analytics.core import Params
from analytics.core.explain import with_currency
from analytics.models import LEVEL_LABELS, AnalysisRun
from analytics.services.runs import run_params
from revtrend_site.markdown import render_markdown
from revtrend_site.middleware import current_request
from revtrend_site.numbers import format_money

register = template.Library()

MINUS = "\u2212"
NBSP = "\u00a0"
MISSING = "–"


def _number(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _with_minus(text: str) -> str:
    return text.replace("-", MINUS)


@register.filter
def money(value) -> str:
    """An amount in whole units, with the team's currency code before it when the team has
    set one (revtrend_site.numbers: the same rule as reports and e-mails)."""
    return format_money(_number(value), _currency())


@register.filter
def money_in(value, currency: str = "") -> str:
    """``money`` with the currency given, where no team page is being rendered (e-mails)."""
    return format_money(_number(value), currency or "", space=" ")


@register.filter
def money_cents(value) -> str:
    """A control total (an upload's sum, to check against the file's): to the cent, with the
    team's currency before it."""
    return format_money(_number(value), _currency(), places=2)


@register.filter
def money_rate(value) -> str:
    """Money per month (a slope): one decimal, since a small customer's slope is often under
    one unit a month, with the team's currency before it."""
    return format_money(_number(value), _currency(), places=1)


@register.filter
def sentence(text) -> str:
    """A stored why-sentence with the team's currency before its amounts."""
    return with_currency(str(text or ""), _currency())


@register.simple_tag
def currency() -> str:
    """The team's currency code, for a chart's hover labels ('' when unset)."""
    return _currency()


def _currency() -> str:
    """The currency of the team whose page is being rendered ('' elsewhere, or unset)."""
    request = current_request()
    team = getattr(request, "team", None) if request is not None else None
    return getattr(team, "currency", "") or ""


@register.filter
def percent(value) -> str:
    number = _number(value)
    if number is None:
        return MISSING
    pct = number * 100
    places = 1 if abs(pct) < 10 else 0
    text = f"{pct:,.{places}f}"
    if float(text.replace(",", "")) == 0:
        return f"0{NBSP}%"
    sign = "+" if pct > 0 else ""
    return f"{sign}{_with_minus(text)}{NBSP}%"


@register.filter
def probability(value) -> str:
    """0.734 → "73 %" (no sign: a chance, not a change)."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{number * 100:.0f}{NBSP}%"


@register.filter
def pvalue(value) -> str:
    number = _number(value)
    if number is None:
        return MISSING
    if number < 0.001:
        return f"<{NBSP}0.001"
    return f"{number:.3f}"


@register.filter
def signed(value, decimals: int = 1) -> str:
    number = _number(value)
    if number is None:
        return MISSING
    return _with_minus(f"{number:,.{int(decimals)}f}")


@register.filter
def markdown_safe(text: str) -> str:
    """Markdown someone wrote, as sanitised HTML (revtrend_site.markdown)."""
    return mark_safe(render_markdown(str(text or "")))


@register.inclusion_tag("analytics/_level_legend.html")
def level_legend(run: AnalysisRun | None = None) -> dict:
    """The levels in words, with the thresholds the run used (the defaults without one)."""
    params = run_params(run) if run is not None else Params()
    mild, moderate, sharp = (f"{abs(edge) * 100:g} %" for edge in params.level_edges)
    return {
        "mild": mild,
        "moderate": moderate,
        "sharp": sharp,
        "alpha": f"{params.alpha:g}",
        "confidence": f"{(1 - params.alpha) * 100:g} %",
        "churn_months": params.min_churn_months,
        "churn_chance": f"{params.churn_probability * 100:g} %",
        "min_months": params.min_span_months,
        "min_active": params.min_active_months,
    }


@register.simple_tag
def level_badge(level) -> str:
    if level is None or level == "":
        return format_html(
            '<span class="level level-none" title="Too little history to judge">{}</span>',
            "Insufficient data",
        )
    level = int(level)
    return format_html(
        '<span class="level level-{}">{} · {}</span>', level, level, LEVEL_LABELS[level]
    )
