"""Builders and snapshots shared by the ingestion tests."""

from __future__ import annotations

import io

from openpyxl import Workbook

from customers.models import Customer, RevenueRecord, Upload, UploadStatus


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def revenue_snapshot() -> dict:
    """Everything an import may change, to compare before and after a refused one."""
    return {
        "customers": sorted(
            Customer.objects.values_list("team_id", "external_id", "first_month", "last_month")
        ),
        "records": sorted(
            RevenueRecord.objects.values_list(
                "team_id", "customer__external_id", "month", "amount", "transaction_count"
            )
        ),
        "succeeded": Upload.objects.filter(status=UploadStatus.SUCCEEDED).count(),
    }
