"""Ingestion through a real Celery worker consuming from Redis."""

from __future__ import annotations

import pytest

from customers.models import Customer, RevenueRecord, Upload, UploadStatus
from customers.services import upload_confirm, upload_create
from customers.tasks import upload_ingest_task
from tests.conftest import wait_until_finished as wait_for_worker

# The worker thread needs a database server it can share with the test: SQLite's
# in-memory test database is not one.
pytestmark = [pytest.mark.redis, pytest.mark.postgres]

CSV = b"customer_id,date,amount\n" + b"".join(
    f"c{i % 50},2024-{1 + i % 12:02d}-10,{i}.25\n".encode() for i in range(2000)
)


def wait_until_finished(pk: int):
    return wait_for_worker(Upload, pk)


def test_confirmed_upload_is_imported_by_the_worker(celery_worker, team_a):
    upload = upload_create(team=team_a, data=CSV, filename="w.csv")
    upload_confirm(upload=upload, column_mapping={})  # queued on commit (autocommit here)
    upload = wait_until_finished(upload.pk)
    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message
    assert upload.started_at is not None and upload.progress == 100
    assert Customer.objects.filter(team=team_a).count() == 50
    # customer i % 50 and month i % 12 pair up only when both have i's parity: 300 pairs
    assert RevenueRecord.objects.filter(team=team_a).count() == 300
    assert str(upload.total_amount) == f"{sum(range(2000)) + 2000 * 0.25:.2f}"


def test_task_delivered_twice_imports_once(celery_worker, team_a):
    upload = upload_create(team=team_a, data=CSV, filename="w.csv")
    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.PENDING)
    results = [upload_ingest_task.delay(upload.pk) for _ in range(2)]
    outcomes = sorted(result.get(timeout=30) for result in results)
    assert outcomes[0] == "SUCCEEDED" and outcomes[1].startswith("skipped")
    upload = wait_until_finished(upload.pk)
    assert upload.status == UploadStatus.SUCCEEDED
    total = sum(RevenueRecord.objects.filter(team=team_a).values_list("amount", flat=True))
    assert str(total) == str(upload.total_amount)
