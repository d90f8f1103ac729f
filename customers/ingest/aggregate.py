"""Sum transactions to one total per (customer, month), exactly, in integer cents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from . import IngestError
from .parsing import MAX_ABS_CENTS, ParsedTransactions


@dataclass
class MonthlyTotals:
    frame: pd.DataFrame  # external_id, month (datetime64[M]), cents (int64), transactions
    total_cents: int
    # external id → owner (user id) from the customer's latest row naming one; empty when
    # the file has no owner column.
    owners: dict[str, int] = field(default_factory=dict)

    @property
    def customers(self) -> int:
        return int(self.frame["external_id"].nunique())

    @property
    def months(self) -> int:
        return int(self.frame["month"].nunique())

    @property
    def first_month(self) -> date:
        return month_to_date(self.frame["month"].min())

    @property
    def last_month(self) -> date:
        return month_to_date(self.frame["month"].max())


def month_to_date(month: datetime) -> date:
    """The first day of a month column's value (pandas gives it as a Timestamp)."""
    day: date = np.datetime64(month, "D").astype(date)
    return day


def aggregate(parsed: ParsedTransactions) -> MonthlyTotals:
    rows = pd.DataFrame(
        {"external_id": parsed.external_ids, "month": parsed.months, "cents": parsed.cents}
    )
    # int64 sums wrap around silently; a float64 sum of the same cents cannot, so it
    # decides whether a total is out of range.
    rows["approx"] = parsed.cents.astype(np.float64)
    grouped = rows.groupby(["external_id", "month"], sort=True)
    frame = grouped.agg(
        cents=("cents", "sum"), transactions=("cents", "size"), approx=("approx", "sum")
    ).reset_index()
    over = frame.loc[frame["approx"].abs() > MAX_ABS_CENTS]
    if not over.empty:
        first = over.iloc[0]
        raise IngestError(
            f"Customer {first.external_id!r} has a monthly total in "
            f"{month_to_date(first.month):%Y-%m} beyond ±999,999,999,999.99; "
            "nothing was imported."
        )
    frame = frame.drop(columns="approx")
    total_cents = sum(frame["cents"].tolist())  # Python ints: no wrap-around here either
    return MonthlyTotals(frame=frame, total_cents=total_cents, owners=_owners(parsed))


def _owners(parsed: ParsedTransactions) -> dict[str, int]:
    """Each customer's owner from its latest row that names one (by month, then file order)."""
    if parsed.owner_ids is None:
        return {}
    rows = pd.DataFrame(
        {"external_id": parsed.external_ids, "month": parsed.months, "owner": parsed.owner_ids}
    )
    named = rows.loc[rows["owner"] > 0].sort_values("month", kind="stable")
    latest = named.groupby("external_id", sort=False)["owner"].last()
    return {str(key): int(value) for key, value in latest.items()}
