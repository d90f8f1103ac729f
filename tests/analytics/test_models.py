"""The run models: constraints, immutability of finished runs, the current run."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from django.db import IntegrityError, transaction

from analytics.models import (
    COMPONENTS,
    AnalysisRun,
    CustomerResult,
    RunFinishedError,
    RunStatus,
    Segment,
    current_run,
    pack_series,
)
from customers.models import Customer

pytestmark = pytest.mark.django_db


def make_run(team, status=RunStatus.RUNNING, **fields) -> AnalysisRun:
    return AnalysisRun.objects.create(
        team=team,
        window_start=date(2024, 1, 1),
        window_end=date(2024, 12, 1),
        status=status,
        **fields,
    )


@pytest.fixture
def customer(team_a) -> Customer:
    return Customer.objects.create(team=team_a, external_id="007")


def test_a_customer_has_one_result_per_run(team_a, customer):
    run = make_run(team_a)
    CustomerResult.objects.create(run=run, customer=customer, decline_level=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerResult.objects.create(run=run, customer=customer, decline_level=2)
    CustomerResult.objects.create(run=make_run(team_a), customer=customer, decline_level=2)


def test_segment_numbers_are_unique_within_a_run(team_a):
    run = make_run(team_a)
    Segment.objects.create(run=run, number=0, name="a", size=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Segment.objects.create(run=run, number=0, name="b", size=4)


@pytest.mark.parametrize("level", [-1, 4])
def test_decline_level_outside_0_to_3_is_refused(team_a, customer, level):
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerResult.objects.create(run=make_run(team_a), customer=customer, decline_level=level)


def test_insufficient_data_is_a_null_level(team_a, customer):
    result = CustomerResult.objects.create(run=make_run(team_a), customer=customer)
    assert result.decline_level is None


def test_window_must_not_end_before_it_starts(team_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        AnalysisRun.objects.create(
            team=team_a, window_start=date(2024, 5, 1), window_end=date(2024, 4, 1)
        )


@pytest.mark.parametrize("status", [RunStatus.SUCCEEDED, RunStatus.FAILED])
def test_a_finished_run_and_its_results_are_immutable(team_a, customer, status):
    run = make_run(team_a)
    result = CustomerResult.objects.create(run=run, customer=customer, decline_level=0)
    AnalysisRun.objects.filter(pk=run.pk).update(status=status)
    run.refresh_from_db()
    run.notes = ["changed"]
    with pytest.raises(RunFinishedError):
        run.save()
    result.decline_level = 3
    with pytest.raises(RunFinishedError):
        result.save()
    with pytest.raises(RunFinishedError):
        result.delete()
    with pytest.raises(RunFinishedError):
        Segment.objects.create(run=run, number=0, name="late", size=1)


def test_current_run_is_the_latest_succeeded_run_of_the_team(team_a, team_b):
    assert current_run(team_a) is None
    older = make_run(team_a, status=RunStatus.SUCCEEDED)
    newer = make_run(team_a, status=RunStatus.SUCCEEDED)
    make_run(team_a, status=RunStatus.FAILED)
    make_run(team_a, status=RunStatus.RUNNING)
    make_run(team_b, status=RunStatus.SUCCEEDED)
    assert current_run(team_a) == newer
    AnalysisRun.objects.filter(pk=newer.pk).delete()
    assert current_run(team_a) == older


def test_series_decodes_the_packed_components(team_a, customer):
    # one row per chart series, each row distinct: 3 months
    values = np.array([[1000.0 * i, np.nan, 1000.0 * i + 0.5] for i in range(len(COMPONENTS))])
    packed = pack_series(values[None, :, :])[0].tobytes()
    result = CustomerResult.objects.create(
        run=make_run(team_a), customer=customer, components=packed
    )
    result.refresh_from_db()
    series = result.series()
    assert list(series) == list(COMPONENTS)
    largest = 1000.0 * (len(COMPONENTS) - 1) + 0.5
    for i, name in enumerate(COMPONENTS):
        assert series[name][1] is None
        # float16 relative to the largest value: within a thousandth of it
        assert series[name][0] == pytest.approx(1000.0 * i, abs=largest * 1e-3)
        assert series[name][2] == pytest.approx(1000.0 * i + 0.5, abs=largest * 1e-3)


def test_packed_series_of_an_all_empty_customer_decode_to_none(team_a, customer):
    packed = pack_series(np.full((1, len(COMPONENTS), 4), np.nan))[0].tobytes()
    result = CustomerResult.objects.create(
        run=make_run(team_a), customer=customer, components=packed
    )
    assert all(values == [None] * 4 for values in result.series().values())


def test_run_months_cover_the_window(team_a):
    run = make_run(team_a)
    assert run.months[0] == date(2024, 1, 1) and run.months[-1] == date(2024, 12, 1)
    assert len(run.months) == 12
