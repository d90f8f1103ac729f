"""Bulk loading, shared by the import and the analysis runs: a DataFrame into a table with
``COPY`` on PostgreSQL (one ``executemany`` elsewhere), temporary staging tables, and fresh
planner statistics after a bulk write."""

from __future__ import annotations

import numpy as np
import pandas as pd
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Model
from psycopg.copy import QueuedLibpqWriter

COPY_SLICE = 4096  # rows per piece sent to COPY


def load_frame(
    cursor: CursorWrapper,
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
        # In slices, sent by psycopg's writer thread: PostgreSQL parses and stores one slice
        # while the next is built.
        statement = f"COPY {table} ({names}) FROM STDIN WITH ({options})"
        writer = QueuedLibpqWriter(cursor.cursor)
        with cursor.cursor.copy(statement, writer=writer) as copy:
            for start in range(0, len(frame), COPY_SLICE):
                copy.write(csv_text(frame.iloc[start : start + COPY_SLICE]))
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


def create_stage(cursor: CursorWrapper, table: str, columns: str) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    on_commit = " ON COMMIT DROP" if connection.vendor == "postgresql" else ""
    cursor.execute(f"CREATE TEMPORARY TABLE {table} ({columns}){on_commit}")


def analyze_tables(*models: type[Model]) -> None:
    """Fresh planner statistics for tables a bulk write just filled (PostgreSQL; autovacuum
    gets there minutes later, and until then the planner believes the old row counts)."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(model._meta.db_table for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")
