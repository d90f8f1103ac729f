"""Read a CSV or XLSX file into a table of text cells with spreadsheet row numbers."""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, TypeVar, cast
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from . import IngestError

if TYPE_CHECKING:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

_Cell = TypeVar("_Cell")

CSV_DELIMITERS = ",;\t|"
XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls

# Limits a hostile file meets before it costs much: checked on the header, on the zip's
# directory and while the rows stream, never after reading everything.
MAX_COLUMNS = 500
MAX_XLSX_ROWS = 1_048_576  # Excel's own limit
MAX_SHARED_STRINGS_BYTES = 64 * 1024 * 1024  # openpyxl holds the shared strings in memory
MAX_XLSX_UNCOMPRESSED_BYTES = 2 * 1024 * 1024 * 1024


@dataclass
class Table:
    """Every cell as text (empty string when blank); ``row_numbers`` as a spreadsheet shows them."""

    frame: pd.DataFrame
    row_numbers: np.ndarray
    kind: str  # "csv" or "xlsx"
    delimiter: str | None = None

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


def read_table(data: bytes, *, max_rows: int | None = None) -> Table:
    if not data.strip():
        raise IngestError("The file is empty.")
    if data.startswith(_OLE_MAGIC):
        raise IngestError("This is an old Excel .xls file; save it as .xlsx or CSV (UTF-8).")
    if data.startswith(XLSX_MAGIC):
        table = _read_xlsx(data, max_rows=max_rows)
    else:
        table = _read_csv(data, max_rows=max_rows)
    if table.frame.empty:
        raise IngestError("The file has a header row but no data rows.")
    return table


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(
            "The file is UTF-16 text (Excel's 'Unicode Text'). Save it as 'CSV UTF-8' and "
            "upload again."
        )
    if b"\x00" in data[:8192]:
        raise IngestError("This is not a text file: expected CSV (UTF-8) or XLSX.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"The file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}). "
            "Save it as 'CSV UTF-8' and upload again."
        ) from None


def sniff_delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    if not lines:
        raise IngestError("The file is empty.")
    try:
        return csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        # Sniffer gives up on short or ragged files; the header decides.
        counts = {d: lines[0].count(d) for d in CSV_DELIMITERS}
        best = max(counts, key=counts.__getitem__)
        return best if counts[best] else ","


def _read_csv(data: bytes, *, max_rows: int | None) -> Table:
    text = _decode(data)
    delimiter = sniff_delimiter(text[:65536])
    header = text[: text.find("\n")] if "\n" in text else text
    if header.count(delimiter) >= MAX_COLUMNS:
        raise IngestError(
            f"The header row has {header.count(delimiter) + 1:,} columns; a transactions file "
            f"has a few, and RevTrend reads at most {MAX_COLUMNS}."
        )
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            nrows=max_rows,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise IngestError("The file is empty.") from None
    except pd.errors.ParserError as exc:
        raise IngestError(f"The file is not a well-formed CSV: {exc}".strip()) from None
    frame = frame.fillna("")
    frame.columns = [str(c).strip() for c in frame.columns]
    # Header is row 1; pandas keeps blank lines as empty rows so numbering stays true.
    row_numbers = np.arange(2, len(frame) + 2, dtype=np.int64)
    return _drop_blank_rows(Table(frame, row_numbers, "csv", delimiter))


def _drop_blank_rows(table: Table) -> Table:
    if table.frame.empty:
        return table
    # Only rows whose first cell is empty or spaces can be blank; strip just those.
    first = table.frame.iloc[:, 0]
    candidates = np.flatnonzero(((first == "") | first.str.isspace()).to_numpy())
    if not len(candidates):
        return table
    stripped = table.frame.iloc[candidates].apply(lambda column: column.str.strip())
    blank = np.zeros(len(table.frame), dtype=bool)
    blank[candidates] = (stripped == "").all(axis=1).to_numpy()
    if not blank.any():
        return table
    keep = ~blank
    frame = table.frame.loc[keep].reset_index(drop=True)
    return Table(frame, table.row_numbers[keep], table.kind, table.delimiter)


def xlsx_cell_text(value: object) -> str:
    """A cell as the text a person would have typed; integral floats lose their '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value).strip()


# What a damaged workbook raises from openpyxl, zipfile, zlib or the XML parser.
_XLSX_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    ElementTree.ParseError,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    OSError,
    EOFError,
)


def _check_xlsx_sizes(data: bytes) -> None:
    """Refuse by the zip's directory what would take too much memory to open: the sizes
    there are the most zipfile will ever inflate."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(f"The file looks like XLSX but cannot be opened: {exc}") from None
    shared = sum(e.file_size for e in entries if e.filename.endswith("sharedStrings.xml"))
    if shared > MAX_SHARED_STRINGS_BYTES:
        raise IngestError(
            f"The workbook's text table is {shared / 2**20:,.0f} MB; RevTrend opens workbooks "
            f"whose text takes at most {MAX_SHARED_STRINGS_BYTES / 2**20:.0f} MB. Save the "
            "sheet as CSV (UTF-8) instead."
        )
    if sum(e.file_size for e in entries) > MAX_XLSX_UNCOMPRESSED_BYTES:
        raise IngestError(
            "The workbook unpacks to more than 2 GB; save the sheet as CSV (UTF-8) instead."
        )


def _read_xlsx(data: bytes, *, max_rows: int | None) -> Table:
    from openpyxl import load_workbook

    _check_xlsx_sizes(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except _XLSX_ERRORS as exc:
        raise IngestError(f"The file looks like XLSX but cannot be opened: {exc}") from None
    try:
        if not workbook.worksheets:
            raise IngestError("The XLSX file cannot be opened: it has no worksheet.")
        # A workbook opened read_only has read-only sheets (the stubs know only the others).
        sheet = cast("ReadOnlyWorksheet", workbook.worksheets[0])
        header, rows, numbers = _xlsx_rows(sheet, max_rows)
    except _XLSX_ERRORS as exc:
        raise IngestError(f"The XLSX file is damaged and cannot be opened: {exc}") from None
    finally:
        workbook.close()
    if header is None:
        raise IngestError("The workbook's first sheet is empty.")
    while not header[-1]:  # read-only sheets often report empty trailing columns
        header.pop()
    width = len(header)
    rows = [(r + [""] * width)[:width] for r in rows]
    frame = pd.DataFrame(rows, columns=[h or f"column {i + 1}" for i, h in enumerate(header)])
    return Table(frame, np.asarray(numbers, dtype=np.int64), "xlsx")


def _without_trailing_blanks(values: tuple[_Cell, ...], number: int) -> tuple[_Cell, ...]:
    width = len(values)
    while width and values[width - 1] in (None, ""):
        width -= 1
    if width > MAX_COLUMNS:
        raise IngestError(
            f"Row {number} has {width:,} columns; RevTrend reads at most {MAX_COLUMNS}."
        )
    return values[:width]


def _xlsx_rows(
    sheet: ReadOnlyWorksheet, max_rows: int | None
) -> tuple[list[str] | None, list[list[str]], list[int]]:
    header: list[str] | None = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    # The sheet's own "dimension" may claim 16,384 columns × a million rows for a file of
    # a few rows: forget it, so rows come as wide as their cells and no padding is made.
    sheet.reset_dimensions()
    # Ignored: types-openpyxl gives ReadOnlyWorksheet Worksheet's iter_rows, self type and all.
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):  # type: ignore[misc]
        if number > MAX_XLSX_ROWS:
            raise IngestError(f"The sheet has more than {MAX_XLSX_ROWS:,} rows.")
        if len(values) > MAX_COLUMNS:
            values = _without_trailing_blanks(values, number)
        cells = [xlsx_cell_text(v) for v in values]
        if header is None:
            if any(cells):
                header = cells
            continue
        if not any(cells):
            continue
        rows.append(cells)
        numbers.append(number)
        if max_rows is not None and len(rows) >= max_rows:
            break
    return header, rows, numbers
