"""Team scoping and role checks: the one place every team page goes through.

A user who is not a member of a team gets 404 (the team's existence is not
revealed); a member whose role is too low gets 403.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from audit.models import Outcome
from audit.services import audit_record

from .models import Membership, Role, Team

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User
    from django_htmx.middleware import HtmxDetails

View = Callable[..., HttpResponseBase]


class TeamRequest(HttpRequest):
    """The request a ``team_view`` hands its view (django-htmx's typed-request pattern): the
    team and the membership it set, the ``htmx`` details of django-htmx's middleware, and a
    signed-in user (the decorator sends everyone else to the login page)."""

    team: Team
    membership: Membership
    htmx: HtmxDetails
    user: User


def membership_for(*, user: User | AnonymousUser, team_slug: str) -> Membership:
    if not user.is_authenticated:
        raise Http404("No such team.")
    membership = (
        Membership.objects.select_related("team").filter(user=user, team__slug=team_slug).first()
    )
    if membership is None:
        raise Http404("No such team.")
    return membership


def team_view(minimum_role: str = Role.VIEWER) -> Callable[[View], View]:
    """Decorate a view taking ``(request, team, ...)``; the URL carries ``team_slug``.

    Sets ``request.team`` and ``request.membership`` for templates.
    """

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(
            request: HttpRequest, team_slug: str, *args: object, **kwargs: object
        ) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = membership_for(user=request.user, team_slug=team_slug)
            if not membership.has_role(minimum_role):
                audit_record(
                    action=f"{request.method} {getattr(request.resolver_match, 'url_name', '')}",
                    team=membership.team,
                    outcome=Outcome.REFUSED,
                    detail=f"needs {Role(minimum_role).label}, has {membership.get_role_display()}",
                )
                raise PermissionDenied(f"This needs the {Role(minimum_role).label} role.")
            team_request = cast(TeamRequest, request)  # signed in; team and membership set here
            team_request.team = membership.team
            team_request.membership = membership
            if request.session.get("last_team") != membership.team.slug:
                # Only on a change: assigning marks the session modified, and saving it
                # on every page view was a database write per request.
                request.session["last_team"] = membership.team.slug
            return view(team_request, membership.team, *args, **kwargs)

        return wrapper

    return decorator


def teams_for(user: User | AnonymousUser) -> list[Team]:
    if not user.is_authenticated:
        return []
    return list(Team.objects.filter(memberships__user=user).order_by("name"))
