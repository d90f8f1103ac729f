"""`analyze` and `export_results` exactly as docs/interfaces.md describes them."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.management import CommandError, call_command

from analytics.models import AnalysisRun, CustomerResult, RunStatus
from analytics.services import chunks

from .helpers import import_csv, import_portfolio

# The command waits for the run, so its on_commit queueing must really commit.
pytestmark = pytest.mark.django_db(transaction=True)

RESULT_HEADER = (
    "customer_id,decline_level,segment,slope,slope_low,slope_high,relative_change_12m,"
    "p_value,revenue_mean,revenue_std,cv,resid_std,seasonal_strength,active_months,"
    "n_months,churned,onset_month,revenue_at_risk,anomaly_count,explanation,p_active,"
    "expected_revenue_12m"
)
MONTH = re.compile(r"^\d{4}-\d{2}$")


def run_command(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def analysed(team_a):
    import_portfolio(team_a, customers=50, seed=5)
    output = run_command("analyze", "--team", team_a.slug, "--segments", "3")
    return AnalysisRun.objects.get(team=team_a), output


def test_analyze_prints_the_run_its_status_levels_and_timings(analysed):
    run, output = analysed
    assert run.status == RunStatus.SUCCEEDED
    assert f"Run #{run.pk}: SUCCEEDED" in output
    for label in ("0 · Stable or growing", "3 · Sharp decline", "Insufficient data"):
        assert label in output
    assert f"Customers: {run.customers_count}" in output
    assert "Timings (s): plan" in output and "total" in output
    assert run.params["segments"] == 3 and run.segments_count == 3


def test_analyze_takes_the_method_parameters(team_a):
    import_portfolio(team_a, customers=30, seed=6, end_month="2025-06")
    run_command(
        "analyze", "--team", team_a.slug, "--window-end", "2025-03", "--alpha", "0.01",
        "--anomaly-z", "5",
    )  # fmt: skip
    run = AnalysisRun.objects.get(team=team_a)
    assert run.window_end.isoformat() == "2025-03-01"
    assert (run.params["alpha"], run.params["anomaly_z"], run.params["segments"]) == (
        0.01,
        5.0,
        None,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--alpha", "1.5"],
        ["--segments", "1"],
        ["--anomaly-z", "-1"],
        ["--window-end", "2025/03"],
    ],
)
def test_analyze_refuses_bad_parameters(team_a, args):
    with pytest.raises(CommandError):
        run_command("analyze", "--team", team_a.slug, *args)
    assert not AnalysisRun.objects.exists()


def test_analyze_fails_for_an_unknown_team_or_a_team_without_data(team_a):
    with pytest.raises(CommandError, match="No team"):
        run_command("analyze", "--team", "nope")
    with pytest.raises(CommandError, match="no revenue data"):
        run_command("analyze", "--team", team_a.slug)


def test_analyze_exits_non_zero_when_the_run_fails(team_a, monkeypatch):
    import_portfolio(team_a, customers=20, seed=7)

    def broken(matrix, months, params):
        raise ArithmeticError("overflow in the trend")

    monkeypatch.setattr(chunks, "analyze_portfolio", broken)
    with pytest.raises(CommandError, match=r"failed.*overflow in the trend"):
        run_command("analyze", "--team", team_a.slug)
    assert AnalysisRun.objects.get(team=team_a).status == RunStatus.FAILED


def read_csv(path) -> tuple[str, list[dict]]:
    text = path.read_text(encoding="utf-8")
    return text.splitlines()[0], list(csv.DictReader(io.StringIO(text)))


def test_export_writes_the_results_columns_in_order(analysed, tmp_path):
    run, _ = analysed
    output = run_command(
        "export_results", "--team", "acme", "--output", str(tmp_path / "r.csv"),
        "--anomalies", str(tmp_path / "a.csv"),
    )  # fmt: skip
    assert f"Run #{run.pk}: {run.customers_count} customers" in output
    header, rows = read_csv(tmp_path / "r.csv")
    assert header == RESULT_HEADER
    assert len(rows) == run.customers_count
    insufficient = [r for r in rows if r["decline_level"] == ""]
    assert len(insufficient) == run.insufficient_count > 0
    assert all(r["segment"] == "" for r in insufficient)
    assert {r["decline_level"] for r in rows} <= {"", "0", "1", "2", "3"}
    assert {r["churned"] for r in rows} <= {"true", "false"}
    assert all(MONTH.match(r["onset_month"]) for r in rows if r["onset_month"])
    assert any(r["onset_month"] for r in rows)
    risks = [float(r["revenue_at_risk"]) for r in rows]
    assert risks == sorted(risks, reverse=True)  # the most money at stake first
    stored = CustomerResult.objects.get(run=run, customer__external_id=rows[0]["customer_id"])
    assert rows[0]["revenue_mean"] == f"{stored.revenue_mean:.2f}"
    assert rows[0]["explanation"] == stored.explanation

    header, anomalies = read_csv(tmp_path / "a.csv")
    assert header == "customer_id,month,revenue,expected,zscore"
    assert len(anomalies) == run.anomalies_count
    assert all(MONTH.match(a["month"]) for a in anomalies)


def test_export_keeps_customer_ids_exactly(team_a, tmp_path):
    rows = "".join(
        f"{cid},2024-{m:02d}-28,{10 + m}\n" for cid in ("007", "a,b") for m in range(1, 13)
    )
    import_csv(team_a, "customer_id,date,amount\n" + rows.replace("a,b,", '"a,b",'))
    run_command("analyze", "--team", team_a.slug)
    run_command("export_results", "--team", team_a.slug, "--output", str(tmp_path / "r.csv"))
    _, exported = read_csv(tmp_path / "r.csv")
    assert sorted(r["customer_id"] for r in exported) == ["007", "a,b"]


def test_export_of_a_chosen_run_and_its_refusals(analysed, team_b, tmp_path):
    run, _ = analysed
    path = str(tmp_path / "r.csv")
    run_command("export_results", "--team", "acme", "--output", path, "--run", str(run.pk))
    with pytest.raises(CommandError, match="no run"):
        run_command("export_results", "--team", team_b.slug, "--output", path, "--run", str(run.pk))
    with pytest.raises(CommandError, match="no succeeded"):
        run_command("export_results", "--team", team_b.slug, "--output", path)
    AnalysisRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    with pytest.raises(CommandError, match="FAILED"):
        run_command("export_results", "--team", "acme", "--output", path, "--run", str(run.pk))


def test_seed_demo_ends_with_an_analysis_and_skips_it_when_current(db, tmp_path):
    output = run_command("seed_demo", "--customers", "40", "--password", "x" * 12)
    runs = AnalysisRun.objects.filter(team__slug="demo")
    assert runs.count() == 1 and runs.get().status == RunStatus.SUCCEEDED
    assert "SUCCEEDED" in output
    again = run_command("seed_demo", "--customers", "40", "--password", "x" * 12)
    assert "up to date" in again and runs.count() == 1


def test_export_results_neutralises_formulas_like_the_web_export(team_a, tmp_path):
    rows = "".join(
        f'"{cid}",2024-{month:02d}-10,{100 + month}\n'
        for cid in ("=1+2", "+cmd|' /C calc'!A0", "@SUM(A1)", "-7", "plain")
        for month in range(1, 13)
    )
    import_csv(team_a, "customer_id,date,amount\n" + rows)
    run_command("analyze", "--team", team_a.slug)
    out = tmp_path / "results.csv"
    run_command("export_results", "--team", team_a.slug, "--output", str(out))
    with out.open(newline="") as handle:
        ids = {row["customer_id"] for row in csv.DictReader(handle)}
    assert ids == {"'=1+2", "'+cmd|' /C calc'!A0", "'@SUM(A1)", "-7", "plain"}
