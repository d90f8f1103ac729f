"""The revenue matrix read and the window rule (docs/method.md §0)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from analytics.services import AnalysisError, analysis_window, revenue_matrix_read
from analytics.services.window import is_partial_month, parse_month
from customers.models import Customer, Upload

from .helpers import import_csv

pytestmark = pytest.mark.django_db

JAN, FEB, MAR, APR = (date(2024, m, 1) for m in (1, 2, 3, 4))


def test_matrix_is_nan_before_the_first_month_and_zero_inside_the_span(team_a, team_b):
    import_csv(
        team_a,
        "customer_id,date,amount\n"
        "old,2023-11-20,5\n"  # first month before the window: no NaN in it
        "old,2024-02-10,7.25\n"
        "a,2024-01-05,10\na,2024-01-20,2.50\na,2024-03-03,-4\n"
        "b,2024-03-15,20\nb,2024-04-28,1\n"
        "gone,2023-06-01,9\n",  # span ends before the window: not analysed
    )
    import_csv(team_b, "customer_id,date,amount\nother,2024-01-05,99\n")
    matrix = revenue_matrix_read(team_id=team_a.pk, window_start=JAN, window_end=APR)
    ids = dict(Customer.objects.filter(team=team_a).values_list("external_id", "id"))
    assert list(matrix.customer_ids) == sorted([ids["old"], ids["a"], ids["b"]])
    assert [m.date() for m in matrix.months] == [JAN, FEB, MAR, APR]
    rows = {cid: matrix.values[i] for i, cid in enumerate(matrix.customer_ids)}
    np.testing.assert_array_equal(rows[ids["a"]], [12.5, 0.0, -4.0, 0.0])
    np.testing.assert_array_equal(rows[ids["b"]], [np.nan, np.nan, 20.0, 1.0])
    np.testing.assert_array_equal(rows[ids["old"]], [0.0, 7.25, 0.0, 0.0])
    assert matrix.values.dtype == np.float64


def test_matrix_reads_only_the_chunk_of_customer_ids(team_a):
    import_csv(team_a, "customer_id,date,amount\nx,2024-01-05,1\ny,2024-01-05,2\nz,2024-02-05,3\n")
    ids = sorted(Customer.objects.filter(team=team_a).values_list("id", flat=True))
    matrix = revenue_matrix_read(
        team_id=team_a.pk,
        window_start=JAN,
        window_end=FEB,
        first_customer_id=ids[1],
        last_customer_id=ids[2],
    )
    assert list(matrix.customer_ids) == ids[1:]
    np.testing.assert_array_equal(matrix.values, [[2.0, 0.0], [np.nan, 3.0]])


def test_import_records_the_last_transaction_date(team_a):
    upload = import_csv(team_a, "customer_id,date,amount\na,2024-03-30,1\na,2024-03-02,1\n")
    assert upload.last_transaction_date == date(2024, 3, 30)


@pytest.mark.parametrize(
    ("last_day", "partial"),
    [(date(2024, 1, 31), False), (date(2024, 1, 28), False), (date(2024, 1, 27), True)],
)
def test_a_month_is_partial_when_its_last_transaction_is_more_than_3_days_before_its_end(
    last_day, partial
):
    assert is_partial_month(JAN, last_day) is partial


def test_window_ends_at_the_last_month_when_it_is_complete(team_a):
    import_csv(team_a, "customer_id,date,amount\na,2024-01-05,1\na,2024-04-27,1\n")
    window = analysis_window(team=team_a)
    assert (window.start, window.end, window.notes) == (JAN, APR, [])


def test_a_partial_last_month_is_left_out_and_the_notes_say_so(team_a):
    import_csv(team_a, "customer_id,date,amount\na,2024-01-05,1\na,2024-04-26,1\n")
    window = analysis_window(team=team_a)
    assert (window.start, window.end) == (JAN, MAR)
    assert len(window.notes) == 1
    assert "Left out 2024-04" in window.notes[0] and "2024-04-26" in window.notes[0]


def test_a_later_replace_decides_the_last_transaction_date(team_a):
    import_csv(team_a, "customer_id,date,amount\na,2024-01-05,1\na,2024-04-30,1\n")
    import_csv(team_a, "customer_id,date,amount\na,2024-04-10,1\n", name="r.csv", mode="replace")
    assert analysis_window(team=team_a).end == MAR


def test_an_unknown_last_transaction_date_counts_as_complete_with_a_note(team_a):
    import_csv(team_a, "customer_id,date,amount\na,2024-01-05,1\na,2024-04-02,1\n")
    Upload.objects.update(last_transaction_date=None)  # imported before the field existed
    window = analysis_window(team=team_a)
    assert window.end == APR
    assert "unknown" in window.notes[0]


def test_a_chosen_window_end_is_used_even_if_partial(team_a):
    import_csv(team_a, "customer_id,date,amount\na,2024-01-05,1\na,2024-04-02,1\n")
    assert analysis_window(team=team_a, window_end=FEB).end == FEB
    chosen = analysis_window(team=team_a, window_end=APR)
    assert chosen.end == APR
    assert any("partial" in note for note in chosen.notes)


@pytest.mark.parametrize("month", [date(2024, 5, 1), date(2023, 12, 1)])
def test_a_chosen_window_end_outside_the_data_is_refused(team_a, month):
    import_csv(team_a, "customer_id,date,amount\na,2024-01-05,1\na,2024-04-30,1\n")
    with pytest.raises(AnalysisError):
        analysis_window(team=team_a, window_end=month)


def test_long_histories_are_cut_to_the_window_length(team_a, settings):
    settings.ANALYSIS_WINDOW_MONTHS = 12
    import_csv(team_a, "customer_id,date,amount\na,2020-01-05,1\na,2024-04-30,1\n")
    window = analysis_window(team=team_a)
    assert (window.start, window.end, window.months) == (date(2023, 5, 1), APR, 12)
    assert "last 12 months" in window.notes[0]


def test_no_data_means_no_window(team_a):
    with pytest.raises(AnalysisError, match="no revenue data"):
        analysis_window(team=team_a)


def test_only_a_partial_month_means_nothing_to_analyse(team_a):
    import_csv(team_a, "customer_id,date,amount\na,2024-04-02,1\n")
    with pytest.raises(AnalysisError, match="partial"):
        analysis_window(team=team_a)


@pytest.mark.parametrize("text", ["2024-4", "24-04", "2024/04", "april", "2024-13"])
def test_months_are_given_as_yyyy_mm(text):
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_month(text)
