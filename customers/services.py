"""Uploads: create (store the file), preview, confirm (queue), ingest (the task's body).

The web upload flow and ``import_transactions`` both go through these functions.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.files.base import ContentFile, File
from django.db import DatabaseError, DataError, IntegrityError, transaction
from django.db.models import Count, F, Max, Min, Q, Sum
from django.utils import timezone

from accounts.models import Team
from audit.models import Outcome
from audit.services import audit_record
from revtrend_site.bulk import analyze_tables
from revtrend_site.queueing import QueueUnavailable, enqueue_on_commit
from revtrend_site.signals import announce

from .followup import owner_directory
from .ingest import IngestError
from .ingest.aggregate import aggregate
from .ingest.mapping import ColumnMapping, resolve_mapping
from .ingest.parsing import ParsedTransactions, check_date_format, parse_transactions
from .ingest.reading import XLSX_MAGIC, Table, read_table
from .ingest.writing import OVERFLOW_MESSAGE, write_monthly_totals
from .models import Customer, RevenueRecord, Upload, UploadMode, UploadStatus
from .signals import import_succeeded

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

logger = logging.getLogger(__name__)

# The import task, queued by name (customers/tasks.py imports this module, not the reverse).
INGEST_TASK = "customers.tasks.upload_ingest_task"
PREVIEW_ROWS = 10
PREVIEW_BYTES = 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DuplicateUpload(IngestError):
    pass


def _file_hash(file: File) -> str:
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def _already_imported(*, team: Team, digest: str, exclude_id: int | None = None):
    query = Upload.objects.filter(team=team, content_hash=digest, status=UploadStatus.SUCCEEDED)
    if exclude_id is not None:
        query = query.exclude(pk=exclude_id)
    return query.first()


def _duplicate_message(previous: Upload) -> str:
    return (
        f"This file was already imported on {previous.finished_at:%Y-%m-%d %H:%M} "
        f"(upload #{previous.pk}, {previous.original_name}). Importing it again in append mode "
        "would count its revenue twice; use replace mode to re-import it."
    )


def upload_create(
    *,
    team: Team,
    data: bytes | File,
    filename: str,
    user: User | AnonymousUser | None = None,
    mode: str = UploadMode.APPEND,
    column_mapping: dict[str, str] | None = None,
    date_format: str = "",
    skip_invalid: bool = False,
) -> Upload:
    """Store the file and guess the column mapping; the upload waits for confirmation.

    ``data`` is the file's bytes or a Django File (a received upload), which is hashed and
    stored chunk by chunk, never held whole in memory."""
    check_date_format(date_format)
    named = [name for name in (column_mapping or {}).values() if _CONTROL.search(name or "")]
    if named:
        raise IngestError(f"A column name cannot contain control characters: {named[0]!r}.")
    filename = _CONTROL.sub("", filename) or "upload"
    if isinstance(data, bytes):
        data = ContentFile(data)
    digest = _file_hash(data)
    if mode == UploadMode.APPEND:
        previous = _already_imported(team=team, digest=digest)
        if previous is not None:
            raise DuplicateUpload(_duplicate_message(previous))
    upload = Upload(
        team=team,
        uploaded_by=user if user is not None and user.is_authenticated else None,
        original_name=filename[:255],
        size_bytes=data.size,
        content_hash=digest,
        mode=mode,
        column_mapping=column_mapping or {},
        date_format=date_format,
        skip_invalid=skip_invalid,
        status=UploadStatus.DRAFT,
    )
    upload.file.save(digest, data, save=False)
    upload.save()
    audit_record(
        action="upload",
        team=team,
        target=upload,
        user=user,
        detail=f"{upload.original_name} ({upload.size_bytes:,} bytes, {mode})",
    )
    return upload


@dataclass
class Preview:
    columns: list[str]
    raw_rows: list[list[str]]
    mapping: ColumnMapping | None
    mapping_error: str
    parsed_rows: list[dict]
    row_errors: dict[int, str]
    delimiter: str | None
    kind: str


def upload_preview(
    *, upload: Upload, column_mapping: dict[str, str] | None = None, date_format: str | None = None
) -> Preview:
    """The first rows as read and as they would be imported with this mapping."""
    table = read_table(_read_head(upload), max_rows=PREVIEW_ROWS)
    explicit = upload.column_mapping if column_mapping is None else column_mapping
    fmt = upload.date_format if date_format is None else date_format
    raw_rows = table.frame.astype(str).values.tolist()
    try:
        mapping = resolve_mapping(table.columns, explicit)
    except IngestError as exc:
        return Preview(
            table.columns, raw_rows, None, exc.message, [], {}, table.delimiter, table.kind
        )
    try:
        owners = owner_directory(team=upload.team) if mapping.owner else None
        parsed_rows, row_errors = _preview_parse(table, mapping, fmt, owners)
    except IngestError as exc:  # a date format that cannot read dates
        return Preview(
            table.columns, raw_rows, mapping, exc.message, [], {}, table.delimiter, table.kind
        )
    return Preview(
        table.columns, raw_rows, mapping, "", parsed_rows, row_errors, table.delimiter, table.kind
    )


def _preview_parse(
    table: Table, mapping: ColumnMapping, fmt: str, owners: dict[str, int] | None
) -> tuple[list[dict], dict[int, str]]:
    parsed = parse_transactions(table, mapping, date_format=fmt or None, owners=owners)
    row_errors = {e["row"]: e["reason"] for e in parsed.errors}
    valid_numbers = [int(n) for n in table.row_numbers if int(n) not in row_errors]
    rows = [
        {"row": n, "customer": cid, "month": str(month), "amount": Decimal(int(c)).scaleb(-2)}
        for n, cid, month, c in zip(
            valid_numbers, parsed.external_ids, parsed.months, parsed.cents, strict=True
        )
    ]
    return rows, row_errors


def upload_retry_valid_rows(*, upload: Upload, user: User | AnonymousUser | None = None) -> Upload:
    """A strict import refused for invalid rows, again as a new upload of the same file with
    the same mapping that imports the valid rows and reports the rest."""
    if upload.status != UploadStatus.FAILED or upload.skip_invalid or not upload.rows_rejected:
        raise IngestError("Only a file refused for its invalid rows can be imported without them.")
    with upload.file.open("rb") as handle:
        retry = upload_create(
            team=upload.team,
            data=File(handle, name=upload.original_name),
            filename=upload.original_name,
            user=user,
            mode=upload.mode,
            column_mapping=upload.column_mapping,
            date_format=upload.date_format,
            skip_invalid=True,
        )
    return upload_confirm(
        upload=retry,
        column_mapping=upload.column_mapping,
        date_format=upload.date_format,
        mode=upload.mode,
        skip_invalid=True,
    )


def upload_confirm(
    *,
    upload: Upload,
    column_mapping: dict[str, str],
    date_format: str = "",
    mode: str = UploadMode.APPEND,
    skip_invalid: bool = False,
) -> Upload:
    """Fix the mapping and queue the import (after the surrounding transaction commits).

    A broker that cannot take the import raises IngestError and leaves the upload a draft,
    to be confirmed again."""
    check_date_format(date_format)
    table = read_table(_read_head(upload), max_rows=1)
    mapping = resolve_mapping(table.columns, column_mapping)
    updated = Upload.objects.filter(pk=upload.pk, status=UploadStatus.DRAFT).update(
        column_mapping=mapping.as_dict(),
        date_format=date_format,
        mode=mode,
        skip_invalid=skip_invalid,
        status=UploadStatus.PENDING,
        stage="queued",
        heartbeat_at=timezone.now(),
    )
    if updated:
        audit_record(
            action="import queued",
            team=upload.team,
            target=upload,
            detail=f"{upload.original_name}, {mode}",
        )
        try:
            enqueue_on_commit(
                INGEST_TASK,
                upload.pk,
                on_failure=lambda _: _back_to_draft(upload),
            )
        except QueueUnavailable as exc:  # outside a transaction: sent (or refused) right here
            raise IngestError(exc.message) from exc
    upload.refresh_from_db()
    return upload


def _back_to_draft(upload: Upload) -> None:
    """Not queued after all: the upload waits for confirmation again, nothing lost."""
    Upload.objects.filter(pk=upload.pk, status=UploadStatus.PENDING).update(
        status=UploadStatus.DRAFT, stage=""
    )


def _read_bytes(upload: Upload) -> bytes:
    with upload.file.open("rb") as handle:
        return handle.read()


def _read_head(upload: Upload) -> bytes:
    """What a preview needs: a CSV's first complete lines within PREVIEW_BYTES (a page view
    must not read a 200 MB file), or the whole of an XLSX (a zip's directory is at its
    end; openpyxl then streams only the first rows)."""
    with upload.file.open("rb") as handle:
        head = handle.read(PREVIEW_BYTES)
        if head.startswith(XLSX_MAGIC) or len(head) < PREVIEW_BYTES:
            return head + handle.read()
    cut = head.rfind(b"\n")
    if cut < 0:
        raise IngestError(
            f"The first line is longer than {PREVIEW_BYTES // 2**20} MB: this is not a "
            "transactions file (CSV or XLSX)."
        )
    return head[: cut + 1]


def _set_progress(upload: Upload, progress: int, stage: str) -> None:
    upload.progress, upload.stage = progress, stage
    Upload.objects.filter(pk=upload.pk).update(
        progress=progress, stage=stage, heartbeat_at=timezone.now()
    )


def upload_ingest(*, upload: Upload, on_progress: Callable[[Upload], None] | None = None) -> Upload:
    """Import a confirmed upload. All or nothing: a failure writes no revenue."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    rows_read = 0

    def step(progress: int, stage: str) -> None:
        timings[stage] = round(time.perf_counter() - started, 3)
        _set_progress(upload, progress, stage)
        if on_progress:
            on_progress(upload)

    try:
        step(5, "reading")
        table = read_table(_read_bytes(upload))
        rows_read = len(table.frame)
        mapping = resolve_mapping(table.columns, upload.column_mapping)
        step(25, "validating")
        parsed = parse_transactions(
            table,
            mapping,
            date_format=upload.date_format or None,
            owners=owner_directory(team=upload.team) if mapping.owner else None,
        )
        _check_rows(parsed, skip_invalid=upload.skip_invalid)
        step(55, "aggregating")
        totals = aggregate(parsed)
        step(70, "writing")
        with transaction.atomic():
            _write(upload, parsed, totals)
            transaction.on_commit(lambda: _announce(upload.pk))
        _refresh_statistics()
        timings["done"] = round(time.perf_counter() - started, 3)
        Upload.objects.filter(pk=upload.pk).update(timings=timings)
    except IngestError as exc:
        _fail(
            upload,
            exc.message,
            errors=exc.errors,
            rejected=exc.rejected,
            rows_read=rows_read,
            timings=timings,
        )
    except DataError as exc:  # PostgreSQL's word on an overflowing monthly total
        detail = OVERFLOW_MESSAGE if "overflow" in str(exc) else str(exc).strip()
        _fail(upload, f"The database refused the import: {detail}", timings=timings)
    except DatabaseError as exc:
        logger.exception("Upload %s failed while writing", upload.pk)
        _fail(upload, f"The database refused the import: {exc}".strip(), timings=timings)
    except Exception as exc:  # a bug must not leave the upload RUNNING forever
        logger.exception("Upload %s failed unexpectedly", upload.pk)
        _fail(upload, f"Internal error ({type(exc).__name__}): {exc}", timings=timings)
    upload.refresh_from_db()
    audit_record(
        action="import",
        team=upload.team,
        target=upload,
        user=upload.uploaded_by,
        outcome=Outcome.OK if upload.status == UploadStatus.SUCCEEDED else Outcome.FAILED,
        detail=f"{upload.rows_imported:,} rows, {upload.mode}"
        if upload.status == UploadStatus.SUCCEEDED
        else upload.error_message,
    )
    return upload


def _announce(upload_id: int) -> None:
    """Tell the listeners (the team's schedule); their failure never fails the import."""
    upload = Upload.objects.select_related("team", "uploaded_by").get(pk=upload_id)
    announce(import_succeeded, Upload, upload=upload)


def _refresh_statistics() -> None:
    """ANALYZE what an import filled: PostgreSQL's autovacuum gets to it minutes later, and
    until then the planner takes a table of a million fresh rows for a few dozen (measured:
    the dashboard's heatmap query 5–6 s instead of under one)."""
    analyze_tables(Customer, RevenueRecord)


def _check_rows(parsed: ParsedTransactions, *, skip_invalid: bool) -> None:
    if parsed.rejected and not skip_invalid:
        raise IngestError(
            f"{parsed.rejected} of {parsed.rows_read} rows are invalid, so nothing was imported. "
            "Fix them, or import with 'skip invalid rows' to import the valid rows only.",
            errors=parsed.errors,
            rejected=parsed.rejected,
        )
    if parsed.rows_valid == 0:
        raise IngestError(
            "No valid rows to import.", errors=parsed.errors, rejected=parsed.rejected
        )


def _write(upload: Upload, parsed: ParsedTransactions, totals) -> None:
    # One writer per team at a time: a replace and an append must not interleave.
    Team.objects.select_for_update().filter(pk=upload.team_id).first()
    if upload.mode == UploadMode.APPEND:
        previous = _already_imported(
            team=upload.team, digest=upload.content_hash, exclude_id=upload.pk
        )
        if previous is not None:
            raise DuplicateUpload(_duplicate_message(previous))
    result = write_monthly_totals(
        team_id=upload.team_id, totals=totals, replace=upload.mode == UploadMode.REPLACE
    )
    try:
        with transaction.atomic():
            Upload.objects.filter(pk=upload.pk).update(
                status=UploadStatus.SUCCEEDED,
                progress=100,
                stage="done",
                rows_read=parsed.rows_read,
                rows_imported=parsed.rows_valid,
                rows_rejected=parsed.rejected,
                errors=parsed.errors,
                customers_count=totals.customers,
                new_customers_count=result.new_customers,
                months_count=totals.months,
                first_month=totals.first_month,
                last_month=totals.last_month,
                last_transaction_date=parsed.last_date,
                total_amount=Decimal(totals.total_cents).scaleb(-2),
                error_message="",
                finished_at=timezone.now(),
            )
    except IntegrityError:
        raise DuplicateUpload(
            "The same file was imported concurrently; nothing was imported."
        ) from None


def _fail(
    upload: Upload,
    message: str,
    *,
    errors=None,
    rejected: int = 0,
    rows_read: int = 0,
    timings=None,
) -> None:
    Upload.objects.filter(pk=upload.pk).update(
        rows_read=rows_read,
        status=UploadStatus.FAILED,
        stage="failed",
        error_message=message,
        errors=errors or [],
        rows_rejected=rejected,
        timings=timings or {},
        finished_at=timezone.now(),
    )


def upload_claim(*, upload_id: int) -> Upload | None:
    """PENDING → RUNNING, once: a task delivered twice finds nothing to claim."""
    now = timezone.now()
    claimed = Upload.objects.filter(pk=upload_id, status=UploadStatus.PENDING).update(
        status=UploadStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        progress=1,
        stage="starting",
    )
    return Upload.objects.select_related("team").get(pk=upload_id) if claimed else None


def upload_import_now(*, upload: Upload) -> Upload:
    """Import right here, without a queue (the command line)."""
    Upload.objects.filter(pk=upload.pk, status=UploadStatus.DRAFT).update(
        status=UploadStatus.PENDING
    )
    claimed = upload_claim(upload_id=upload.pk)
    if claimed is None:
        raise IngestError(f"Upload #{upload.pk} is not waiting to be imported.")
    return upload_ingest(upload=claimed)


@dataclass(frozen=True)
class Staleness:
    """A file that ends before the team's latest data: its customers with no later revenue
    will read as having stopped buying."""

    file_ends: date
    team_ends: date
    months_behind: int
    customers: int  # the team's customers whose data ends by the file's last month


def upload_staleness(*, upload: Upload) -> Staleness | None:
    if upload.status != UploadStatus.SUCCEEDED or upload.last_month is None:
        return None
    customers = Customer.objects.filter(team_id=upload.team_id)
    team_ends = customers.aggregate(last=Max("last_month"))["last"]
    if team_ends is None or upload.last_month >= team_ends:
        return None
    behind = (
        (team_ends.year - upload.last_month.year) * 12 + team_ends.month - upload.last_month.month
    )
    ending = customers.filter(last_month__lte=upload.last_month).count()
    return Staleness(upload.last_month, team_ends, behind, ending)


def uploads_for_team(*, team: Team):
    return Upload.objects.filter(team=team).select_related("uploaded_by")


def team_revenue_summary(*, team: Team) -> dict:
    records = RevenueRecord.objects.filter(team=team).aggregate(
        total=Sum("amount"), first=Min("month"), last=Max("month"), n=Count("id")
    )
    return {
        "customers": Customer.objects.filter(team=team).count(),
        "records": records["n"],
        "total": records["total"],
        "first_month": records["first"],
        "last_month": records["last"],
        "uploads": Upload.objects.filter(team=team).filter(~Q(status=UploadStatus.DRAFT)).count(),
    }
