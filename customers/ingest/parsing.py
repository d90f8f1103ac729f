"""Validate and convert the mapped columns, vectorised over the whole file.

Every invalid row is found (not just the first) and reported with its spreadsheet
row number and all of its reasons.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import IngestError, RowError
from .mapping import ColumnMapping
from .reading import Table

MAX_ID_LENGTH = 100
# NUMERIC(14,2) holds at most 999,999,999,999.99.
MAX_ABS_CENTS = 99_999_999_999_999
REPORTED_ERRORS = 1000
MIN_YEAR, MAX_YEAR = 1900, 2200

# A transaction dated after today (plus a day for time zones) is a typo, not revenue: one
# such row would move the analysed window into the future.
FUTURE_MARGIN = timedelta(days=1)
# The strftime directives a date column may use (pandas parses exactly these reliably).
DATE_DIRECTIVES = frozenset("YymdbBjHIMSfpaAzZ%")
_DIRECTIVE = re.compile(r"%(.?)", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, LF, CR stay

_FLOAT_ID = re.compile(r"-?\d+\.0+")
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
_CURRENCY = re.compile(r"[£$€¥\s\u00a0']")
_THOUSANDS_COMMA = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"-?\d+,\d+")
_THOUSANDS_DOT = re.compile(r"-?\d{1,3}(\.\d{3})+(,\d+)?")

# A check of the rows: a mask of the rows it rejects, and the reason (or a function of the
# row's index giving the reason, for reasons that quote the cell).
Check = tuple[np.ndarray, str | Callable[[int], str]]


@dataclass
class ParsedTransactions:
    external_ids: np.ndarray  # object (str)
    months: np.ndarray  # datetime64[M]
    cents: np.ndarray  # int64
    rows_read: int
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    # The latest valid transaction date: the analysis uses it to tell a partial last month.
    last_date: date | None = None
    # With an owner column: each valid row's owner (a user id), 0 where the cell is blank.
    owner_ids: npt.NDArray[np.int64] | None = None

    @property
    def rows_valid(self) -> int:
        return len(self.cents)


def restore_float_ids(ids: pd.Series) -> pd.Series:
    """A column a spreadsheet turned into floats ('12347.0') goes back to '12347'.

    Only when every non-blank id has that shape: a real id like '1.0' among text ids stays.
    """
    present = ids[ids != ""]
    if present.empty or not _FLOAT_ID.fullmatch(present.iloc[0]):
        return ids  # the first id settles it for almost every file, without a full scan
    if not present.str.fullmatch(_FLOAT_ID).all():
        return ids
    return ids.str.replace(r"\.0+$", "", regex=True)


def _clean_number(text: str) -> str:
    text = _CURRENCY.sub("", text)
    negative = text.startswith("(") and text.endswith(")")
    if negative:
        text = text[1:-1]
    if _THOUSANDS_COMMA.fullmatch(text):
        text = text.replace(",", "")
    elif _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(",", ".")
    elif _THOUSANDS_DOT.fullmatch(text):
        text = text.replace(".", "").replace(",", ".")
    return "-" + text if negative else text


def parse_numbers(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Floats and a reason code per stripped cell: '' ok, 'blank', 'nan' (not finite), 'text'."""
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    failed = np.flatnonzero(np.isnan(values))
    if len(failed):
        # Only the unusual cells (currency signs, separators, words) take the slow path.
        cleaned = pd.Series([_clean_number(t) for t in text.iloc[failed]], dtype=object)
        values[failed] = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=np.float64)
    reasons = np.full(len(values), "", dtype=object)
    lowered = text.str.lower().to_numpy()
    bad = ~np.isfinite(values)
    for i in np.flatnonzero(bad):
        t = lowered[i]
        reasons[i] = "blank" if t == "" else ("nan" if t in _NON_FINITE else "text")
    return values, reasons


_CELL_DATETIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"


def date_format_problem(date_format: str) -> str:
    """Why this strftime pattern cannot read a date column, or '' when it can."""
    if _CONTROL.search(date_format):
        return "it contains a control character"
    directives = _DIRECTIVE.findall(date_format)
    unknown = sorted(
        {f"%{d}" if d else "a lone %" for d in directives} - {f"%{d}" for d in DATE_DIRECTIVES}
    )
    if unknown:
        return (
            f"{', '.join(unknown)} is not a date directive here; use %Y or %y (year), %m, %b "
            "or %B (month), %d (day), and %H:%M:%S for a time"
        )
    if not {"Y", "y"} & set(directives):
        return "it has no year (%Y or %y)"
    if not {"m", "b", "B", "j"} & set(directives):
        return "it has no month (%m, %b or %B)"
    try:
        pd.to_datetime(pd.Series(["2024-01-31"]), format=date_format, errors="coerce")
    except (ValueError, TypeError) as exc:
        return str(exc)
    return ""


def check_date_format(date_format: str | None) -> None:
    """IngestError unless the pattern is empty (ISO) or one RevTrend can read."""
    problem = date_format_problem(date_format) if date_format else ""
    if problem:
        raise IngestError(f"The date format {date_format!r} cannot be used: {problem}.")


def parse_dates(
    text: pd.Series, date_format: str | None, *, date_cells: bool = False
) -> np.ndarray:
    """datetime64[D] with NaT where the stripped cell is not a valid date.

    ``date_cells``: the text came from a spreadsheet, whose real date cells read as
    'YYYY-MM-DD HH:MM:SS' whatever format the typed-in dates use.
    """
    if date_format:
        parsed = pd.to_datetime(text, format=date_format, errors="coerce")
        if date_cells:
            cells = parsed.isna() & text.str.fullmatch(_CELL_DATETIME)
            if cells.any():
                parsed[cells] = pd.to_datetime(text[cells], format="%Y-%m-%d %H:%M:%S")
    else:
        # ISO 8601: YYYY-MM-DD, optionally followed by a time ('T' or space). The time
        # and any UTC offset are ignored: the month is the one written in the file.
        head, tail = text.str.slice(0, 10), text.str.slice(10)
        parsed = pd.to_datetime(head, format="%Y-%m-%d", errors="coerce")
        has_tail = tail != ""
        if has_tail.any():
            bad_tail = has_tail & ~tail.str.match(r"[T ]\d")
            parsed = parsed.mask(bad_tail)
    days: npt.NDArray[np.datetime64] = parsed.to_numpy(dtype="datetime64[D]", copy=True)
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    out_of_range = (years < MIN_YEAR) | (years > MAX_YEAR)
    days[out_of_range] = np.datetime64("NaT")
    return days


def round_to_cents(amounts: np.ndarray) -> np.ndarray:
    """Half a cent rounds away from zero, as money does (np.rint would round half to
    even). The nudge absorbs binary error: 1.005 is stored as 1.00499999999999989…"""
    with np.errstate(invalid="ignore", over="ignore"):
        cents: npt.NDArray[np.float64] = np.sign(amounts) * np.floor(
            np.abs(amounts) * 100.0 + 0.5 + 1e-6
        )
        return cents


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def parse_transactions(
    table: Table,
    mapping: ColumnMapping,
    *,
    date_format: str | None = None,
    owners: Mapping[str, int] | None = None,
) -> ParsedTransactions:
    """``owners`` maps the team's usernames and e-mails, lower-cased, to user ids: an owner
    cell that names nobody in it makes its row invalid."""
    check_date_format(date_format)
    frame = table.frame
    ids = restore_float_ids(frame[mapping.customer].str.strip())
    date_text = frame[mapping.date].str.strip()
    dates = parse_dates(date_text, date_format, date_cells=table.kind == "xlsx")
    checks: list[Check] = []
    if _CONTROL.search("".join(ids.to_list())):  # one scan; the mask only when needed
        checks.append(
            (ids.str.contains(_CONTROL).to_numpy(), "customer id contains a control character")
        )
    latest = np.datetime64(date.today() + FUTURE_MARGIN, "D")
    checks.append(
        (
            ~np.isnat(dates) & (dates > latest),
            lambda i: f"date {_show(date_raw[i])} is in the future",
        )
    )

    checks.append(((ids == "").to_numpy(), "customer id is blank"))
    checks.append(
        (
            (ids.str.len() > MAX_ID_LENGTH).to_numpy(),
            f"customer id is longer than {MAX_ID_LENGTH} characters",
        )
    )
    date_raw: np.ndarray = frame[mapping.date].to_numpy()
    expected = f"format {date_format}" if date_format else "ISO format YYYY-MM-DD"
    checks.append(
        (np.isnat(dates) & (frame[mapping.date].str.strip() == "").to_numpy(), "date is blank")
    )
    checks.append(
        (
            np.isnat(dates) & (frame[mapping.date].str.strip() != "").to_numpy(),
            lambda i: f"date {_show(date_raw[i])} is not a valid date in {expected}",
        )
    )

    if mapping.amount is not None:
        amounts, amount_checks = _amount_checks(frame, mapping.amount, "amount")
        checks += amount_checks
    else:
        # resolve_mapping gives quantity and price whenever it gives no amount
        assert mapping.quantity is not None and mapping.price is not None
        quantity, q_checks = _amount_checks(frame, mapping.quantity, "quantity")
        price, p_checks = _amount_checks(frame, mapping.price, "unit price")
        checks += q_checks + p_checks
        with np.errstate(invalid="ignore", over="ignore"):
            amounts = quantity * price
    cents_float = round_to_cents(amounts)
    too_large = np.isfinite(cents_float) & (np.abs(cents_float) > MAX_ABS_CENTS)
    checks.append((too_large, "amount is beyond ±999,999,999,999.99"))

    owner_ids = None
    if mapping.owner is not None:
        owner_ids, owner_check = _owner_ids(frame[mapping.owner], owners or {})
        checks.append(owner_check)

    invalid = np.zeros(len(frame), dtype=bool)
    for mask, _ in checks:
        invalid |= mask
    invalid |= ~np.isfinite(cents_float)
    valid = ~invalid
    errors = _describe(table.row_numbers, invalid, checks)
    valid_dates = dates[valid]
    return ParsedTransactions(
        external_ids=ids.to_numpy(dtype=object)[valid],
        months=dates[valid].astype("datetime64[M]"),
        cents=cents_float[valid].astype(np.int64),
        rows_read=len(frame),
        rejected=int(invalid.sum()),
        errors=errors,
        last_date=valid_dates.max().item() if len(valid_dates) else None,
        owner_ids=None if owner_ids is None else owner_ids[valid],
    )


def _owner_ids(column: pd.Series, owners: Mapping[str, int]) -> tuple[npt.NDArray[np.int64], Check]:
    """Each row's owner id (0 for a blank cell) and the check rejecting unknown owners."""
    raw: np.ndarray = column.to_numpy()
    names = column.str.strip().str.lower()
    ids = np.asarray(names.map(owners).fillna(0), dtype=np.int64)
    unknown: np.ndarray = (names != "").to_numpy() & (ids == 0)
    check: Check = (unknown, lambda i: f"owner {_show(raw[i])} is not a member of this team")
    return ids, check


def _amount_checks(frame: pd.DataFrame, column: str, label: str) -> tuple[np.ndarray, list[Check]]:
    raw = frame[column].to_numpy()
    values, reasons = parse_numbers(frame[column].str.strip())
    checks: list[Check] = [
        (reasons == "blank", f"{label} is blank"),
        (reasons == "nan", lambda i: f"{label} {_show(raw[i])} is not a finite number"),
        (reasons == "text", lambda i: f"{label} {_show(raw[i])} is not a number"),
    ]
    return values, checks


def _describe(row_numbers: np.ndarray, invalid: np.ndarray, checks: list[Check]) -> list[RowError]:
    errors: list[RowError] = []
    for i in np.flatnonzero(invalid)[:REPORTED_ERRORS]:
        reasons = [r(i) if callable(r) else r for mask, r in checks if mask[i]]
        errors.append({"row": int(row_numbers[i]), "reason": "; ".join(reasons) or "invalid"})
    return errors
