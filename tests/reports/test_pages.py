"""The report pages: every page and action per role, 404 across teams, HTMX partials,
downloads, sanitising, the history at 10,000 reports, generation offline and through the fake
OpenAI-compatible server."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reports.models import Report, ReportKind, ReportStatus

pytestmark = pytest.mark.django_db

SECTIONS = ("Profile", "Risk analysis", "Recommended actions")
HTMX = {"HTTP_HX_REQUEST": "true"}
XSS_CONTENT = (
    "## Profile\nA customer <script>alert(1)</script> in segment 1.\n\n"
    "## Risk analysis\nRevenue fell 52% <img src=x onerror=alert(1)>.\n\n"
    "## Recommended actions\n1. Call within 7 days. [x](javascript:alert(1))\n"
)


def url(name: str, team, *args) -> str:
    return reverse(name, args=[team.slug, *args])


def make_report(team, run=None, *, kind="segment", scope=None, **fields) -> Report:
    defaults = {
        "status": ReportStatus.DONE,
        "title": "Segment 1",
        "content": "## Profile\nSegment one.\n\n## Risk analysis\nFell 31%.\n\n"
        "## Recommended actions\n1. Call.\n",
        "facts": {"kind": kind, "segment": {"number": 1, "customers": 4}},
        "system_prompt": "You are a revenue analyst.",
        "prompt": "Write the report. BEGIN FACT SHEET …",
        "provider": "offline",
        "model": "offline-narrator",
        "grounding": {"checked": 1, "unmatched": []},
        "duration_seconds": 0.01,
        "finished_at": timezone.now(),
    }
    defaults.update(fields)
    return Report.objects.create(
        team=team, run=run, kind=kind, scope={"segment": 1} if scope is None else scope, **defaults
    )


@pytest.fixture
def report(team_a, portfolio):
    return make_report(team_a, portfolio[0])


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what a request queued on commit (the eager generation task) when it returns,
    as the request's commit would outside the test's transaction."""

    def post(client, address, data, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(address, data, **extra)

    return post


def is_fragment(response) -> bool:
    html = response.content.decode()
    return "<html" not in html and "<!doctype" not in html.lower() and "topbar" not in html


# --- Access -------------------------------------------------------------------------------


def read_urls(team, report) -> list[str]:
    return [
        url("report_list", team),
        url("report_detail", team, report.pk),
        url("report_body", team, report.pk),
        url("report_panel", team, report.pk),
        url("report_download_md", team, report.pk),
        url("report_download_txt", team, report.pk),
        url("report_group", team) + "?segment=1&level=3",
        url("report_group_statistics", team) + "?segment=1&level=3",
        url("report_customer_panel", team) + "?customer=C-003",
        url("report_segment_panels", team),
        url("report_portfolio_panel", team),
    ]


@pytest.mark.parametrize("role", ["viewer_a", "analyst_a", "admin_a"])
def test_every_member_reads_every_page_partial_and_download(
    request, client_for, team_a, report, role
):
    client = client_for(request.getfixturevalue(role))
    for address in read_urls(team_a, report):
        assert client.get(address).status_code == 200, address


def test_a_non_member_gets_404_on_every_page_partial_download_and_action(
    client_for, team_a, team_b, admin_b, report
):
    client = client_for(admin_b)
    for address in read_urls(team_a, report):
        assert client.get(address).status_code == 404, address
    assert client.get(url("report_delete", team_a, report.pk)).status_code == 404
    assert client.post(url("report_delete", team_a, report.pk)).status_code == 404
    generate = client.post(url("report_generate", team_a), {"kind": "portfolio"}, **HTMX)
    assert generate.status_code == 404
    # Team A's report under team B's own address is not found either.
    for name in ("report_detail", "report_body", "report_panel", "report_download_md",
                 "report_download_txt", "report_delete"):  # fmt: skip
        assert client.get(url(name, team_b, report.pk)).status_code == 404, name
    assert client.post(url("report_delete", team_b, report.pk)).status_code == 404
    assert Report.objects.filter(pk=report.pk).exists()


def test_anonymous_users_are_sent_to_log_in(client, team_a, report):
    response = client.get(url("report_detail", team_a, report.pk))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_viewers_may_not_generate_or_delete(client_for, viewer_a, team_a, report, offline):
    client = client_for(viewer_a)
    assert client.post(url("report_generate", team_a), {"kind": "portfolio"}).status_code == 403
    assert (
        client.post(url("report_generate", team_a), {"kind": "portfolio"}, **HTMX).status_code
        == 403
    )
    assert client.get(url("report_delete", team_a, report.pk)).status_code == 403
    assert client.post(url("report_delete", team_a, report.pk)).status_code == 403
    assert list(Report.objects.all()) == [report]
    # Nothing offers them either action.
    for address in (
        url("report_detail", team_a, report.pk),
        url("report_panel", team_a, report.pk),
    ):
        html = client.get(address).content.decode()
        assert "report_generate" not in html and "/generate/" not in html
        assert "/delete/" not in html


def test_analysts_generate_but_may_not_delete(
    client_for, analyst_a, team_a, report, offline, committed
):
    client = client_for(analyst_a)
    assert client.get(url("report_delete", team_a, report.pk)).status_code == 403
    assert client.post(url("report_delete", team_a, report.pk)).status_code == 403
    response = committed(client, url("report_generate", team_a), {"kind": "portfolio"})
    new = Report.objects.exclude(pk=report.pk).get()
    assert response.status_code == 302
    assert response["Location"] == url("report_detail", team_a, new.pk)
    assert new.status == ReportStatus.DONE and new.created_by == analyst_a
    assert "/delete/" not in client.get(url("report_detail", team_a, new.pk)).content.decode()


def test_an_admin_deletes_after_confirming(client_for, admin_a, team_a, report):
    client = client_for(admin_a)
    detail = client.get(url("report_detail", team_a, report.pk)).content.decode()
    assert url("report_delete", team_a, report.pk) in detail
    confirm = client.get(url("report_delete", team_a, report.pk))
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    assert Report.objects.filter(pk=report.pk).exists()  # asking deletes nothing
    response = client.post(url("report_delete", team_a, report.pk), follow=True)
    assert response.redirect_chain[-1][0] == url("report_list", team_a)
    assert f"Deleted report #{report.pk}" in response.content.decode()
    assert not Report.objects.filter(pk=report.pk).exists()


def test_the_nav_links_to_the_reports(client_for, viewer_a, team_a, portfolio):
    html = client_for(viewer_a).get(url("dashboard", team_a)).content.decode()
    assert f'href="{url("report_list", team_a)}"' in html and ">Reports</a>" in html


# --- HTMX partials ---------------------------------------------------------------------


def test_partials_return_only_their_fragment(client_for, viewer_a, team_a, report):
    client = client_for(viewer_a)
    partials = {
        url("report_body", team_a, report.pk): 'id="report-body"',
        url("report_panel", team_a, report.pk): 'id="report-segment-1"',
        url("report_group_statistics", team_a) + "?segment=1&level=3": 'id="group-statistics"',
        url("report_customer_panel", team_a) + "?customer=C-003": 'id="report-customer"',
        url("report_segment_panels", team_a): 'id="segment-summary-list"',
        url("report_portfolio_panel", team_a): 'id="report-portfolio"',
    }
    for address, marker in partials.items():
        response = client.get(address, **HTMX)
        assert response.status_code == 200, address
        assert is_fragment(response), address
        assert marker in response.content.decode(), address


@pytest.mark.parametrize("status", [ReportStatus.PENDING, ReportStatus.RUNNING])
def test_a_report_being_written_polls_and_stops_when_finished(
    client_for, viewer_a, team_a, portfolio, status
):
    report = make_report(team_a, portfolio[0], status=status, content="", finished_at=None)
    client = client_for(viewer_a)
    panel = url("report_panel", team_a, report.pk)
    body = url("report_body", team_a, report.pk)
    for address, target in ((panel, panel), (body, body)):
        html = client.get(address, **HTMX).content.decode()
        assert 'hx-trigger="every 2s"' in html and f'hx-get="{target}"' in html
        assert "being written" in html
    detail = client.get(url("report_detail", team_a, report.pk)).content.decode()
    assert f'hx-get="{body}"' in detail

    Report.objects.filter(pk=report.pk).update(
        status=ReportStatus.DONE, content="## Profile\nDone now.\n"
    )
    for address in (panel, body):
        html = client.get(address, **HTMX).content.decode()
        assert "every 2s" not in html and "Done now." in html


def test_a_failure_shows_its_reason_and_a_retry_that_keeps_everything(
    client_for, analyst_a, team_a, portfolio, offline, committed
):
    done = make_report(team_a, portfolio[0], kind="group", scope={"segment": 1, "level": 3})
    failed = make_report(
        team_a,
        portfolio[0],
        kind="group",
        scope={"segment": 1, "level": 3},
        status=ReportStatus.FAILED,
        content="",
        error="The model could not write the report: it answered 500 three times.",
    )
    client = client_for(analyst_a)
    panel = client.get(url("report_panel", team_a, failed.pk), **HTMX).content.decode()
    assert "answered 500 three times" in panel and 'role="alert"' in panel
    assert 'data-action="retry"' in panel
    assert 'name="kind" value="group"' in panel
    assert 'name="segment" value="1"' in panel and 'name="level" value="3"' in panel
    detail = client.get(url("report_detail", team_a, failed.pk)).content.decode()
    assert "answered 500 three times" in detail and 'data-action="retry"' in detail

    retried = committed(
        client,
        url("report_generate", team_a),
        {"kind": "group", "segment": "1", "level": "3"},
        **HTMX,
    )
    assert retried.status_code == 200 and is_fragment(retried)
    new = Report.objects.order_by("-pk").first()
    assert new.pk not in (done.pk, failed.pk) and new.status == ReportStatus.DONE
    assert new.scope == {"segment": 1, "level": 3} and new.kind == "group"
    # The answer is the new report's panel, polling until it is written.
    running = retried.content.decode()
    assert 'id="report-group-1-3"' in running and 'hx-trigger="every 2s"' in running
    html = client.get(url("report_panel", team_a, new.pk), **HTMX).content.decode()
    assert 'id="report-group-1-3"' in html and all(s in html for s in SECTIONS)
    # Nothing else is lost: the failed and the earlier report are still there.
    assert set(Report.objects.values_list("pk", flat=True)) == {done.pk, failed.pk, new.pk}


def test_a_refused_request_says_why_and_keeps_the_previous_report(
    client_for, analyst_a, team_a, portfolio, offline
):
    earlier = make_report(team_a, portfolio[0], kind="segment", scope={"segment": 1})
    client = client_for(analyst_a)
    response = client.post(
        url("report_generate", team_a), {"kind": "segment", "segment": "9"}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200 and is_fragment(response)
    assert "no segment 9" in html and 'role="alert"' in html
    assert list(Report.objects.all()) == [earlier]

    response = client.post(
        url("report_generate", team_a), {"kind": "segment", "segment": ""}, **HTMX
    )
    assert "needs: segment" in response.content.decode()
    plain = client.post(url("report_generate", team_a), {"kind": "weekly"}, follow=True)
    assert "not valid" in plain.content.decode()
    assert list(Report.objects.all()) == [earlier]


# --- Downloads and sanitising ---------------------------------------------------------


def test_downloads_are_attachments_with_the_report(client_for, viewer_a, team_a, report):
    client = client_for(viewer_a)
    md = client.get(url("report_download_md", team_a, report.pk))
    assert md["Content-Type"] == "text/markdown; charset=utf-8"
    day = timezone.localtime(report.created_at).strftime("%Y-%m-%d")
    name = f"revtrend-acme-segment-1-{day}-report-{report.pk}"
    assert md["Content-Disposition"] == f'attachment; filename="{name}.md"'
    text = md.content.decode()
    assert text.startswith("# Segment 1\n") and "## Risk analysis" in text and "offline" in text
    txt = client.get(url("report_download_txt", team_a, report.pk))
    assert txt["Content-Type"] == "text/plain; charset=utf-8"
    assert txt["Content-Disposition"] == f'attachment; filename="{name}.txt"'
    body = txt.content.decode()
    assert body.startswith("Segment 1\n=========\n")
    assert "Risk analysis\n-------------" in body and "##" not in body


def test_a_report_without_text_has_no_download(client_for, viewer_a, team_a, portfolio):
    pending = make_report(team_a, portfolio[0], status=ReportStatus.PENDING, content="")
    client = client_for(viewer_a)
    assert client.get(url("report_download_md", team_a, pending.pk)).status_code == 404
    assert client.get(url("report_download_txt", team_a, pending.pk)).status_code == 404


def assert_no_active_html(html: str) -> None:
    assert "<script>alert(1)</script>" not in html
    assert "onerror" not in html
    assert "<img" not in html
    assert "javascript:" not in html


def test_html_from_the_model_is_sanitised_on_pages_and_downloads(
    client_for, viewer_a, team_a, portfolio
):
    bad = make_report(
        team_a, portfolio[0], kind="customer", scope={"customer": "C-003"}, content=XSS_CONTENT,
        title="Customer C-003", grounding={"checked": 2, "unmatched": []},
    )  # fmt: skip
    client = client_for(viewer_a)
    pages = {
        "detail": client.get(url("report_detail", team_a, bad.pk)),
        "body": client.get(url("report_body", team_a, bad.pk), **HTMX),
        "customer panel": client.get(
            url("report_customer_panel", team_a) + "?customer=C-003", **HTMX
        ),
        "panel": client.get(url("report_panel", team_a, bad.pk), **HTMX),
    }
    for name, response in pages.items():
        html = response.content.decode()
        assert response.status_code == 200, name
        assert "A customer" in html and "Revenue fell 52%" in html, name
        assert_no_active_html(html)
    for name in ("report_download_md", "report_download_txt"):
        text = client.get(url(name, team_a, bad.pk)).content.decode()
        assert "Revenue fell 52%" in text
        assert "<script" not in text and "alert(1)</script>" not in text
        assert "<img" not in text and "onerror" not in text


def test_unmatched_numbers_are_highlighted_and_listed(client_for, viewer_a, team_a, portfolio):
    content = "## Risk analysis\nRevenue fell 77% last year.\n"
    start = content.index("77%")
    report = make_report(
        team_a, portfolio[0], content=content,
        grounding={"checked": 1, "unmatched": [{"text": "77%", "start": start, "end": start + 3}]},
    )  # fmt: skip
    html = client_for(viewer_a).get(url("report_detail", team_a, report.pk)).content.decode()
    assert '<mark class="ungrounded" title="not in the fact sheet">77%</mark>' in html
    assert 'id="unmatched-numbers"' in html and "1 of 1 figure" in html


# --- The history ----------------------------------------------------------------------


def test_the_history_filters_by_kind_author_date_and_search(
    client_for, viewer_a, analyst_a, team_a, team_b, portfolio
):
    run = portfolio[0]
    old = make_report(team_a, run, kind="portfolio", scope={}, title="Portfolio brief")
    Report.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    mine = make_report(team_a, run, title="Segment 1", created_by=analyst_a)
    other = make_report(team_a, run, kind="customer", scope={"customer": "C-003"},
                        title="Customer C-003", content="## Profile\nA churn risk.\n")  # fmt: skip
    make_report(team_b, None, title="Globex secret")
    client = client_for(viewer_a)

    def shown(**params) -> set[int]:
        response = client.get(url("report_list", team_a), params)
        assert response.status_code == 200
        return {r.pk for r in response.context["reports"]}

    assert shown() == {old.pk, mine.pk, other.pk}
    assert shown(kind="customer") == {other.pk}
    assert shown(author=str(analyst_a.pk)) == {mine.pk}
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert shown(since=since) == {mine.pk, other.pk}
    until = (timezone.localdate() - timedelta(days=30)).isoformat()
    assert shown(until=until) == {old.pk}
    assert shown(q="churn") == {other.pk}
    assert shown(q="portfolio") == {old.pk}
    html = client.get(url("report_list", team_a), {"since": "not a date"}).content.decode()
    assert "Enter a valid date" in html and "Globex" not in html


@pytest.fixture
def many_reports(team_a, admin_a):
    kinds = list(ReportKind)
    Report.objects.bulk_create(
        [
            Report(
                team=team_a,
                kind=kinds[i % 4],
                title=f"Report {i}",
                status=ReportStatus.DONE,
                created_by=admin_a if i % 2 else None,
                provider="offline",
                content="## Profile\n" + "x" * 200,
            )
            for i in range(10_000)
        ],
        batch_size=2000,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE reports_report")


def test_the_history_of_10000_reports_renders_in_a_bounded_number_of_queries(
    client_for, admin_a, team_a, many_reports
):
    client = client_for(admin_a)
    client.get(url("report_list", team_a))  # the session's first write
    for params in ({}, {"page": "200"}, {"kind": "segment", "author": str(admin_a.pk)}):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url("report_list", team_a), params)
        assert response.status_code == 200
        assert len(response.context["reports"]) == 25
        assert len(queries) <= 8, [q["sql"] for q in queries]
    html = response.content.decode()
    assert "Page 1 of" in html
    assert f"author={admin_a.pk}" in html and "kind=segment" in html  # the pager keeps filters
    assert "10,000 reports" in client.get(url("report_list", team_a)).content.decode()


# --- Embedding pages ------------------------------------------------------------------


def test_the_customer_page_loads_its_summary_panel(client_for, analyst_a, team_a, portfolio):
    client = client_for(analyst_a)
    html = client.get(reverse("customer_detail", args=[team_a.slug, "C-003"])).content.decode()
    panel = url("report_customer_panel", team_a) + "?customer=C-003"
    assert 'id="llm-summary"' in html and f'hx-get="{panel}"' in html
    fragment = client.get(panel, **HTMX).content.decode()
    assert "No customer report has been written yet" in fragment
    assert 'data-action="generate"' in fragment and 'name="customer" value="C-003"' in fragment


def test_an_odd_customer_id_reaches_its_panel_intact(client_for, analyst_a, team_a, portfolio):
    customer = "a/b&c=d ?#"
    make_report(team_a, portfolio[0], kind="customer", scope={"customer": customer},
                content="## Profile\nOdd one.\n")  # fmt: skip
    response = client_for(analyst_a).get(
        url("report_customer_panel", team_a) + "?customer=" + quote(customer, safe="")
    )
    assert "Odd one." in response.content.decode()


def test_the_segments_page_offers_a_summary_per_segment(
    client_for, analyst_a, viewer_a, team_a, portfolio
):
    make_report(team_a, portfolio[0], kind="segment", scope={"segment": 0},
                content="## Profile\nSegment zero summary.\n")  # fmt: skip
    html = client_for(analyst_a).get(url("segment_list", team_a)).content.decode()
    assert f'hx-get="{url("report_segment_panels", team_a)}"' in html
    fragment = client_for(analyst_a).get(url("report_segment_panels", team_a), **HTMX)
    text = fragment.content.decode()
    assert "Segment zero summary." in text
    assert text.count('data-action="generate"') == 1 and ">Summarise</button>" in text
    assert 'data-action="regenerate"' in text
    viewer = client_for(viewer_a).get(url("report_segment_panels", team_a)).content.decode()
    assert "Segment zero summary." in viewer and "Summarise</button>" not in viewer


def test_the_dashboard_shows_the_portfolio_brief(
    client_for, analyst_a, team_a, portfolio, offline, committed
):
    client = client_for(analyst_a)
    html = client.get(url("dashboard", team_a)).content.decode()
    assert 'id="portfolio-brief"' in html
    assert f'hx-get="{url("report_portfolio_panel", team_a)}"' in html
    response = committed(client, url("report_generate", team_a), {"kind": "portfolio"}, **HTMX)
    assert 'id="report-portfolio"' in response.content.decode()
    panel = client.get(url("report_portfolio_panel", team_a), **HTMX).content.decode()
    assert all(section in panel for section in SECTIONS) and "offline narrator" in panel


# --- Generation end to end --------------------------------------------------------------


def test_the_group_generator_writes_a_report_offline_end_to_end(
    client_for, analyst_a, team_a, portfolio, offline, committed
):
    client = client_for(analyst_a)
    page = client.get(url("report_group", team_a)).content.decode()
    assert "Choose a segment and a decline level" in page
    assert (
        '<option value="1">1 · Low value · declining sharply · volatile (4 customers)</option>'
        in page
    )

    stats = client.get(url("report_group_statistics", team_a), {"segment": 1, "level": 3}, **HTMX)
    html = stats.content.decode()
    assert is_fragment(stats) and 'id="group-statistics-table"' in html
    assert 'data-fact="customers">2<' in html and 'data-fact="revenue_at_risk">9,000<' in html
    assert "C-003" in html and "No group report has been written yet" in html

    response = committed(
        client,
        url("report_generate", team_a),
        {"kind": "group", "segment": "1", "level": "3"},
        **HTMX,
    )
    report = Report.objects.get()
    assert report.status == ReportStatus.DONE, report.error
    assert (report.provider, report.created_by) == ("offline", analyst_a)
    assert is_fragment(response) and 'id="report-group-1-3"' in response.content.decode()
    fragment = client.get(url("report_panel", team_a, report.pk), **HTMX).content.decode()
    assert 'id="report-group-1-3"' in fragment and "every 2s" not in fragment
    assert all(f"<h2>{section}</h2>" in fragment for section in SECTIONS)
    assert "Written without an LLM" in fragment

    detail = client.get(url("report_detail", team_a, report.pk)).content.decode()
    assert all(f"<h2>{section}</h2>" in detail for section in SECTIONS)
    assert "Offline narrator" in detail and 'id="facts-table"' in detail
    assert "<code>statistics.revenue_at_risk_12m_total</code>" in detail
    assert "in the fact sheet." in detail and 'id="unmatched-numbers"' not in detail
    assert '<details class="report-prompt"' in detail and "BEGIN FACT SHEET" in detail
    # The generator now shows it as the group's latest report.
    again = client.get(url("report_group_statistics", team_a), {"segment": 1, "level": 3})
    assert f"Report #{report.pk}" in again.content.decode()


def test_the_group_generator_says_when_a_group_is_empty(client_for, viewer_a, team_a, portfolio):
    html = (
        client_for(viewer_a)
        .get(url("report_group", team_a), {"segment": 0, "level": 3})
        .content.decode()
    )
    assert "has no customer at level 3" in html
    assert "data-action" not in html


def test_the_group_generator_without_an_analysis(client_for, viewer_a, team_a):
    html = client_for(viewer_a).get(url("report_group", team_a)).content.decode()
    assert "No analysis results yet" in html


@pytest.mark.llm
def test_a_report_through_the_openai_sdk_shows_the_models_answer(
    client_for, analyst_a, team_a, portfolio, fake_llm, committed
):
    client = client_for(analyst_a)
    committed(
        client, url("report_generate", team_a), {"kind": "customer", "customer": "C-003"}, **HTMX
    )
    report = Report.objects.get()
    assert report.status == ReportStatus.DONE, report.error
    html = client.get(url("report_panel", team_a, report.pk), **HTMX).content.decode()
    assert "Account manager: call within 7 days about the 5.4k at risk." in html
    assert "openai · fake-model-1" in html
    assert fake_llm.bodies()[0]["model"] == "fake-model-1"
    detail = client.get(url("report_detail", team_a, report.pk)).content.decode()
    assert "fake-model-1" in detail and "444" in detail  # 321 in + 123 out
    assert "Level 3: revenue fell 52%" in detail
    panel = client.get(url("report_customer_panel", team_a) + "?customer=C-003").content.decode()
    assert "call within 7 days" in panel


def test_markdown_download_keeps_no_live_javascript_link(client_for, viewer_a, team_a, portfolio):
    content = "See [the site](https://example.com) and [x](javascript:alert(1)) ![i](data:x)"
    report = make_report(team_a, content=content)
    response = client_for(viewer_a).get(url("report_download_md", team_a, report.pk))
    text = (
        b"".join(response.streaming_content).decode()
        if response.streaming
        else (response.content.decode())
    )
    assert "[the site](https://example.com)" in text
    assert "javascript:" not in text and "data:x" not in text
    assert "and x " in text
