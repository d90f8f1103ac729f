"""The risk table `/t/<team>/customers/` and its CSV export."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from accounts.access import TeamRequest, team_view
from accounts.models import Role, Team
from analytics.models import current_run
from analytics.selectors.risk import (
    LEVEL_CHOICES,
    OWNER_ME,
    OWNER_NONE,
    SORT_COLUMNS,
    STATUS_CHOICES,
    RiskQuery,
    risk_csv_rows,
    risk_page,
)
from customers.followup import team_members

TEMPLATE = "analytics/customers.html"


@team_view()
@require_safe
def customer_list(request: TeamRequest, team: Team) -> HttpResponse:
    """The whole page, or only the table for an HTMX swap (same checks: ``team_view``).

    A history restore (back button after the cache missed) gets the whole page: htmx swaps
    it into the body.
    """
    htmx = getattr(request, "htmx", None)
    partial = bool(htmx and not htmx.history_restore_request)
    response = risk_table_response(request, team, request.GET, partial=partial)
    # The same URL answers with a fragment or a page: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request", "HX-History-Restore-Request"])
    return response


def risk_table_response(
    request: TeamRequest,
    team: Team,
    params: Mapping[str, str],
    *,
    partial: bool = True,
    notice: str = "",
    error: str = "",
) -> HttpResponse:
    """The table for ``params`` (a query string's values): the page, or its table alone
    (also the answer to a bulk assignment, with what it did or why it did not)."""
    query = RiskQuery.from_params(params)
    run = current_run(team)
    base_url = reverse("customer_list", args=[team.slug])
    viewer_id = request.user.pk
    page = (
        risk_page(run=run, query=query, team_slug=team.slug, viewer_id=viewer_id) if run else None
    )
    members = list(team_members(team=team).values_list("pk", "username"))
    context = {
        "run": run,
        "query": query,
        "query_string": urlencode(query.params()),
        "page": page,
        "partial": partial,
        "base_url": base_url,
        "columns": _columns(query, base_url),
        "level_choices": LEVEL_CHOICES,
        "status_choices": STATUS_CHOICES,
        "owner_choices": [(OWNER_ME, "My customers"), (OWNER_NONE, "No owner")]
        + [(username, username) for _, username in members],
        "members": members,
        "can_write": request.membership.has_role(Role.ANALYST),
        "notice": notice,
        "error": error,
        "export_url": query.url(reverse("customer_export", args=[team.slug]), page=1),
    }
    if page is not None:
        context["previous_url"] = query.url(base_url, page=page.number - 1)
        context["next_url"] = query.url(base_url, page=page.number + 1)
    return render(request, f"{TEMPLATE}#risk-table" if partial else TEMPLATE, context)


# The table's columns in order: (sort key or "" when not sortable, heading, numeric).
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("", "Customer", False),
    ("decline_level", "Level", False),
    ("revenue_at_risk", "Revenue at risk", True),
    ("status", "Follow-up", False),
    ("", "Owner", False),
    ("segment", "Segment", False),
    ("p_active", "Still buying", True),
    ("expected_revenue_12m", "Expected, next 12\u00a0months", True),
    ("relative_change_12m", "12\u2011month change", True),
    ("p_value", "p\u2011value", True),
    ("slope", "Monthly slope", True),
    ("revenue_mean", "Mean revenue", True),
    ("cv", "CV", True),
    ("active_months", "Active months", True),
    ("onset_month", "Onset", True),
    ("anomaly_count", "Anomalies", True),
)


# What a heading means, for its tooltip and its accessible description.
HELP = {
    "Level": "0 stable or growing, 1 mild, 2 moderate, 3 sharp decline or churned (see the legend)",
    "Revenue at risk": "How much less the customer is expected to bring over the next 12 months "
    "than over the last 12",
    "Follow-up": "Where the team is with this customer; dismissed and snoozed customers leave "
    "the default view until their level worsens",
    "Owner": "The team member who looks after this customer",
    "Segment": "A group of customers with similar size, regularity, seasonality and trend",
    "Still buying": "Probability that the customer still buys at its own rhythm",
    "Expected, next 12\u00a0months": "Revenue the purchase model expects over the next 12 months",
    "12\u2011month change": "Change of the underlying revenue (spikes, season and noise taken "
    "out) over the last 12 months",
    "p\u2011value": "How easily the trend could be chance; below 0.05 counts as real",
    "Monthly slope": "Money per month of a robust trend line that one odd month cannot drag",
    "Mean revenue": "Average revenue per month over the customer's months in the window",
    "CV": "How much revenue swings month to month relative to its mean: 0.2 steady, 1+ lumpy",
    "Active months": "Months with revenue in the window",
    "Onset": "The month the decline started",
    "Anomalies": "Months far above what the customer usually orders",
}


def _columns(query: RiskQuery, base_url: str) -> list[dict]:
    """Headings with the URL a click asks for, the current aria-sort, and what they mean."""
    columns = []
    for key, label, numeric in COLUMNS:
        column = {
            "key": key,
            "label": label,
            "numeric": numeric,
            "url": "",
            "aria_sort": "",
            "help": HELP.get(label, ""),
        }
        if key in SORT_COLUMNS:
            column["url"] = query.url(base_url, sort=query.sort_toggled(key), page=1)
            if query.sort_column == key:
                column["aria_sort"] = "descending" if query.descending else "ascending"
        columns.append(column)
    return columns


@team_view()
@require_safe
def customer_export(request: TeamRequest, team: Team) -> StreamingHttpResponse:
    """The table as filtered and sorted, every page, as CSV (viewers may export)."""
    query = RiskQuery.from_params(request.GET)
    run = current_run(team)
    response = StreamingHttpResponse(
        risk_csv_rows(run=run, query=query, viewer_id=request.user.pk),
        content_type="text/csv; charset=utf-8",
    )
    name = (
        f"revtrend-{team.slug}-run-{run.pk}-customers.csv" if run else f"revtrend-{team.slug}.csv"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
