"""Every money figure of a team's pages carries the team's currency, written by one rule.

A real analysis of a generated portfolio; the amounts the run stored (revenue at risk,
mean revenue, expected revenue, the segments' median revenue) are formatted by the rule
(whole units, thousands separators) and looked for in each page's text: wherever one
appears it must follow the code. Amounts under 1,000 are left out of the search, since
"12" may as well be a count.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from analytics.core import Params
from analytics.models import CustomerResult, Segment
from analytics.services import analysis_run_start

from .helpers import import_portfolio

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"


@pytest.fixture
def run(team_a, django_capture_on_commit_callbacks):
    import_portfolio(team_a, customers=40)
    team_a.currency = "EUR"
    team_a.save(update_fields=["currency"])
    with django_capture_on_commit_callbacks(execute=True):
        run = analysis_run_start(team=team_a, params=Params())
    run.refresh_from_db()
    assert run.status == "SUCCEEDED", run.error
    return run


def page_text(client, url: str) -> str:
    html = client.get(url).content.decode()
    html = re.sub(r"<script\b.*?</script>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def amounts(run) -> set[str]:
    values: set[str] = set()
    for row in CustomerResult.objects.filter(run=run).values(
        "revenue_at_risk", "revenue_mean", "expected_revenue_12m"
    ):
        values.update(f"{float(v):,.0f}" for v in row.values() if v is not None and abs(v) >= 1000)
    for segment in Segment.objects.filter(run=run):
        median = segment.features.get("revenue_median")
        if median and median >= 1000:
            values.add(f"{median:,.0f}")
    return values


def test_every_money_figure_on_the_pages_carries_the_currency(client_for, viewer_a, team_a, run):
    client = client_for(viewer_a)
    known = amounts(run)
    assert len(known) > 20
    customer = (
        CustomerResult.objects.filter(run=run, revenue_at_risk__gte=1000)
        .order_by("-revenue_at_risk")
        .values_list("customer__external_id", flat=True)
        .first()
    )
    pages = {
        "dashboard": reverse("dashboard", args=[team_a.slug]),
        "customers": reverse("customer_list", args=[team_a.slug]),
        "customer": reverse("customer_detail", args=[team_a.slug, customer]),
        "segments": reverse("segment_list", args=[team_a.slug]),
    }
    found = 0
    for name, url in pages.items():
        text = page_text(client, url)
        for match in re.finditer(r"(?<![\d,.])(\d{1,3}(?:,\d{3})+)(?![\d,])", text):
            if match.group(1) not in known:
                continue
            found += 1
            before = text[max(0, match.start() - 5) : match.start()]
            assert before.endswith(f"EUR{NBSP}") or before.endswith(f"EUR{NBSP}{'−'}"), (
                name,
                text[max(0, match.start() - 60) : match.end() + 20],
            )
    assert found > 10  # the search saw amounts on the pages, not nothing


def test_the_downloads_write_the_sentences_as_the_pages_do(client_for, viewer_a, team_a, run):
    import csv
    import io

    from analytics.services.export import results_export

    response = client_for(viewer_a).get(reverse("customer_export", args=[team_a.slug]))
    table = b"".join(response.streaming_content).decode()
    output = io.StringIO()
    results_export(run=run, output=output)
    for text in (table, output.getvalue()):
        sentences = [row["explanation"] for row in csv.DictReader(io.StringIO(text))]
        assert "\u00a4" not in text  # the stored amount mark never leaves the app
        with_amounts = [s for s in sentences if re.search(r"\d,\d{3}", s)]
        assert with_amounts
        assert all(re.search(rf"EUR{NBSP}\d", s) for s in with_amounts), with_amounts[:3]
