"""The offline narrator's prose: the prompt's three sections written from the fact sheet.

Deterministic (the same facts give the same text, byte for byte) and grounded by
construction: every figure it writes is a fact-sheet value, formatted the way the grounding
check reads it. Actions are chosen by rules on the decline level and the money at stake.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

from revtrend_site.numbers import format_count, format_money

from .llm import Completion, LLMError
from .prompts import facts_from_prompt

OFFLINE_LABEL = "Written without an LLM (offline narrator)"

# Keyed by level; None (insufficient data) finds NO_LEVEL_ACTIONS through .get's default.
LEVEL_ACTIONS: dict[int | None, tuple[str, ...]] = {
    3: (
        "Account manager: call the customer within 7 days to learn why revenue is falling "
        "and whether a competitor or a budget cut is behind it.",
        "Sales lead: prepare a retention offer within 2 weeks, sized against the revenue at risk.",
    ),
    2: (
        "Account manager: book a review meeting within 2 weeks and ask about plans for the "
        "coming year.",
        "Customer success: check product usage and open support issues within 2 weeks.",
    ),
    1: (
        "Account manager: add the account to the watch list and check in within 4 weeks.",
        "Analyst: look again after the next monthly import whether the decline continues.",
    ),
    0: (
        "Account manager: keep the regular rhythm and look for upsell opportunities within "
        "4 weeks.",
        "Analyst: no intervention needed; review at the next analysis.",
    ),
}
NO_LEVEL_ACTIONS = (
    "Analyst: collect more months of revenue before judging the trend.",
    "Account manager: confirm the account is set up and invoiced as expected within 2 weeks.",
)


class OfflineNarrator:
    """Deterministic prose from the fact sheet in the prompt's data block."""

    name = "offline"
    model = "offline-narrator"

    def generate(self, *, system: str, prompt: str) -> Completion:
        started = time.perf_counter()
        facts = facts_from_prompt(prompt)
        if facts is None:
            raise LLMError("the offline narrator found no fact sheet in the prompt")
        return Completion(
            text=narrate(facts),
            model=self.model,
            provider=self.name,
            prompt_tokens=None,
            completion_tokens=None,
            seconds=round(time.perf_counter() - started, 3),
        )


# The fact sheet's currency code while narrate() writes its amounts ("EUR 1,235").
_CURRENCY: ContextVar[str] = ContextVar("narrator_currency", default="")


def narrate(facts: dict) -> str:
    token = _CURRENCY.set(facts["run"].get("currency") or "")
    try:
        return _narrate(facts)
    finally:
        _CURRENCY.reset(token)


def _narrate(facts: dict) -> str:
    writers = {
        "customer": _customer,
        "segment": _segment,
        "group": _group,
        "portfolio": _portfolio,
    }
    profile, risk, actions = writers[facts["kind"]](facts)
    run = facts["run"]
    label = (
        f"*{OFFLINE_LABEL}, from the fact sheet of run #{run['id']} "
        f"({run['window_start']} to {run['window_end']}).*"
    )
    numbered = "\n".join(f"{i}. {action}" for i, action in enumerate(actions, start=1))
    return (
        f"{label}\n\n## Profile\n\n{' '.join(profile)}\n\n"
        f"## Risk analysis\n\n{' '.join(risk)}\n\n## Recommended actions\n\n{numbered}\n"
    )


# --- Kinds ------------------------------------------------------------------------------


def _customer(facts: dict):
    customer, revenue, trend = facts["customer"], facts["revenue"], facts["trend"]
    segment = facts.get("segment")
    name = f" ({customer['name']})" if customer.get("name") else ""
    where = (
        f"is in segment {segment['number']}, “{segment['name']}”" if segment else "is in no segment"
    )
    profile = [
        f"Customer `{customer['id']}`{name} {where}.",
        f"Its mean monthly revenue is {_money(revenue['mean_monthly'])}"
        f" (standard deviation {_money(revenue['std_monthly'])}).",
        f"It had revenue in {revenue['active_months']} of {revenue['months_observed']} months.",
    ]
    if revenue.get("seasonal_strength") is not None:
        profile.append(f"Seasonal strength: {revenue['seasonal_strength']:.2f}.")
    if revenue.get("churned"):
        profile.append("It has churned: no revenue in its latest months.")
    level = facts["level"]
    risk = [_level_sentence(level)]
    if trend.get("relative_change_12m_pct") is not None:
        risk.append(
            f"Revenue changed by {_pct(trend['relative_change_12m_pct'])} over the last "
            f"{facts['run']['horizon_months']} months"
            + (f" (p-value {_p(trend['p_value'])})." if trend.get("p_value") is not None else ".")
        )
    if trend.get("slope_per_month") is not None:
        risk.append(
            f"The trend slope is {_money(trend['slope_per_month'])} per month"
            + _interval(trend.get("slope_per_month_low"), trend.get("slope_per_month_high"))
            + "."
        )
    if trend.get("onset_month"):
        risk.append(f"The decline began in {trend['onset_month']}.")
    risk.append(
        f"Revenue at risk over the next {facts['run']['horizon_months']} months: "
        f"{_money(facts['revenue_at_risk_12m'])}."
    )
    risk.append(_anomaly_sentence(facts["anomalies"]))
    previous = facts.get("previous_level")
    if previous:
        risk.append(f"In run #{previous['run_id']} it was at level {_level_name(previous)}.")
    actions = list(LEVEL_ACTIONS.get(level["level"], NO_LEVEL_ACTIONS))
    if facts["anomalies"]["count"]:
        actions.append("Analyst: check the anomalous months against invoices within 2 weeks.")
    return profile, risk, actions[:3]


def _segment(facts: dict):
    segment, profile_facts = facts["segment"], facts["profile"]
    stats = facts["statistics"]
    profile = [
        f"Segment {segment['number']}, “{segment['name']}”, holds "
        f"{_count(segment['customers'], 'customer')} "
        f"({_pct(segment['share_of_customers_pct'])} of the run's customers).",
        f"Its median customer's monthly revenue is "
        f"{_money(profile_facts['median_monthly_revenue'])}; the median customer had revenue "
        f"in {_pct(profile_facts['median_active_months_pct'])} of months.",
        f"Level mix: {_mix(facts['level_mix'])}.",
    ]
    risk = _statistics_sentences(stats, facts["run"]["horizon_months"])
    risk += _top_sentence(facts["top_at_risk"])
    actions = _segment_actions(facts["level_mix"], facts["top_at_risk"])
    return profile, risk, actions


def _group(facts: dict):
    group, stats = facts["group"], facts["statistics"]
    profile = [
        f"This group is the {_count(group['customers'], 'customer')} of segment "
        f"{group['segment']}, “{group['segment_name']}”, at level {_level_name(group)}.",
        f"They are {_pct(group['share_of_segment_pct'])} of the segment's "
        f"{_count(group['segment_customers'], 'customer')}.",
        f"Mean monthly revenue is {_money(stats['mean_monthly_revenue'])}"
        f" (median {_money(stats['median_monthly_revenue'])}).",
    ]
    risk = _statistics_sentences(stats, facts["run"]["horizon_months"])
    risk += _top_sentence(facts["top_at_risk"])
    actions = _group_actions(group["level"], group["customers"], facts["top_at_risk"])
    return profile, risk, actions


def _portfolio(facts: dict):
    portfolio, run = facts["portfolio"], facts["run"]
    profile = [
        f"The portfolio has {_count(portfolio['customers'], 'customer')} in "
        f"{_count(portfolio['segments'], 'segment')}, "
        f"analysed from {run['window_start']} to {run['window_end']}.",
        f"Level mix: {_mix(facts['level_mix'])}.",
    ]
    risk = [
        f"{_count(portfolio['high_risk_customers'], 'customer')} "
        f"({_pct(portfolio['high_risk_share_pct'])}) are at level 2 or 3.",
        f"Revenue at risk over the next {run['horizon_months']} months: "
        f"{_money(portfolio['revenue_at_risk_12m_total'])}.",
    ]
    if portfolio.get("median_relative_change_12m_pct") is not None:
        risk.append(
            f"The median 12-month change is {_pct(portfolio['median_relative_change_12m_pct'])}."
        )
    risk.append(f"The analysis found {portfolio['anomalies']} anomalous months.")
    segments = [s for s in facts["segments"] if s.get("revenue_at_risk_12m")]
    if segments:
        top = max(segments, key=lambda s: (s["revenue_at_risk_12m"], -s["number"]))
        risk.append(
            f"Segment {top['number']}, “{top['name']}”, carries the most revenue at risk: "
            f"{_money(top['revenue_at_risk_12m'])} across {_count(top['customers'], 'customer')}."
        )
    risk += _mover_sentences(facts.get("movers"))
    risk += _top_sentence(facts["top_at_risk"])
    actions = []
    if facts["top_at_risk"]:
        actions.append(
            "Sales lead: assign an owner to each of the largest accounts at risk within 7 days."
        )
    if portfolio["high_risk_customers"]:
        actions.append(
            "Account managers: contact every level 3 customer within 2 weeks, largest revenue "
            "at risk first."
        )
    actions.append("Analyst: rerun the analysis after the next monthly import and compare.")
    return profile, risk, actions[:3]


# --- Shared sentences -------------------------------------------------------------------


def _statistics_sentences(stats: dict, horizon: int) -> list[str]:
    sentences = []
    if stats.get("relative_change_12m_pct_median") is not None:
        sentences.append(
            f"The median 12-month change is {_pct(stats['relative_change_12m_pct_median'])}"
            f" (mean {_pct(stats['relative_change_12m_pct_mean'])})."
        )
    sentences.append(
        f"Revenue at risk over the next {horizon} months: "
        f"{_money(stats['revenue_at_risk_12m_total'])}."
    )
    sentences.append(
        f"Churned: {_count(stats['churned'], 'customer')}; anomalous months: "
        f"{stats['anomalies']}, in {_count(stats['customers_with_anomalies'], 'customer')}."
    )
    onset = stats.get("onset") or {}
    if onset.get("customers_with_onset"):
        sentences.append(
            f"Decline onset known for {_count(onset['customers_with_onset'], 'customer')}, "
            f"the earliest in "
            f"{onset['earliest_onset_month']}, most often in {onset['commonest_onset_month']} "
            f"({_count(onset['customers_with_commonest_onset'], 'customer')})."
        )
    return sentences


def _top_sentence(top: list[dict]) -> list[str]:
    if not top:
        return ["No customer has revenue at risk."]
    named = "; ".join(f"`{row['customer']}` ({_money(row['revenue_at_risk_12m'])})" for row in top)
    return [f"Largest revenue at risk: {named}."]


def _mover_sentences(movers: dict | None) -> list[str]:
    if not movers:
        return ["There is no earlier analysis to compare with."]
    counts = "; ".join(f"{row['kind'].lower()}: {row['customers']}" for row in movers["lists"])
    return [
        f"Against run #{movers['previous_run_id']} ({movers['customers_compared']} customers "
        f"in both): {counts}."
    ]


# What a group of customers at one level calls for, worded for several customers ({n}:
# how many, "2,050 customers"); a group of one gets its level's LEVEL_ACTIONS.
GROUP_ACTIONS: dict[int | None, tuple[str, ...]] = {
    3: (
        "Account managers: call each of the {n} within 7 days, largest revenue at risk "
        "first, to learn why their revenue is falling.",
        "Sales lead: prepare retention offers within 2 weeks for the accounts with the most "
        "revenue at risk.",
    ),
    2: (
        "Account managers: book a review with each of the {n} within 2 weeks, largest "
        "revenue at risk first.",
        "Customer success: check product usage and open support issues of the {n} within 2 weeks.",
    ),
    1: (
        "Analyst: keep the {n} on the watch list and look again after the next monthly "
        "import whether the decline continues.",
        "Account managers: check in with the largest of them within 4 weeks.",
    ),
    0: (
        "Account managers: keep the regular rhythm with the {n} and look for upsell "
        "opportunities within 4 weeks.",
        "Analyst: no intervention needed; review at the next analysis.",
    ),
}


def _group_actions(level: int | None, customers: int, top: list[dict]) -> list[str]:
    if customers == 1 or level not in GROUP_ACTIONS:
        actions = list(LEVEL_ACTIONS.get(level, NO_LEVEL_ACTIONS))
    else:
        n = _count(customers, "customer")
        actions = [action.format(n=n) for action in GROUP_ACTIONS[level]]
    if top and level is not None and level >= 2:
        actions.insert(0, _start_with(top[0]))
    return actions[:3]


def _segment_actions(mix: list[dict], top: list[dict]) -> list[str]:
    """Actions for the segment's customers at level 2 or 3 by name and number, and for the
    rest as a whole, so a mostly stable segment is not told its revenue is falling."""
    counts = {row["level"]: row["customers"] for row in mix}
    at_risk = [(level, counts.get(level, 0)) for level in (3, 2) if counts.get(level, 0)]
    if not at_risk:
        actions = []
        for level in (1, 0):
            if counts.get(level, 0):
                n = f"{_count(counts[level], 'customer')} at level {level}"
                actions.append(GROUP_ACTIONS[level][0].format(n=n))
        return [*actions, GROUP_ACTIONS[0][1]]
    named = " and ".join(f"{_count(n, 'customer')} at level {level}" for level, n in at_risk)
    actions = [
        f"Account managers: contact the {named} within 2 weeks, largest revenue at risk "
        "first, to learn why their revenue is falling."
    ]
    if top:
        actions.insert(0, _start_with(top[0]))
    stable = counts.get(0, 0)
    if stable:
        verb = "needs" if stable == 1 else "need"
        actions.append(
            f"Analyst: {_count(stable, 'customer')} at level 0 {verb} no intervention now; "
            "review at the next analysis."
        )
    return actions[:3]


def _start_with(first: dict) -> str:
    return (
        f"Account manager: start with `{first['customer']}`, "
        f"{_money(first['revenue_at_risk_12m'])} at risk, within 7 days."
    )


def _mix(mix: list[dict]) -> str:
    parts = []
    for row in mix:
        name = "insufficient data" if row["level"] is None else f"level {row['level']}"
        share = f" ({_pct(row['share_pct'])})" if row.get("share_pct") is not None else ""
        parts.append(f"{name}: {row['customers']}{share}")
    return ", ".join(parts)


def _level_sentence(level: dict) -> str:
    if level["level"] is None:
        return "There are too few months of revenue to judge the trend (insufficient data)."
    return f"Decline level {_level_name(level)}."


def _level_name(level: dict) -> str:
    if level.get("level") is None:
        return "none (insufficient data)"
    return f"{level['level']} ({level['level_label'].lower()})"


def _anomaly_sentence(anomalies: dict) -> str:
    if not anomalies["count"]:
        return "No month was anomalous."
    latest = anomalies["most_recent"][0] if anomalies["most_recent"] else None
    sentence = f"Anomalous months: {anomalies['count']}"
    if latest:
        expected = latest.get("expected")
        sentence += (
            f", the latest in {latest['month']}: {_money(latest['revenue'])}"
            + (f" against {_money(expected)} expected" if expected is not None else "")
            + f" (z-score {_number(latest['zscore'])})"
        )
    return sentence + "."


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f" (between {_money(low)} and {_money(high)})"


# --- Numbers, formatted the way the grounding check reads them --------------------------


def _money(value: float | None) -> str:
    if value is None:
        return "n/a"
    return format_money(value, _CURRENCY.get(), space=" ")


def _pct(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}%".replace("-", "−")


def _number(value: float) -> str:
    return f"{value:.1f}".replace("-", "−")


def _count(count: int, noun: str) -> str:
    return format_count(count, noun)


def _p(value: float) -> str:
    return f"{value:.3g}"
