"""Write monthly totals in one transaction, set-based.

Tables are filled through ``revtrend_site.bulk`` (``COPY`` on PostgreSQL, a single
``executemany`` elsewhere). The customers go through a small staging table and two
SQL statements (insert the new ones, widen the known ones' month span). Revenue rows
then get their customer ids from one query and are loaded straight into the revenue
table when nothing can conflict (a `replace`, or months the team has no data in), or
staged and merged with ``INSERT … ON CONFLICT DO UPDATE`` when an append adds to
existing months.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from revtrend_site.bulk import create_stage, load_frame

from . import IngestError
from .aggregate import MonthlyTotals
from .parsing import MAX_ABS_CENTS

STAGE_CUSTOMERS = "revtrend_stage_customers"
STAGE_REVENUE = "revtrend_stage_revenue"
REVENUE = "customers_revenuerecord"
REVENUE_COLUMNS = ("team_id", "customer_id", "month", "amount", "transaction_count")


OVERFLOW_MESSAGE = (
    "Adding this file would take a customer's monthly total beyond ±999,999,999,999.99; "
    "nothing was imported."
)


@dataclass
class WriteResult:
    new_customers: int
    records_written: int


def write_monthly_totals(*, team_id: int, totals: MonthlyTotals, replace: bool) -> WriteResult:
    """Merge ``totals`` into the team's revenue; the caller holds the transaction."""
    with connection.cursor() as cursor:
        new_customers = _write_customers(cursor, team_id, totals)
        revenue = _revenue_rows(cursor, team_id, totals)
        if replace:
            _delete_months(cursor, team_id, totals.first_month, totals.last_month)
        if replace or not _has_months(cursor, team_id, totals, new_customers):
            load_frame(cursor, REVENUE, REVENUE_COLUMNS, revenue)
        else:
            _merge_revenue(cursor, revenue)
        if replace:
            _recompute_spans(cursor, team_id)
        _drop_stages(cursor)
    return WriteResult(new_customers=new_customers, records_written=len(revenue))


def _drop_stages(cursor: CursorWrapper) -> None:
    for table in (STAGE_CUSTOMERS, STAGE_REVENUE):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


def month_text(months: pd.Series) -> np.ndarray:
    text: npt.NDArray[np.str_] = months.to_numpy().astype("datetime64[D]").astype(str)
    return text


def cents_text(cents: np.ndarray) -> np.ndarray:
    """Exact decimal text for integer cents, vectorised: -1234 → '-12.34'."""
    whole, frac = np.divmod(np.abs(cents), 100)
    sign = np.where(cents < 0, "-", "")
    text = np.char.add(np.char.add(sign, whole.astype(str)), ".")
    return np.char.add(text, np.char.zfill(frac.astype(str), 2))


def _write_customers(cursor: CursorWrapper, team_id: int, totals: MonthlyTotals) -> int:
    spans = totals.frame.groupby("external_id", sort=True)["month"].agg(["min", "max"])
    stage = pd.DataFrame(
        {
            "external_id": spans.index,
            "first_month": month_text(spans["min"]),
            "last_month": month_text(spans["max"]),
            "owner_id": pd.Series(
                [totals.owners.get(external_id) for external_id in spans.index], dtype=object
            ),
        }
    )
    create_stage(
        cursor,
        STAGE_CUSTOMERS,
        "external_id varchar(100) NOT NULL, first_month date NOT NULL, last_month date NOT NULL, "
        "owner_id bigint NULL",
    )
    load_frame(cursor, STAGE_CUSTOMERS, tuple(stage.columns), stage)
    # "WHERE true" lets SQLite parse INSERT … SELECT … ON CONFLICT unambiguously.
    cursor.execute(
        "INSERT INTO customers_customer "
        "(team_id, external_id, name, first_month, last_month, created_at) "
        f"SELECT %s, s.external_id, '', s.first_month, s.last_month, %s FROM {STAGE_CUSTOMERS} s "
        "WHERE true ORDER BY s.external_id ON CONFLICT (team_id, external_id) DO NOTHING",
        [team_id, timezone.now()],
    )
    new_customers: int = max(cursor.rowcount, 0)
    # Appending can only widen a known customer's span (a replace recomputes it later).
    cursor.execute(
        "UPDATE customers_customer SET "
        "first_month = CASE WHEN customers_customer.first_month IS NULL "
        "OR s.first_month < customers_customer.first_month "
        "THEN s.first_month ELSE customers_customer.first_month END, "
        "last_month = CASE WHEN customers_customer.last_month IS NULL "
        "OR s.last_month > customers_customer.last_month "
        "THEN s.last_month ELSE customers_customer.last_month END "
        f"FROM {STAGE_CUSTOMERS} s WHERE customers_customer.team_id = %s "
        "AND customers_customer.external_id = s.external_id",
        [team_id],
    )
    if totals.owners:  # the file's owner column names each customer's account owner
        cursor.execute(
            f"UPDATE customers_customer SET owner_id = s.owner_id FROM {STAGE_CUSTOMERS} s "
            "WHERE customers_customer.team_id = %s "
            "AND customers_customer.external_id = s.external_id AND s.owner_id IS NOT NULL",
            [team_id],
        )
    return new_customers


def _revenue_rows(cursor: CursorWrapper, team_id: int, totals: MonthlyTotals) -> pd.DataFrame:
    cursor.execute(
        f"SELECT c.external_id, c.id FROM customers_customer c JOIN {STAGE_CUSTOMERS} s "
        "ON s.external_id = c.external_id WHERE c.team_id = %s",
        [team_id],
    )
    ids = dict(cursor.fetchall())
    frame = totals.frame.sort_values(["external_id", "month"])  # index order for the inserts
    return pd.DataFrame(
        {
            "team_id": team_id,
            "customer_id": frame["external_id"].map(ids).astype(np.int64),
            "month": month_text(frame["month"]),
            "amount": cents_text(frame["cents"].to_numpy()),
            "transaction_count": frame["transactions"],
        }
    )


def _has_months(
    cursor: CursorWrapper, team_id: int, totals: MonthlyTotals, new_customers: int
) -> bool:
    """Does any customer of this file already have revenue in the file's months?

    One index probe per known customer; a file of new customers needs none."""
    if new_customers == totals.customers:
        return False
    cursor.execute(
        f"SELECT 1 FROM customers_customer c JOIN {STAGE_CUSTOMERS} s "
        "ON s.external_id = c.external_id WHERE c.team_id = %s "
        "AND EXISTS (SELECT 1 FROM customers_revenuerecord r WHERE r.team_id = %s "
        "AND r.customer_id = c.id AND r.month >= %s AND r.month <= %s) LIMIT 1",
        [team_id, team_id, totals.first_month, totals.last_month],
    )
    return cursor.fetchone() is not None


def _merge_revenue(cursor: CursorWrapper, revenue: pd.DataFrame) -> None:
    create_stage(
        cursor,
        STAGE_REVENUE,
        "team_id bigint NOT NULL, customer_id bigint NOT NULL, month date NOT NULL, "
        "amount numeric(14, 2) NOT NULL, transaction_count integer NOT NULL",
    )
    load_frame(cursor, STAGE_REVENUE, REVENUE_COLUMNS, revenue)
    names = ", ".join(REVENUE_COLUMNS)
    cursor.execute(
        f"INSERT INTO {REVENUE} ({names}) SELECT {names} FROM {STAGE_REVENUE} WHERE true "
        "ON CONFLICT (team_id, customer_id, month) DO UPDATE SET "
        f"amount = {REVENUE}.amount + excluded.amount, "
        f"transaction_count = {REVENUE}.transaction_count + excluded.transaction_count"
    )
    # PostgreSQL refuses an overflowing NUMERIC(14,2) by itself; SQLite would store it.
    limit = MAX_ABS_CENTS / 100
    cursor.execute(
        f"SELECT 1 FROM {REVENUE} r JOIN {STAGE_REVENUE} s ON r.team_id = s.team_id "
        "AND r.customer_id = s.customer_id AND r.month = s.month "
        "WHERE r.amount > %s OR r.amount < %s LIMIT 1",
        [limit, -limit],
    )
    if cursor.fetchone() is not None:
        raise IngestError(OVERFLOW_MESSAGE)


def _delete_months(cursor: CursorWrapper, team_id: int, first: date, last: date) -> None:
    cursor.execute(
        f"DELETE FROM {REVENUE} WHERE team_id = %s AND month >= %s AND month <= %s",
        [team_id, first, last],
    )


def _recompute_spans(cursor: CursorWrapper, team_id: int) -> None:
    """After a replace: every customer's span from its remaining revenue (or none)."""
    cursor.execute(
        "UPDATE customers_customer SET first_month = spans.first, last_month = spans.last "
        "FROM (SELECT customer_id, MIN(month) AS first, MAX(month) AS last "
        f"FROM {REVENUE} WHERE team_id = %s GROUP BY customer_id) AS spans "
        "WHERE customers_customer.id = spans.customer_id",
        [team_id],
    )
    cursor.execute(
        "UPDATE customers_customer SET first_month = NULL, last_month = NULL "
        "WHERE team_id = %s AND first_month IS NOT NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {REVENUE} r WHERE r.team_id = %s "
        "AND r.customer_id = customers_customer.id)",
        [team_id, team_id],
    )
