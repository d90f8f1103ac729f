"""`/t/<team>/audit/`: the team's audit trail, for its admins, filtered and paged (here, at
the top of the flow, because a team page knows accounts, which the trail itself must not)."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.access import TeamRequest, team_view
from accounts.models import Role, Team
from audit.models import AuditEvent, Outcome
from audit.services import audit_events_for_team

EVENTS_PER_PAGE = 50


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False)
    username = forms.CharField(required=False, max_length=150, label="User")
    outcome = forms.ChoiceField(required=False, choices=[("", "Any outcome"), *Outcome.choices])

    def __init__(self, *args, team: Team, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        actions = (
            AuditEvent.objects.filter(team_id=team.pk)
            .order_by("action")
            .values_list("action", flat=True)
            .distinct()
        )
        action = self.fields["action"]
        assert isinstance(action, forms.ChoiceField)
        action.choices = [("", "Any action"), *((a, a) for a in actions)]


@team_view(Role.ADMIN)
@require_safe
def audit_list(request: TeamRequest, team: Team) -> HttpResponse:
    form = AuditFilterForm(request.GET or None, team=team)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    events = audit_events_for_team(
        team=team,
        action=filters.get("action", ""),
        username=filters.get("username", "").strip(),
        outcome=filters.get("outcome", ""),
    )
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "audit/audit.html", {"form": form, "page": page})
