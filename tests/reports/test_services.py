"""Requesting (queue on commit, a task delivered twice), the history at 10,000 reports,
the command line."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.core.paginator import Paginator
from django.db import connection

from reports.facts import ReportError
from reports.models import Report, ReportKind, ReportStatus
from reports.services import report_request, reports_for_team
from reports.tasks import report_generate_task

from .conftest import Reply

pytestmark = pytest.mark.django_db

SECTIONS = ("## Profile", "## Risk analysis", "## Recommended actions")


def test_a_request_is_queued_on_commit_and_written(
    team_a, analyst_a, portfolio, offline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = report_request(team=team_a, kind="segment", scope={"segment": "1"}, user=analyst_a)
    assert report.status == ReportStatus.PENDING and len(callbacks) == 1
    assert (report.scope, report.title, report.created_by) == (
        {"segment": 1}, "Segment 1", analyst_a,
    )  # fmt: skip
    callbacks[0]()  # the commit: the (eager) task runs
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE
    assert (report.provider, report.model) == ("offline", "offline-narrator")
    assert all(heading in report.content for heading in SECTIONS)
    assert report.grounding == {"checked": report.grounding["checked"], "unmatched": []}


def test_a_task_delivered_twice_writes_the_report_once(team_a, portfolio, offline):
    report = Report.objects.create(team=team_a, run=portfolio[0], kind="portfolio", scope={})
    assert report_generate_task(report.pk) == ReportStatus.DONE
    finished = Report.objects.get(pk=report.pk)
    assert report_generate_task(report.pk).startswith("skipped")
    assert Report.objects.get(pk=report.pk).finished_at == finished.finished_at


@pytest.mark.parametrize(
    ("kind", "scope", "message"),
    [
        ("customer", {}, "needs: customer"),
        ("group", {"segment": 1}, "needs: level"),
        ("weekly", {}, "Unknown report kind"),
        ("customer", {"customer": "nobody"}, "has no result"),
    ],
)
def test_a_bad_request_is_refused_and_saves_nothing(team_a, portfolio, kind, scope, message):
    with pytest.raises(ReportError, match=message):
        report_request(team=team_a, kind=kind, scope=scope, user=None)
    assert not Report.objects.exists()


def test_a_team_without_analysis_cannot_request(team_a):
    with pytest.raises(ReportError, match="no finished analysis"):
        report_request(team=team_a, kind="portfolio", scope={}, user=None)


def test_another_teams_run_is_refused(team_a, team_b, portfolio):
    with pytest.raises(ReportError, match="not one of this team's runs"):
        report_request(team=team_b, kind="portfolio", scope={}, user=None, run=portfolio[0])


# --- History --------------------------------------------------------------------------


@pytest.fixture
def many_reports(team_a, team_b, admin_a):
    kinds = list(ReportKind)
    Report.objects.bulk_create(
        [
            Report(
                team=team_a,
                kind=kinds[i % 4],
                title=f"Report {i}",
                status=ReportStatus.DONE,
                created_by=admin_a if i % 2 else None,
                content="## Profile\n" + "x" * 500,
            )
            for i in range(10_000)
        ],
        batch_size=2000,
    )
    Report.objects.bulk_create([Report(team=team_b, kind="portfolio") for _ in range(100)])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE reports_report")


def test_the_history_pages_through_10000_reports_in_two_queries(
    team_a, many_reports, django_assert_num_queries
):
    with django_assert_num_queries(2):  # the count and the page
        page = Paginator(reports_for_team(team=team_a), 25).page(200)
        rows = list(page.object_list)
    assert len(rows) == 25 and page.paginator.count == 10_000
    assert [r.created_at for r in rows] == sorted((r.created_at for r in rows), reverse=True)
    with django_assert_num_queries(0):
        [(r.created_by and r.created_by.username, r.title) for r in rows]


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({}, "report_team_created"),
        ({"kind": "group"}, "report_team_kind_created"),
    ],
)
def test_the_history_reads_an_index_in_its_order(team_a, many_reports, filters, index):
    plan = reports_for_team(team=team_a, **filters)[:25].explain()
    assert index in plan, plan
    if connection.vendor == "postgresql":
        assert "Sort" not in plan, plan
    else:
        assert "TEMP B-TREE" not in plan, plan


def test_the_history_leaves_the_large_text_fields_in_the_database(team_a):
    sql = str(reports_for_team(team=team_a).query)
    for column in ('"content"', '"prompt"', '"facts"', '"system_prompt"'):
        assert column not in sql


# --- The command ----------------------------------------------------------------------


def run_command(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("generate_report", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ("--kind", "customer", "--customer", "C-003"),
        ("--kind", "segment", "--segment", "1"),
        ("--kind", "group", "--segment", "1", "--level", "3"),
        ("--kind", "portfolio"),
    ],
)
def test_the_command_prints_and_saves_each_kind(team_a, portfolio, offline, args):
    out, err = run_command("--team", team_a.slug, *args)
    report = Report.objects.get(team=team_a)
    assert report.status == ReportStatus.DONE and report.kind == args[1]
    assert out.strip() == report.content.strip()
    assert all(heading in out for heading in SECTIONS)
    assert "Written without an LLM (offline narrator)" in out
    assert f"Saved as report #{report.pk}" in err


def test_the_command_takes_an_older_run(team_a, portfolio, offline):
    _, previous = portfolio
    run_command("--team", team_a.slug, "--kind", "portfolio", "--run", str(previous.pk))
    assert Report.objects.get().run == previous


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--team", "nope", "--kind", "portfolio"), "No team"),
        (("--team", "acme", "--kind", "customer"), "needs: customer"),
        (("--team", "acme", "--kind", "segment", "--segment", "9"), "no segment 9"),
        (("--team", "acme", "--kind", "portfolio", "--run", "999999"), "has no run"),
    ],
)
def test_the_command_exits_non_zero_with_the_reason(team_a, portfolio, offline, args, message):
    with pytest.raises(CommandError, match=message):
        run_command(*args)


@pytest.mark.llm
def test_the_command_fails_when_the_model_does(team_a, portfolio, fake_llm):
    fake_llm.script = [Reply(500, {"error": {"message": "down"}})] * 3
    with pytest.raises(CommandError, match="answered 500 three times"):
        run_command("--team", team_a.slug, "--kind", "portfolio")
    assert Report.objects.get().status == ReportStatus.FAILED
