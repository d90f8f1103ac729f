"""A corpus of bad files: each fails with a clear message and leaves the data untouched."""

from __future__ import annotations

import io
import random
import zipfile
from dataclasses import dataclass, field

import pytest

from customers.ingest import IngestError
from customers.models import UploadStatus
from customers.services import upload_create, upload_import_now, upload_preview
from tests.customers.helpers import revenue_snapshot as snapshot
from tests.customers.helpers import xlsx_bytes

pytestmark = pytest.mark.django_db


GOOD_XLSX = xlsx_bytes([["customer", "date", "amount"], ["A", "2024-01-01", 1]])


def rebuilt_xlsx(change) -> bytes:
    """The good workbook with each member passed through ``change(name, data)`` (None drops it)."""
    source = zipfile.ZipFile(io.BytesIO(GOOD_XLSX))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            data = change(name, source.read(name))
            if data is not None:
                target.writestr(name, data)
    return out.getvalue()


def xlsx_with_damaged_sheet_stream() -> bytes:
    """Directory intact, but the compressed bytes of the worksheet are scrambled."""
    data = bytearray(GOOD_XLSX)
    info = zipfile.ZipFile(io.BytesIO(GOOD_XLSX)).getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 5, start + min(info.compress_size, 40)):
        data[i] ^= 0xFF
    return bytes(data)


def random_bytes(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(size))


def garbage_with_nuls() -> bytes:
    return b"\x01\x02" + random_bytes(2000, 7) + b"\x00\x00" + random_bytes(200, 8)


def csv(text: str) -> bytes:
    return text.encode("utf-8")


@dataclass
class Bad:
    data: bytes
    message: tuple[str, ...]
    errors: tuple[str, ...] = ()
    mapping: dict = field(default_factory=dict)
    skip_invalid: bool = False
    file_level: bool = False  # the file as a whole is refused (the preview refuses it too)


CORPUS = [
    pytest.param(Bad(b"", ("The file is empty.",), file_level=True), id="empty"),
    pytest.param(Bad(b"  \n\t\r\n \n", ("The file is empty.",), file_level=True), id="whitespace"),
    pytest.param(Bad(b"\xef\xbb\xbf", ("The file is empty.",), file_level=True), id="bom-only"),
    pytest.param(
        Bad(csv("customer,date,amount\n"), ("header row but no data rows",), file_level=True),
        id="header-only",
    ),
    pytest.param(
        Bad(
            csv("customer,date,amount\n\n,,\n\n"), ("header row but no data rows",), file_level=True
        ),
        id="header-and-blank-lines",
    ),
    pytest.param(
        Bad(garbage_with_nuls(), ("not a text file", "CSV (UTF-8) or XLSX"), file_level=True),
        id="binary-garbage",
    ),
    pytest.param(
        Bad(
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random_bytes(300, 3),
            ("not a text file",),
            file_level=True,
        ),
        id="png",
    ),
    pytest.param(
        Bad(
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + random_bytes(100, 4),
            ("not a text file",),
            file_level=True,
        ),
        id="gzip",
    ),
    pytest.param(
        Bad(
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
            (".xls", "save it as .xlsx"),
            file_level=True,
        ),
        id="legacy-xls",
    ),
    pytest.param(
        Bad(
            b"PK\x03\x04" + random_bytes(500, 5),
            ("looks like XLSX but cannot be opened",),
            file_level=True,
        ),
        id="corrupt-zip",
    ),
    pytest.param(
        Bad(
            GOOD_XLSX[: len(GOOD_XLSX) // 2],
            ("looks like XLSX but cannot be opened",),
            file_level=True,
        ),
        id="truncated-xlsx",
    ),
    pytest.param(
        Bad(
            rebuilt_xlsx(lambda n, d: None if n == "[Content_Types].xml" else d),
            ("looks like XLSX but cannot be opened",),
            file_level=True,
        ),
        id="zip-that-is-not-a-workbook",
    ),
    pytest.param(
        Bad(xlsx_with_damaged_sheet_stream(), ("XLSX", "cannot be opened"), file_level=True),
        id="xlsx-damaged-compressed-sheet",
    ),
    pytest.param(
        Bad(
            rebuilt_xlsx(lambda n, d: d[: len(d) // 2] if n.endswith("sheet1.xml") else d),
            ("XLSX", "cannot be opened"),
            file_level=True,
        ),
        id="xlsx-truncated-sheet-xml",
    ),
    pytest.param(
        Bad(
            rebuilt_xlsx(lambda n, d: None if n.endswith("sheet1.xml") else d),
            ("XLSX", "cannot be opened"),
            file_level=True,
        ),
        id="xlsx-without-worksheet",
    ),
    pytest.param(
        Bad(xlsx_bytes([[None], [None, None]]), ("first sheet is empty",), file_level=True),
        id="xlsx-empty-sheet",
    ),
    pytest.param(
        Bad(
            xlsx_bytes([["customer", "date", "amount"]]),
            ("header row but no data rows",),
            file_level=True,
        ),
        id="xlsx-header-only",
    ),
    pytest.param(
        Bad(
            "customer,date,amount\nCafé,2024-01-01,1\n".encode("latin-1"),
            ("not UTF-8", "byte 0xe9", "CSV UTF-8"),
            file_level=True,
        ),
        id="latin-1",
    ),
    pytest.param(
        Bad(
            "customer\tdate\tamount\nA\t2024-01-01\t1\n".encode("utf-16"),
            ("UTF-8",),
            file_level=True,
        ),
        id="utf-16",
    ),
    pytest.param(
        Bad(
            csv("client_name,date,amount\nA,2024-01-01,1\n"),
            ("Could not find the customer column", "'client_name', 'date', 'amount'"),
            file_level=True,
        ),
        id="missing-customer-column",
    ),
    pytest.param(
        Bad(
            csv("customer,when,amount\nA,2024-01-01,1\n"),
            ("Could not find the date column", "'customer', 'when', 'amount'"),
            file_level=True,
        ),
        id="missing-date-column",
    ),
    pytest.param(
        Bad(
            csv("customer,date,cost centre\nA,2024-01-01,1\n"),
            ("Could not find the amount (or quantity and unit price) column",),
            file_level=True,
        ),
        id="missing-amount-column",
    ),
    pytest.param(
        Bad(
            csv("customer,date,quantity\nA,2024-01-01,1\n"),
            ("amount (or quantity and unit price)",),
            file_level=True,
        ),
        id="quantity-without-price",
    ),
    pytest.param(
        Bad(
            csv("<html><body>Not found</body></html>\n<p>sorry</p>\n"),
            ("Could not find the customer and date",),
            file_level=True,
        ),
        id="html-page",
    ),
    pytest.param(
        Bad(
            csv("customer,date,amount\nA,2024-01-01,1\n"),
            ("'Client' is not in the file",),
            mapping={"customer": "Client"},
            file_level=True,
        ),
        id="explicit-column-missing",
    ),
    pytest.param(
        Bad(
            csv("customer,date,amount\nA,2024-01-01,1\nB,2024-01-02,1,5\nC,2024-01-03,1\n"),
            ("not a well-formed CSV", "line 3"),
            file_level=True,
        ),
        id="ragged-row",
    ),
    pytest.param(
        Bad(
            csv("customer,date,amount\nA,2024-02-30,1\nB,next tuesday,1\nC,2024-01-01,1\n"),
            ("2 of 3 rows are invalid", "nothing was imported"),
            (
                "row 2: date '2024-02-30' is not a valid date",
                "row 3: date 'next tuesday' is not a valid date",
            ),
        ),
        id="unparsable-dates",
    ),
    pytest.param(
        Bad(
            csv("customer,date,amount\nA,2024-01-01,twelve\nB,2024-01-01,1\n"),
            ("1 of 2 rows are invalid",),
            ("row 2: amount 'twelve' is not a number",),
        ),
        id="unparsable-amounts",
    ),
    pytest.param(
        Bad(
            csv('customer,date,amount\n,2024-01-01,1\n"  ",2024-01-01,1\nA,2024-01-01,1\n'),
            ("2 of 3 rows are invalid",),
            ("row 2: customer id is blank", "row 3: customer id is blank"),
        ),
        id="blank-ids",
    ),
    pytest.param(
        Bad(
            csv("customer,date,amount\nA,2024-01-01,NaN\nB,2024-01-01,inf\nC,2024-01-01,-inf\n"),
            ("3 of 3 rows are invalid",),
            (
                "row 2: amount 'NaN' is not a finite number",
                "row 3: amount 'inf' is not a finite number",
                "row 4: amount '-inf' is not a finite number",
            ),
        ),
        id="non-finite-amounts",
    ),
    pytest.param(
        Bad(
            csv("customer,date,amount\nA,2024-01-01,1e13\n"),
            ("1 of 1 rows are invalid",),
            ("row 2: amount is beyond ±999,999,999,999.99",),
        ),
        id="amount-too-large",
    ),
    pytest.param(
        Bad(
            csv("customer,date,amount\nA,bad,x\n"),
            ("No valid rows to import",),
            ("row 2: date 'bad'",),
            skip_invalid=True,
        ),
        id="skip-invalid-but-nothing-valid",
    ),
    pytest.param(
        Bad(
            csv("customer,date,amount\nA,2024-01-01,700000000000\nA,2024-01-09,700000000000\n"),
            ("'A'", "2024-01", "beyond ±999,999,999,999.99", "nothing was imported"),
        ),
        id="monthly-total-overflow",
    ),
]


@pytest.fixture
def existing_data(team_a, team_b):
    data = (
        b"customer,date,amount\n"
        b"A,2024-01-05,10.10\nA,2024-02-05,20.20\nB,2024-01-31,-3.03\n00042,2023-12-01,1\n"
    )
    for team in (team_a, team_b):
        upload = upload_create(team=team, data=data, filename="existing.csv")
        assert upload_import_now(upload=upload).status == UploadStatus.SUCCEEDED
    state = snapshot()
    assert len(state["records"]) == 8
    return state


@pytest.mark.parametrize("bad", CORPUS)
def test_bad_file_fails_clearly_and_changes_nothing(bad: Bad, team_a, existing_data):
    upload = upload_create(
        team=team_a,
        data=bad.data,
        filename="bad.csv",
        column_mapping=bad.mapping,
        skip_invalid=bad.skip_invalid,
    )
    upload = upload_import_now(upload=upload)

    assert upload.status == UploadStatus.FAILED
    assert upload.stage == "failed"
    for key in bad.message:
        assert key in upload.error_message, upload.error_message
    assert "Internal error" not in upload.error_message
    shown = [f"row {e['row']}: {e['reason']}" for e in upload.errors]
    for key in bad.errors:
        assert any(line.startswith(key) for line in shown), shown
    if not bad.errors:
        assert upload.errors == []
    assert snapshot() == existing_data


@pytest.mark.parametrize("bad", [p for p in CORPUS if p.values[0].file_level])
def test_preview_of_a_bad_file_refuses_it_with_the_same_message(bad: Bad, team_a):
    upload = upload_create(
        team=team_a, data=bad.data, filename="bad.csv", column_mapping=bad.mapping
    )
    try:
        preview = upload_preview(upload=upload)
    except IngestError as exc:
        message = exc.message
    else:  # mapping problems are shown in the preview instead of raised
        assert preview.mapping is None
        message = preview.mapping_error
    for key in bad.message:
        assert key in message, message


def test_failed_upload_counts_every_rejected_row(team_a, existing_data):
    body = "".join(f"C{i},2024-01-01,{'x' if i % 2 else 1}\n" for i in range(1500))
    upload = upload_create(
        team=team_a, data=("customer,date,amount\n" + body).encode(), filename="many.csv"
    )
    upload = upload_import_now(upload=upload)
    assert upload.status == UploadStatus.FAILED
    assert "750 of 1500 rows are invalid" in upload.error_message
    assert upload.rows_rejected == 750
    assert len(upload.errors) == 750
    assert upload.errors[0] == {"row": 3, "reason": "amount 'x' is not a number"}
    assert snapshot() == existing_data
