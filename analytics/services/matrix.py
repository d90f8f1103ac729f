"""The revenue matrix: customers × the window's months, read set-based.

A customer's row is NaN before its first month with revenue (not yet a customer) and 0 in
the months of its span without revenue. Rows are ordered by customer id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from customers.models import Customer

from .sql import epoch_days_sql, epoch_months, read_frame


@dataclass
class RevenueMatrix:
    customer_ids: np.ndarray  # int64, ascending
    months: pd.DatetimeIndex  # month starts, oldest first
    values: np.ndarray  # float64, len(customer_ids) × len(months)


def window_customers(
    *,
    team_id: int,
    window_start: date,
    window_end: date,
    first_customer_id: int | None = None,
    last_customer_id: int | None = None,
):
    """The customers a window analyses: a span (first to last month with revenue) that
    reaches into the window. Customers gone before it starts are not judged again."""
    query = Customer.objects.filter(
        team_id=team_id, first_month__lte=window_end, last_month__gte=window_start
    )
    if first_customer_id is not None:
        query = query.filter(id__gte=first_customer_id)
    if last_customer_id is not None:
        query = query.filter(id__lte=last_customer_id)
    return query.order_by("id")


def month_number(day: date) -> int:
    """Months since 1970-01, like numpy's datetime64[M]."""
    return (day.year - 1970) * 12 + day.month - 1


def revenue_matrix_read(
    *,
    team_id: int,
    window_start: date,
    window_end: date,
    first_customer_id: int | None = None,
    last_customer_id: int | None = None,
) -> RevenueMatrix:
    customers = window_customers(
        team_id=team_id,
        window_start=window_start,
        window_end=window_end,
        first_customer_id=first_customer_id,
        last_customer_id=last_customer_id,
    ).values_list("id", "first_month")
    ids, first_months = zip(*customers, strict=True) if customers else ((), ())
    customer_ids = np.asarray(ids, dtype=np.int64)
    months = pd.date_range(window_start, window_end, freq="MS")
    values = np.zeros((len(customer_ids), len(months)))
    if len(customer_ids):
        _fill_revenue(values, customer_ids, team_id, window_start, window_end)
        first_column = np.array([month_number(m) for m in first_months]) - month_number(
            window_start
        )
        values[np.arange(len(months)) < first_column[:, None]] = np.nan
    return RevenueMatrix(customer_ids=customer_ids, months=months, values=values)


def _fill_revenue(values, customer_ids, team_id, window_start, window_end) -> None:
    """One query (COPY … TO on PostgreSQL) for every revenue record of these customers."""
    frame = read_frame(
        # The amount as NUMERIC text: PostgreSQL formats float8 far slower than it converts.
        f"SELECT customer_id, {epoch_days_sql('month')}, amount "
        "FROM customers_revenuerecord WHERE team_id = %s AND customer_id >= %s "
        "AND customer_id <= %s AND month >= %s AND month <= %s",
        [team_id, int(customer_ids[0]), int(customer_ids[-1]), window_start, window_end],
        ("customer_id", "month", "amount"),
    )
    if frame.empty:
        return
    record_customers = frame["customer_id"].to_numpy(dtype=np.int64)
    rows = np.searchsorted(customer_ids, record_customers)
    rows = np.minimum(rows, len(customer_ids) - 1)
    known = customer_ids[rows] == record_customers  # a customer outside the window's filter
    columns = epoch_months(frame["month"].to_numpy(dtype=np.int64)) - month_number(window_start)
    values[rows[known], columns[known]] = frame["amount"].to_numpy(dtype=np.float64)[known]
