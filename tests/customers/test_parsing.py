"""Parsing rules of the importer: reading, column mapping, validation and aggregation.

Pure functions only (no database): ``read_table`` → ``resolve_mapping`` →
``parse_transactions`` → ``aggregate``.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest

from customers.ingest import IngestError
from customers.ingest.aggregate import aggregate
from customers.ingest.mapping import resolve_mapping
from customers.ingest.parsing import (
    MAX_ABS_CENTS,
    ParsedTransactions,
    _clean_number,
    parse_transactions,
)
from customers.ingest.reading import read_table, sniff_delimiter
from tests.customers.helpers import xlsx_bytes


def parse(data: bytes | str, explicit: dict | None = None, date_format: str | None = None):
    if isinstance(data, str):
        data = data.encode("utf-8")
    table = read_table(data)
    mapping = resolve_mapping(table.columns, explicit)
    return parse_transactions(table, mapping, date_format=date_format)


def months(parsed: ParsedTransactions) -> list[str]:
    return [str(m) for m in parsed.months]


def reasons(parsed: ParsedTransactions) -> dict[int, str]:
    return {e["row"]: e["reason"] for e in parsed.errors}


# --- column mapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["CustomerID", "InvoiceDate", "Amount"], ("CustomerID", "InvoiceDate", "Amount")),
        (["Customer ID", "Date", "Revenue"], ("Customer ID", "Date", "Revenue")),
        (["customer_id", "date", "amount"], ("customer_id", "date", "amount")),
        (
            ["CUSTOMER ID", "INVOICE DATE", "TOTAL AMOUNT"],
            ("CUSTOMER ID", "INVOICE DATE", "TOTAL AMOUNT"),
        ),
        (["Client", "Order Date", "Sales"], ("Client", "Order Date", "Sales")),
        (
            ["account_number", "posting-date", "Net Amount"],
            ("account_number", "posting-date", "Net Amount"),
        ),
        (["Note", "customer", "Total Amount", "date"], ("customer", "date", "Total Amount")),
    ],
)
def test_header_aliases_are_recognised_case_insensitively(headers, expected):
    mapping = resolve_mapping(headers)
    assert (mapping.customer, mapping.date, mapping.amount) == expected
    assert mapping.quantity is None and mapping.price is None


def test_customer_id_alias_is_preferred_over_plain_customer():
    mapping = resolve_mapping(["Customer", "Customer ID", "Date", "Amount"])
    assert mapping.customer == "Customer ID"


def test_quantity_and_unit_price_are_used_when_there_is_no_amount_column():
    mapping = resolve_mapping(["Customer ID", "InvoiceDate", "Quantity", "UnitPrice"])
    assert mapping.amount is None
    assert (mapping.quantity, mapping.price) == ("Quantity", "UnitPrice")
    assert mapping.uses_quantity_price


def test_amount_column_wins_over_quantity_and_price_when_all_are_present():
    mapping = resolve_mapping(["CustomerID", "Date", "Qty", "Price", "Total"])
    assert mapping.amount == "Total"
    assert mapping.quantity is None and mapping.price is None


def test_explicit_mapping_overrides_aliases():
    headers = ["CustomerID", "client", "InvoiceDate", "ship_date", "Amount", "gross"]
    mapping = resolve_mapping(
        headers, {"customer": "client", "date": "ship_date", "amount": "gross"}
    )
    assert (mapping.customer, mapping.date, mapping.amount) == ("client", "ship_date", "gross")


def test_explicit_mapping_is_matched_case_insensitively_and_ignoring_punctuation():
    mapping = resolve_mapping(
        ["Kunde Nr", "Datum", "Betrag"],
        {"customer": "KUNDE_NR", "date": "datum", "amount": "BETRAG"},
    )
    assert (mapping.customer, mapping.date, mapping.amount) == ("Kunde Nr", "Datum", "Betrag")


def test_explicit_quantity_and_price_replace_the_amount_alias():
    mapping = resolve_mapping(
        ["customer", "date", "amount", "n", "each"], {"quantity": "n", "price": "each"}
    )
    assert mapping.amount is None
    assert (mapping.quantity, mapping.price) == ("n", "each")


def test_explicit_column_missing_from_the_file_lists_the_columns_found():
    with pytest.raises(IngestError) as caught:
        resolve_mapping(["CustomerID", "InvoiceDate", "Amount"], {"customer": "Client Code"})
    message = caught.value.message
    assert "customer column 'Client Code' is not in the file" in message
    assert "'CustomerID', 'InvoiceDate', 'Amount'" in message


def test_missing_columns_are_named_with_the_columns_found():
    with pytest.raises(IngestError) as caught:
        resolve_mapping(["foo", "bar", "amount"])
    message = caught.value.message
    assert "customer and date" in message
    assert "'foo', 'bar', 'amount'" in message
    assert "explicitly" in message


def test_missing_amount_says_amount_or_quantity_and_price():
    with pytest.raises(IngestError, match=r"amount \(or quantity and unit price\)"):
        resolve_mapping(["customer", "date", "quantity"])


def test_amount_together_with_quantity_and_price_is_refused():
    with pytest.raises(IngestError, match="either an amount column or quantity and price"):
        resolve_mapping(["c", "d", "a", "q", "p"], {"amount": "a", "quantity": "q", "price": "p"})


def test_one_column_mapped_to_two_fields_is_refused():
    with pytest.raises(IngestError, match="mapped to two fields"):
        resolve_mapping(["customer", "date", "amount"], {"customer": "amount"})


def test_unknown_mapping_field_is_refused():
    with pytest.raises(IngestError, match="Unknown mapping field"):
        resolve_mapping(["customer", "date", "amount"], {"colour": "amount"})


def test_long_column_lists_are_shortened_in_messages():
    headers = [f"col{i}" for i in range(20)]
    with pytest.raises(IngestError) as caught:
        resolve_mapping(headers)
    assert "'col14'" in caught.value.message
    assert "'col15'" not in caught.value.message
    assert "and 5 more" in caught.value.message


# --- amounts ------------------------------------------------------------------------------


def test_amounts_are_converted_to_integer_cents():
    parsed = parse("customer,date,amount\nA,2024-01-05,10.50\nB,2024-01-06,3\nC,2024-01-07,0.07\n")
    assert parsed.cents.tolist() == [1050, 300, 7]
    assert parsed.cents.dtype == np.int64


def test_quantity_times_unit_price_gives_the_amount():
    parsed = parse(
        "customer,date,quantity,unit price\n"
        "A,2024-01-05,12,6.95\n"
        "A,2024-01-05,-12,2.95\n"
        "B,2024-01-05,3,1.99\n"
    )
    assert parsed.cents.tolist() == [8340, -3540, 597]


def test_quantity_times_unit_price_is_rounded_to_the_cent():
    parsed = parse(
        "customer,date,qty,price\n"
        "A,2024-01-05,7,0.333\n"  # 2.331
        "A,2024-01-05,3,0.3333\n"  # 0.9999
        "A,2024-01-05,0.5,0.99\n"  # 0.495 -> the float product is just above a half cent
    )
    assert parsed.cents.tolist() == [233, 100, 50]


def test_exact_half_cents_round_half_up():
    parsed = parse(
        "customer,date,qty,price\nA,2024-01-05,3,0.115\nA,2024-01-05,1,0.125\nA,2024-01-05,1,1.005\n"
    )
    assert parsed.cents.tolist() == [35, 13, 101]


def test_refunds_with_negative_amounts_are_allowed():
    parsed = parse("customer,date,amount\nA,2024-01-05,-25.40\nA,2024-01-06,(12.30)\n")
    assert parsed.rejected == 0
    assert parsed.cents.tolist() == [-2540, -1230]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("12,5", "12.5"),
        ("-1,000", "-1000"),
        ("1.234.567", "1234567"),
        ("$1,234.50", "1234.50"),
        ("€ 12,30", "12.30"),
        ("£12", "12"),
        ("¥1,000", "1000"),
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("1'234.50", "1234.50"),
        ("(5)", "-5"),
        ("($1,234.50)", "-1234.50"),
        ("abc", "abc"),
    ],
)
def test_clean_number_handles_separators_and_currency_symbols(text, expected):
    assert _clean_number(text) == expected


def test_thousands_separators_decimal_comma_and_currency_symbols_are_parsed_in_a_file():
    parsed = parse(
        "customer;date;amount\n"
        "A;2024-01-05;1.234,56\n"
        "B;2024-01-05;€ 12,30\n"
        'C;2024-01-05;"$1,234.50"\n'
        "D;2024-01-05; 7 \n"
        "E;2024-01-05;1e3\n"
    )
    assert parsed.rejected == 0, parsed.errors
    assert parsed.cents.tolist() == [123456, 1230, 123450, 700, 100000]


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "-Infinity", "+inf"])
def test_non_finite_amounts_are_rejected_as_not_a_finite_number(value):
    parsed = parse(f"customer,date,amount\nA,2024-01-05,{value}\nB,2024-01-05,1\n")
    assert parsed.rejected == 1
    assert reasons(parsed) == {2: f"amount {value!r} is not a finite number"}
    assert parsed.external_ids.tolist() == ["B"]


@pytest.mark.parametrize("value", ["abc", "N/A", "-", "12..5", "1,2,3,4"])
def test_text_amounts_are_rejected_as_not_a_number(value):
    parsed = parse(f'customer,date,amount\nA,2024-01-05,"{value}"\n')
    assert reasons(parsed) == {2: f"amount {value!r} is not a number"}


def test_blank_amount_is_rejected():
    parsed = parse("customer,date,amount\nA,2024-01-05,\nB,2024-01-05,  \n")
    assert reasons(parsed) == {2: "amount is blank", 3: "amount is blank"}


def test_blank_quantity_and_non_numeric_price_are_both_reported():
    parsed = parse("customer,date,quantity,price\nA,2024-01-05,,x\n")
    assert reasons(parsed) == {2: "quantity is blank; unit price 'x' is not a number"}


def test_amounts_at_the_numeric_limit_are_accepted_and_beyond_it_rejected():
    parsed = parse(
        "customer,date,amount\n"
        "A,2024-01-05,999999999999.99\n"
        "B,2024-01-05,-999999999999.99\n"
        "C,2024-01-05,1000000000000.00\n"
        "D,2024-01-05,-1000000000000\n"
        "E,2024-01-05,1e15\n"
    )
    assert parsed.cents.tolist() == [MAX_ABS_CENTS, -MAX_ABS_CENTS]
    assert reasons(parsed) == {
        4: "amount is beyond ±999,999,999,999.99",
        5: "amount is beyond ±999,999,999,999.99",
        6: "amount is beyond ±999,999,999,999.99",
    }


def test_quantity_times_price_beyond_the_limit_is_rejected():
    parsed = parse("customer,date,qty,price\nA,2024-01-05,1000000,1000000.5\n")
    assert reasons(parsed) == {2: "amount is beyond ±999,999,999,999.99"}


# --- dates --------------------------------------------------------------------------------


def test_iso_dates_with_and_without_time_are_accepted():
    parsed = parse(
        "customer,date,amount\n"
        "A,2024-01-31,1\n"
        "A,2024-02-01 07:45:00,1\n"
        "A,2024-03-15T23:59:59,1\n"
        "A,2024-04-01T00:00:00Z,1\n"
        "A,2024-05-31T23:30:00+02:00,1\n"
        "A,2024-06-01 07:45,1\n"
    )
    assert parsed.rejected == 0, parsed.errors
    assert months(parsed) == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]


@pytest.mark.parametrize(
    "value",
    [
        "2024-02-30",
        "2023-02-29",
        "2024-13-01",
        "2024/01/05",
        "05/01/2024",
        "20240105",
        "2024-01-05junk",
        "yesterday",
        "1899-12-31",
        "2201-01-01",
    ],
)
def test_invalid_or_non_iso_dates_are_rejected_by_default(value):
    parsed = parse(f"customer,date,amount\nA,{value},1\nB,2024-01-05,1\n")
    assert reasons(parsed) == {2: f"date {value!r} is not a valid date in ISO format YYYY-MM-DD"}
    assert parsed.external_ids.tolist() == ["B"]


def test_leap_day_is_a_valid_date():
    parsed = parse("customer,date,amount\nA,2024-02-29,1\n")
    assert months(parsed) == ["2024-02"]


def test_blank_date_is_rejected_as_blank():
    parsed = parse("customer,date,amount\nA,,1\n")
    assert reasons(parsed) == {2: "date is blank"}


def test_date_format_yyyymmdd():
    parsed = parse(
        "customer,date,amount\nA,20240105,1\nA,20231231,1\nA,20230229,1\n", date_format="%Y%m%d"
    )
    assert months(parsed) == ["2024-01", "2023-12"]
    assert reasons(parsed) == {4: "date '20230229' is not a valid date in format %Y%m%d"}


def test_date_format_day_first():
    parsed = parse(
        "customer;date;amount\nA;05/01/2024;1\nA;31/12/2023;1\nA;12/31/2023;1\n",
        date_format="%d/%m/%Y",
    )
    assert months(parsed) == ["2024-01", "2023-12"]
    assert reasons(parsed) == {4: "date '12/31/2023' is not a valid date in format %d/%m/%Y"}


def test_date_format_rejects_iso_dates_that_do_not_follow_it():
    parsed = parse("customer,date,amount\nA,2024-01-05,1\n", date_format="%d/%m/%Y")
    assert reasons(parsed) == {2: "date '2024-01-05' is not a valid date in format %d/%m/%Y"}


def test_long_invalid_values_are_shortened_in_reasons():
    value = "x" * 60
    parsed = parse(f"customer,date,amount\nA,{value},1\n")
    assert (
        reasons(parsed)[2]
        == f"date {'x' * 37 + '...'!r} is not a valid date in ISO format YYYY-MM-DD"
    )


# --- customer ids -------------------------------------------------------------------------


def test_leading_zero_ids_are_kept():
    parsed = parse("customer,date,amount\n00123,2024-01-05,1\n0042,2024-01-05,1\n7,2024-01-05,1\n")
    assert parsed.external_ids.tolist() == ["00123", "0042", "7"]


def test_ids_are_stripped_of_surrounding_spaces():
    parsed = parse('customer,date,amount\n"  A-1 ",2024-01-05,1\n')
    assert parsed.external_ids.tolist() == ["A-1"]


def test_float_ids_are_restored_when_every_id_has_that_shape():
    parsed = parse(
        "Customer ID,InvoiceDate,Price,Quantity\n"
        "13085.0,2009-12-01 07:45:00,6.95,12\n"
        "16321.00,2009-12-01 10:33:00,2.95,-12\n"
        ",2009-12-01 10:33:00,2.95,1\n"
    )
    assert parsed.external_ids.tolist() == ["13085", "16321"]
    assert reasons(parsed) == {4: "customer id is blank"}


def test_float_looking_ids_stay_when_some_id_has_another_shape():
    parsed = parse(
        "customer,date,amount\n12347.0,2024-01-05,1\n1.5,2024-01-05,1\nX9,2024-01-05,1\n"
    )
    assert parsed.external_ids.tolist() == ["12347.0", "1.5", "X9"]


def test_blank_ids_are_rejected():
    parsed = parse('customer,date,amount\n,2024-01-05,1\n"   ",2024-01-05,2\nA,2024-01-05,3\n')
    assert reasons(parsed) == {2: "customer id is blank", 3: "customer id is blank"}
    assert parsed.cents.tolist() == [300]


def test_ids_longer_than_100_characters_are_rejected():
    ok, too_long = "a" * 100, "b" * 101
    parsed = parse(f"customer,date,amount\n{ok},2024-01-05,1\n{too_long},2024-01-05,1\n")
    assert parsed.external_ids.tolist() == [ok]
    assert reasons(parsed) == {3: "customer id is longer than 100 characters"}


def test_unicode_ids_are_kept_exactly():
    parsed = parse("customer,date,amount\nCafé Müller,2024-01-05,1\n東京,2024-01-05,1\n")
    assert parsed.external_ids.tolist() == ["Café Müller", "東京"]


# --- CSV reading --------------------------------------------------------------------------


def test_utf8_bom_is_removed_from_the_first_header():
    data = "\ufeffCustomerID,InvoiceDate,Amount\nA,2024-01-05,1\n".encode()
    table = read_table(data)
    assert table.columns == ["CustomerID", "InvoiceDate", "Amount"]
    assert resolve_mapping(table.columns).customer == "CustomerID"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(delimiter):
    lines = [
        ["customer", "date", "amount"],
        ["A", "2024-01-05", "10.5"],
        ["B", "2024-02-05", "-3"],
    ]
    data = "\n".join(delimiter.join(line) for line in lines) + "\n"
    table = read_table(data.encode())
    assert table.delimiter == delimiter
    assert table.columns == ["customer", "date", "amount"]
    parsed = parse(data)
    assert parsed.external_ids.tolist() == ["A", "B"]
    assert parsed.cents.tolist() == [1050, -300]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_quoted_fields_may_contain_the_delimiter(delimiter):
    data = delimiter.join(["customer", "date", "amount", "note"]) + "\n"
    data += delimiter.join([f'"Smith{delimiter} John"', "2024-01-05", "5", f'"a{delimiter}b"'])
    data += "\n" + delimiter.join(["Jones", "2024-01-06", "6", "plain"]) + "\n"
    parsed = parse(data)
    assert parsed.external_ids.tolist() == [f"Smith{delimiter} John", "Jones"]
    assert parsed.cents.tolist() == [500, 600]


def test_semicolon_file_with_decimal_commas_is_sniffed_as_semicolon():
    data = b"customer;date;amount\nA;2024-01-05;1,5\nB;2024-01-06;2,25\n"
    assert read_table(data).delimiter == ";"
    assert parse(data).cents.tolist() == [150, 225]


def test_sniff_delimiter_falls_back_to_the_header():
    assert sniff_delimiter("a;b;c\n") == ";"
    assert sniff_delimiter("single\n") == ","


def test_crlf_line_endings_are_read():
    parsed = parse(b"customer,date,amount\r\nA,2024-01-05,1\r\nB,2024-01-06,2\r\n")
    assert parsed.external_ids.tolist() == ["A", "B"]


def test_row_numbers_are_as_a_spreadsheet_shows_them():
    data = (
        "customer,date,amount\n"  # row 1
        "A,2024-01-05,1\n"  # row 2
        "\n"  # row 3 (blank)
        ",,\n"  # row 4 (empty cells only)
        "B,2024-01-05,oops\n"  # row 5
        "\n"  # row 6
        "C,bad,2\n"  # row 7
    )
    table = read_table(data.encode())
    assert table.row_numbers.tolist() == [2, 5, 7]
    parsed = parse(data)
    assert parsed.rows_read == 3
    assert reasons(parsed) == {
        5: "amount 'oops' is not a number",
        7: "date 'bad' is not a valid date in ISO format YYYY-MM-DD",
    }


def test_whitespace_only_line_is_treated_as_blank():
    parsed = parse("customer,date,amount\nA,2024-01-05,1\n   \nB,2024-01-05,2\n")
    assert parsed.rejected == 0
    assert parsed.rows_read == 2


def test_every_reason_of_a_row_is_reported():
    parsed = parse("customer,date,amount\n,2024-02-30,nan\nA,,abc\n")
    assert reasons(parsed) == {
        2: "customer id is blank; date '2024-02-30' is not a valid date in ISO format "
        "YYYY-MM-DD; amount 'nan' is not a finite number",
        3: "date is blank; amount 'abc' is not a number",
    }
    assert parsed.rejected == 2
    assert parsed.rows_valid == 0


def test_every_invalid_row_is_found_not_only_the_first():
    body = "".join(f"C{i},2024-01-05,{'x' if i % 3 == 0 else i}\n" for i in range(300))
    parsed = parse("customer,date,amount\n" + body)
    assert parsed.rejected == 100
    assert parsed.rows_valid == 200
    assert [e["row"] for e in parsed.errors] == [i + 2 for i in range(0, 300, 3)]


def test_missing_trailing_cells_are_blank():
    parsed = parse("customer,date,amount\nA,2024-01-05\n")
    assert reasons(parsed) == {2: "amount is blank"}


def test_ragged_row_with_too_many_fields_is_refused_with_its_line():
    with pytest.raises(IngestError) as caught:
        read_table(b"customer,date,amount\nA,2024-01-05,1\nB,2024-01-05,1,5\n")
    assert "not a well-formed CSV" in caught.value.message
    assert "line 3" in caught.value.message


def test_max_rows_limits_what_is_read():
    body = "".join(f"C{i},2024-01-05,1\n" for i in range(50))
    table = read_table(("customer,date,amount\n" + body).encode(), max_rows=10)
    assert len(table.frame) == 10
    assert table.row_numbers.tolist() == list(range(2, 12))


# --- XLSX ---------------------------------------------------------------------------------


def test_xlsx_with_real_dates_numeric_ids_and_amounts():
    data = xlsx_bytes(
        [
            ["Customer ID", "InvoiceDate", "Amount"],
            [12347.0, datetime(2024, 1, 5, 10, 30), 10.5],
            ["00042", date(2024, 2, 1), 3],
            [12348, "2024-03-01", "1,234.50"],
            [12349.0, datetime(2024, 3, 31, 23, 59), -0.1],
        ]
    )
    table = read_table(data)
    assert table.kind == "xlsx"
    parsed = parse(data)
    assert parsed.rejected == 0, parsed.errors
    assert parsed.external_ids.tolist() == ["12347", "00042", "12348", "12349"]
    assert months(parsed) == ["2024-01", "2024-02", "2024-03", "2024-03"]
    assert parsed.cents.tolist() == [1050, 300, 123450, -10]


def test_xlsx_row_numbers_skip_blank_rows_without_shifting():
    data = xlsx_bytes(
        [
            [None, None, None],  # row 1 blank: the header is row 2
            ["customer", "date", "amount"],
            ["A", date(2024, 1, 1), 1],
            [None, None, None],
            ["B", "not a date", 2],
        ]
    )
    table = read_table(data)
    assert table.row_numbers.tolist() == [3, 5]
    assert reasons(parse(data)) == {
        5: "date 'not a date' is not a valid date in ISO format YYYY-MM-DD"
    }


def test_xlsx_text_ids_with_leading_zeros_are_kept():
    data = xlsx_bytes([["customer", "date", "amount"], ["000123", "2024-01-05", 1]])
    assert parse(data).external_ids.tolist() == ["000123"]


def test_xlsx_numeric_amount_beyond_the_limit_is_rejected():
    data = xlsx_bytes([["customer", "date", "amount"], ["A", date(2024, 1, 1), 1e16]])
    assert reasons(parse(data)) == {2: "amount is beyond ±999,999,999,999.99"}


def test_xlsx_header_only_is_refused():
    with pytest.raises(IngestError, match="header row but no data rows"):
        read_table(xlsx_bytes([["customer", "date", "amount"]]))


def test_xlsx_real_date_cells_are_accepted_with_a_date_format():
    data = xlsx_bytes(
        [
            ["customer", "date", "amount"],
            ["A", "05/01/2024", 1],
            ["B", datetime(2024, 2, 3), 1],
        ]
    )
    parsed = parse(data, date_format="%d/%m/%Y")
    assert parsed.rejected == 0, parsed.errors
    assert months(parsed) == ["2024-01", "2024-02"]


# --- aggregation --------------------------------------------------------------------------


def test_aggregation_sums_exactly_in_integer_cents():
    body = "".join("A,2024-01-05,0.1\nA,2024-01-20,0.2\n" for _ in range(10_000))
    parsed = parse("customer,date,amount\n" + body)
    totals = aggregate(parsed)
    assert totals.total_cents == 300_000
    assert totals.frame["cents"].tolist() == [300_000]
    assert totals.frame["transactions"].tolist() == [20_000]
    assert sum([0.1, 0.2] * 10_000) != 3000.0  # a float sum would not be exact


def test_aggregation_groups_by_customer_and_month():
    parsed = parse(
        "customer,date,amount\n"
        "B,2024-02-10,5\n"
        "A,2024-01-31,1.25\n"
        "A,2024-01-01,2.50\n"
        "A,2024-03-01,-1\n"
        "B,2024-02-11,-5\n"
    )
    totals = aggregate(parsed)
    rows = [
        (r.external_id, str(r.month)[:7], r.cents, r.transactions)
        for r in totals.frame.itertuples()
    ]
    assert rows == [
        ("A", "2024-01", 375, 2),
        ("A", "2024-03", -100, 1),
        ("B", "2024-02", 0, 2),
    ]
    assert totals.customers == 2
    assert totals.months == 3
    assert totals.first_month == date(2024, 1, 1)
    assert totals.last_month == date(2024, 3, 1)
    assert totals.total_cents == 275


@pytest.mark.parametrize("sign", ["", "-"])
def test_monthly_total_beyond_the_limit_raises(sign):
    parsed = parse(
        "customer,date,amount\n"
        f"A,2024-01-05,{sign}600000000000\n"
        f"A,2024-01-20,{sign}600000000000\n"
        f"A,2024-02-20,{sign}600000000000\n"
    )
    assert parsed.rejected == 0
    with pytest.raises(IngestError) as caught:
        aggregate(parsed)
    assert "'A'" in caught.value.message
    assert "2024-01" in caught.value.message
    assert "beyond ±999,999,999,999.99" in caught.value.message
    assert "nothing was imported" in caught.value.message


def test_monthly_total_exactly_at_the_limit_is_accepted():
    parsed = parse("customer,date,amount\nA,2024-01-05,999999999999.00\nA,2024-01-20,0.99\n")
    assert aggregate(parsed).frame["cents"].tolist() == [MAX_ABS_CENTS]


def test_monthly_total_overflow_is_not_hidden_by_int64_wraparound():
    n = 2**64 // MAX_ABS_CENTS
    rest = 2**64 + 100 - n * MAX_ABS_CENTS
    assert 0 < rest <= MAX_ABS_CENTS
    cents = np.array([MAX_ABS_CENTS] * n + [rest], dtype=np.int64)
    parsed = ParsedTransactions(
        external_ids=np.full(n + 1, "A", dtype=object),
        months=np.full(n + 1, "2024-01", dtype="datetime64[M]"),
        cents=cents,
        rows_read=n + 1,
    )
    with pytest.raises(IngestError):
        aggregate(parsed)


def test_file_total_beyond_int64_is_exact():
    n = 100_000
    parsed = ParsedTransactions(
        external_ids=np.array([f"C{i}" for i in range(n)], dtype=object),
        months=np.full(n, "2024-01", dtype="datetime64[M]"),
        cents=np.full(n, MAX_ABS_CENTS, dtype=np.int64),
        rows_read=n,
    )
    totals = aggregate(parsed)
    assert totals.total_cents == n * MAX_ABS_CENTS
    assert totals.total_cents > np.iinfo(np.int64).max
