"""Which months an analysis looks at (docs/method.md §0).

The window ends at the last complete month of the team's data, unless the user picks a
month. A final month whose last transaction is more than 3 days before the month's end is
partial: it is left out and the run's notes say so.
"""

from __future__ import annotations

import argparse
import calendar
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.db.models import Max, Min

from accounts.models import Team
from customers.models import Customer, Upload, UploadMode, UploadStatus

from .errors import AnalysisError

PARTIAL_MONTH_DAYS = 3


@dataclass(frozen=True)
class Window:
    start: date  # first day of the first month analysed
    end: date  # first day of the last month analysed
    notes: list[str] = field(default_factory=list)

    @property
    def months(self) -> int:
        return months_between(self.start, self.end) + 1


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def is_partial_month(month: date, last_transaction: date) -> bool:
    return (month_end(month) - last_transaction).days > PARTIAL_MONTH_DAYS


def parse_month(text: str) -> date:
    """'YYYY-MM' → the month's first day; ValueError with a readable message otherwise."""
    try:
        year, month = text.strip().split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return date(int(year), int(month), 1)
    except ValueError:
        raise ValueError(f"{text!r} is not a month in the form YYYY-MM.") from None


def month_argument(text: str) -> date:
    """parse_month for argparse: a bad month is a usage error that says why."""
    try:
        return parse_month(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def team_data_months(*, team: Team) -> tuple[date | None, date | None]:
    """The first and last month with revenue (from the customers' spans: no scan of revenue)."""
    spans = Customer.objects.filter(team=team).aggregate(
        first=Min("first_month"), last=Max("last_month")
    )
    return spans["first"], spans["last"]


def last_transaction_date(*, team: Team, month: date) -> date | None:
    """The latest transaction date the team's imports recorded in ``month`` (its last month).

    Only imports that still count: a `replace` covering the month discards what earlier
    imports put in it. None when no import recorded one (imports before the field existed).
    """
    imports = Upload.objects.filter(team=team, status=UploadStatus.SUCCEEDED, last_month=month)
    replaced = imports.filter(mode=UploadMode.REPLACE).order_by("-finished_at", "-id").first()
    if replaced is not None:
        imports = imports.filter(finished_at__gte=replaced.finished_at)
    return imports.aggregate(last=Max("last_transaction_date"))["last"]


def analysis_window(*, team: Team, window_end: date | None = None) -> Window:
    first, last = team_data_months(team=team)
    if first is None or last is None:
        raise AnalysisError("The team has no revenue data to analyse yet: import some first.")
    notes: list[str] = []
    last_day = last_transaction_date(team=team, month=last)
    partial = last_day is not None and is_partial_month(last, last_day)
    if window_end is not None:
        end = _chosen_end(month_start(window_end), first, last, partial, last_day, notes)
    else:
        end = _default_end(first, last, partial, last_day, notes)
    span = settings.ANALYSIS_WINDOW_MONTHS
    start = max(first, add_months(end, -(span - 1)))
    if start > first:
        notes.append(
            f"Analysed the last {span} months ({start:%Y-%m} to {end:%Y-%m}); "
            f"data from {first:%Y-%m} to {add_months(start, -1):%Y-%m} is not used."
        )
    return Window(start=start, end=end, notes=notes)


def _default_end(first, last, partial, last_day, notes) -> date:
    if not partial:
        if last_day is None:
            notes.append(
                f"The date of the last transaction in {last:%Y-%m} is unknown (imported before "
                "it was recorded); the month is treated as complete."
            )
        return last
    end = add_months(last, -1)
    if end < first:
        raise AnalysisError(
            f"The only month with data, {last:%Y-%m}, is partial (last transaction on "
            f"{last_day:%Y-%m-%d}): there is no complete month to analyse."
        )
    notes.append(
        f"Left out {last:%Y-%m}: its last transaction is on {last_day:%Y-%m-%d}, more than "
        f"{PARTIAL_MONTH_DAYS} days before the month's end, so the month is partial."
    )
    return end


def _chosen_end(end, first, last, partial, last_day, notes) -> date:
    if end > last:
        raise AnalysisError(
            f"The window cannot end in {end:%Y-%m}: the team's data ends in {last:%Y-%m}."
        )
    if end < first:
        raise AnalysisError(
            f"The window cannot end in {end:%Y-%m}: the team's data starts in {first:%Y-%m}."
        )
    notes.append(f"Window end {end:%Y-%m} chosen by the user.")
    if end == last and partial:
        notes.append(
            f"{last:%Y-%m} is partial (last transaction on {last_day:%Y-%m-%d}) and is "
            "analysed as chosen: its revenue looks lower than a full month's."
        )
    return end
