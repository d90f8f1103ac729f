"""Analysis runs on the default database with eager Celery: the chord runs in-process."""

from __future__ import annotations

import dataclasses
import itertools
import statistics
from datetime import timedelta

import pandas as pd
import pytest
from django.db.models import Count, Sum
from django.utils import timezone

from analytics.core import CHART_SERIES, Params
from analytics.core.segments import FEATURES, segment_name
from analytics.models import (
    AnalysisChunk,
    AnalysisRun,
    Anomaly,
    ChunkStatus,
    CustomerResult,
    RunStatus,
    Segment,
    current_run,
)
from analytics.services import (
    WAITING,
    AnalysisError,
    RunInProgress,
    analysis_chunk_run,
    analysis_run_claim,
    analysis_run_finish,
    analysis_run_plan,
    analysis_run_start,
    chunks,
    params_from_dict,
)
from analytics.services.segments import NAMED_FROM
from customers.models import Customer

from .helpers import import_csv, import_portfolio

pytestmark = pytest.mark.django_db

CUSTOMERS = 60


@pytest.fixture
def portfolio(team_a, settings):
    settings.ANALYSIS_CHUNK_SIZE = 25  # 60 customers → 3 chunks
    return import_portfolio(team_a, customers=CUSTOMERS)


def start(team, capture, **kwargs) -> AnalysisRun:
    with capture(execute=True):
        run = analysis_run_start(team=team, params=kwargs.pop("params", Params()), **kwargs)
    run.refresh_from_db()
    return run


def assert_complete(run: AnalysisRun) -> None:
    assert run.status == RunStatus.SUCCEEDED, run.error
    results = CustomerResult.objects.filter(run=run)
    assert results.count() == run.customers_count > 0
    assert results.values("customer").distinct().count() == run.customers_count
    levels = sum(count for _, count in run.level_counts)
    assert levels == run.customers_count
    anomalies = Anomaly.objects.filter(run=run).count()
    assert anomalies == run.anomalies_count == results.aggregate(n=Sum("anomaly_count"))["n"]


def test_a_run_analyses_every_customer_through_the_chord_in_process(
    team_a, portfolio, django_capture_on_commit_callbacks, admin_a
):
    run = start(team_a, django_capture_on_commit_callbacks, user=admin_a)
    assert_complete(run)
    assert run.created_by == admin_a and run.started_at and run.finished_at
    assert (run.chunks_total, run.chunks_done, run.progress) == (3, 3, 100)
    assert set(AnalysisChunk.objects.filter(run=run).values_list("status", flat=True)) == {
        ChunkStatus.DONE
    }
    assert run.customers_count == Customer.objects.filter(team=team_a).count()
    assert {"plan", "read", "compute", "write", "segment", "total"} <= set(run.timings)
    # The run records the purchase process it fitted once for all its chunks.
    params = params_from_dict(run.params)
    assert len(params.purchase_model) == 4 and min(params.purchase_model) > 0
    assert dataclasses.replace(params, purchase_model=None) == Params()
    assert current_run(team_a) == run


def test_segments_are_written_and_set_on_every_leveled_customer(
    team_a, portfolio, django_capture_on_commit_callbacks
):
    run = start(team_a, django_capture_on_commit_callbacks, params=Params(segments=3))
    results = CustomerResult.objects.filter(run=run)
    segments = Segment.objects.filter(run=run)
    assert run.segments_count == segments.count() == 3
    assert list(segments.values_list("number", flat=True)) == [0, 1, 2]
    leveled = results.filter(decline_level__isnull=False)
    assert not leveled.filter(segment__isnull=True).exists()
    assert not results.filter(decline_level__isnull=True, segment__isnull=False).exists()
    sizes = dict(leveled.values_list("segment").annotate(n=Count("id")))
    assert sizes == dict(segments.values_list("number", "size"))
    for segment in segments:
        assert set(segment.profile) == set(FEATURES)
        assert set(NAMED_FROM) <= set(segment.features)
        # Its figures are those of its customers' stored results (the export's columns).
        members = leveled.filter(segment=segment.number)
        revenue = sorted(float(v) for v in members.values_list("revenue_mean", flat=True))
        assert segment.features["revenue_median"] == pytest.approx(statistics.median(revenue))
        assert segment.features["share_declining"] == pytest.approx(
            members.filter(decline_level__gte=1).count() / segment.size
        )
        assert segment.name == segment_name(pd.Series(segment.features, dtype=float))
    # The level mix the segments page shows is counted once, when the run finishes.
    grouped = results.values_list("segment", "decline_level").annotate(n=Count("id"))
    expected: dict[str, list[int]] = {}
    for number, level, count in grouped:
        key = "none" if number is None else str(number)
        expected.setdefault(key, [0] * 5)[4 if level is None else level] += count
    assert run.segment_level_mix == expected


def test_results_keep_the_figures_and_chart_series(
    team_a, portfolio, django_capture_on_commit_callbacks
):
    run = start(team_a, django_capture_on_commit_callbacks)
    result = CustomerResult.objects.filter(run=run, decline_level__isnull=False).first()
    series = result.series()
    assert set(series) == set(CHART_SERIES)
    assert all(len(values) == len(run.months) for values in series.values())
    assert result.explanation
    assert result.n_months <= len(run.months)


def test_a_chunk_run_twice_writes_its_rows_once(team_a, portfolio):
    run = AnalysisRun.objects.create(
        team=team_a,
        window_start=portfolio.first_month,
        window_end=portfolio.last_month,
        params=Params().as_dict(),
    )
    run = analysis_run_claim(run_id=run.pk)
    assert analysis_run_claim(run_id=run.pk) is None  # a second claim finds nothing
    numbers = analysis_run_plan(run=run)
    assert numbers == [0, 1, 2]
    assert analysis_chunk_run(run_id=run.pk, number=0) == "done"
    first = sorted(CustomerResult.objects.filter(run=run).values_list("customer_id", "slope"))
    anomalies = Anomaly.objects.filter(run=run).count()
    assert analysis_chunk_run(run_id=run.pk, number=0).startswith("skipped")
    # A delivery whose "done" was lost replaces the chunk's rows instead of adding to them.
    AnalysisChunk.objects.filter(run=run, number=0).update(status=ChunkStatus.PENDING)
    AnalysisRun.objects.filter(pk=run.pk).update(chunks_done=0)
    assert analysis_chunk_run(run_id=run.pk, number=0) == "done"
    again = sorted(CustomerResult.objects.filter(run=run).values_list("customer_id", "slope"))
    assert again == first and len(first) == 25
    assert Anomaly.objects.filter(run=run).count() == anomalies
    assert analysis_run_finish(run_id=run.pk) == WAITING  # chunks 1 and 2 are not written
    for number in (1, 2):
        analysis_chunk_run(run_id=run.pk, number=number)
    assert analysis_run_finish(run_id=run.pk) == RunStatus.SUCCEEDED
    assert analysis_run_finish(run_id=run.pk).startswith("skipped")
    run.refresh_from_db()
    assert_complete(run)
    assert run.chunks_done == 3


def test_a_failing_chunk_fails_the_run_and_the_previous_run_stays_current(
    team_a, portfolio, django_capture_on_commit_callbacks, monkeypatch
):
    previous = start(team_a, django_capture_on_commit_callbacks)
    real = chunks.analyze_portfolio
    calls = []

    def second_chunk_breaks(matrix, months, params):
        calls.append(len(matrix))
        if len(calls) == 2:
            raise RuntimeError("singular matrix in chunk")
        return real(matrix, months, params)

    monkeypatch.setattr(chunks, "analyze_portfolio", second_chunk_breaks)
    failed = start(team_a, django_capture_on_commit_callbacks)
    assert failed.status == RunStatus.FAILED
    assert failed.error == "Chunk 2 of 3 failed (RuntimeError): singular matrix in chunk"
    assert failed.finished_at is not None
    assert len(calls) == 2  # the third chunk saw a failed run and did nothing
    assert AnalysisChunk.objects.get(run=failed, number=1).status == ChunkStatus.FAILED
    assert not Segment.objects.filter(run=failed).exists()
    assert current_run(team_a) == previous


def test_a_team_runs_one_analysis_at_a_time(team_a, portfolio):
    running = AnalysisRun.objects.create(
        team=team_a,
        window_start=portfolio.first_month,
        window_end=portfolio.last_month,
        status=RunStatus.RUNNING,
        heartbeat_at=timezone.now(),
    )
    with pytest.raises(RunInProgress) as refused:
        analysis_run_start(team=team_a, params=Params())
    assert refused.value.run == running


def test_a_run_whose_worker_vanished_is_failed_by_the_next_start(
    team_a, portfolio, django_capture_on_commit_callbacks
):
    stale = AnalysisRun.objects.create(
        team=team_a,
        window_start=portfolio.first_month,
        window_end=portfolio.last_month,
        status=RunStatus.RUNNING,
        heartbeat_at=timezone.now() - timedelta(days=1),
    )
    run = start(team_a, django_capture_on_commit_callbacks)
    stale.refresh_from_db()
    assert stale.status == RunStatus.FAILED and "Abandoned" in stale.error
    assert run.status == RunStatus.SUCCEEDED


def test_a_team_without_data_cannot_start_a_run(team_a):
    with pytest.raises(AnalysisError, match="no revenue data"):
        analysis_run_start(team=team_a, params=Params())
    assert not AnalysisRun.objects.exists()


def test_the_partial_month_note_is_kept_on_the_run(team_a, django_capture_on_commit_callbacks):
    rows = "".join(f"c{i},2024-{m:02d}-15,{100 + i}\n" for i in range(5) for m in range(1, 13))
    import_csv(team_a, "customer_id,date,amount\n" + rows + "c1,2025-01-10,5\n")
    run = start(team_a, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.window_end.isoformat() == "2024-12-01"
    assert "Left out 2025-01" in run.notes[0]
    assert run.customers_count == 5


def test_a_window_without_customers_fails_the_run_and_keeps_the_previous_one(
    team_a, settings, django_capture_on_commit_callbacks
):
    import_csv(team_a, "customer_id,date,amount\nold,2024-01-15,5\nold,2024-02-28,5\n")
    previous = start(team_a, django_capture_on_commit_callbacks)
    assert previous.status == RunStatus.SUCCEEDED, previous.error
    # Only a partial month after a long gap: the 12-month window holds no customer.
    settings.ANALYSIS_WINDOW_MONTHS = 12
    import_csv(team_a, "customer_id,date,amount\nnew,2025-09-02,5\n", name="late.csv")
    run = start(team_a, django_capture_on_commit_callbacks)
    assert run.window_end.isoformat() == "2025-08-01"
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("No customer has revenue between 2024-09 and 2025-08")
    assert current_run(team_a) == previous


def test_empty_explanations_and_missing_figures_are_stored_as_such(
    team_a, portfolio, django_capture_on_commit_callbacks, monkeypatch
):
    real = chunks.analyze_portfolio

    def terse(matrix, months, params):
        result = real(matrix, months, params)
        result.figures["explanation"] = ""  # COPY's CSV would read an empty field as NULL
        result.figures["cv"] = float("inf")
        return result

    monkeypatch.setattr(chunks, "analyze_portfolio", terse)
    run = start(team_a, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.SUCCEEDED, run.error
    results = CustomerResult.objects.filter(run=run)
    assert set(results.values_list("explanation", flat=True)) == {""}
    assert set(results.values_list("cv", flat=True)) == {None}


def test_deleting_a_finished_run_deletes_its_results(
    team_a, portfolio, django_capture_on_commit_callbacks
):
    run = start(team_a, django_capture_on_commit_callbacks)
    run.delete()
    assert not CustomerResult.objects.exists() and not Anomaly.objects.exists()
    assert not Segment.objects.exists() and not AnalysisChunk.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_chunks_read_ahead_in_process_give_the_same_results_as_one_after_another(
    team_a, settings, monkeypatch
):
    """Outside a transaction on PostgreSQL an eager run reads each next chunk in a thread
    while it computes the current one; the results must not depend on it, and each chunk
    records its read as begun before the previous chunk's computing ended."""
    import_portfolio(team_a, customers=CUSTOMERS, seed=4)
    settings.ANALYSIS_CHUNK_SIZE = 15  # 60 customers → 4 chunks
    side_by_side = analysis_run_start(team=team_a, params=Params())
    monkeypatch.setattr(chunks, "READ_AHEAD", False)
    one_by_one = analysis_run_start(team=team_a, params=Params())

    def levels(run):
        return dict(
            CustomerResult.objects.filter(run=run).values_list("customer_id", "decline_level")
        )

    assert side_by_side.status == one_by_one.status == RunStatus.SUCCEEDED
    assert side_by_side.chunks_done == side_by_side.chunks_total == 4
    assert CustomerResult.objects.filter(run=side_by_side).count() == CUSTOMERS
    assert levels(side_by_side) == levels(one_by_one)
    assert not AnalysisChunk.objects.filter(run=side_by_side).exclude(status=ChunkStatus.DONE)
    timings = AnalysisChunk.objects.filter(run=side_by_side).order_by("number")
    stages = list(timings.values_list("timings", flat=True))
    read_ahead = [
        later["read_began"] < earlier["compute_began"] + earlier["compute"]
        for earlier, later in itertools.pairwise(stages)
    ]
    assert all(read_ahead), stages
    in_order = list(AnalysisChunk.objects.filter(run=one_by_one).values_list("timings", flat=True))
    assert all(t["read_began"] == t["began"] for t in in_order)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_chunk_whose_read_ahead_fails_fails_the_run_with_the_reason(
    team_a, settings, monkeypatch
):
    import_portfolio(team_a, customers=CUSTOMERS, seed=4)
    settings.ANALYSIS_CHUNK_SIZE = 15
    real_read = chunks.revenue_matrix_read

    def read(**kwargs):
        if kwargs["first_customer_id"] != Customer.objects.order_by("id").first().pk:
            raise RuntimeError("the disk is on fire")
        return real_read(**kwargs)

    monkeypatch.setattr(chunks, "revenue_matrix_read", read)
    run = analysis_run_start(team=team_a, params=Params())
    assert run.status == RunStatus.FAILED
    assert run.error == "Chunk 2 of 4 failed (RuntimeError): the disk is on fire"
    statuses = dict(AnalysisChunk.objects.filter(run=run).values_list("number", "status"))
    assert statuses[0] == ChunkStatus.DONE and statuses[1] == ChunkStatus.FAILED
    assert current_run(team_a) is None


def test_more_segments_than_customers_makes_as_many_as_it_can_and_says_so(
    team_a, django_capture_on_commit_callbacks
):
    import_portfolio(team_a, customers=12, seed=6)
    run = start(team_a, django_capture_on_commit_callbacks, params=Params(segments=15))
    assert_complete(run)  # it failed after all the work with "n_samples=11 should be >= 15"
    clustered = CustomerResult.objects.filter(run=run, decline_level__isnull=False).count()
    assert 0 < run.segments_count < clustered <= 12
    assert run.notes[-1] == (
        f"15 segments were asked for; {run.segments_count} could be made from the customers "
        "with enough history to cluster."
    )


def test_a_runs_stages_on_the_clock_add_up_to_its_total(
    team_a, portfolio, django_capture_on_commit_callbacks
):
    run = start(team_a, django_capture_on_commit_callbacks)
    t = run.timings
    assert {"chunks", "read_wall", "compute_wall", "write_wall"} <= set(t)
    assert t["plan"] + t["chunks"] + t["finish"] <= t["total"] + 0.01
    for stage in ("read", "compute", "write"):
        assert 0 < t[f"{stage}_wall"] <= min(t[stage], t["chunks"]) + 0.001
