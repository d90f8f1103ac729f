"""Ingestion: 1,000,000 transaction rows into PostgreSQL, end to end, against a naive
per-row ORM import timed on a sample in the same run.

    .venv/bin/python benchmarks/ingest.py [--rows N] [--naive-sample N]

Goal (issue 2): ≤ 10 s for the million rows and ≥ 50× the naive rate.
"""

from __future__ import annotations

import argparse
import csv
import io
import resource
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._django import print_table, setup


def make_csv(rows: int, customers: int, seed: int = 1) -> bytes:
    """Invoice-like rows: zero-padded ids, 36 months of dates, amounts with cents, refunds."""
    rng = np.random.default_rng(seed)
    ids = np.char.zfill(rng.integers(0, customers, rows).astype(str), 6)
    days = np.datetime64("2023-01-01") + rng.integers(0, 365 * 3, rows)
    amounts = np.round(rng.lognormal(4.0, 1.2, rows) * np.where(rng.random(rows) < 0.03, -1, 1), 2)
    buffer = io.StringIO()
    buffer.write("CustomerID,InvoiceDate,Amount\n")
    body = np.char.add(np.char.add(np.char.add(ids, ","), days.astype(str)), ",")
    for line, amount in zip(body.tolist(), amounts.tolist(), strict=True):
        buffer.write(f"{line}{amount:.2f}\n")
    return buffer.getvalue().encode()


def naive_import(team, data: bytes, sample: int) -> float:
    """What a first Django version would do: one ORM round trip or more per row."""
    from customers.models import Customer, RevenueRecord

    reader = csv.DictReader(io.StringIO(data.decode()))
    started = time.perf_counter()
    for index, row in enumerate(reader):
        if index == sample:
            break
        customer, _ = Customer.objects.get_or_create(team=team, external_id=row["CustomerID"])
        month = date.fromisoformat(row["InvoiceDate"][:10]).replace(day=1)
        record, _ = RevenueRecord.objects.get_or_create(
            team=team, customer=customer, month=month, defaults={"amount": Decimal(0)}
        )
        record.amount += Decimal(row["Amount"])
        record.transaction_count += 1
        record.save(update_fields=["amount", "transaction_count"])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--naive-sample", type=int, default=5_000)
    args = parser.parse_args()
    database = setup()

    from accounts.models import Team
    from customers.models import RevenueRecord
    from customers.services import upload_create, upload_import_now

    data = make_csv(args.rows, args.customers)
    stamp = int(time.time())
    fast_team = Team.objects.create(name="bench fast", slug=f"bench-fast-{stamp}")
    naive_team = Team.objects.create(name="bench naive", slug=f"bench-naive-{stamp}")
    try:
        started = time.perf_counter()
        upload = upload_import_now(
            upload=upload_create(team=fast_team, data=data, filename="bench.csv")
        )
        fast_seconds = time.perf_counter() - started
        assert upload.status == "SUCCEEDED", upload.error_message
        naive_seconds = naive_import(naive_team, data, args.naive_sample)
        records = RevenueRecord.objects.filter(team=fast_team).count()
    finally:
        fast_team.delete()
        naive_team.delete()

    fast_rate = args.rows / fast_seconds
    naive_rate = args.naive_sample / naive_seconds
    print(
        f"\nIngestion benchmark on {database}: {args.rows:,} rows, {len(data) / 1e6:.1f} MB, "
        f"{upload.customers_count:,} customers, {records:,} customer-months"
    )
    print_table(
        ["method", "rows timed", "seconds", "rows/s", "1M rows (s)", "speed-up"],
        [
            [
                "RevTrend import (end to end)",
                f"{args.rows:,}",
                f"{fast_seconds:.2f}",
                f"{fast_rate:,.0f}",
                f"{1e6 / fast_rate:.2f}",
                f"{fast_rate / naive_rate:.0f}×",
            ],
            [
                "naive per-row ORM (sample)",
                f"{args.naive_sample:,}",
                f"{naive_seconds:.2f}",
                f"{naive_rate:,.0f}",
                f"{1e6 / naive_rate:.0f}",
                "1×",
            ],
        ],
    )
    stages = upload.timings
    print(
        "\nStages (seconds since start of the import task): "
        + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Peak memory of the benchmark process: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
