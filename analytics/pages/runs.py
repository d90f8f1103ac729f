"""Analysis runs `/t/<team>/runs/`: history, starting a run with parameters, live status."""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.access import TeamRequest, team_view
from accounts.models import Role, Team
from analytics.core import Params
from analytics.models import ACTIVE, AnalysisRun, RunStatus, current_run
from analytics.services import (
    MAX_SEGMENTS,
    AnalysisError,
    RunInProgress,
    analysis_run_start,
    parse_month,
    run_for_team,
    runs_for_team,
)
from analytics.services.runs import run_staleness, timing_summary

TEMPLATE = "analytics/runs.html"
RUNS_PER_PAGE = 20
DEFAULTS = Params()


class RunStartForm(forms.Form):
    """The parameters a user may choose; a blank field keeps the default, so the one-button
    form of the dashboard and the upload page (no fields at all) starts a default run."""

    window_end = forms.CharField(
        required=False,
        label="Window end",
        help_text="Last month analysed. Blank: the last complete month of the data.",
        # A text field, not type="month": Chromium draws an empty month field as
        # "--------- ----", and blank is the usual answer here.
        widget=forms.TextInput(
            attrs={"placeholder": "YYYY-MM", "pattern": r"\d{4}-\d{2}", "inputmode": "numeric"}
        ),
    )
    alpha = forms.FloatField(
        required=False,
        label="Significance (alpha)",
        help_text=f"Between 0 and 1, exclusive. Default {DEFAULTS.alpha}.",
        widget=forms.NumberInput(attrs={"step": "any", "placeholder": str(DEFAULTS.alpha)}),
    )
    segments = forms.IntegerField(
        required=False,
        label="Segments (k)",
        help_text=f"2 to {MAX_SEGMENTS}. Blank: chosen automatically.",
        widget=forms.NumberInput(attrs={"placeholder": "auto"}),
    )
    anomaly_z = forms.FloatField(
        required=False,
        label="Anomaly threshold (|z|)",
        help_text=f"Positive. Default {DEFAULTS.anomaly_z}.",
        widget=forms.NumberInput(attrs={"step": "any", "placeholder": str(DEFAULTS.anomaly_z)}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs["aria-describedby"] = f"id_{name}-help"

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["aria-invalid"] = "true"
                widget.attrs["aria-describedby"] = f"id_{name}-error id_{name}-help"

    def clean_window_end(self) -> date | None:
        text = self.cleaned_data["window_end"].strip()
        if not text:
            return None
        try:
            return parse_month(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_alpha(self) -> float:
        alpha = self.cleaned_data["alpha"]
        if alpha is None:
            return DEFAULTS.alpha
        if not 0 < alpha < 1:
            raise forms.ValidationError("Alpha must be between 0 and 1 (exclusive).")
        return alpha

    def clean_segments(self) -> int | None:
        segments = self.cleaned_data["segments"]
        if segments is not None and not 2 <= segments <= MAX_SEGMENTS:
            raise forms.ValidationError(f"Segments must be between 2 and {MAX_SEGMENTS}.")
        return segments

    def clean_anomaly_z(self) -> float:
        anomaly_z = self.cleaned_data["anomaly_z"]
        if anomaly_z is None:
            return DEFAULTS.anomaly_z
        if not anomaly_z > 0:
            raise forms.ValidationError("The anomaly threshold must be a positive number.")
        return anomaly_z

    def params(self) -> Params:
        data = self.cleaned_data
        return Params(alpha=data["alpha"], segments=data["segments"], anomaly_z=data["anomaly_z"])


@team_view()
@require_safe
def run_list(request: TeamRequest, team: Team) -> HttpResponse:
    return _render_runs(request, team, RunStartForm())


@team_view(Role.ANALYST)
@require_POST
def run_start(request: TeamRequest, team: Team) -> HttpResponse:
    form = RunStartForm(request.POST)
    if not form.is_valid():
        return _render_runs(request, team, form, status=400)
    try:
        run = analysis_run_start(
            team=team,
            params=form.params(),
            user=request.user,
            window_end=form.cleaned_data["window_end"],
        )
    except RunInProgress as exc:
        messages.info(request, exc.message)
        return redirect("run_detail", team_slug=team.slug, run_id=exc.run.pk)
    except AnalysisError as exc:
        form.add_error(None, exc.message)
        return _render_runs(request, team, form, status=400)
    return redirect("run_detail", team_slug=team.slug, run_id=run.pk)


def _render_runs(
    request: TeamRequest, team: Team, form: RunStartForm, status: int = 200
) -> HttpResponse:
    page = Paginator(runs_for_team(team=team), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    runs = list(page.object_list)
    latest = runs[0] if runs and page.number == 1 else _latest_run(team)
    current = current_run(team)
    context = {
        "page": page,
        "rows": [_row(run, current) for run in runs],
        "form": form,
        "can_start": request.membership.has_role(Role.ANALYST),
        "current_run": current,
        "active_run": latest if latest is not None and latest.status in ACTIVE else None,
        "failed_run": latest if latest is not None and latest.status == RunStatus.FAILED else None,
    }
    return render(request, TEMPLATE, context, status=status)


def _latest_run(team: Team) -> AnalysisRun | None:
    return AnalysisRun.objects.filter(team=team).analyses().latest_first().first()


def _row(run: AnalysisRun, current: AnalysisRun | None) -> dict:
    params = run.params or {}
    return {
        "run": run,
        "is_current": current is not None and run.pk == current.pk,
        "alpha": params.get("alpha"),
        "segments": params.get("segments"),
        "anomaly_z": params.get("anomaly_z"),
        "duration": _duration(run),
    }


def _duration(run: AnalysisRun) -> float | None:
    """Wall-clock seconds: the run's own total, else from its start to its end."""
    total = (run.timings or {}).get("total")
    if total is not None:
        return float(total)
    if run.started_at and run.finished_at:
        return (run.finished_at - run.started_at).total_seconds()
    return None


def _get_run(team: Team, run_id: int) -> AnalysisRun:
    run = run_for_team(team=team, run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    return run


@team_view()
@require_safe
def run_detail(request: TeamRequest, team: Team, run_id: int) -> HttpResponse:
    run = _get_run(team, run_id)
    staleness = run_staleness(run=run) if run.status == RunStatus.SUCCEEDED else None
    return render(
        request,
        "analytics/run_detail.html",
        {
            "run": run,
            "current_run": current_run(team),
            "staleness": staleness,
            "timings": timing_summary(run.timings) if run.timings else "",
        },
    )


@team_view()
@require_safe
def run_status_partial(request: TeamRequest, team: Team, run_id: int) -> HttpResponse:
    run = _get_run(team, run_id)
    return render(
        request,
        "analytics/run_detail.html#run-status",
        {"run": run, "current_run": current_run(team)},
    )
