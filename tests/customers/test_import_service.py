"""The import services end to end: upload_create → upload_import_now / the ingest task.

Runs on the configured database (SQLite or PostgreSQL); no vendor-specific SQL here.
"""

from __future__ import annotations

import hashlib
import io
import random
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook

from customers.ingest import IngestError
from customers.models import Customer, RevenueRecord, Upload, UploadMode, UploadStatus
from customers.services import (
    DuplicateUpload,
    upload_confirm,
    upload_create,
    upload_import_now,
    upload_preview,
)
from customers.tasks import upload_ingest_task
from tests.customers.helpers import revenue_snapshot as snapshot

pytestmark = pytest.mark.django_db


def csv_bytes(rows, header=("customer", "date", "amount")) -> bytes:
    lines = [",".join(header)] + [",".join(str(c) for c in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def run_import(team, data: bytes, *, filename="transactions.csv", **options) -> Upload:
    upload = upload_create(team=team, data=data, filename=filename, **options)
    return upload_import_now(upload=upload)


def records(team) -> dict[tuple[str, str], tuple[Decimal, int]]:
    rows = RevenueRecord.objects.filter(team=team).select_related("customer")
    return {
        (r.customer.external_id, f"{r.month:%Y-%m}"): (r.amount, r.transaction_count) for r in rows
    }


def spans(team) -> dict[str, tuple[str | None, str | None]]:
    def show(d):
        return None if d is None else f"{d:%Y-%m}"

    return {
        c.external_id: (show(c.first_month), show(c.last_month))
        for c in Customer.objects.filter(team=team)
    }


def cents_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


# --- totals ---------------------------------------------------------------------------------


def test_revenue_records_hold_the_files_exact_total_to_the_cent(team_a):
    rng = random.Random(20240517)
    expected: dict[tuple[str, str], int] = {}
    rows = []
    for _ in range(3000):
        customer = f"C{rng.randrange(40):03d}"
        month = rng.randrange(1, 13)
        cents = rng.randrange(-50_000, 2_000_000)
        rows.append((customer, f"2023-{month:02d}-{rng.randrange(1, 29):02d}", cents_text(cents)))
        key = (customer, f"2023-{month:02d}")
        expected[key] = expected.get(key, 0) + cents
    rows += [("C999", "2023-06-15", "0.1"), ("C999", "2023-06-16", "0.2")] * 500
    expected[("C999", "2023-06")] = 15_000
    total = sum(expected.values())

    upload = run_import(team_a, csv_bytes(rows))

    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message
    stored = records(team_a)
    assert {k: v[0] for k, v in stored.items()} == {
        k: Decimal(v) / 100 for k, v in expected.items()
    }
    assert sum(v[0] for v in stored.values()) == Decimal(total) / 100
    assert upload.total_amount == Decimal(total) / 100
    assert stored[("C999", "2023-06")] == (Decimal("150.00"), 1000)


def test_transaction_count_is_per_customer_month(team_a):
    rows = [
        ("A", "2024-01-01", "1"),
        ("A", "2024-01-31", "2"),
        ("A", "2024-01-15", "-3"),
        ("A", "2024-02-01", "4"),
        ("B", "2024-01-10", "5"),
    ]
    run_import(team_a, csv_bytes(rows))
    assert records(team_a) == {
        ("A", "2024-01"): (Decimal("0.00"), 3),
        ("A", "2024-02"): (Decimal("4.00"), 1),
        ("B", "2024-01"): (Decimal("5.00"), 1),
    }


def test_customer_first_and_last_month_span_their_records(team_a):
    rows = [
        ("A", "2023-11-20", "1"),
        ("A", "2024-03-02", "1"),
        ("A", "2024-01-01", "1"),
        ("B", "2024-02-29", "1"),
    ]
    run_import(team_a, csv_bytes(rows))
    assert spans(team_a) == {"A": ("2023-11", "2024-03"), "B": ("2024-02", "2024-02")}
    record_months = set(RevenueRecord.objects.values_list("month", flat=True))
    assert all(m.day == 1 for m in record_months)


def test_ids_with_special_characters_survive_the_staging_table(team_a):
    ids = ["Smith, John", 'say "hi"', "\\N", "Café Müller", "東京", "00042", "x" * 100, "a\tb"]
    buffer = io.StringIO()
    buffer.write("customer;date;amount\n")
    for i, external_id in enumerate(ids):
        quoted = '"' + external_id.replace('"', '""') + '"'
        buffer.write(f"{quoted};2024-01-0{i % 9 + 1};{i + 1},50\n")
    upload = run_import(team_a, buffer.getvalue().encode())
    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message
    stored = records(team_a)
    assert sorted(k[0] for k in stored) == sorted(ids)
    assert stored[("Smith, John", "2024-01")] == (Decimal("1.50"), 1)
    assert stored[("a\tb", "2024-01")] == (Decimal("8.50"), 1)


def test_xlsx_file_is_imported(team_a):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Customer ID", "InvoiceDate", "Quantity", "Price"])
    sheet.append([12347.0, datetime(2024, 1, 5, 9, 0), 3, 1.25])
    sheet.append(["00042", date(2024, 2, 1), -1, 10])
    buffer = io.BytesIO()
    workbook.save(buffer)
    upload = run_import(team_a, buffer.getvalue(), filename="sales.xlsx")
    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message
    assert records(team_a) == {
        ("12347", "2024-01"): (Decimal("3.75"), 1),
        ("00042", "2024-02"): (Decimal("-10.00"), 1),
    }


def test_extreme_amounts_are_stored_exactly(team_a):
    rows = [
        ("MAX", "2024-01-01", "999999999999.99"),
        ("MIN", "2024-01-01", "-999999999999.99"),
        ("CENT", "2024-01-01", "0.01"),
        ("BIG", "2024-01-01", "123456789012.34"),
        ("BIG", "2024-02-01", "-0.01"),
    ]
    upload = run_import(team_a, csv_bytes(rows))
    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message
    assert records(team_a) == {
        ("MAX", "2024-01"): (Decimal("999999999999.99"), 1),
        ("MIN", "2024-01"): (Decimal("-999999999999.99"), 1),
        ("CENT", "2024-01"): (Decimal("0.01"), 1),
        ("BIG", "2024-01"): (Decimal("123456789012.34"), 1),
        ("BIG", "2024-02"): (Decimal("-0.01"), 1),
    }
    assert upload.total_amount == Decimal("123456789012.34")
    run_import(team_a, csv_bytes([("BIG", "2024-01-31", "0.01")]))
    assert records(team_a)[("BIG", "2024-01")] == (Decimal("123456789012.35"), 2)


def test_monthly_total_beyond_the_limit_fails_and_writes_nothing(team_a):
    rows = [("A", "2024-01-01", "600000000000"), ("A", "2024-01-02", "600000000000")]
    upload = run_import(team_a, csv_bytes(rows))
    assert upload.status == UploadStatus.FAILED
    assert "beyond ±999,999,999,999.99" in upload.error_message
    assert Customer.objects.count() == 0
    assert RevenueRecord.objects.count() == 0


def test_append_that_pushes_a_month_beyond_the_limit_changes_nothing(team_a):
    run_import(team_a, csv_bytes([("A", "2024-01-01", "900000000000")]))
    before = snapshot()
    upload = run_import(team_a, csv_bytes([("A", "2024-01-15", "200000000000")]))
    assert upload.status == UploadStatus.FAILED
    assert "monthly total beyond ±999,999,999,999.99" in upload.error_message
    assert snapshot() == before


# --- strict and skip-invalid ----------------------------------------------------------------


def test_strict_mode_one_invalid_row_fails_the_upload_and_writes_nothing(team_a):
    run_import(team_a, csv_bytes([("OLD", "2023-01-01", "7")]), filename="old.csv")
    before = snapshot()
    rows = [
        ("A", "2024-01-01", "1"),
        ("B", "2024-01-02", "2"),
        ("C", "2024-02-30", "abc"),
        ("D", "2024-01-04", "4"),
    ]
    upload = run_import(team_a, csv_bytes(rows))

    assert upload.status == UploadStatus.FAILED
    assert upload.stage == "failed"
    assert "1 of 4 rows are invalid, so nothing was imported" in upload.error_message
    assert upload.errors == [
        {
            "row": 4,
            "reason": "date '2024-02-30' is not a valid date in ISO format YYYY-MM-DD; "
            "amount 'abc' is not a number",
        }
    ]
    assert upload.rows_rejected == 1
    assert upload.finished_at is not None
    assert snapshot() == before
    assert not Customer.objects.filter(team=team_a, external_id="A").exists()


def test_skip_invalid_imports_the_valid_rows_and_lists_the_rejected(team_a):
    rows = [
        ("A", "2024-01-01", "1.10"),
        ("", "2024-01-02", "2"),
        ("B", "2024-01-03", "2.20"),
        ("C", "01/02/2024", "3"),
        ("D", "2024-01-05", "inf"),
    ]
    upload = run_import(team_a, csv_bytes(rows), skip_invalid=True)

    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message
    assert (upload.rows_read, upload.rows_imported, upload.rows_rejected) == (5, 2, 3)
    assert upload.errors == [
        {"row": 3, "reason": "customer id is blank"},
        {"row": 5, "reason": "date '01/02/2024' is not a valid date in ISO format YYYY-MM-DD"},
        {"row": 6, "reason": "amount 'inf' is not a finite number"},
    ]
    assert records(team_a) == {
        ("A", "2024-01"): (Decimal("1.10"), 1),
        ("B", "2024-01"): (Decimal("2.20"), 1),
    }
    assert upload.total_amount == Decimal("3.30")


def test_skip_invalid_with_no_valid_rows_fails(team_a):
    upload = run_import(
        team_a, csv_bytes([("A", "bad", "1"), ("B", "2024-01-01", "x")]), skip_invalid=True
    )
    assert upload.status == UploadStatus.FAILED
    assert upload.error_message == "No valid rows to import."
    assert upload.rows_rejected == 2
    assert len(upload.errors) == 2
    assert Customer.objects.count() == 0


# --- append and duplicates ------------------------------------------------------------------


def test_same_file_appended_twice_is_refused_and_changes_nothing(team_a):
    data = csv_bytes([("A", "2024-01-01", "10"), ("B", "2024-02-01", "20")])
    first = run_import(team_a, data, filename="jan.csv")
    assert first.status == UploadStatus.SUCCEEDED
    before = snapshot()
    uploads_before = Upload.objects.count()

    with pytest.raises(DuplicateUpload) as caught:
        upload_create(team=team_a, data=data, filename="jan-again.csv")

    message = caught.value.message
    assert "already imported" in message
    assert f"upload #{first.pk}" in message
    assert "jan.csv" in message
    assert snapshot() == before
    assert Upload.objects.count() == uploads_before


def test_file_imported_in_replace_mode_is_not_appended_again(team_a):
    data = csv_bytes([("A", "2024-01-01", "10")])
    run_import(team_a, data, mode=UploadMode.REPLACE)
    with pytest.raises(DuplicateUpload):
        upload_create(team=team_a, data=data, filename="again.csv")
    assert records(team_a) == {("A", "2024-01"): (Decimal("10.00"), 1)}


def test_a_failed_upload_does_not_block_the_same_file_later(team_a):
    data = csv_bytes([("A", "2024-01-01", "10")], header=("who", "date", "amount"))
    failed = run_import(team_a, data, column_mapping={"customer": "client"})
    assert failed.status == UploadStatus.FAILED
    retry = run_import(team_a, data, column_mapping={"customer": "who"})
    assert retry.status == UploadStatus.SUCCEEDED, retry.error_message
    assert records(team_a) == {("A", "2024-01"): (Decimal("10.00"), 1)}


def test_same_file_may_be_appended_in_another_team(team_a, team_b):
    data = csv_bytes([("A", "2024-01-01", "10")])
    run_import(team_a, data)
    upload = run_import(team_b, data)
    assert upload.status == UploadStatus.SUCCEEDED
    assert records(team_b) == {("A", "2024-01"): (Decimal("10.00"), 1)}


def test_appending_a_different_file_adds_to_existing_months(team_a):
    run_import(team_a, csv_bytes([("A", "2024-01-01", "10.05"), ("B", "2024-02-01", "1")]))
    upload = run_import(
        team_a,
        csv_bytes(
            [
                ("A", "2024-01-20", "0.95"),
                ("A", "2023-12-31", "5"),
                ("C", "2024-03-01", "3"),
                ("A", "2024-01-21", "-1"),
            ]
        ),
        filename="more.csv",
    )
    assert upload.status == UploadStatus.SUCCEEDED
    assert records(team_a) == {
        ("A", "2023-12"): (Decimal("5.00"), 1),
        ("A", "2024-01"): (Decimal("10.00"), 3),
        ("B", "2024-02"): (Decimal("1.00"), 1),
        ("C", "2024-03"): (Decimal("3.00"), 1),
    }
    assert spans(team_a) == {
        "A": ("2023-12", "2024-01"),
        "B": ("2024-02", "2024-02"),
        "C": ("2024-03", "2024-03"),
    }
    assert (upload.customers_count, upload.new_customers_count) == (2, 1)
    assert Customer.objects.filter(team=team_a).count() == 3


# --- replace --------------------------------------------------------------------------------


def _portfolio(team_a, team_b):
    rows = [
        (customer, f"2024-{month:02d}-10", str(month))
        for customer in ("A", "B", "C")
        for month in range(1, 7)
    ]
    run_import(team_a, csv_bytes(rows), filename="portfolio.csv")
    run_import(team_b, csv_bytes(rows), filename="portfolio.csv")


def test_replace_makes_the_file_authoritative_for_its_month_range(team_a, team_b):
    _portfolio(team_a, team_b)
    other_team_before = records(team_b)
    replace_file = csv_bytes(
        [("A", "2024-02-03", "100"), ("A", "2024-04-28", "400"), ("D", "2024-03-01", "30")]
    )
    upload = run_import(team_a, replace_file, mode=UploadMode.REPLACE)

    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message
    assert (upload.first_month, upload.last_month) == (date(2024, 2, 1), date(2024, 4, 1))
    stored = records(team_a)
    inside = {k: v for k, v in stored.items() if "2024-02" <= k[1] <= "2024-04"}
    assert inside == {
        ("A", "2024-02"): (Decimal("100.00"), 1),
        ("A", "2024-04"): (Decimal("400.00"), 1),
        ("D", "2024-03"): (Decimal("30.00"), 1),
    }
    outside = {k: v for k, v in stored.items() if not "2024-02" <= k[1] <= "2024-04"}
    assert outside == {
        (c, f"2024-{m:02d}"): (Decimal(m), 1) for c in ("A", "B", "C") for m in (1, 5, 6)
    }
    assert records(team_b) == other_team_before
    assert spans(team_a)["D"] == ("2024-03", "2024-03")


def test_replace_recomputes_spans_of_customers_that_lost_records(team_a):
    run_import(
        team_a,
        csv_bytes([("A", "2024-01-01", "1"), ("B", "2024-02-01", "2"), ("B", "2024-05-01", "5")]),
    )
    run_import(
        team_a,
        csv_bytes([("A", "2024-02-01", "1"), ("A", "2024-04-01", "1")]),
        mode=UploadMode.REPLACE,
    )
    assert spans(team_a) == {"A": ("2024-01", "2024-04"), "B": ("2024-05", "2024-05")}
    run_import(team_a, csv_bytes([("A", "2024-05-01", "1")]), mode=UploadMode.REPLACE)
    assert spans(team_a)["B"] == (None, None)
    assert Customer.objects.filter(team=team_a, external_id="B").exists()


def test_running_the_same_replace_twice_is_idempotent(team_a, team_b):
    _portfolio(team_a, team_b)
    replace_file = csv_bytes([("A", "2024-02-03", "100"), ("E", "2024-03-01", "30.33")])
    first = run_import(team_a, replace_file, mode=UploadMode.REPLACE)
    after_first = snapshot()
    second = run_import(team_a, replace_file, mode=UploadMode.REPLACE)
    assert first.status == second.status == UploadStatus.SUCCEEDED
    assert snapshot() == {**after_first, "succeeded": after_first["succeeded"] + 1}
    assert second.new_customers_count == 0
    assert first.new_customers_count == 1


def test_replace_sums_the_files_own_transactions(team_a):
    run_import(team_a, csv_bytes([("A", "2024-01-01", "50")]))
    run_import(
        team_a,
        csv_bytes([("A", "2024-01-02", "1.25"), ("A", "2024-01-03", "1.25")]),
        mode=UploadMode.REPLACE,
    )
    assert records(team_a) == {("A", "2024-01"): (Decimal("2.50"), 2)}


# --- teams ----------------------------------------------------------------------------------


def test_same_customer_id_in_two_teams_stays_separate(team_a, team_b):
    a = run_import(team_a, csv_bytes([("00042", "2024-01-01", "1")]))
    b = run_import(team_b, csv_bytes([("00042", "2024-01-05", "2"), ("X", "2024-03-01", "3")]))
    assert a.new_customers_count == b.new_customers_count - 1 == 1
    assert Customer.objects.filter(external_id="00042").count() == 2
    assert records(team_a) == {("00042", "2024-01"): (Decimal("1.00"), 1)}
    assert records(team_b) == {
        ("00042", "2024-01"): (Decimal("2.00"), 1),
        ("X", "2024-03"): (Decimal("3.00"), 1),
    }
    assert spans(team_a) == {"00042": ("2024-01", "2024-01")}
    for record in RevenueRecord.objects.select_related("customer"):
        assert record.team_id == record.customer.team_id


# --- the upload row -------------------------------------------------------------------------


def test_upload_counters_describe_the_import(team_a):
    run_import(team_a, csv_bytes([("A", "2023-12-01", "1")]), filename="old.csv")
    data = (
        b"CustomerID,InvoiceDate,Amount\n"
        b"A,2024-01-05,10.10\n"
        b"\n"
        b"B,2024-01-06,20.20\n"
        b"C,2024-03-07,-5.05\n"
        b"C,2024-03-08,oops\n"
        b"A,2024-02-01,1\n"
    )
    upload = run_import(team_a, data, filename="q1.csv", skip_invalid=True)

    assert upload.status == UploadStatus.SUCCEEDED
    assert upload.original_name == "q1.csv"
    assert upload.size_bytes == len(data)
    assert upload.content_hash == hashlib.sha256(data).hexdigest()
    assert upload.rows_read == 5
    assert upload.rows_imported == 4
    assert upload.rows_rejected == 1
    assert upload.errors == [{"row": 6, "reason": "amount 'oops' is not a number"}]
    assert upload.customers_count == 3
    assert upload.new_customers_count == 2
    assert upload.months_count == 3
    assert (upload.first_month, upload.last_month) == (date(2024, 1, 1), date(2024, 3, 1))
    assert upload.total_amount == Decimal("26.25")
    assert (upload.progress, upload.stage) == (100, "done")
    assert upload.started_at is not None and upload.finished_at is not None
    assert upload.error_message == ""
    assert "done" in upload.timings


def test_importing_an_upload_that_is_not_waiting_is_refused(team_a):
    upload = run_import(team_a, csv_bytes([("A", "2024-01-01", "1")]))
    with pytest.raises(IngestError, match="not waiting to be imported"):
        upload_import_now(upload=upload)
    assert records(team_a) == {("A", "2024-01"): (Decimal("1.00"), 1)}


# --- preview --------------------------------------------------------------------------------


def test_preview_shows_parsed_rows_and_row_errors(team_a):
    data = (
        b"CustomerID;InvoiceDate;Amount\n"
        b"00042;2024-01-05;1.234,50\n"
        b";2024-01-06;2\n"
        b"B;2024-02-30;3\n"
        b"C;2024-03-01;4\n"
    )
    upload = upload_create(team=team_a, data=data, filename="p.csv")
    preview = upload_preview(upload=upload)

    assert preview.kind == "csv"
    assert preview.delimiter == ";"
    assert preview.columns == ["CustomerID", "InvoiceDate", "Amount"]
    assert preview.raw_rows[0] == ["00042", "2024-01-05", "1.234,50"]
    assert preview.mapping.customer == "CustomerID"
    assert preview.mapping_error == ""
    assert preview.parsed_rows == [
        {"row": 2, "customer": "00042", "month": "2024-01", "amount": Decimal("1234.5")},
        {"row": 5, "customer": "C", "month": "2024-03", "amount": Decimal("4")},
    ]
    assert preview.row_errors == {
        3: "customer id is blank",
        4: "date '2024-02-30' is not a valid date in ISO format YYYY-MM-DD",
    }
    assert Customer.objects.count() == 0
    assert Upload.objects.get(pk=upload.pk).status == UploadStatus.DRAFT


def test_preview_uses_the_given_mapping_and_date_format(team_a):
    data = b"a,b,c,d\nX,20240105,5,7\nY,20240210,6,8\n"
    upload = upload_create(team=team_a, data=data, filename="p.csv")
    preview = upload_preview(
        upload=upload,
        column_mapping={"customer": "a", "date": "b", "amount": "d"},
        date_format="%Y%m%d",
    )
    assert preview.mapping_error == ""
    assert [(r["customer"], r["month"], r["amount"]) for r in preview.parsed_rows] == [
        ("X", "2024-01", Decimal(7)),
        ("Y", "2024-02", Decimal(8)),
    ]
    assert preview.row_errors == {}


def test_preview_reports_a_mapping_that_names_a_missing_column(team_a):
    upload = upload_create(
        team=team_a, data=csv_bytes([("A", "2024-01-01", "1")]), filename="p.csv"
    )
    preview = upload_preview(upload=upload, column_mapping={"customer": "Client"})
    assert preview.mapping is None
    assert "'Client' is not in the file" in preview.mapping_error
    assert "'customer', 'date', 'amount'" in preview.mapping_error
    assert preview.parsed_rows == []
    assert preview.raw_rows == [["A", "2024-01-01", "1"]]


def test_preview_reads_only_the_first_rows(team_a):
    rows = [(f"C{i}", "2024-01-01", "1") for i in range(50)]
    upload = upload_create(team=team_a, data=csv_bytes(rows), filename="p.csv")
    preview = upload_preview(upload=upload)
    assert len(preview.raw_rows) == 10
    assert [r["row"] for r in preview.parsed_rows] == list(range(2, 12))


# --- the task -------------------------------------------------------------------------------


def test_second_delivery_of_the_ingest_task_does_nothing(
    team_a, django_capture_on_commit_callbacks
):
    data = csv_bytes(
        [("A", "2024-01-01", "10"), ("A", "2024-01-02", "5"), ("B", "2024-02-01", "1")]
    )
    upload = upload_create(team=team_a, data=data, filename="t.csv")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        upload_confirm(
            upload=upload,
            column_mapping={"customer": "customer", "date": "date", "amount": "amount"},
        )
    # One queues the import; the import, run eagerly inside it, announces its success once.
    assert len(callbacks) == 2
    upload.refresh_from_db()
    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message
    after_first = snapshot()

    second = upload_ingest_task.apply(args=[upload.pk]).get()
    third = upload_ingest_task(upload.pk)

    assert second.startswith("skipped")
    assert third.startswith("skipped")
    assert snapshot() == after_first
    assert records(team_a) == {
        ("A", "2024-01"): (Decimal("15.00"), 2),
        ("B", "2024-02"): (Decimal("1.00"), 1),
    }


def test_ingest_task_imports_a_pending_upload_once(team_a):
    upload = upload_create(
        team=team_a, data=csv_bytes([("A", "2024-01-01", "10")]), filename="t.csv"
    )
    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.PENDING)
    assert upload_ingest_task.apply(args=[upload.pk]).get() == UploadStatus.SUCCEEDED
    assert upload_ingest_task.apply(args=[upload.pk]).get().startswith("skipped")
    assert records(team_a) == {("A", "2024-01"): (Decimal("10.00"), 1)}


def test_a_draft_upload_is_not_imported_by_the_task(team_a):
    upload = upload_create(
        team=team_a, data=csv_bytes([("A", "2024-01-01", "10")]), filename="t.csv"
    )
    assert upload_ingest_task(upload.pk).startswith("skipped")
    assert RevenueRecord.objects.count() == 0
    assert Upload.objects.get(pk=upload.pk).status == UploadStatus.DRAFT


def test_failed_upload_still_records_how_many_rows_it_read(team_a):
    upload = run_import(team_a, csv_bytes([("A", "2024-01-01", "1"), ("B", "bad", "2")]))
    assert upload.status == UploadStatus.FAILED
    assert (upload.rows_read, upload.rows_rejected, upload.rows_imported) == (2, 1, 0)


def test_utf16_file_is_refused_with_a_specific_message(team_a):
    data = "customer_id,date,amount\r\nA,2024-01-01,1\r\n".encode("utf-16")
    upload = run_import(team_a, data)
    assert upload.status == UploadStatus.FAILED
    assert "UTF-16" in upload.error_message and "CSV UTF-8" in upload.error_message
