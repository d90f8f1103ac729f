"""Sum transactions to one total per (customer, month), exactly, in integer cents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from . import IngestError
from .parsing import MAX_ABS_CENTS, ParsedTransactions


@dataclass
class MonthlyTotals:
    frame: pd.DataFrame  # external_id, month (datetime64[M]), cents (int64), transactions
    total_cents: int

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
    return MonthlyTotals(frame=frame, total_cents=total_cents)
