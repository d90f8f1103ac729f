"""Write monthly totals in one transaction, set-based.

The totals go into a temporary staging table (``COPY`` on PostgreSQL, one
``executemany`` elsewhere) and three SQL statements shared by both backends merge
them: new customers, the (customer, month) upsert, the customers' month span.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from django.db import connection
from django.utils import timezone

from .aggregate import MonthlyTotals

STAGE = "revtrend_ingest_stage"


@dataclass
class WriteResult:
    new_customers: int
    records_written: int


def format_cents(cents: np.ndarray) -> list[str]:
    """Exact decimal text for integer cents: -1234 → '-12.34'."""
    sign = np.where(cents < 0, "-", "")
    whole, frac = np.divmod(np.abs(cents), 100)
    return [f"{s}{w}.{f:02d}" for s, w, f in zip(sign, whole.tolist(), frac.tolist(), strict=True)]


def _staging_rows(totals: MonthlyTotals) -> pd.DataFrame:
    frame = totals.frame
    return pd.DataFrame(
        {
            "external_id": frame["external_id"],
            "month": frame["month"].dt.strftime("%Y-%m-%d"),
            "amount": format_cents(frame["cents"].to_numpy()),
            "transactions": frame["transactions"],
        }
    )


def _create_stage(cursor) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    on_commit = " ON COMMIT DROP" if connection.vendor == "postgresql" else ""
    cursor.execute(
        f"CREATE TEMPORARY TABLE {STAGE} (external_id varchar(100) NOT NULL, month date NOT NULL, "
        f"amount numeric(14, 2) NOT NULL, transactions integer NOT NULL){on_commit}"
    )


def _fill_stage(cursor, rows: pd.DataFrame) -> None:
    if connection.vendor == "postgresql":
        buffer = io.StringIO()
        rows.to_csv(buffer, index=False, header=False)
        with cursor.cursor.copy(
            f"COPY {STAGE} (external_id, month, amount, transactions) FROM STDIN WITH (FORMAT csv)"
        ) as copy:
            copy.write(buffer.getvalue())
    else:
        cursor.executemany(
            f"INSERT INTO {STAGE} (external_id, month, amount, transactions) "
            "VALUES (%s, %s, %s, %s)",
            list(rows.itertuples(index=False, name=None)),
        )


def write_monthly_totals(*, team_id: int, totals: MonthlyTotals, replace: bool) -> WriteResult:
    """Merge ``totals`` into the team's revenue; the caller holds the transaction."""
    with connection.cursor() as cursor:
        _create_stage(cursor)
        _fill_stage(cursor, _staging_rows(totals))
        new_customers = _insert_customers(cursor, team_id)
        if replace:
            _delete_months(cursor, team_id, totals.first_month, totals.last_month)
        written = _upsert_revenue(cursor, team_id)
        _update_spans(cursor, team_id, all_customers=replace)
        if connection.vendor != "postgresql":
            cursor.execute(f"DROP TABLE {STAGE}")
    return WriteResult(new_customers=new_customers, records_written=written)


def _insert_customers(cursor, team_id: int) -> int:
    # "WHERE true" lets SQLite parse INSERT … SELECT … ON CONFLICT unambiguously.
    cursor.execute(
        "INSERT INTO customers_customer (team_id, external_id, name, created_at) "
        f"SELECT DISTINCT %s, s.external_id, '', %s FROM {STAGE} s WHERE true "
        "ON CONFLICT (team_id, external_id) DO NOTHING",
        [team_id, timezone.now()],
    )
    return max(cursor.rowcount, 0)


def _delete_months(cursor, team_id: int, first: date, last: date) -> None:
    cursor.execute(
        "DELETE FROM customers_revenuerecord WHERE team_id = %s AND month >= %s AND month <= %s",
        [team_id, first, last],
    )


def _upsert_revenue(cursor, team_id: int) -> int:
    cursor.execute(
        "INSERT INTO customers_revenuerecord "
        "(team_id, customer_id, month, amount, transaction_count) "
        f"SELECT %s, c.id, s.month, s.amount, s.transactions FROM {STAGE} s "
        "JOIN customers_customer c ON c.team_id = %s AND c.external_id = s.external_id "
        "WHERE true "
        "ON CONFLICT (customer_id, month) DO UPDATE SET "
        "amount = customers_revenuerecord.amount + excluded.amount, "
        "transaction_count = customers_revenuerecord.transaction_count "
        "+ excluded.transaction_count",
        [team_id, team_id],
    )
    return max(cursor.rowcount, 0)


def _update_spans(cursor, team_id: int, *, all_customers: bool) -> None:
    scope = "" if all_customers else f" AND external_id IN (SELECT external_id FROM {STAGE})"
    cursor.execute(
        "UPDATE customers_customer SET "
        "first_month = (SELECT MIN(r.month) FROM customers_revenuerecord r "
        "WHERE r.customer_id = customers_customer.id), "
        "last_month = (SELECT MAX(r.month) FROM customers_revenuerecord r "
        "WHERE r.customer_id = customers_customer.id) "
        f"WHERE team_id = %s{scope}",
        [team_id],
    )
