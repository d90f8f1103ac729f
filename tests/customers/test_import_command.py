"""``manage.py import_transactions`` end to end (see docs/interfaces.md)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Team
from customers.models import Customer, RevenueRecord, Upload, UploadStatus

pytestmark = pytest.mark.django_db

SAMPLE = (
    "CustomerID,InvoiceDate,Amount\n"
    "00042,2024-01-05,1000.00\n"
    "00042,2024-01-20,0.31\n"
    "B-7,2024-02-29 13:45:00,300.00\n"
    "\n"
    "C,2024-03-01T08:00:00,27.00\n"
)  # total 1,327.31; 3 customers; 3 months


def write(tmp_path: Path, text: str | bytes, name: str = "transactions.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def run(path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("import_transactions", str(path), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def records(team) -> dict[tuple[str, str], tuple[Decimal, int]]:
    rows = RevenueRecord.objects.filter(team=team).select_related("customer")
    return {
        (r.customer.external_id, f"{r.month:%Y-%m}"): (r.amount, r.transaction_count) for r in rows
    }


def test_import_prints_the_summary(tmp_path, team_a):
    output = run(write(tmp_path, SAMPLE), "--team", "acme")
    lines = output.splitlines()
    upload = Upload.objects.get()
    assert lines[0] == f"Upload #{upload.pk}: transactions.csv (append)"
    assert "Rows read: 4" in lines
    assert "Rows imported: 4" in lines
    assert "Customers: 3 (3 new)" in lines
    assert "Months covered: 3 (2024-01 to 2024-03)" in lines
    assert "Total amount: 1,327.31" in lines
    assert not any(line.startswith("Rows rejected") for line in lines)
    assert records(team_a) == {
        ("00042", "2024-01"): (Decimal("1000.31"), 2),
        ("B-7", "2024-02"): (Decimal("300.00"), 1),
        ("C", "2024-03"): (Decimal("27.00"), 1),
    }
    assert upload.status == UploadStatus.SUCCEEDED


def test_negative_total_is_printed_with_its_sign(tmp_path, team_a):
    output = run(
        write(tmp_path, "customer,date,amount\nA,2024-01-01,-1234.5\nA,2024-01-02,0.25\n"),
        "--team",
        "acme",
    )
    assert "Total amount: -1,234.25" in output.splitlines()


def test_create_team_creates_a_missing_team(tmp_path, db):
    output = run(write(tmp_path, SAMPLE), "--team", "new-co", "--create-team")
    team = Team.objects.get(slug="new-co")
    assert "Total amount: 1,327.31" in output
    assert Customer.objects.filter(team=team).count() == 3


def test_create_team_reuses_an_existing_team(tmp_path, team_a):
    run(write(tmp_path, SAMPLE), "--team", "acme", "--create-team")
    assert Team.objects.filter(slug="acme").count() == 1
    assert Customer.objects.filter(team=team_a).count() == 3


def test_unknown_team_without_create_team_is_an_error(tmp_path, db):
    with pytest.raises(CommandError, match=r"No team 'nowhere'; pass --create-team"):
        run(write(tmp_path, SAMPLE), "--team", "nowhere")
    assert not Team.objects.filter(slug="nowhere").exists()
    assert Upload.objects.count() == 0


def test_invalid_team_slug_with_create_team_is_an_error(tmp_path, db):
    with pytest.raises(CommandError, match="lowercase letters, digits and hyphens"):
        run(write(tmp_path, SAMPLE), "--team", "Bad Slug", "--create-team")
    assert Team.objects.count() == 0


def test_missing_file_is_an_error(tmp_path, team_a):
    with pytest.raises(CommandError, match="Cannot read"):
        run(tmp_path / "nope.csv", "--team", "acme")


def test_explicit_columns_are_used(tmp_path, team_a):
    text = (
        "CustomerID,client,InvoiceDate,booked,Amount,net\n"
        "wrong,A,2020-01-01,2024-05-02,999,12.5\n"
        "wrong,B,2020-01-01,2024-06-03,999,7.5\n"
    )
    output = run(
        write(tmp_path, text),
        "--team",
        "acme",
        "--customer-column",
        "CLIENT",
        "--date-column",
        "booked",
        "--amount-column",
        "net",
    )
    assert "Total amount: 20.00" in output
    assert records(team_a) == {
        ("A", "2024-05"): (Decimal("12.50"), 1),
        ("B", "2024-06"): (Decimal("7.50"), 1),
    }


def test_quantity_and_price_columns_multiply(tmp_path, team_a):
    text = "cust,day,n,each,Amount\nA,2024-01-05,3,1.99,0\nA,2024-01-06,-2,0.50,0\n"
    output = run(
        write(tmp_path, text),
        "--team",
        "acme",
        "--customer-column",
        "cust",
        "--quantity-column",
        "n",
        "--price-column",
        "each",
    )
    assert "Total amount: 4.97" in output
    assert records(team_a) == {("A", "2024-01"): (Decimal("4.97"), 2)}


def test_quantity_column_without_price_column_is_an_error(tmp_path, team_a):
    with pytest.raises(CommandError, match="--quantity-column and --price-column go together"):
        run(write(tmp_path, SAMPLE), "--team", "acme", "--quantity-column", "Amount")
    assert Upload.objects.count() == 0


def test_amount_column_with_quantity_column_is_an_error(tmp_path, team_a):
    with pytest.raises(CommandError):
        run(
            write(tmp_path, SAMPLE),
            "--team",
            "acme",
            "--amount-column",
            "Amount",
            "--quantity-column",
            "Amount",
            "--price-column",
            "Amount",
        )
    assert RevenueRecord.objects.count() == 0


def test_explicit_column_missing_from_the_file_is_an_error(tmp_path, team_a):
    with pytest.raises(CommandError) as caught:
        run(write(tmp_path, SAMPLE), "--team", "acme", "--customer-column", "Client")
    assert "'Client' is not in the file" in str(caught.value)
    assert "'CustomerID', 'InvoiceDate', 'Amount'" in str(caught.value)


def test_date_format_option(tmp_path, team_a):
    text = "customer;date;amount\nA;20240105;1,50\nA;20240229;2,50\n"
    output = run(write(tmp_path, text), "--team", "acme", "--date-format", "%Y%m%d")
    assert "Months covered: 2 (2024-01 to 2024-02)" in output
    assert "Total amount: 4.00" in output


def test_strict_failure_lists_row_numbers_and_reasons(tmp_path, team_a):
    text = "customer,date,amount\nA,2024-01-01,1\nB,2024-13-01,1\nC,2024-01-01,lots\n"
    with pytest.raises(CommandError) as caught:
        run(write(tmp_path, text), "--team", "acme")
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("Import failed: 2 of 3 rows are invalid, so nothing was imported")
    assert lines[1:] == [
        "  row 3: date '2024-13-01' is not a valid date in ISO format YYYY-MM-DD",
        "  row 4: amount 'lots' is not a number",
    ]
    assert Customer.objects.count() == 0
    assert RevenueRecord.objects.count() == 0


def test_strict_failure_shows_the_first_20_rows_and_counts_the_rest(tmp_path, team_a):
    body = "".join(f"C{i},2024-01-01,bad{i}\n" for i in range(25))
    with pytest.raises(CommandError) as caught:
        run(write(tmp_path, "customer,date,amount\n" + body), "--team", "acme")
    lines = str(caught.value).splitlines()
    row_lines = [line for line in lines if line.startswith("  row ")]
    assert len(row_lines) == 20
    assert row_lines[0] == "  row 2: amount 'bad0' is not a number"
    assert row_lines[-1] == "  row 21: amount 'bad19' is not a number"
    assert lines[-1] == "  … and 5 more invalid rows"
    assert RevenueRecord.objects.count() == 0


def test_file_level_failure_is_an_error(tmp_path, team_a):
    with pytest.raises(CommandError, match="The file is empty"):
        run(write(tmp_path, b""), "--team", "acme")
    with pytest.raises(CommandError, match="not UTF-8"):
        run(
            write(tmp_path, "customer,date,amount\nCafé,2024-01-01,1\n".encode("latin-1")),
            "--team",
            "acme",
        )
    assert RevenueRecord.objects.count() == 0


def test_skip_invalid_imports_valid_rows_and_reports_the_rest(tmp_path, team_a):
    body = "".join(f"C{i},2024-01-01,{'x' if i < 22 else '1.01'}\n" for i in range(25))
    output = run(
        write(tmp_path, "customer,date,amount\n" + body), "--team", "acme", "--skip-invalid"
    )
    lines = output.splitlines()
    assert "Rows read: 25" in lines
    assert "Rows imported: 3" in lines
    assert "Rows rejected: 22" in lines
    assert "  row 2: amount 'x' is not a number" in lines
    assert sum(line.startswith("  row ") for line in lines) == 20
    assert "  … and 2 more invalid rows" in lines
    assert "Total amount: 3.03" in lines
    assert Customer.objects.filter(team=team_a).count() == 3


def test_replace_mode(tmp_path, team_a):
    run(write(tmp_path, SAMPLE), "--team", "acme")
    replacement = write(tmp_path, "customer,date,amount\nZ,2024-02-10,5\n", "feb.csv")
    output = run(replacement, "--team", "acme", "--mode", "replace")
    assert output.splitlines()[0].endswith("feb.csv (replace)")
    assert records(team_a) == {
        ("00042", "2024-01"): (Decimal("1000.31"), 2),
        ("Z", "2024-02"): (Decimal("5.00"), 1),
        ("C", "2024-03"): (Decimal("27.00"), 1),
    }
    again = run(replacement, "--team", "acme", "--mode", "replace")
    assert "Total amount: 5.00" in again
    assert records(team_a)[("Z", "2024-02")] == (Decimal("5.00"), 1)
    b7 = Customer.objects.get(team=team_a, external_id="B-7")
    assert (b7.first_month, b7.last_month) == (None, None)
    assert Customer.objects.get(team=team_a, external_id="Z").first_month == date(2024, 2, 1)


def test_duplicate_file_is_refused(tmp_path, team_a):
    path = write(tmp_path, SAMPLE)
    run(path, "--team", "acme")
    before = sorted(RevenueRecord.objects.values_list("customer_id", "month", "amount"))
    with pytest.raises(CommandError) as caught:
        run(write(tmp_path, SAMPLE, "renamed.csv"), "--team", "acme")
    assert "already imported" in str(caught.value)
    assert "transactions.csv" in str(caught.value)
    assert sorted(RevenueRecord.objects.values_list("customer_id", "month", "amount")) == before
    assert Upload.objects.count() == 1


def test_xlsx_file_is_imported(tmp_path, team_a):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Customer ID", "InvoiceDate", "Amount"])
    sheet.append([12347.0, date(2024, 1, 5), 10.5])
    sheet.append(["007", date(2024, 2, 5), 0.25])
    path = tmp_path / "sales.xlsx"
    workbook.save(path)
    output = run(path, "--team", "acme")
    assert "Total amount: 10.75" in output
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"12347", "007"}


def test_create_team_with_a_missing_file_creates_no_team(tmp_path, db):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command(
            "import_transactions", str(tmp_path / "nope.csv"), "--team", "ghost", "--create-team"
        )
    assert not Team.objects.filter(slug="ghost").exists()
