"""Backtests `/t/<team>/backtests/`: history, start one, how each level's customers fared."""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.access import TeamRequest, team_view
from accounts.models import Role, Team

from .models import Backtest
from .presenters import backtest_view
from .services import (
    DEFAULT_HORIZON,
    MAX_HORIZON,
    BacktestError,
    backtest_for_team,
    backtest_start,
    backtests_for_team,
    cutoff_from_text,
)

HISTORY = 30


class BacktestStartForm(forms.Form):
    cutoffs = forms.CharField(
        required=False,
        max_length=200,
        label="Cutoff months",
        help_text="YYYY-MM, separated by spaces or commas. Blank: the latest month that leaves "
        "a full horizon after it, and 6 months before.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. 2025-01 2025-07"}),
    )
    horizon = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_HORIZON,
        label="Horizon (months)",
        help_text=f"Months after each cutoff to compare with. Default {DEFAULT_HORIZON}.",
        widget=forms.NumberInput(attrs={"placeholder": str(DEFAULT_HORIZON)}),
    )

    def clean_cutoffs(self):
        parts = [part for part in re.split(r"[\s,;]+", self.cleaned_data["cutoffs"]) if part]
        try:
            return [cutoff_from_text(part) for part in parts]
        except BacktestError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_horizon(self) -> int:
        return self.cleaned_data["horizon"] or DEFAULT_HORIZON


@team_view()
@require_safe
def backtest_list(request: TeamRequest, team: Team) -> HttpResponse:
    return _render_list(request, team, BacktestStartForm())


@team_view(Role.ANALYST)
@require_POST
def backtest_create(request: TeamRequest, team: Team) -> HttpResponse:
    form = BacktestStartForm(request.POST)
    if not form.is_valid():
        return _render_list(request, team, form, status=400)
    try:
        backtest = backtest_start(
            team=team,
            cutoffs=form.cleaned_data["cutoffs"],
            horizon=form.cleaned_data["horizon"],
            user=request.user,
        )
    except BacktestError as exc:
        form.add_error(None, exc.message)
        return _render_list(request, team, form, status=400)
    messages.info(request, f"Backtest #{backtest.pk} started.")
    return redirect("backtest_detail", team_slug=team.slug, backtest_id=backtest.pk)


def _render_list(
    request: TeamRequest, team: Team, form: BacktestStartForm, status: int = 200
) -> HttpResponse:
    backtests = list(backtests_for_team(team=team)[:HISTORY])
    context = {
        "backtests": backtests,
        "form": form,
        "can_start": request.membership.has_role(Role.ANALYST),
    }
    return render(request, "backtests/backtests.html", context, status=status)


def _get(team: Team, backtest_id: int) -> Backtest:
    backtest = backtest_for_team(team=team, backtest_id=backtest_id)
    if backtest is None:
        raise Http404("No such backtest.")
    return backtest


@team_view()
@require_safe
def backtest_detail(request: TeamRequest, team: Team, backtest_id: int) -> HttpResponse:
    backtest = _get(team, backtest_id)
    context = {"backtest": backtest, "view": backtest_view(backtest, team.currency)}
    return render(request, "backtests/backtest_detail.html", context)


@team_view()
@require_safe
def backtest_status(request: TeamRequest, team: Team, backtest_id: int) -> HttpResponse:
    backtest = _get(team, backtest_id)
    response = render(
        request, "backtests/backtest_detail.html#backtest-status", {"backtest": backtest}
    )
    if backtest.is_finished and request.htmx:
        response["HX-Refresh"] = "true"  # the results come with the whole page
    return response
