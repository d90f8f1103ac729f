"""The team's follow-up on its customers: account owners, a status with its history, notes.

All of it belongs to the team, never to an analysis run: a new run keeps it. Writes are for
analysts and admins (the pages check the role); each change is audited. The level a customer
had when it was dismissed ("not a risk") or snoozed is kept, so that the default risk view can
show it again as soon as its level worsens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Team
from audit.services import audit_record

from .models import Customer, CustomerNote, FollowUp, FollowUpChange

MAX_NOTE_CHARS = 5000
MAX_REASON_CHARS = 500
MAX_BULK = 1000  # customers one bulk assignment may name
INSUFFICIENT = -1  # the level kept for a customer with insufficient data
# Statuses that mean "dealt with": the customer leaves the default view (while its level is
# no worse), as a snooze does.
HIDING = (FollowUp.NOT_A_RISK,)


class FollowUpError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def team_members(*, team: Team) -> QuerySet:
    """The users who may own the team's customers, by username."""
    return get_user_model().objects.filter(memberships__team=team).order_by("username")


def owner_lookup(*, team: Team, name: str) -> User | None:
    """The team member whose username or e-mail is ``name`` (case-insensitive), else None."""
    name = name.strip()
    if not name:
        return None
    return (
        team_members(team=team)
        .filter(Q(username__iexact=name) | Q(email__iexact=name))
        .order_by("pk")
        .first()
    )


def owner_directory(*, team: Team) -> dict[str, int]:
    """The names an upload's owner column may use (usernames and e-mails, lower-cased) →
    the member's user id. A username wins over another member's identical e-mail."""
    directory: dict[str, int] = {}
    members = team_members(team=team).values_list("pk", "username", "email")
    for pk, _, email in members:
        if email:
            directory[email.strip().lower()] = pk
    for pk, username, _ in members:
        directory[username.lower()] = pk
    return directory


def owners_assign(*, team: Team, customer_ids: Iterable[int], owner: User | None, user) -> int:
    """Make ``owner`` (a team member, or None: no owner) the owner of these customers of the
    team; how many changed. Ids of other teams' customers are ignored."""
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        raise FollowUpError("Choose at least one customer.")
    if len(ids) > MAX_BULK:
        raise FollowUpError(f"At most {MAX_BULK:,} customers at a time.")
    if owner is not None and not team_members(team=team).filter(pk=owner.pk).exists():
        raise FollowUpError("The owner must be a member of this team.")
    customers = Customer.objects.filter(team=team, pk__in=ids)
    changing = (
        customers.exclude(owner=owner)
        if owner is not None
        else customers.exclude(owner__isnull=True)
    )
    with transaction.atomic():
        changed = list(changing.values_list("external_id", flat=True)[:20])
        count = changing.update(owner=owner)
    if count:
        who = owner.get_username() if owner is not None else "nobody"
        shown = ", ".join(changed) + (" …" if count > len(changed) else "")
        audit_record(
            action="customer.owner",
            team=team,
            user=user,
            detail=f"{count} customer(s) → {who}: {shown}"[:500],
        )
    return count


@dataclass(frozen=True)
class StatusRequest:
    status: str
    reason: str = ""
    snoozed_until: date | None = None


def status_check(request: StatusRequest, *, today: date) -> StatusRequest:
    """The request cleaned, or FollowUpError with what is wrong."""
    if request.status not in FollowUp.values:
        raise FollowUpError(f"Unknown status {request.status!r}.")
    reason = " ".join(request.reason.split())
    if len(reason) > MAX_REASON_CHARS:
        raise FollowUpError(f"The reason is longer than {MAX_REASON_CHARS} characters.")
    if request.status == FollowUp.NOT_A_RISK and not reason:
        raise FollowUpError("Say why this customer is not a risk.")
    if request.snoozed_until is not None and request.snoozed_until <= today:
        raise FollowUpError("Snooze until a date after today.")
    return StatusRequest(request.status, reason, request.snoozed_until)


def status_set(
    *, customer: Customer, request: StatusRequest, level: int | None, user
) -> FollowUpChange:
    """Set the customer's status (and snooze), remember its current ``level`` (None for
    insufficient data) for the default view, record the history and the audit event."""
    now = timezone.now()
    request = status_check(request, today=timezone.localdate())
    hides = request.status in HIDING or request.snoozed_until is not None
    kept_level = (INSUFFICIENT if level is None else level) if hides else None
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        change = FollowUpChange.objects.create(
            customer=locked,
            changed_by=user if getattr(user, "is_authenticated", False) else None,
            previous=locked.follow_up,
            status=request.status,
            reason=request.reason,
            snoozed_until=request.snoozed_until,
            level=level,
        )
        Customer.objects.filter(pk=locked.pk).update(
            follow_up=request.status,
            follow_up_reason=request.reason,
            follow_up_changed_at=now,
            hidden_at_level=kept_level,
            snoozed_until=request.snoozed_until,
        )
    snooze = f", snoozed until {request.snoozed_until:%Y-%m-%d}" if request.snoozed_until else ""
    because = f" ({request.reason})" if request.reason else ""
    audit_record(
        action="customer.status",
        team=customer.team,
        target=customer,
        user=user,
        detail=f"{customer.external_id}: {change.previous} → {request.status}{because}{snooze}"[
            :500
        ],
    )
    return change


def note_add(*, customer: Customer, body: str, user) -> CustomerNote:
    body = body.strip()
    if not body:
        raise FollowUpError("The note is empty.")
    if len(body) > MAX_NOTE_CHARS:
        raise FollowUpError(f"A note holds at most {MAX_NOTE_CHARS:,} characters.")
    return CustomerNote.objects.create(customer=customer, author=user, body=body)


def hidden_customers(*, team_id: int, today: date) -> dict[int, int]:
    """{customer pk: the level it was hidden at} for the customers the default risk view
    leaves out while their level is no worse: dismissed as not a risk, or snoozed until a
    date still to come. A handful per team, read in one indexed query."""
    rows = Customer.objects.filter(team_id=team_id, hidden_at_level__isnull=False).values_list(
        "pk", "hidden_at_level", "follow_up", "snoozed_until"
    )
    return {
        pk: level
        for pk, level, status, until in rows
        if level is not None and (status in HIDING or (until is not None and until > today))
    }


NOTES_SHOWN = 50
CHANGES_SHOWN = 20


@dataclass(frozen=True)
class FollowUpPanel:
    """What the customer page shows of the follow-up: owner, status, notes, history."""

    customer: Customer
    members: list[User]
    notes: list[CustomerNote]
    changes: list[FollowUpChange]

    @property
    def is_snoozed(self) -> bool:
        until = self.customer.snoozed_until
        return until is not None and until > timezone.localdate()


def follow_up_panel(*, customer: Customer) -> FollowUpPanel:
    customer = Customer.objects.select_related("owner", "team").get(pk=customer.pk)
    notes = customer.notes.select_related("author")[:NOTES_SHOWN]
    changes = customer.follow_up_changes.select_related("changed_by")[:CHANGES_SHOWN]
    return FollowUpPanel(
        customer=customer,
        members=list(team_members(team=customer.team)),
        notes=list(notes),
        changes=list(changes),
    )
