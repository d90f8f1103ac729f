"""Reports: request (queue), claim, generate (the task's body), render, list.

``report_generate`` does facts → prompt → provider → grounding, saving the facts and the
prompt before the model is asked, so a failed report still shows what the model was told.
A failure marks only that report FAILED with its reason; every other report stays.
"""

from __future__ import annotations

import html
import logging
import re
import time
from datetime import datetime
from typing import TYPE_CHECKING

import nh3
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from accounts.models import Team
from analytics.models import AnalysisRun, RunStatus, current_run
from audit.services import audit_record
from revtrend_site.markdown import render_markdown
from revtrend_site.queueing import QueueUnavailable, enqueue_on_commit

from .facts import ReportError, fact_sheet, quoted
from .grounding import check_grounding
from .llm import LLMError, OpenAIProvider, Provider
from .models import SCOPE_KEYS, Report, ReportKind, ReportStatus
from .narrator import OfflineNarrator
from .prompts import build_prompt

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

logger = logging.getLogger(__name__)


# Queued by name (reports/tasks.py imports this module, not the reverse).
GENERATE_TASK = "reports.tasks.report_generate_task"

# A report's HTML: Markdown's output (revtrend_site.markdown) and the grounding marks.
MARK_ATTRIBUTES = {"mark": {"class", "title"}}
# The columns the history lists; the big text fields stay in the database.
LIST_FIELDS = (
    "id", "team_id", "run_id", "kind", "scope", "title", "status", "provider", "model",
    "created_by_id", "created_at", "finished_at", "error",
)  # fmt: skip


def provider_for_settings() -> Provider:
    """OpenAI (or a compatible server) when OPENAI_API_KEY is set, else the narrator."""
    if not settings.OPENAI_API_KEY:
        return OfflineNarrator()
    return OpenAIProvider(
        api_key=settings.OPENAI_API_KEY,
        model=settings.OPENAI_MODEL,
        base_url=settings.OPENAI_BASE_URL,
        timeout=settings.OPENAI_TIMEOUT,
        attempts=settings.LLM_RETRY_ATTEMPTS,
        backoff=settings.LLM_RETRY_BACKOFF,
        retry_after_cap=settings.LLM_RETRY_AFTER_CAP,
    )


def report_create(
    *,
    team: Team,
    kind: str,
    scope: dict,
    user: User | AnonymousUser | None = None,
    run: AnalysisRun | None = None,
) -> Report:
    """A PENDING report for a valid scope of the run (default: the team's current run)."""
    if kind not in ReportKind.values:
        raise ReportError(f"Unknown report kind {kind!r}; use one of {', '.join(ReportKind)}.")
    run = _run(team, run)
    clean_scope = _scope(kind, scope)
    fact_sheet(run=run, kind=kind, scope=clean_scope)  # refuses a scope the run does not have
    return Report.objects.create(
        team=team,
        run=run,
        kind=kind,
        scope=clean_scope,
        title=report_title(kind=kind, scope=clean_scope),
        created_by=user if user is not None and user.is_authenticated else None,
    )


def report_request(
    *,
    team: Team,
    kind: str,
    scope: dict,
    user: User | AnonymousUser | None = None,
    run: AnalysisRun | None = None,
) -> Report:
    """Create a PENDING report and queue its generation once the transaction commits."""
    try:
        with transaction.atomic():
            report = report_create(team=team, kind=kind, scope=scope, user=user, run=run)
            enqueue_on_commit(
                GENERATE_TASK,
                report.pk,
                on_failure=lambda reason: _fail_unsent(report, reason),
            )
    except QueueUnavailable as exc:
        raise ReportError(exc.message) from exc
    audit_record(
        action="report requested", team=team, target=report, user=user, detail=report.title
    )
    report.refresh_from_db()  # written already if tasks are eager
    return report


def _fail_unsent(report: Report, reason: str) -> None:
    Report.objects.filter(pk=report.pk, status=ReportStatus.PENDING).update(
        status=ReportStatus.FAILED, error=reason, finished_at=timezone.now()
    )


def _run(team: Team, run: AnalysisRun | None) -> AnalysisRun:
    if run is None:
        run = current_run(team)
        if run is None:
            raise ReportError("The team has no finished analysis yet: run an analysis first.")
    if run.team_id != team.pk:
        raise ReportError(f"Run #{run.pk} is not one of this team's runs.")
    if run.status != RunStatus.SUCCEEDED:
        raise ReportError(f"Run #{run.pk} did not succeed; reports need a finished analysis.")
    return run


def _scope(kind: str, scope: dict) -> dict:
    scope = scope or {}
    needed = SCOPE_KEYS[ReportKind(kind)]
    missing = [name for name in needed if scope.get(name) in (None, "")]
    if missing:
        raise ReportError(f"A {kind} report needs: {', '.join(missing)}.")
    clean: dict[str, str | int] = {}
    for name in needed:
        value = scope[name]
        if name == "customer":
            clean[name] = str(value)
        else:
            try:
                clean[name] = int(value)
            except (TypeError, ValueError):
                raise ReportError(f"The {name} must be a whole number, not {value!r}.") from None
    return clean


def report_title(*, kind: str, scope: dict) -> str:
    if kind == ReportKind.CUSTOMER:
        return f"Customer {quoted(scope['customer'], 100)}"
    if kind == ReportKind.SEGMENT:
        return f"Segment {scope['segment']}"
    if kind == ReportKind.GROUP:
        return f"Segment {scope['segment']} at level {scope['level']}"
    return "Portfolio brief"


def report_claim(*, report_id: int) -> Report | None:
    """PENDING → RUNNING, once: a task delivered twice finds nothing to claim."""
    now = timezone.now()
    claimed = Report.objects.filter(pk=report_id, status=ReportStatus.PENDING).update(
        status=ReportStatus.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1
    )
    return Report.objects.select_related("run", "team").get(pk=report_id) if claimed else None


def report_generate(*, report: Report) -> Report:
    """Write a claimed (RUNNING) report: DONE with its content, or FAILED with the reason."""
    started = time.perf_counter()
    try:
        if report.run is None:
            raise ReportError("The analysis run of this report was deleted.")
        facts = fact_sheet(run=report.run, kind=report.kind, scope=report.scope)
        system, prompt = build_prompt(facts)
        _update(report, facts=facts, system_prompt=system, prompt=prompt)
        provider = provider_for_settings()
        _update(report, provider=provider.name, model=provider.model)
        completion = provider.generate(system=system, prompt=prompt)
        _update(
            report,
            status=ReportStatus.DONE,
            content=completion.text,
            provider=completion.provider,
            model=completion.model[:200],
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            grounding=check_grounding(completion.text, facts).as_dict(),
            duration_seconds=round(time.perf_counter() - started, 3),
            error="",
            finished_at=timezone.now(),
        )
    except LLMError as exc:
        _fail(report, f"The model could not write the report: {exc.message}.", started)
    except ReportError as exc:
        _fail(report, exc.message, started)
    except Exception as exc:  # a bug must not leave the report RUNNING forever
        logger.exception("Report %s failed unexpectedly", report.pk)
        _fail(report, f"Internal error ({type(exc).__name__}): {exc}", started)
    report.refresh_from_db()
    return report


def _update(report: Report, **fields) -> None:
    Report.objects.filter(pk=report.pk, status=ReportStatus.RUNNING).update(**fields)


def _fail(report: Report, message: str, started: float) -> None:
    _update(
        report,
        status=ReportStatus.FAILED,
        error=message[:4000],
        duration_seconds=round(time.perf_counter() - started, 3),
        finished_at=timezone.now(),
    )


def report_generate_now(*, report: Report) -> Report:
    """Generate right here, without a queue (the command line)."""
    claimed = report_claim(report_id=report.pk)
    if claimed is None:
        raise ReportError(f"Report #{report.pk} is not waiting to be generated.")
    return report_generate(report=claimed)


# --- Reading ----------------------------------------------------------------------------


def reports_for_team(
    *,
    team: Team,
    kind: str | None = None,
    author_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str = "",
) -> QuerySet[Report]:
    """The history, newest first: each filter keeps the order of one of the model's
    indexes (team [, kind | author], -created_at, -id), so a page reads only its rows."""
    reports = Report.objects.filter(team=team)
    if kind:
        reports = reports.filter(kind=kind)
    if author_id:
        reports = reports.filter(created_by_id=author_id)
    if since:
        reports = reports.filter(created_at__gte=since)
    if until:
        reports = reports.filter(created_at__lt=until)
    if search:
        reports = reports.filter(Q(title__icontains=search) | Q(content__icontains=search))
    return (
        reports.select_related("created_by")
        .only(*LIST_FIELDS, "created_by__username")
        .order_by("-created_at", "-id")
    )


def report_for_team(*, team: Team, report_id: int) -> Report | None:
    return Report.objects.filter(team=team, pk=report_id).select_related("created_by").first()


def report_render_html(*, report: Report, highlight: bool = True) -> str:
    """The content as sanitised HTML (safe to mark safe, see revtrend_site.markdown).
    Numbers the grounding check did not find are wrapped in <mark class="ungrounded">."""
    text = report.content
    if highlight:
        text = _mark_unmatched(text, report.unmatched_numbers)
    return render_markdown(text, extra_tags=frozenset({"mark"}), extra_attributes=MARK_ATTRIBUTES)


def _mark_unmatched(text: str, unmatched: list[dict]) -> str:
    for item in sorted(unmatched, key=lambda u: u["start"], reverse=True):
        start, end = item["start"], item["end"]
        if text[start:end] != item["text"]:
            continue  # the content changed since the check
        text = (
            f'{text[:start]}<mark class="ungrounded" title="not in the fact sheet">'
            f"{text[start:end]}</mark>{text[end:]}"
        )
    return text


# A Markdown link or image whose target is not http(s) or mailto (javascript:, data: …):
# a Markdown viewer would make it live, so the download keeps only its text.
_UNSAFE_LINK = re.compile(
    r"!?\[([^\]]*)\]\(\s*(?!https?:|mailto:)(?:[^()]|\([^()]*\))*\)", re.IGNORECASE
)


# Images load from wherever they point when the file is opened (a tracking pixel): the
# download keeps their alt text only.
_IMAGE = re.compile(r"!\[([^\]]*)\]\((?:[^()]|\([^()]*\))*\)")
# Code is shown literally by every Markdown viewer: what is inside backticks is kept as it
# is (a customer id like <C-7> would otherwise be taken for a tag and removed).
_CODE = re.compile(r"(```.*?```|`[^`\n]+`)", re.DOTALL)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()!#|>])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _outside_code(text: str, clean) -> str:
    parts = _CODE.split(text)
    return "".join(part if index % 2 else clean(part) for index, part in enumerate(parts))


def _markdown_safe(text: str) -> str:
    """Content outside code: no HTML, no image, no link but http(s) and mailto."""
    return _UNSAFE_LINK.sub(r"\1", _IMAGE.sub(r"\1", strip_html(text)))


def markdown_inline(text: str) -> str:
    """A title or a model name as literal Markdown text on one line: no tag, link or
    heading can start in it."""
    text = _CONTROL.sub(" ", text).strip()
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("<", "&lt;")


def plain_line(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


def report_as_markdown(*, report: Report) -> str:
    """download.md: the content with any raw HTML, image and unsafe link target removed
    (code kept as written), under a short header whose title and model are literal text."""
    content = _outside_code(report.content, _markdown_safe)
    title = markdown_inline(report.title)
    return f"# {title}\n\n{_header(report, markdown_inline)}\n\n{content}\n"


def report_as_text(*, report: Report) -> str:
    """download.txt: plain text — headings underlined, Markdown emphasis and HTML removed,
    then the numbers the grounding check did not find."""
    body = _outside_code(report.content, strip_html)
    body = re.sub(r"^#{1,6}\s*(.+)$", lambda m: f"{m[1]}\n{'-' * len(m[1])}", body, flags=re.M)
    body = re.sub(r"(\*\*|__|`)(.+?)\1", r"\2", body)
    body = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", body)
    title = plain_line(report.title)
    lines = [title, "=" * len(title), "", _header(report, plain_line), "", body.strip(), ""]
    unmatched = report.unmatched_numbers
    if unmatched:
        found = ", ".join(strip_html(u["text"]) for u in unmatched)
        lines += ["Figures not found in the fact sheet: " + found, ""]
    return "\n".join(lines)


def strip_html(text: str) -> str:
    """Text without HTML: tags removed (script and style with their content), entities
    decoded, and any "<" that could start a tag again written as "&lt;"."""
    cleaned = html.unescape(nh3.clean(text, tags=set(), clean_content_tags={"script", "style"}))
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", cleaned)


def download_name(report: Report) -> str:
    """A file name that says what is in it: revtrend-acme-customer-C-17-2026-12-02-report-9.
    Only letters, digits, dots and hyphens (the id of a customer may hold anything)."""
    scope = "-".join(str(value) for value in report.scope.values())
    when = timezone.localtime(report.created_at).strftime("%Y-%m-%d")
    parts = ["revtrend", report.team.slug, report.kind, scope, when, f"report-{report.pk}"]
    name = "-".join(part for part in parts if part)
    return re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-.")[:150]


def _header(report: Report, literal) -> str:
    if (report.provider, report.model) == (OfflineNarrator.name, OfflineNarrator.model):
        written = "the offline narrator (no LLM)"
    else:
        written = literal(report.provider or "unknown provider")
        if report.model:
            written += f" · {literal(report.model)}"
    run = f"run #{report.run_id}" if report.run_id else "a deleted run"
    created = timezone.localtime(report.created_at).strftime("%Y-%m-%d %H:%M")
    return f"{ReportKind(report.kind).label} report from {run}, written by {written}, {created}."
