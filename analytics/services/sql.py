"""Set-based reads and writes shared by the analysis services.

Writes go through revtrend_site.bulk.load_frame (``COPY`` on PostgreSQL); reads of
many rows go through ``read_frame`` (``COPY … TO`` on PostgreSQL, one fetch elsewhere),
never one query per customer.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
from django.db import connection


def read_frame(sql: str, params: Sequence, columns: Sequence[str]) -> pd.DataFrame:
    """Run one SELECT and return its rows as a DataFrame (NULL → NaN)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            buffer = io.BytesIO()
            with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
                for block in copy:
                    buffer.write(block)
            if not buffer.tell():
                return pd.DataFrame({name: [] for name in columns})
            buffer.seek(0)
            return pd.read_csv(
                buffer, header=None, names=list(columns), keep_default_na=False, na_values=[""]
            )
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return pd.DataFrame({name: [] for name in columns})
    return pd.DataFrame.from_records(rows, columns=list(columns))


def epoch_days_sql(column: str) -> str:
    """SQL for a date column as days since 1970-01-01 (integer arithmetic, cheap to send)."""
    if connection.vendor == "postgresql":
        return f"({column} - DATE '1970-01-01')"
    return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"


def epoch_months(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 → months since 1970-01 (numpy's datetime64[M] as integers)."""
    return np.asarray(days, dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)


def nullable_floats(values: np.ndarray | pd.Series, places: int | None = None) -> np.ndarray:
    """Float64 with NaN for anything missing or not finite (NaN loads as NULL)."""
    array = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    array = np.where(np.isfinite(array), array, np.nan)
    return np.round(array, places) if places is not None else array


def nullable_ints(values: pd.Series) -> np.ndarray:
    """Python ints or None (SQLite cannot bind numpy integers, COPY writes None as NULL)."""
    series = pd.Series(values)
    present = series.notna().to_numpy()
    out = np.full(len(series), None, dtype=object)
    out[present] = [int(v) for v in series[present]]
    return out


def nullable_dates(values: pd.Series) -> np.ndarray:
    """'YYYY-MM-DD' text or None."""
    stamps = pd.to_datetime(pd.Series(values))
    out = np.full(len(stamps), None, dtype=object)
    present = stamps.notna().to_numpy()
    out[present] = stamps[present].dt.strftime("%Y-%m-%d").to_numpy()
    return out


def binary_column(rows: np.ndarray) -> np.ndarray:
    """One bytea value per row of a 2-D array: bytes for executemany, '\\x…' hex for COPY."""
    raw = np.ascontiguousarray(rows)
    if connection.vendor == "postgresql":
        values = ["\\x" + row.tobytes().hex() for row in raw]
    else:
        values = [row.tobytes() for row in raw]
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def execute(sql: str, params: Sequence = ()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
