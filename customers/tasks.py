from __future__ import annotations

from celery import shared_task

from .services import upload_claim, upload_ingest


@shared_task(acks_late=True)
def upload_ingest_task(upload_id: int) -> str:
    upload = upload_claim(upload_id=upload_id)
    if upload is None:
        return "skipped: not pending (already claimed or done)"
    return upload_ingest(upload=upload).status
