"""The dashboard `/t/<team>/`: exact figures on hand-made results, movers, empty states, roles."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from analytics.models import AnalysisRun, CustomerResult, RunStatus
from analytics.services.dashboard import dashboard_summary
from customers.models import Customer, RevenueRecord

pytestmark = pytest.mark.django_db

WINDOW = (date(2025, 1, 1), date(2025, 3, 1))
JAN, FEB, MAR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)

# customer: (level, revenue at risk, 12-month change) in the previous and the current run;
# None for a customer absent from a run.
PREVIOUS = {
    "C1": (0, "0.00", 0.05),
    "C2": (1, "100.00", -0.12),
    "C3": (2, "500.00", -0.3),
    "C4": (3, "2000.00", -0.7),
    "C5": (None, "0.00", None),
    "C6": (2, "300.00", -0.28),
}
CURRENT = {
    "C1": (3, "1500.00", -0.6),  # entered level 3 from 0; risk +1500
    "C2": (2, "400.00", -0.31),  # worsened 1 → 2; risk +300
    "C3": (1, "200.00", -0.15),  # recovered 2 → 1; risk −300
    "C4": (3, "2500.00", -0.8),  # stays at 3; risk +500
    "C5": (3, "800.00", -0.55),  # entered level 3 from insufficient data; risk +800
    "C6": (None, "0.00", None),  # now insufficient: neither worsened nor recovered
    "C7": (3, "9999.00", 0.1),  # new, and already at level 3: it entered level 3 too
}
# Monthly revenue (customer, month, amount); C1's 2024-12 lies outside the window and C6 is
# insufficient data: neither counts in the heatmap.
REVENUE = [
    ("C1", date(2024, 12, 1), "5000.00"),
    ("C1", JAN, "100.00"),
    ("C1", FEB, "80.00"),
    ("C4", JAN, "50.00"),
    ("C7", JAN, "30.00"),
    ("C3", JAN, "10.00"),
    ("C3", FEB, "20.00"),
    ("C3", MAR, "30.00"),
    ("C2", JAN, "1000.50"),
    ("C2", MAR, "999.50"),
    ("C6", JAN, "777.00"),
]


def make_customers(team, ids) -> dict[str, Customer]:
    return {
        external_id: Customer.objects.create(
            team=team, external_id=external_id, first_month=date(2024, 12, 1), last_month=MAR
        )
        for external_id in ids
    }


def make_run(team, customers, specs, *, status=RunStatus.SUCCEEDED, **fields) -> AnalysisRun:
    """A run with exactly these results, written while running and then finished."""
    run = AnalysisRun.objects.create(
        team=team, window_start=WINDOW[0], window_end=WINDOW[1], status=RunStatus.RUNNING
    )
    for external_id, (level, risk, change) in specs.items():
        CustomerResult.objects.create(
            run=run,
            customer=customers[external_id],
            decline_level=level,
            revenue_at_risk=Decimal(risk),
            relative_change_12m=change,
        )
    levels = [level for level, _, _ in specs.values()]
    AnalysisRun.objects.filter(pk=run.pk).update(
        status=status,
        customers_count=len(specs),
        **{f"level_{level}_count": levels.count(level) for level in range(4)},
        insufficient_count=levels.count(None),
        **fields,
    )
    run.refresh_from_db()
    return run


@pytest.fixture
def customers(team_a) -> dict[str, Customer]:
    customers = make_customers(team_a, CURRENT)
    RevenueRecord.objects.bulk_create(
        RevenueRecord(team=team_a, customer=customers[c], month=m, amount=Decimal(a))
        for c, m, a in REVENUE
    )
    return customers


@pytest.fixture
def runs(team_a, customers) -> tuple[AnalysisRun, AnalysisRun]:
    previous = make_run(team_a, customers, PREVIOUS)
    current = make_run(team_a, customers, CURRENT)
    return previous, current


@pytest.fixture
def other_team_run(team_b) -> AnalysisRun:
    """Another team's results and revenue in the same months: they must not leak in."""
    customers = make_customers(team_b, ["C1", "X9"])
    RevenueRecord.objects.bulk_create(
        RevenueRecord(team=team_b, customer=customer, month=JAN, amount=Decimal("123456.00"))
        for customer in customers.values()
    )
    return make_run(team_b, customers, {"C1": (3, "50000.00", -0.9), "X9": (0, "0.00", 0.0)})


def dashboard_url(team) -> str:
    return reverse("dashboard", args=[team.slug])


def chart_data(content: bytes) -> dict:
    match = re.search(
        r'<script id="dashboard-chart-data" type="application/json">(.*?)</script>',
        content.decode(),
        re.S,
    )
    assert match, "no chart data on the page"
    return json.loads(match.group(1))


def text_of(content: bytes, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', content.decode(), re.S)
    assert match, element_id
    return unescape(match.group(1)).strip()


# --- the figures ------------------------------------------------------------------------------


def test_kpis_are_exact(team_a, runs, other_team_run):
    kpis = dashboard_summary(team=team_a).kpis
    assert kpis.customers == 7
    assert kpis.high_risk == 5  # C2 at level 2; C1, C4, C5, C7 at level 3
    assert kpis.high_risk_share == pytest.approx(5 / 7)
    assert kpis.revenue_at_risk == Decimal("15399.00")
    # six changes: −0.8, −0.6, −0.55, −0.31, −0.15, +0.1 → the mean of the middle two
    assert kpis.median_change_12m == pytest.approx(-0.43)
    assert kpis.insufficient == 1


def test_median_of_an_odd_count_is_the_middle_value(team_a, customers):
    make_run(team_a, customers, {k: CURRENT[k] for k in ("C1", "C2", "C3", "C6")})
    assert dashboard_summary(team=team_a).kpis.median_change_12m == pytest.approx(-0.31)


def test_distribution_counts_each_level_and_insufficient_data(team_a, runs):
    distribution = dashboard_summary(team=team_a).distribution
    assert [(level, count) for level, _, count in distribution] == [
        (0, 0),
        (1, 1),
        (2, 1),
        (3, 4),
        (None, 1),
    ]


def test_heatmap_averages_revenue_per_customer_of_each_level(team_a, runs, other_team_run):
    heatmap = dashboard_summary(team=team_a).heatmap
    assert heatmap.months == [JAN, FEB, MAR]
    assert heatmap.customers == [0, 1, 1, 4]
    assert heatmap.averages == [
        [None, None, None],  # no customer at level 0
        [10.0, 20.0, 30.0],  # C3
        [1000.5, 0.0, 999.5],  # C2: February without revenue counts as 0
        [45.0, 20.0, 0.0],  # (100 + 50 + 30) / 4, 80 / 4, nothing
    ]


def test_movers_compare_with_the_previous_succeeded_run(team_a, runs, customers):
    previous, _ = runs
    # A later failed run changes nothing: movers compare the two latest succeeded runs.
    make_run(team_a, customers, {"C1": (0, "0.00", 0.0)}, status=RunStatus.FAILED, error="x")
    movers = dashboard_summary(team=team_a).movers
    assert movers.previous_run == previous and movers.compared == 6
    assert movers.new_customers == 1
    by_key = {item.key: item for item in movers.lists}
    assert {key: item.total for key, item in by_key.items()} == {
        "entered-3": 3,
        "worsened": 1,
        "recovered": 1,
        "risk-up": 4,
    }
    rows = {
        key: [(m.external_id, m.previous_level, m.decline_level) for m in item.movers]
        for key, item in by_key.items()
    }
    assert rows["entered-3"] == [("C7", None, 3), ("C1", 0, 3), ("C5", None, 3)]
    assert [m.is_new for m in by_key["entered-3"].movers] == [True, False, False]
    assert rows["worsened"] == [("C2", 1, 2)]
    assert rows["recovered"] == [("C3", 2, 1)]
    assert [(m.external_id, m.risk_change) for m in by_key["risk-up"].movers] == [
        ("C1", Decimal("1500.00")),
        ("C5", Decimal("800.00")),
        ("C4", Decimal("500.00")),
        ("C2", Decimal("300.00")),
    ]
    assert by_key["recovered"].movers[0].risk_change == Decimal("-300.00")


def test_the_page_shows_the_figures_charts_and_movers(client_for, viewer_a, team_a, runs):
    previous, current = runs
    response = client_for(viewer_a).get(dashboard_url(team_a))
    assert response.status_code == 200
    content = response.content
    assert text_of(content, "kpi-customers") == "7"
    assert text_of(content, "kpi-high-risk") == "5"
    assert text_of(content, "kpi-high-risk-share") == "71.4\u00a0% of customers"
    assert text_of(content, "kpi-revenue-at-risk") == "15,399"
    assert text_of(content, "kpi-median-change") == "\u221243\u00a0%"
    assert text_of(content, "kpi-insufficient") == "1"
    data = chart_data(content)
    assert [row["customers"] for row in data["distribution"]] == [0, 1, 1, 4, 1]
    assert data["distribution"][-1] == {"level": None, "label": "Insufficient data", "customers": 1}
    assert data["heatmap"]["months"] == ["2025-01", "2025-02", "2025-03"]
    assert data["heatmap"]["averages"][3] == [45.0, 20.0, 0.0]
    assert re.search(rb"plotly/plotly\.min(\.[0-9a-f]{12})?\.js", content)
    assert re.search(rb"js/dashboard_charts(\.[0-9a-f]{12})?\.js", content)
    # Movers link to the customers' pages.
    c1 = reverse("customer_detail", args=[team_a.slug, "C1"])
    assert re.search(rf'id="movers-entered-3".*?href="{c1}">C1</a>', content.decode(), re.S)
    assert f"run #{previous.pk}".encode() in content and f"run #{current.pk}".encode() in content


def test_the_dashboard_reads_in_a_fixed_number_of_queries(
    client_for, viewer_a, team_a, runs, django_assert_max_num_queries
):
    """Session and team (5), runs (2), KPIs (2), heatmap (1), movers (1 + 4 lists),
    the data's months (1), my customers (1, or 3 for an owner), the customers new at level 3
    (2), the session's save (1): none per customer."""
    Customer.objects.filter(team=team_a).update(owner=viewer_a)
    client = client_for(viewer_a)
    with django_assert_max_num_queries(23):
        assert client.get(dashboard_url(team_a)).status_code == 200


# --- the latest run and empty states ------------------------------------------------------------


def test_a_single_run_explains_where_movers_come_from(client_for, viewer_a, team_a, customers):
    make_run(team_a, customers, CURRENT)
    content = client_for(viewer_a).get(dashboard_url(team_a)).content
    assert b'id="movers-empty"' in content and b"next successful run" in content


def test_a_failed_latest_run_shows_its_reason_and_the_results_stay(
    client_for, viewer_a, team_a, runs, customers
):
    _, current = runs
    failed = make_run(team_a, customers, {}, status=RunStatus.FAILED, error="Chunk 3 broke")
    content = client_for(viewer_a).get(dashboard_url(team_a)).content.decode()
    assert f"Run #{failed.pk}</a>" in content and "Chunk 3 broke" in content
    assert f"The results below are still those of run #{current.pk}." in content
    assert text_of(content.encode(), "kpi-customers") == "7"


def test_an_active_run_polls_its_progress_on_the_dashboard(
    client_for, viewer_a, team_a, runs, customers
):
    active = make_run(team_a, customers, {}, status=RunStatus.RUNNING, progress=40)
    content = client_for(viewer_a).get(dashboard_url(team_a)).content.decode()
    assert f'hx-get="{reverse("run_status", args=[team_a.slug, active.pk])}"' in content
    assert 'hx-trigger="every 2s"' in content and 'value="40"' in content


def test_admin_of_a_new_team_is_guided_to_upload(client_for, admin_a, team_a):
    content = client_for(admin_a).get(dashboard_url(team_a)).content.decode()
    assert 'id="dashboard-empty"' in content
    assert f'href="{reverse("upload_list", args=[team_a.slug])}"' in content
    assert 'id="start-run"' not in content and "dashboard-chart-data" not in content


@pytest.mark.parametrize("user", ["analyst_a", "viewer_a"])
def test_others_of_a_new_team_are_told_to_wait_for_an_upload(request, client_for, team_a, user):
    content = client_for(request.getfixturevalue(user)).get(dashboard_url(team_a)).content
    assert b"A team admin has not uploaded revenue data yet" in content
    assert b"upload_list" not in content and b'id="start-run"' not in content


def test_with_data_and_no_run_an_analyst_is_offered_the_first_analysis(
    client_for, analyst_a, team_a, customers
):
    content = client_for(analyst_a).get(dashboard_url(team_a)).content.decode()
    assert 'id="no-run-yet"' in content and "start the first analysis" in content
    assert f'action="{reverse("run_start", args=[team_a.slug])}"' in content
    assert f'href="{reverse("run_list", args=[team_a.slug])}"' in content


def test_with_data_and_no_run_a_viewer_waits(client_for, viewer_a, team_a, customers):
    content = client_for(viewer_a).get(dashboard_url(team_a)).content.decode()
    assert "An analyst or admin of the team starts one" in content
    assert 'id="start-run"' not in content


# --- roles --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "can_start"),
    [
        ("viewer_a", False),
        ("analyst_a", True),
        ("admin_a", True),
    ],
)
def test_every_role_reads_the_dashboard_only_analysts_and_admins_may_start(
    request, client_for, team_a, runs, user, can_start
):
    response = client_for(request.getfixturevalue(user)).get(dashboard_url(team_a))
    assert response.status_code == 200
    assert b'id="kpis"' in response.content
    assert (b'id="start-run"' in response.content) is can_start


def test_a_member_of_another_team_gets_404(client_for, admin_b, team_a, runs):
    assert client_for(admin_b).get(dashboard_url(team_a)).status_code == 404


def test_anonymous_is_sent_to_login(client, team_a):
    response = client.get(dashboard_url(team_a))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_my_customers_shows_the_owners_figures_and_top_five(
    client_for, viewer_a, analyst_a, team_a, runs, customers
):
    for external_id in ("C1", "C3", "C6"):
        customers[external_id].owner = viewer_a
        customers[external_id].save()
    customers["C4"].owner = analyst_a  # someone else's
    customers["C4"].save()
    html = client_for(viewer_a).get(dashboard_url(team_a)).content.decode()
    card = html[html.index('id="my-customers"') :].split("</section>")[0]
    assert "3 customers" in card and "?owner=me" in card
    # C1 is at level 3 (1,500 at risk), C3 at level 1 (200), C6 has insufficient data.
    assert '<strong id="my-high-risk">1</strong>' in card
    assert '<strong id="my-revenue-at-risk">1,700</strong>' in card
    assert card.index(">C1</a>") < card.index(">C3</a>") and ">C4</a>" not in card
    other = client_for(analyst_a).get(dashboard_url(team_a)).content.decode()
    assert "1 customer<" in other and '<strong id="my-revenue-at-risk">2,500</strong>' in other


def test_my_customers_says_how_to_get_some(client_for, analyst_a, team_a, runs):
    html = client_for(analyst_a).get(dashboard_url(team_a)).content.decode()
    assert "No customers are assigned to you yet." in html
