"""Recording audit events from views, services, tasks and signals."""

from __future__ import annotations

import logging

from django.http import HttpRequest

from revtrend_site.middleware import client_ip, current_request

from .models import AuditEvent, Outcome

logger = logging.getLogger(__name__)


def audit_record(
    *,
    action: str,
    team=None,
    target=None,
    detail: str = "",
    outcome: str = Outcome.OK,
    user=None,
    request: HttpRequest | None = None,
    username: str = "",
) -> AuditEvent | None:
    """Append one event. ``target`` is the model instance acted on (its type and id are
    kept). The user and address come from the request being served unless given. Never
    raises: an audit failure is logged, the action it describes stands."""
    request = request or current_request()
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    try:
        return AuditEvent.objects.create(
            team_id=getattr(team, "pk", None),
            team_slug=getattr(team, "slug", "")[:50],
            user_id=getattr(user, "pk", None),
            username=(getattr(user, "username", "") or username)[:150],
            action=action,
            outcome=outcome,
            object_type=type(target).__name__ if target is not None else "",
            object_id=str(getattr(target, "pk", "") or "")[:200],
            detail=detail[:500],
            address=_address(request),
        )
    except Exception:
        logger.exception("Could not record the audit event %s", action)
        return None


def _address(request: HttpRequest | None) -> str | None:
    return (client_ip(request) or None) if request is not None else None


def audit_events_for_team(*, team, action: str = "", username: str = "", outcome: str = ""):
    events = AuditEvent.objects.filter(team_id=team.pk)
    if action:
        events = events.filter(action=action)
    if username:
        events = events.filter(username=username)
    if outcome:
        events = events.filter(outcome=outcome)
    return events
