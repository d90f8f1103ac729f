"""The customer diagnostics page: access, URL-encoded ids, the chart's data, history, states."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from urllib.parse import quote

import numpy as np
import pytest
from django.urls import reverse

from analytics.core import Params
from analytics.models import (
    COMPONENTS,
    AnalysisRun,
    Anomaly,
    CustomerResult,
    RunPurpose,
    RunStatus,
    pack_series,
)
from analytics.services import analysis_run_start
from customers.followup import StatusRequest, note_add, status_set
from customers.models import Customer, RevenueRecord

from .helpers import import_portfolio

pytestmark = pytest.mark.django_db

WINDOW = [date(2024, month, 1) for month in range(1, 13)]
CHART_JSON = re.compile(
    r'<script id="customer-chart-data" type="application/json">(.*?)</script>', re.S
)


def make_customer(team, external_id: str = "C-001", first_month: date = WINDOW[0]) -> Customer:
    customer = Customer.objects.create(
        team=team, external_id=external_id, first_month=first_month, last_month=WINDOW[-1]
    )
    RevenueRecord.objects.bulk_create(
        RevenueRecord(team=team, customer=customer, month=month, amount=Decimal(1000 - 50 * i))
        for i, month in enumerate(WINDOW)
        if month >= first_month and month != date(2024, 5, 1)  # May: no revenue at all
    )
    RevenueRecord.objects.filter(customer=customer, month=date(2024, 8, 1)).update(
        amount=Decimal("-120.50")
    )
    return customer


def stored_value(name: str, month_index: int) -> float:
    """Each series a recognisable ramp: series k, month m → 100·k + 10·m."""
    return 100.0 * COMPONENTS.index(name) + 10.0 * month_index


# The series are stored as float16 relative to the customer's largest value (≈ 800 here).
STORAGE_TOLERANCE = 1.0


def components() -> bytes:
    rows = np.array([[stored_value(name, m) for m in range(len(WINDOW))] for name in COMPONENTS])
    return pack_series(rows[None, :, :])[0].tobytes()


def make_run(team, results: dict[Customer, int | None], *, status=RunStatus.SUCCEEDED):
    """A finished run with one result per customer (level as given) and one anomaly each."""
    run = AnalysisRun.objects.create(
        team=team,
        window_start=WINDOW[0],
        window_end=WINDOW[-1],
        status=RunStatus.RUNNING,
    )
    for customer, level in results.items():
        CustomerResult.objects.create(
            run=run,
            customer=customer,
            decline_level=level,
            slope=-42.5,
            slope_low=-60.25,
            slope_high=-20.0,
            relative_change_12m=-0.34,
            p_value=0.002,
            revenue_mean=Decimal("725.00"),
            revenue_std=Decimal("180.00"),
            cv=0.25,
            seasonal_strength=None,
            active_months=10,
            n_months=12,
            onset_month=date(2024, 3, 1),
            revenue_at_risk=Decimal("4321.00"),
            anomaly_count=1,
            explanation="−34 % over 12 months, p = 0.002, onset 2024-03",
            components=components(),
        )
        Anomaly.objects.create(
            run=run,
            customer=customer,
            month=date(2024, 8, 1),
            revenue=Decimal("-120.50"),
            expected=Decimal("600.00"),
            zscore=-4.2,
        )
    AnalysisRun.objects.filter(pk=run.pk).update(status=status)
    run.refresh_from_db()
    return run


def page_url(team, external_id: str) -> str:
    return reverse("customer_detail", args=[team.slug, external_id])


def chart_data(response) -> dict:
    match = CHART_JSON.search(response.content.decode())
    assert match, "no customer-chart-data script on the page"
    return json.loads(match.group(1))


@pytest.fixture
def customer(team_a) -> Customer:
    return make_customer(team_a)


@pytest.fixture
def run(team_a, customer) -> AnalysisRun:
    return make_run(team_a, {customer: 2})


@pytest.mark.parametrize("role", ["viewer_a", "analyst_a", "admin_a"])
def test_every_member_role_sees_the_diagnostics(request, client_for, team_a, customer, run, role):
    response = client_for(request.getfixturevalue(role)).get(page_url(team_a, "C-001"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "C-001" in html and "2 · Moderate decline" in html
    assert "−34 % over 12 months, p = 0.002, onset 2024-03" in html  # why this level
    assert 'id="llm-summary"' in html and "Summary (LLM)" in html
    # Hashed names once collected (plotly.min.<hash>.js), plain ones before.
    assert re.search(r"/static/plotly/plotly\.min(\.[0-9a-f]{12})?\.js", html)
    assert re.search(r"/static/js/customer_chart(\.[0-9a-f]{12})?\.js", html)
    assert "cdn" not in html.lower()
    # The figures, formatted like the rest of the app.
    assert "−42.5 per month" in html and "−60.2" in html and "−20.0" in html
    assert "0.002" in html and "4,321" in html and "10 of 12" in html


def test_a_member_of_another_team_gets_404(client_for, admin_b, team_a, customer, run):
    assert client_for(admin_b).get(page_url(team_a, "C-001")).status_code == 404


def test_anonymous_is_sent_to_login(client, team_a, customer, run):
    response = client.get(page_url(team_a, "C-001"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_unknown_customer_id_is_404(client_for, viewer_a, team_a, run):
    assert client_for(viewer_a).get(page_url(team_a, "C-999")).status_code == 404


def test_another_teams_customer_is_404_in_this_team(
    client_for, viewer_a, admin_b, team_a, team_b, run
):
    theirs = make_customer(team_b, "B-777")
    make_run(team_b, {theirs: 3})
    assert client_for(admin_b).get(page_url(team_b, "B-777")).status_code == 200
    assert client_for(viewer_a).get(page_url(team_a, "B-777")).status_code == 404


@pytest.mark.parametrize(
    "external_id",
    ["ACME 0042 / Nord", "Zürich–Bäckerei #7?&x=1", "a%2Fb", "00123", "客户/東京 🚚"],
)
def test_customer_ids_needing_url_encoding_round_trip(client_for, viewer_a, team_a, external_id):
    customer = make_customer(team_a, external_id)
    make_run(team_a, {customer: 1})
    client = client_for(viewer_a)
    # Both the route's own URL and the fully percent-encoded one the risk table may build.
    base = reverse("customer_list", args=[team_a.slug])
    for url in (page_url(team_a, external_id), f"{base}{quote(external_id, safe='')}/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.context["diagnostics"].customer == customer
        assert chart_data(response)["customer"] == external_id


def test_the_chart_data_aligns_every_series_with_the_months(client_for, viewer_a, team_a, run):
    data = chart_data(client_for(viewer_a).get(page_url(team_a, "C-001")))
    assert data["months"] == [f"{m:%Y-%m}" for m in WINDOW]
    # Stored revenue, 0 in the month without a record, negative revenue kept as it is.
    assert data["revenue"][0] == 1000 and data["revenue"][4] == 0 and data["revenue"][7] == -120.5
    assert set(data["series"]) == {
        "trend",
        "expected",
        "underlying",
        "theil_sen",
        "theil_sen_low",
        "theil_sen_high",
        "moving_average",
    }
    for name, values in data["series"].items():
        expected = [stored_value(name, m) for m in range(12)]
        assert values == pytest.approx(expected, abs=STORAGE_TOLERANCE), name
    assert data["anomalies"] == [
        {"month": "2024-08", "revenue": -120.5, "expected": 600.0, "zscore": -4.2}
    ]
    assert data["onset"] == "2024-03" and data["level"] == 2


def test_the_chart_starts_at_the_customers_first_month(client_for, viewer_a, team_a):
    late = make_customer(team_a, "LATE", first_month=date(2024, 4, 1))
    make_run(team_a, {late: 0})
    response = client_for(viewer_a).get(page_url(team_a, "LATE"))
    data = chart_data(response)
    assert data["months"][0] == "2024-04" and len(data["months"]) == 9
    assert data["revenue"][:2] == [850.0, 0.0]
    first = stored_value("underlying", 3)
    assert data["series"]["underlying"][0] == pytest.approx(first, abs=STORAGE_TOLERANCE)
    assert all(len(values) == 9 for values in data["series"].values())


def test_the_facts_compare_initial_and_latest_from_stored_figures(
    client_for, viewer_a, team_a, run
):
    facts = client_for(viewer_a).get(page_url(team_a, "C-001")).context["diagnostics"].facts
    initial, latest = stored_value("underlying", 0), stored_value("underlying", 11)
    assert (facts.initial_revenue, facts.latest_revenue) == (1000.0, 450.0)
    assert facts.initial_level == pytest.approx(initial, abs=STORAGE_TOLERANCE)
    assert facts.latest_level == pytest.approx(latest, abs=STORAGE_TOLERANCE)
    assert facts.average_monthly_change == pytest.approx(10.0, abs=0.2)
    rate = (latest / initial) ** (1 / 11) - 1
    assert facts.average_monthly_rate == pytest.approx(rate, rel=0.02)
    assert facts.negative_months == 1


def test_the_level_history_lists_the_succeeded_runs_newest_first(
    client_for, viewer_a, team_a, customer
):
    older = make_run(team_a, {customer: 0})
    make_run(team_a, {customer: 3}, status=RunStatus.FAILED)
    backtest = make_run(team_a, {customer: 3})  # a backtest's run judges the past, not today
    AnalysisRun.objects.filter(pk=backtest.pk).update(purpose=RunPurpose.BACKTEST)
    newer = make_run(team_a, {customer: 2})
    response = client_for(viewer_a).get(page_url(team_a, "C-001"))
    history = response.context["diagnostics"].history
    assert [(row.run_id, row.decline_level, row.is_current) for row in history] == [
        (newer.pk, 2, True),
        (older.pk, 0, False),
    ]
    html = response.content.decode()
    table = html[html.index('id="level-history"') :]
    assert table.index(f"#{newer.pk}") < table.index(f"#{older.pk}")
    assert "0 · Stable or growing" in table


def test_the_page_reads_a_bounded_number_of_queries(
    client_for, viewer_a, team_a, customer, run, django_assert_max_num_queries
):
    for _ in range(5):  # more history, anomalies, notes or changes must not add queries
        make_run(team_a, {customer: 1})
        note_add(customer=customer, body="Called them", user=viewer_a)
        status_set(customer=customer, request=StatusRequest("contacted"), level=1, user=viewer_a)
    client = client_for(viewer_a)
    # 6 for the page (customer, run, result, history, revenue, anomalies), 4 for the
    # follow-up (customer with owner, notes, status changes, members) and 7 that every
    # team page makes (session, user, membership, the team switcher, the session's save).
    with django_assert_max_num_queries(18):
        assert client.get(page_url(team_a, "C-001")).status_code == 200


def test_a_customer_missing_from_the_current_run_says_so(client_for, viewer_a, team_a, customer):
    earlier = make_run(team_a, {customer: 3})
    other = make_customer(team_a, "OTHER")
    make_run(team_a, {other: 0})  # the current run: without C-001
    response = client_for(viewer_a).get(page_url(team_a, "C-001"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not in the latest analysis" in html
    assert "customer-chart-data" not in html and "plotly.min.js" not in html
    assert f"#{earlier.pk}" in html and "3 · Sharp decline" in html  # its past level
    assert 'id="llm-summary"' in html


def test_a_team_without_finished_runs_shows_the_customer_without_results(
    client_for, viewer_a, team_a, customer
):
    make_run(team_a, {customer: 1}, status=RunStatus.FAILED)
    response = client_for(viewer_a).get(page_url(team_a, "C-001"))
    assert response.status_code == 200
    assert b"Not in the latest analysis" in response.content
    assert response.context["diagnostics"].history == []


def test_insufficient_data_shows_no_level_as_stable(client_for, viewer_a, team_a, customer):
    make_run(team_a, {customer: None})
    response = client_for(viewer_a).get(page_url(team_a, "C-001"))
    assert b"Insufficient data" in response.content
    assert chart_data(response)["level"] is None


def test_the_page_shows_a_real_analysis(
    client_for, viewer_a, team_a, django_capture_on_commit_callbacks
):
    import_portfolio(team_a, customers=40, seed=11)
    with django_capture_on_commit_callbacks(execute=True):
        run = analysis_run_start(team=team_a, params=Params())
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    result = (
        CustomerResult.objects.filter(run=run, anomaly_count__gt=0)
        .select_related("customer")
        .first()
    )
    assert result is not None
    response = client_for(viewer_a).get(page_url(team_a, result.customer.external_id))
    assert response.status_code == 200
    data = chart_data(response)
    months = len(data["months"])
    assert months == len(data["revenue"]) and months <= len(run.months)
    assert all(len(values) == months for values in data["series"].values())
    assert len(data["anomalies"]) == result.anomaly_count
    assert all(a["month"] in data["months"] for a in data["anomalies"])


def test_insufficient_data_shows_no_invented_trend(client_for, viewer_a, team_a, customer):
    make_run(team_a, {customer: None})
    html = client_for(viewer_a).get(page_url(team_a, "C-001")).content.decode()
    assert "Too little history to judge a trend." in html
    facts = html[html.index('id="customer-facts"') :].split("</dl>")[0]
    assert "per month" not in facts and "Insufficient data" in html
