"""The PostgreSQL path: COPY into the staging table and the set-based merge."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from customers.ingest import writing
from customers.models import Customer, RevenueRecord, UploadStatus
from customers.services import upload_create, upload_import_now
from revtrend_site import bulk

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# Ids that CSV quoting in COPY must carry exactly: separators, quotes, backslashes,
# a leading zero, unicode and a value that looks like NULL.
TRICKY_IDS = ["007", "a,b", 'say "hi"', "back\\slash", "tab\there", "Zoë", "\\N", "NULL"]


def tricky_csv() -> bytes:
    lines = ["customer_id,date,amount"]
    for index, cid in enumerate(TRICKY_IDS):
        quoted = '"' + cid.replace('"', '""') + '"'
        lines.append(f"{quoted},2024-0{1 + index % 3}-15,{index + 1}.05")
        lines.append(f"{quoted},2024-0{1 + index % 3}-20,-0.05")
    return ("\n".join(lines) + "\n").encode()


def test_copy_path_keeps_every_id_and_amount_exact(team_a, monkeypatch):
    loads = []
    real_load = writing.load_frame

    def spy(cursor, table, columns, frame):
        loads.append((connection.vendor, table, len(frame)))
        real_load(cursor, table, columns, frame)

    monkeypatch.setattr(writing, "load_frame", spy)
    upload = upload_import_now(
        upload=upload_create(team=team_a, data=tricky_csv(), filename="t.csv")
    )
    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message
    assert loads == [
        ("postgresql", writing.STAGE_CUSTOMERS, len(TRICKY_IDS)),
        ("postgresql", writing.REVENUE, len(TRICKY_IDS)),
    ]
    stored = dict(
        RevenueRecord.objects.filter(team=team_a).values_list("customer__external_id", "amount")
    )
    assert stored == {cid: Decimal(f"{i + 1}.00") for i, cid in enumerate(TRICKY_IDS)}
    counts = set(RevenueRecord.objects.values_list("transaction_count", flat=True))
    assert counts == {2}


@pytest.mark.django_db(transaction=True)
def test_staging_table_is_gone_after_the_import(team_a):
    upload_import_now(upload=upload_create(team=team_a, data=tricky_csv(), filename="t.csv"))
    with connection.cursor() as cursor:
        for stage in (writing.STAGE_CUSTOMERS, writing.STAGE_REVENUE):
            cursor.execute("SELECT to_regclass(%s)", [stage])
            assert cursor.fetchone()[0] is None


def test_append_into_existing_months_merges_through_the_staged_upsert(team_a, monkeypatch):
    loads = []
    real_load = writing.load_frame
    monkeypatch.setattr(
        writing,
        "load_frame",
        lambda c, table, cols, f: loads.append(table) or real_load(c, table, cols, f),
    )
    first = b"customer_id,date,amount\n007,2024-01-01,10.10\n"
    second = b"customer_id,date,amount\n007,2024-01-31,0.90\n008,2024-01-05,5\n"
    for index, data in enumerate((first, second)):
        upload_import_now(upload=upload_create(team=team_a, data=data, filename=f"{index}.csv"))
    assert loads[-1] == writing.STAGE_REVENUE
    stored = dict(RevenueRecord.objects.values_list("customer__external_id", "amount"))
    assert stored == {"007": Decimal("11.00"), "008": Decimal("5.00")}
    assert RevenueRecord.objects.get(customer__external_id="007").transaction_count == 2


def test_numeric_overflow_when_appending_fails_cleanly_and_changes_nothing(team_a):
    first = b"customer_id,date,amount\nbig,2024-01-01,999999999999.00\n"
    upload_import_now(upload=upload_create(team=team_a, data=first, filename="a.csv"))
    before = list(RevenueRecord.objects.values_list("amount", flat=True))
    second = b"customer_id,date,amount\nbig,2024-01-02,999999999999.00\nnew,2024-01-01,1\n"
    upload = upload_import_now(upload=upload_create(team=team_a, data=second, filename="b.csv"))
    assert upload.status == UploadStatus.FAILED
    assert "database refused" in upload.error_message.lower()
    assert list(RevenueRecord.objects.values_list("amount", flat=True)) == before
    assert not Customer.objects.filter(external_id="new").exists()


def test_amounts_are_numeric_14_2_in_postgres(team_a):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_name = 'customers_revenuerecord' AND column_name = 'amount'"
        )
        assert cursor.fetchone() == (14, 2)


def test_load_frame_round_trips_every_kind_of_value_exactly():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    floats = np.concatenate([rng.normal(0, 1e6, 40), [1e-300, -0.0, 5e-324, 1.0 / 3, np.nan]])
    count = len(floats)
    texts = np.array(["", 'a "q", b', "line\nbreak", "\\N", "NULL", None, "Zoë"] * 7)[:count]
    frame = pd.DataFrame(
        {
            "f": floats,
            "i": np.arange(count, dtype=np.int64) * 10**12,
            "b": np.arange(count) % 2 == 0,
            "t": texts,
            "n": np.array([None if k % 3 == 0 else k for k in range(count)], dtype=object),
        }
    )
    with connection.cursor() as cursor:
        bulk.create_stage(
            cursor, "copy_round_trip", "f double precision, i bigint, b boolean, t text, n integer"
        )
        bulk.load_frame(cursor, "copy_round_trip", tuple(frame.columns), frame)
        cursor.execute("SELECT f, i, b, t, n FROM copy_round_trip")
        rows = cursor.fetchall()
    assert len(rows) == count
    for row, (f, i, b, t, n) in zip(frame.itertuples(index=False), rows, strict=True):
        assert (f is None) if np.isnan(row.f) else (f == row.f and str(f) == str(row.f))
        assert (i, b, n) == (row.i, row.b, row.n)
        # A missing text stays NULL, "" stays empty, quotes and newlines survive.
        assert t == (None if pd.isna(row.t) else row.t)


def test_load_frame_keeps_a_lone_backslash_dot_as_a_value():
    import pandas as pd

    frame = pd.DataFrame({"t": ["a", "\\.", "b"]})
    with connection.cursor() as cursor:
        bulk.create_stage(cursor, "copy_lone_value", "t text")
        bulk.load_frame(cursor, "copy_lone_value", ("t",), frame)
        cursor.execute("SELECT t FROM copy_lone_value")
        assert [row[0] for row in cursor.fetchall()] == ["a", "\\.", "b"]
