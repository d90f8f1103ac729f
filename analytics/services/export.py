"""A run's results and anomalies as CSV (docs/interfaces.md, `export_results`)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import TextIO

from accounts.models import Team
from analytics.core import FIGURES
from analytics.core.explain import with_currency
from analytics.models import AnalysisRun, Anomaly, CustomerResult

# docs/interfaces.md's order: the core's figures with the segment after the level.
RESULT_COLUMNS: tuple[str, ...] = ("customer_id", FIGURES[0], "segment", *FIGURES[1:])
ANOMALY_EXPORT_COLUMNS: tuple[str, ...] = ("customer_id", "month", "revenue", "expected", "zscore")
BATCH = 5000

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$|^[-+]?inf$|^nan$")


def neutralise(value):
    """``'`` before a text cell a spreadsheet would run as a formula; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not NUMBER.match(value):
        return f"'{value}"
    return value


def cell(value) -> str | int:
    """Export text for one value: empty for null, YYYY-MM for months, true/false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return f"{value:%Y-%m}"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def results_export(*, run: AnalysisRun, output: TextIO) -> int:
    """One row per customer of the run, the most money at stake first; returns the count."""
    fields = ["customer__external_id", *RESULT_COLUMNS[1:]]
    rows = (
        CustomerResult.objects.filter(run=run)
        .order_by("-revenue_at_risk", "customer__external_id")
        .values_list(*fields)
    )
    return _write(output, RESULT_COLUMNS, sentences_shown(run, rows.iterator(chunk_size=BATCH)))


SENTENCE = RESULT_COLUMNS.index("explanation")


def sentences_shown(run: AnalysisRun, rows: Iterable[tuple]) -> Iterator[tuple]:
    """Rows in RESULT_COLUMNS' order with the why-sentence as the pages show it: the team's
    currency code where the stored sentence marks an amount (analytics.core.explain)."""
    currency = Team.objects.filter(pk=run.team_id).values_list("currency", flat=True).get()
    for row in rows:
        yield (*row[:SENTENCE], with_currency(row[SENTENCE], currency), *row[SENTENCE + 1 :])


def anomalies_export(*, run: AnalysisRun, output: TextIO) -> int:
    rows = (
        Anomaly.objects.filter(run=run)
        .order_by("customer__external_id", "month")
        .values_list("customer__external_id", "month", "revenue", "expected", "zscore")
    )
    return _write(output, ANOMALY_EXPORT_COLUMNS, rows.iterator(chunk_size=BATCH))


def _write(output: TextIO, header, rows) -> int:
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([neutralise(cell(value)) for value in row])
        count += 1
    return count
