"""The report pages `/t/<team>/reports/…`: history, one report, downloads, delete, the group
generator, and the report panels other pages embed (customer, segments, portfolio).

Thin function views: ``team_view`` checks membership (404) and role (403), a form checks the
input, one service or query does the work. Every HTMX partial repeats its page's checks.
A panel shows the latest saved report of one scope; while that report is being written it
polls itself every 2 s and stops when the report is DONE or FAILED.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.access import TeamRequest, team_view
from accounts.models import Role, Team
from analytics.links import customer_url_builder
from analytics.models import AnalysisRun, current_run
from audit.services import audit_record

from .facts import ReportError, fact_sheet
from .forms import GroupChoiceForm, ReportFilterForm, ReportRequestForm
from .models import Report, ReportKind, ReportStatus
from .services import (
    download_name,
    report_as_markdown,
    report_as_text,
    report_for_team,
    report_render_html,
    report_request,
    reports_for_team,
)

REPORTS_PER_PAGE = 25
PANEL = "reports/_panel.html"


# --- Helpers ----------------------------------------------------------------------------


def _get_report(team: Team, report_id: int) -> Report:
    report = report_for_team(team=team, report_id=report_id)
    if report is None:
        raise Http404("No such report.")
    return report


def latest_report(*, team: Team, kind: str, scope: dict) -> Report | None:
    """The newest report of one kind and scope (read through the (team, kind) index)."""
    reports = Report.objects.filter(team=team, kind=kind)
    for name, value in scope.items():
        reports = reports.filter(**{f"scope__{name}": value})
    return reports.select_related("created_by").order_by("-created_at", "-id").first()


def panel_id(kind: str, scope: dict) -> str:
    if kind == ReportKind.SEGMENT:
        return f"report-segment-{scope.get('segment')}"
    if kind == ReportKind.GROUP:
        return f"report-group-{scope.get('segment')}-{scope.get('level')}"
    return f"report-{kind}"


def _can_generate(request: TeamRequest) -> bool:
    return request.membership.has_role(Role.ANALYST)


def _panel_context(
    request: TeamRequest,
    *,
    kind: str,
    scope: dict,
    report: Report | None,
    run: AnalysisRun | None = None,
    error: str = "",
) -> dict:
    report_html = ""
    if report is not None and report.status == ReportStatus.DONE:
        report_html = report_render_html(report=report)
    return {
        "report": report,
        "kind": kind,
        "scope": scope,
        "panel_id": panel_id(kind, scope),
        "report_html": report_html,
        "can_generate": _can_generate(request),
        "current_run": run,
        "error": error,
    }


def flatten_facts(facts, prefix: str = "") -> list[tuple[str, object]]:
    """A fact sheet as (path, value) rows: ``statistics.onset.earliest_onset_month``,
    ``top_at_risk[0].customer``."""
    if isinstance(facts, dict):
        rows = []
        for key, value in sorted(facts.items()):
            rows += flatten_facts(value, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(facts, list):
        if not facts:
            return [(prefix, "none")]
        rows = []
        for index, value in enumerate(facts):
            rows += flatten_facts(value, f"{prefix}[{index}]")
        return rows
    return [(prefix, "–" if facts is None else facts)]


def _back(request: TeamRequest, team: Team) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("report_list", args=[team.slug])


# --- History ----------------------------------------------------------------------------


@team_view()
@require_safe
def report_list(request: TeamRequest, team: Team) -> HttpResponse:
    form = ReportFilterForm(request.GET or None, team=team)
    if form.is_bound:
        form.is_valid()
    filters = form.filters()
    page = Paginator(reports_for_team(team=team, **filters), REPORTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "reports/report_list.html",
        {
            "form": form,
            "page": page,
            "reports": list(page.object_list),
            "filtered": any(value for value in filters.values()),
            "can_generate": _can_generate(request),
        },
    )


# --- One report -------------------------------------------------------------------------


def _detail_context(request: TeamRequest, report: Report) -> dict:
    done = report.status == ReportStatus.DONE
    return {
        "report": report,
        "report_html": report_render_html(report=report) if done else "",
        "facts_rows": flatten_facts(report.facts) if report.facts else [],
        "can_generate": _can_generate(request),
        "can_delete": request.membership.has_role(Role.ADMIN),
        "tokens": (report.prompt_tokens or 0) + (report.completion_tokens or 0)
        if report.prompt_tokens is not None or report.completion_tokens is not None
        else None,
    }


@team_view()
@require_safe
def report_detail(request: TeamRequest, team: Team, report_id: int) -> HttpResponse:
    report = _get_report(team, report_id)
    return render(request, "reports/report_detail.html", _detail_context(request, report))


@team_view()
@require_safe
def report_body_partial(request: TeamRequest, team: Team, report_id: int) -> HttpResponse:
    """The detail page's body (HTMX, polled while the report is written)."""
    report = _get_report(team, report_id)
    return render(
        request, "reports/report_detail.html#report-body", _detail_context(request, report)
    )


def _download(report: Report, text: str, extension: str, content_type: str) -> HttpResponse:
    if report.status != ReportStatus.DONE:
        raise Http404("This report has no text to download.")
    response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{download_name(report)}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@team_view()
@require_safe
def report_download_md(request: TeamRequest, team: Team, report_id: int) -> HttpResponse:
    report = _get_report(team, report_id)
    return _download(report, report_as_markdown(report=report), "md", "text/markdown")


@team_view()
@require_safe
def report_download_txt(request: TeamRequest, team: Team, report_id: int) -> HttpResponse:
    report = _get_report(team, report_id)
    return _download(report, report_as_text(report=report), "txt", "text/plain")


@team_view(Role.ADMIN)
@require_http_methods(["GET", "HEAD", "POST"])
def report_delete(request: TeamRequest, team: Team, report_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes."""
    report = _get_report(team, report_id)
    if request.method == "GET":
        return render(request, "reports/report_confirm_delete.html", {"report": report})
    title = report.title or f"report #{report.pk}"
    audit_record(action="report deleted", team=team, target=report, detail=title)
    report.delete()
    messages.success(request, f"Deleted report #{report_id}: {title}.")
    return redirect("report_list", team_slug=team.slug)


# --- Generating -------------------------------------------------------------------------


@team_view(Role.ANALYST)
@require_POST
def report_start(request: TeamRequest, team: Team) -> HttpResponse:
    """Queue a report (also a retry: the same kind and scope again). HTMX gets the panel of
    the new report, which polls until it is written; a plain POST goes to its page."""
    form = ReportRequestForm(request.POST)
    report, error, kind, scope = None, "", request.POST.get("kind", ""), {}
    if form.is_valid():
        kind, scope = form.cleaned_data["kind"], form.scope()
        try:
            report = report_request(team=team, kind=kind, scope=scope, user=request.user)
        except ReportError as exc:
            error = exc.message
    else:
        error = f"The request is not valid: {form.error_text()}"
    if not request.htmx:
        if report is None:
            messages.error(request, error)
            return redirect(_back(request, team))
        return redirect("report_detail", team_slug=team.slug, report_id=report.pk)
    if kind not in ReportKind.values:
        return HttpResponse(f'<p class="error" role="alert">{escape(error)}</p>')
    if report is None:  # the previous report of the scope stays shown
        report = latest_report(team=team, kind=kind, scope=scope)
    context = _panel_context(request, kind=kind, scope=scope, report=report, error=error)
    return render(request, PANEL, context)


@team_view()
@require_safe
def report_panel_partial(request: TeamRequest, team: Team, report_id: int) -> HttpResponse:
    """One report's panel (HTMX, polled while it is written)."""
    report = _get_report(team, report_id)
    context = _panel_context(request, kind=report.kind, scope=report.scope, report=report)
    return render(request, PANEL, context)


@team_view()
@require_safe
def customer_panel_partial(request: TeamRequest, team: Team) -> HttpResponse:
    """The customer page's summary panel: the latest saved summary, generate / regenerate."""
    customer = request.GET.get("customer", "")[:200]
    if not customer:
        raise Http404("Which customer?")
    scope = {"customer": customer}
    report = latest_report(team=team, kind=ReportKind.CUSTOMER, scope=scope)
    return render(
        request,
        PANEL,
        _panel_context(request, kind=ReportKind.CUSTOMER, scope=scope, report=report),
    )


@team_view()
@require_safe
def portfolio_panel_partial(request: TeamRequest, team: Team) -> HttpResponse:
    """The dashboard's portfolio brief."""
    report = latest_report(team=team, kind=ReportKind.PORTFOLIO, scope={})
    context = _panel_context(
        request, kind=ReportKind.PORTFOLIO, scope={}, report=report, run=current_run(team)
    )
    return render(request, PANEL, context)


@team_view()
@require_safe
def segment_panels_partial(request: TeamRequest, team: Team) -> HttpResponse:
    """The segments page's summaries: one panel per segment of the current run (one query
    per segment, through the (team, kind) index; a run has a handful of segments)."""
    run = current_run(team)
    rows = []
    if run is not None:
        for number, name in run.segments.order_by("number").values_list("number", "name"):
            scope = {"segment": number}
            report = latest_report(team=team, kind=ReportKind.SEGMENT, scope=scope)
            context = _panel_context(
                request, kind=ReportKind.SEGMENT, scope=scope, report=report, run=run
            )
            rows.append({"number": number, "name": name, "panel": context})
    return render(request, "reports/_segment_panels.html", {"run": run, "rows": rows})


# --- The group report generator ---------------------------------------------------------


def _group_context(request: TeamRequest, team: Team) -> dict:
    run = current_run(team)
    segments = (
        list(run.segments.order_by("number").values_list("number", "name", "size")) if run else []
    )
    form = GroupChoiceForm(
        request.GET if {"segment", "level"} & set(request.GET) else None, segments=segments
    )
    context: dict[str, Any] = {
        "run": run,
        "form": form,
        "segments": segments,
        "facts": None,
        "error": "",
    }
    if run is None or not form.is_bound or not form.is_valid():
        return context
    scope = {"segment": form.cleaned_data["segment"], "level": form.cleaned_data["level"]}
    try:
        facts = fact_sheet(run=run, kind=ReportKind.GROUP, scope=scope)
    except ReportError as exc:
        context["error"] = exc.message
        return context
    report = latest_report(team=team, kind=ReportKind.GROUP, scope=scope)
    customer_url = customer_url_builder(team_slug=team.slug)
    context.update(
        facts=facts,
        top_at_risk=[
            {**row, "url": customer_url(str(row["customer"]))} for row in facts["top_at_risk"]
        ],
        panel=_panel_context(request, kind=ReportKind.GROUP, scope=scope, report=report, run=run),
    )
    return context


@team_view()
@require_safe
def group_generator(request: TeamRequest, team: Team) -> HttpResponse:
    return render(request, "reports/group.html", _group_context(request, team))


@team_view()
@require_safe
def group_statistics_partial(request: TeamRequest, team: Team) -> HttpResponse:
    """The chosen group's statistics and its report panel (HTMX, on every change)."""
    return render(request, "reports/group.html#group-statistics", _group_context(request, team))
