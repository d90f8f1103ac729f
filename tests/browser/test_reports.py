"""The group report generator in Chromium: choose a group, see its statistics, generate with
the offline narrator, see the result swap in, download both formats, open the report."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db.models import Count

from analytics.core import Params
from analytics.models import CustomerResult, RunStatus
from analytics.services import analysis_run_start
from reports.models import Report, ReportStatus
from reports.services import download_name
from tests.analytics.helpers import import_portfolio
from tests.browser.conftest import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

SECTIONS = ["Profile", "Risk analysis", "Recommended actions"]


@pytest.fixture
def analysed_run(team_a, settings):
    settings.OPENAI_API_KEY = ""  # the offline narrator
    import_portfolio(team_a, customers=80, months=36, seed=5)
    run = analysis_run_start(team=team_a, params=Params())
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.segments_count >= 2
    return run


def a_declining_group(run) -> tuple[int, int, int]:
    row = (
        CustomerResult.objects.filter(run=run, segment__isnull=False, decline_level__isnull=False)
        .values("segment", "decline_level")
        .annotate(customers=Count("pk"))
        .order_by("-decline_level", "-customers", "segment")
        .filter(customers__gte=2)
        .first()
    )
    return row["segment"], row["decline_level"], row["customers"]


def test_an_analyst_generates_a_group_report_and_downloads_it(
    page, analyst_a, team_a, analysed_run
):
    segment, level, customers = a_declining_group(analysed_run)
    base = page.watch.base_url
    log_in(page, analyst_a.username)
    page.click("nav.mainnav >> text=Reports")
    page.wait_for_url(f"{base}/t/{team_a.slug}/reports/")
    assert "No report has been written yet" in page.inner_text("#reports-empty")
    page.click("#group-generator-link")
    page.wait_for_url(f"{base}/t/{team_a.slug}/reports/group/")
    page.wait_for_selector("#group-choose")

    page.select_option("#id_segment", str(segment))
    page.select_option("#id_level", str(level))
    page.wait_for_selector("#group-statistics-table")
    assert page.inner_text('#group-statistics-table [data-fact="customers"]') == str(customers)
    panel = f"#report-group-{segment}-{level}"
    assert page.get_attribute(panel, "data-status") == "NONE"

    page.click(f"{panel} button[data-action=generate]")
    page.wait_for_selector(f'{panel}[data-status="DONE"]')
    report = Report.objects.get(team=team_a)
    assert report.status == ReportStatus.DONE and report.provider == "offline"
    assert page.locator(f"{panel} .report-content h2").all_inner_texts() == SECTIONS
    assert "Written without an LLM" in page.inner_text(f"{panel} .report-content")
    # The statistics stayed; only the panel was replaced.
    assert page.locator("#group-statistics-table").is_visible()

    with page.expect_download() as markdown:
        page.click(f"{panel} >> text=Markdown")
    md = Path(markdown.value.path()).read_text(encoding="utf-8")
    assert markdown.value.suggested_filename == f"{download_name(report)}.md"
    assert md.startswith(f"# {report.title}\n")
    assert all(f"## {section}" in md for section in SECTIONS)
    with page.expect_download() as text:
        page.click(f"{panel} >> text=Text")
    txt = Path(text.value.path()).read_text(encoding="utf-8")
    assert text.value.suggested_filename == f"{download_name(report)}.txt"
    assert all(f"{s}\n{'-' * len(s)}" in txt for s in SECTIONS) and "##" not in txt

    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.watch.assert_clean()
    screenshot(page, "reports-group")

    page.click(f"{panel} >> text=Report #{report.pk}")
    page.wait_for_url(f"{base}/t/{team_a.slug}/reports/{report.pk}/")
    assert page.locator("#report-content h2").all_inner_texts() == SECTIONS
    assert page.locator("#facts-table tbody tr").count() > 10
    assert "in the fact sheet" in page.inner_text("#grounding")
    assert not page.locator("#report-prompt pre").first.is_visible()  # folded away
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.watch.assert_clean()
    screenshot(page, "report-detail")
