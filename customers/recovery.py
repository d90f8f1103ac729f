"""The watchdog's part for imports: an import whose worker vanished is queued again (it is
all-or-nothing, so nothing half-written waits for it), or failed with the reason once it has
stopped its worker ``MAX_ATTEMPTS`` times. A queued import whose message was lost (a broker
restarted without persistence) is sent again; a second copy finds nothing to claim."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from revtrend_site.queueing import enqueue, recover_each, stalled, touch

from .models import Upload, UploadStatus
from .services import INGEST_TASK

MAX_ATTEMPTS = 3


def uploads_recover(*, stalled_after: timedelta) -> list[str]:
    now = timezone.now()
    live = Upload.objects.filter(status__in=(UploadStatus.PENDING, UploadStatus.RUNNING))
    return recover_each(stalled(live, since=now - stalled_after), "upload", _recover)


def _recover(upload: Upload) -> str:
    if upload.attempts >= MAX_ATTEMPTS:
        return _fail(
            upload,
            f"The worker stopped {upload.attempts} times while importing this "
            "file; nothing was imported.",
        )
    if not touch(Upload, upload, status=UploadStatus.PENDING, stage="queued", progress=0):
        return ""
    enqueue(INGEST_TASK, upload.pk)
    return "queued again"


def _fail(upload: Upload, message: str) -> str:
    failed = Upload.objects.filter(pk=upload.pk, status=upload.status).update(
        status=UploadStatus.FAILED,
        stage="failed",
        error_message=message,
        finished_at=timezone.now(),
    )
    return "failed" if failed else ""


def drafts_expire(*, older_than: timedelta) -> list[str]:
    """Uploads never confirmed are deleted with their files after a while: a draft is a
    preview, not a store."""
    expired = Upload.objects.filter(
        status=UploadStatus.DRAFT, created_at__lt=timezone.now() - older_than
    )
    actions = []
    for upload in expired.only("pk", "file"):
        pk = upload.pk
        upload.file.delete(save=False)
        upload.delete()
        actions.append(f"upload {pk}: draft expired")
    return actions
