"""Write monthly totals in one transaction, set-based.

One loader moves a DataFrame into a table: ``COPY`` on PostgreSQL, a single
``executemany`` elsewhere. The customers go through a small staging table and two
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
import pandas as pd
from django.db import connection
from django.utils import timezone

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


def load_frame(
    cursor,
    table: str,
    columns: tuple[str, ...],
    frame: pd.DataFrame,
    *,
    text_columns: tuple[str, ...] = (),
) -> None:
    """Insert ``frame``'s rows into ``table``: ``COPY`` on PostgreSQL, one ``executemany``
    elsewhere. ``None``/NaN become NULL. ``text_columns`` keep an empty string as an empty
    string (in COPY's CSV an unquoted empty field otherwise reads as NULL)."""
    names = ", ".join(columns)
    if connection.vendor == "postgresql":
        options = "FORMAT csv"
        if text_columns:
            options += f", FORCE_NOT_NULL ({', '.join(text_columns)})"
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN WITH ({options})") as copy:
            copy.write(csv_text(frame))
    else:
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({placeholders})",
            list(frame.itertuples(index=False, name=None)),
        )


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as the CSV that ``COPY … WITH (FORMAT csv)`` reads: one line per row, no
    header, NULL as an unquoted empty field, text quoted where CSV needs it.

    Built column by column with numpy (floats in their shortest round-trip form, as
    ``repr`` writes them) and joined once: about 4× faster than ``DataFrame.to_csv`` on
    the analysis results, whose long hex strings and float columns pandas' writer handles
    field by field. Columns of any other dtype go through pandas."""
    if not len(frame):
        return ""
    fields = [_csv_column(frame[name]) for name in frame.columns]
    return "".join(",".join(row) + "\n" for row in zip(*fields, strict=True))


def _csv_column(column: pd.Series) -> list[str]:
    values = column.to_numpy()
    kind = values.dtype.kind
    if kind == "f":
        text = values.astype(str)
        return np.where(np.isnan(values), "", text).tolist()
    if kind in "iu":
        return values.astype(str).tolist()
    if kind == "b":
        return np.where(values, "t", "f").tolist()
    if kind == "O":
        return _csv_objects(values)
    return column.to_frame().to_csv(index=False, header=False, lineterminator="\n").split("\n")[:-1]


def _csv_objects(values: np.ndarray) -> list[str]:
    """Text, ids, dates, hex: missing → NULL; a value that CSV would misread (empty, or
    holding a comma, quote, line break or backslash-dot) is quoted, all the others are
    written as they are, decided for the whole column at once when none needs quoting (the
    usual case)."""
    present = pd.notna(values)
    texts = [value if type(value) is str else str(value) for value in values[present]]
    joined = "\x1f".join(texts)
    # A backslash-dot alone on a line would end the COPY's data: quoted, it is a value.
    plain = not any(mark in joined for mark in (",", '"', "\n", "\r", "\\.")) and (
        not texts or min(map(len, texts)) > 0
    )
    if not plain:
        texts = ['"' + text.replace('"', '""') + '"' for text in texts]
    out = np.full(len(values), "", dtype=object)
    out[present] = texts
    return out.tolist()


def create_stage(cursor, table: str, columns: str) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    on_commit = " ON COMMIT DROP" if connection.vendor == "postgresql" else ""
    cursor.execute(f"CREATE TEMPORARY TABLE {table} ({columns}){on_commit}")


def _drop_stages(cursor) -> None:
    for table in (STAGE_CUSTOMERS, STAGE_REVENUE):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


def month_text(months: pd.Series) -> np.ndarray:
    return months.to_numpy().astype("datetime64[D]").astype(str)


def cents_text(cents: np.ndarray) -> np.ndarray:
    """Exact decimal text for integer cents, vectorised: -1234 → '-12.34'."""
    whole, frac = np.divmod(np.abs(cents), 100)
    sign = np.where(cents < 0, "-", "")
    text = np.char.add(np.char.add(sign, whole.astype(str)), ".")
    return np.char.add(text, np.char.zfill(frac.astype(str), 2))


def _write_customers(cursor, team_id: int, totals: MonthlyTotals) -> int:
    spans = totals.frame.groupby("external_id", sort=True)["month"].agg(["min", "max"])
    stage = pd.DataFrame(
        {
            "external_id": spans.index,
            "first_month": month_text(spans["min"]),
            "last_month": month_text(spans["max"]),
        }
    )
    create_stage(
        cursor,
        STAGE_CUSTOMERS,
        "external_id varchar(100) NOT NULL, first_month date NOT NULL, last_month date NOT NULL",
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
    new_customers = max(cursor.rowcount, 0)
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
    return new_customers


def _revenue_rows(cursor, team_id: int, totals: MonthlyTotals) -> pd.DataFrame:
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


def _has_months(cursor, team_id: int, totals: MonthlyTotals, new_customers: int) -> bool:
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


def _merge_revenue(cursor, revenue: pd.DataFrame) -> None:
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


def _delete_months(cursor, team_id: int, first: date, last: date) -> None:
    cursor.execute(
        f"DELETE FROM {REVENUE} WHERE team_id = %s AND month >= %s AND month <= %s",
        [team_id, first, last],
    )


def _recompute_spans(cursor, team_id: int) -> None:
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


def analyze_tables(*models) -> None:
    """Fresh planner statistics for tables a bulk write just filled (PostgreSQL; autovacuum
    gets there minutes later, and until then the planner believes the old row counts)."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(model._meta.db_table for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")
