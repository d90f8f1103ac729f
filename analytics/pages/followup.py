"""Follow-up writes from the risk table and the customer page: owners (one or many), the
status (with a reason, a snooze), notes. Analysts and admins write; viewers read.

Each answers HTMX with the piece it changed — the risk table for a bulk assignment, the
customer page's follow-up panel otherwise — and a plain form post with a redirect back.
Refused input changes nothing and says why, in the same piece.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import Http404, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.access import TeamRequest, team_view
from accounts.models import Role, Team
from analytics.links import customer_url_builder
from analytics.models import CustomerResult, current_run
from customers.followup import (
    FollowUpError,
    StatusRequest,
    follow_up_panel,
    note_add,
    owners_assign,
    status_set,
    team_members,
)
from customers.models import Customer, FollowUp

from .risk import risk_table_response

PANEL = "analytics/_follow_up.html"


@team_view(Role.ANALYST)
@require_POST
def follow_up_owner(request: TeamRequest, team: Team) -> HttpResponseBase:
    """Assign an owner (or none) to the customers ticked in the risk table, or to the one
    customer of a customer page (``customer``; ``panel=customer`` answers with its panel)."""
    owner_value = request.POST.get("owner", "").strip()
    owner = None
    if owner_value:
        owner = team_members(team=team).filter(pk=_int(owner_value)).first()
    ids = [_int(value) for value in request.POST.getlist("customer")]
    error, notice = "", ""
    if owner_value and owner is None:
        error = "The owner must be a member of this team."
    else:
        try:
            count = owners_assign(team=team, customer_ids=ids, owner=owner, user=request.user)
            who = owner.get_username() if owner is not None else "no owner"
            notice = f"{count} customer{'' if count == 1 else 's'} now with {who}."
        except FollowUpError as exc:
            error = exc.message
    if request.POST.get("panel") == "customer":
        return _panel_response(request, team, _customer(team, ids[0] if ids else 0), error)
    if request.htmx:
        query = QueryDict(request.POST.get("query", ""))
        return risk_table_response(request, team, query, notice=notice, error=error)
    messages.add_message(request, messages.ERROR if error else messages.SUCCESS, error or notice)
    base = reverse("customer_list", args=[team.slug])
    return redirect(f"{base}?{request.POST.get('query', '')}".rstrip("?"))


@team_view(Role.ANALYST)
@require_POST
def follow_up_status(request: TeamRequest, team: Team) -> HttpResponseBase:
    """Set the customer's status (a reason for "not a risk", an optional snooze) and, in the
    same step, an optional note saying what was done."""
    customer = _customer(team, _int(request.POST.get("customer", "")))
    snooze = request.POST.get("snoozed_until", "").strip()
    error = ""
    try:
        until = date.fromisoformat(snooze) if snooze else None
    except ValueError:
        until, error = None, "Give the snooze date as YYYY-MM-DD."
    if not error:
        status = StatusRequest(
            status=request.POST.get("status", ""),
            reason=request.POST.get("reason", ""),
            snoozed_until=until,
        )
        note = request.POST.get("note", "").strip()
        try:
            status_set(
                customer=customer, request=status, level=_level(team, customer), user=request.user
            )
            if note:
                note_add(customer=customer, body=note, user=request.user)
        except FollowUpError as exc:
            error = exc.message
    return _panel_response(request, team, customer, error)


@team_view(Role.ANALYST)
@require_POST
def follow_up_note(request: TeamRequest, team: Team) -> HttpResponseBase:
    customer = _customer(team, _int(request.POST.get("customer", "")))
    error = ""
    try:
        note_add(customer=customer, body=request.POST.get("body", ""), user=request.user)
    except FollowUpError as exc:
        error = exc.message
    return _panel_response(request, team, customer, error)


def _panel_response(
    request: TeamRequest, team: Team, customer: Customer, error: str
) -> HttpResponseBase:
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(customer_url_builder(team_slug=team.slug)(customer.external_id))
    return render(request, PANEL, follow_up_context(request, customer, error=error))


def follow_up_context(request: TeamRequest, customer: Customer, *, error: str = "") -> dict:
    """The follow-up panel's context (the customer page renders it too)."""
    return {
        "panel": follow_up_panel(customer=customer),
        "can_write": request.membership.has_role(Role.ANALYST),
        "follow_up_error": error,
        "follow_up_choices": FollowUp.choices,
        "form_values": request.POST if error else {},
    }


def _customer(team: Team, pk: int) -> Customer:
    customer = Customer.objects.filter(team=team, pk=pk).first()
    if customer is None:
        raise Http404("No such customer.")
    return customer


def _level(team: Team, customer: Customer) -> int | None:
    """The customer's level in the team's current run (None: insufficient data or none)."""
    run = current_run(team)
    if run is None:
        return None
    result = CustomerResult.objects.filter(run=run, customer=customer).only("decline_level")
    found = result.first()
    return None if found is None else found.decline_level


def _int(value: str) -> int:
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 19 else 0
