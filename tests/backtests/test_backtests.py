"""Backtests on the team's own data: nothing after the cutoff reaches the analysis, what the
comparison stores, the team's results untouched, the command, and who may do what."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from analytics.models import AnalysisRun, CustomerResult, RunPurpose, current_run
from backtests.evaluation import PROTOTYPE, PURCHASE_MODEL, RECENCY, REVTREND
from backtests.models import Backtest, BacktestStatus
from backtests.services import BacktestError, backtest_start, default_cutoffs
from tests.analytics.helpers import import_csv, import_portfolio

pytestmark = pytest.mark.django_db

CUTOFF = date(2024, 12, 1)
FIGURES = (
    "decline_level", "relative_change_12m", "p_value", "slope", "revenue_at_risk", "p_active",
    "expected_revenue_12m", "churned", "onset_month", "segment",
)  # fmt: skip


@pytest.fixture
def data(team_a):
    # 30 months, 2023-01 … 2025-06: a cutoff at 2024-12 leaves 6 months after it.
    return import_portfolio(team_a, customers=50, months=30, seed=4, end_month="2025-06")


def run_backtest(team, capture, **kwargs) -> Backtest:
    with capture(execute=True):
        backtest = backtest_start(team=team, **kwargs)
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.SUCCEEDED, backtest.error
    return backtest


def figures_of(run_id: int) -> dict:
    rows = CustomerResult.objects.filter(run_id=run_id).order_by("customer__external_id")
    return {
        row["customer__external_id"]: row for row in rows.values("customer__external_id", *FIGURES)
    }


def test_rows_after_the_cutoff_change_no_figure_of_the_analysis(
    team_a, data, django_capture_on_commit_callbacks
):
    first = run_backtest(team_a, django_capture_on_commit_callbacks, cutoffs=[CUTOFF], horizon=6)
    before = figures_of(first.run_ids[0])
    # The future, appended: more revenue for every customer after the cutoff, and a customer
    # whose first purchase comes after it.
    ids = sorted(before)
    rows = [f"{cid},2025-0{m}-15,{5000 + i}.00" for i, cid in enumerate(ids) for m in (1, 3, 5)]
    rows.append("LATECOMER,2025-02-10,900.00")
    import_csv(team_a, "customer_id,date,amount\n" + "\n".join(rows) + "\n", name="future.csv")

    second = run_backtest(team_a, django_capture_on_commit_callbacks, cutoffs=[CUTOFF], horizon=6)
    after = figures_of(second.run_ids[0])
    assert after == before  # every figure of every customer, exactly; no new customer
    # The comparison did see the future: fewer customers had a real loss.
    assert second.results[0]["loss_share"] < first.results[0]["loss_share"]


def test_a_backtest_stores_each_level_and_the_anchors_and_leaves_the_team_results_alone(
    team_a, data, django_capture_on_commit_callbacks
):
    backtest = run_backtest(team_a, django_capture_on_commit_callbacks, horizon=6)
    assert backtest.cutoffs == ["2024-06", "2024-12"]  # the defaults: latest, 6 months before
    assert [entry["cutoff"] for entry in backtest.results] == backtest.cutoffs
    for entry, run_id in zip(backtest.results, backtest.run_ids, strict=True):
        run = AnalysisRun.objects.get(pk=run_id)
        assert (
            run.purpose == RunPurpose.BACKTEST
            and run.window_end.strftime("%Y-%m") == entry["cutoff"]
        )
        assert [m["name"] for m in entry["methods"]] == [
            REVTREND,
            RECENCY,
            PURCHASE_MODEL,
            PROTOTYPE,
        ]
        judged = sum(row["customers"] for row in entry["levels"])
        assert judged == entry["population"] > 0
        for row in entry["levels"]:
            if row["customers"]:
                assert 0 <= row["loss_share"] <= 1 and 0 <= row["no_purchase_share"] <= 1
        revtrend = entry["methods"][0]
        assert revtrend["scored_share"] == 1.0 and 0 <= revtrend["auc"] <= 1
        assert "declining" in revtrend and "precision" in revtrend["declining"]
        # No method's top N can lose more than the N who lost most (up to summation order).
        best_of_methods = max(m["top_loss"] for m in entry["methods"])
        assert entry["best_top_loss"] * (1 + 1e-12) >= best_of_methods
        assert set(entry["calibration"]) == {"revenue_at_risk", "expected_revenue"}
    assert current_run(team_a) is None  # a backtest's runs are never the team's results
    assert AnalysisRun.objects.filter(team=team_a).analyses().count() == 0


def test_a_cutoff_without_a_full_horizon_after_it_is_refused_and_nothing_is_created(team_a, data):
    with pytest.raises(BacktestError, match="latest cutoff is 2024-12"):
        backtest_start(team=team_a, cutoffs=[date(2025, 2, 1)], horizon=6)
    assert not Backtest.objects.exists() and not AnalysisRun.objects.exists()


def test_default_cutoffs_leave_the_horizon_after_the_latest(team_a, data):
    assert default_cutoffs(team=team_a, horizon=3) == [date(2024, 9, 1), date(2025, 3, 1)]


@pytest.mark.django_db(transaction=True)  # the command waits: its queued work must commit
def test_the_command_prints_the_tables_and_saves_the_backtest(team_a, data, capsys):
    call_command("backtest", "--team", team_a.slug, "--cutoff", "2024-12", "--horizon", "6")
    output = capsys.readouterr().out
    backtest = Backtest.objects.get()
    assert f"Backtest #{backtest.pk}: SUCCEEDED" in output
    assert "Cutoff 2024-12" in output and "Months since last purchase" in output
    assert "3 · Sharp decline" in output and "best possible top" in output


def test_the_command_fails_clearly_on_a_cutoff_too_late(team_a, data):
    with pytest.raises(CommandError, match="leaves no 6 complete months"):
        call_command("backtest", "--team", team_a.slug, "--cutoff", "2025-04")


def url(name: str, team, *args) -> str:
    return reverse(name, args=[team.slug, *args])


def test_viewer_reads_but_cannot_start(client_for, viewer_a, team_a, data):
    client = client_for(viewer_a)
    page = client.get(url("backtest_list", team_a))
    assert page.status_code == 200 and b"Start a backtest" not in page.content
    assert client.post(url("backtest_start", team_a)).status_code == 403
    assert not Backtest.objects.exists()


@pytest.mark.parametrize("user", ["analyst_a", "admin_a"])
def test_analysts_and_admins_start_one_and_land_on_its_results(
    request, client_for, team_a, data, django_capture_on_commit_callbacks, user
):
    client = client_for(request.getfixturevalue(user))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("backtest_start", team_a), {"cutoffs": "2024-12", "horizon": "6"}
        )
    backtest = Backtest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("backtest_detail", team_a, backtest.pk)
    page = client.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert "Cutoff 2024-12" in text and "How each level" in text and "backtest-chart-data" in text
    assert text.count('data-method="') == 4


def test_a_bad_cutoff_on_the_page_says_why_and_starts_nothing(client_for, analyst_a, team_a, data):
    response = client_for(analyst_a).post(url("backtest_start", team_a), {"cutoffs": "2025-13"})
    assert response.status_code == 400 and b"is not a month" in response.content
    response = client_for(analyst_a).post(url("backtest_start", team_a), {"cutoffs": "2025-05"})
    assert response.status_code == 400 and b"leaves no 6 complete months" in response.content
    assert not Backtest.objects.exists()


def test_another_team_gets_404_everywhere(
    client_for, admin_b, team_a, data, django_capture_on_commit_callbacks
):
    backtest = run_backtest(team_a, django_capture_on_commit_callbacks, cutoffs=[CUTOFF])
    client = client_for(admin_b)
    for name, args in (
        ("backtest_list", ()),
        ("backtest_detail", (backtest.pk,)),
        ("backtest_status", (backtest.pk,)),
    ):
        assert client.get(url(name, team_a, *args)).status_code == 404
    assert client.post(url("backtest_start", team_a)).status_code == 404


def test_a_team_member_cannot_read_another_teams_backtest_through_its_own_team(
    client_for, admin_b, team_a, team_b, data, django_capture_on_commit_callbacks
):
    backtest = run_backtest(team_a, django_capture_on_commit_callbacks, cutoffs=[CUTOFF])
    assert client_for(admin_b).get(url("backtest_detail", team_b, backtest.pk)).status_code == 404


def test_anonymous_is_sent_to_login(client, team_a):
    response = client.get(url("backtest_list", team_a))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
