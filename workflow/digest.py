"""The weekly digest: for each member, what moved among *their* customers since the previous
analysis — an owner's own customers; an admin's, plus the team's unowned ones — the new
churned, the ten with most revenue at risk, and a paragraph on the whole portfolio (the
latest saved portfolio report's, from the LLM when one is configured, else the offline
narrator's)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db.models import Q
from django.template.loader import render_to_string

from accounts.models import Membership, Role, Team
from analytics.models import AnalysisRun, CustomerResult, current_run, previous_analysis
from customers.models import Customer
from reports.facts import fact_sheet
from reports.models import Report, ReportKind, ReportStatus
from reports.narrator import narrate

from .delivery import customer_link
from .models import DeliveryPreference

TOP = 10
HIGH = 2  # levels 2–3 are high risk
LISTED = 25  # customers listed per kind of move


@dataclass
class Digest:
    team: Team
    run: AnalysisRun
    user: User
    scope: str  # "your customers" or "your customers and the unowned ones"
    customers: int = 0
    entered: list[dict] = field(default_factory=list)  # into level 2–3
    left: list[dict] = field(default_factory=list)  # out of level 2–3, not to 0
    recovered: list[dict] = field(default_factory=list)  # to level 0 from 1–3
    churned: list[dict] = field(default_factory=list)  # churned now, not before
    top: list[dict] = field(default_factory=list)
    paragraph: str = ""

    @property
    def is_empty(self) -> bool:
        return self.customers == 0


def _scope(user: User, role: str) -> Q:
    mine = Q(owner_id=user.pk)
    return mine | Q(owner__isnull=True) if role == Role.ADMIN else mine


def digest_for(*, team: Team, user: User, role: str, run: AnalysisRun) -> Digest:
    scope = (
        "your customers and the team's unowned ones" if role == Role.ADMIN else ("your customers")
    )
    digest = Digest(team=team, run=run, user=user, scope=scope)
    customers = Customer.objects.filter(_scope(user, role), team=team)
    ids = customers.values("pk")
    now = {
        row["customer_id"]: row
        for row in CustomerResult.objects.filter(run=run, customer_id__in=ids).values(
            "customer_id", "customer__external_id", "decline_level", "churned", "revenue_at_risk"
        )
    }
    digest.customers = len(now)
    previous = previous_analysis(run)
    before = {}
    if previous is not None:
        before = dict(
            CustomerResult.objects.filter(run=previous, customer_id__in=ids).values_list(
                "customer_id", "decline_level"
            )
        )
        was_churned = set(
            CustomerResult.objects.filter(run=previous, customer_id__in=ids, churned=True)
            .values_list("customer_id", flat=True)
        )  # fmt: skip
        for customer, row in now.items():
            _sort_move(
                digest, row, before.get(customer), customer in before, customer in was_churned
            )
    ranked = sorted(now.values(), key=lambda r: (-r["revenue_at_risk"], r["customer__external_id"]))
    digest.top = [_entry(team, r) for r in ranked if r["revenue_at_risk"] > 0][:TOP]
    digest.paragraph = portfolio_paragraph(run=run)
    return digest


def _sort_move(digest: Digest, row: dict, was: int | None, known: bool, was_churned: bool) -> None:
    level = row["decline_level"]
    entry = _entry(digest.team, row, was)
    if row["churned"] and not was_churned:
        digest.churned.append(entry)
    if level is None:
        return
    if not known:  # new to the analysis: arriving at level 2–3 is entering it
        if level >= HIGH:
            digest.entered.append(entry)
        return
    if level >= HIGH and (was is None or was < HIGH):
        digest.entered.append(entry)
    elif was is not None and was >= HIGH and level == 0:
        digest.recovered.append(entry)
    elif was is not None and was >= HIGH and level < HIGH:
        digest.left.append(entry)
    elif was is not None and was >= 1 and level == 0:
        digest.recovered.append(entry)


def _entry(team: Team, row: dict, was: int | None = None) -> dict:
    external_id = row["customer__external_id"]
    return {
        "external_id": external_id,
        "level": row["decline_level"],
        "was": was,
        "revenue_at_risk": Decimal(row["revenue_at_risk"]),
        "url": customer_link(team.slug, external_id),
    }


_RISK_SECTION = re.compile(r"## Risk analysis\s+(.+?)(?:\n## |\Z)", re.S)


def portfolio_paragraph(*, run: AnalysisRun) -> str:
    """The "Risk analysis" paragraph of the run's latest saved portfolio report, else the
    offline narrator's from the run's fact sheet."""
    saved = (
        Report.objects.filter(run=run, kind=ReportKind.PORTFOLIO, status=ReportStatus.DONE)
        .order_by("-created_at")
        .values_list("content", flat=True)
        .first()
    )
    text = saved or narrate(fact_sheet(run=run, kind=ReportKind.PORTFOLIO, scope={}))
    match = _RISK_SECTION.search(text)
    return (match.group(1) if match else text).strip()


def weekly_digests_send() -> int:
    """One e-mail per member with an address (who did not turn the digest off) and per team
    with a succeeded analysis. How many went out."""
    sent = 0
    off = set(
        DeliveryPreference.objects.filter(weekly_digest=False).values_list("user_id", flat=True)
    )
    for team in Team.objects.all():
        run = current_run(team)
        if run is None:
            continue
        memberships = Membership.objects.filter(team=team).select_related("user")
        for membership in memberships:
            user = membership.user
            if user.pk in off or not user.email or not user.is_active:
                continue
            digest = digest_for(team=team, user=user, role=membership.role, run=run)
            if digest.is_empty:
                continue
            body = render_to_string("workflow/email_weekly.txt", {"digest": digest})
            send_mail(f"RevTrend weekly: {team.name}", body, None, [user.email])
            sent += 1
    return sent
