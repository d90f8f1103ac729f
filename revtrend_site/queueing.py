"""Queueing work for the Celery workers from a request or a command.

Celery's own ``delay`` waits for a broker that is down: with the Redis result backend it
retries for about 19 s, then raises, and a row created for the task would wait PENDING for
ever. Here a broker that does not answer at once is an error the caller turns into a message,
and the row the task was for is put right (``on_failure``) before the error reaches it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from celery import Task
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import KombuError

from revtrend_site.middleware import current_request

logger = logging.getLogger(__name__)

QUEUE_DOWN_MESSAGE = (
    "The task queue is not reachable, so nothing was started. Try again in a minute; if it "
    "keeps happening, ask an administrator to check the broker (CELERY_BROKER_URL) and the "
    "workers (`make worker`)."
)


class QueueUnavailable(Exception):
    """The broker refused or did not answer: the work was not queued."""

    def __init__(self, message: str = QUEUE_DOWN_MESSAGE):
        super().__init__(message)
        self.message = message


def enqueue(task: Task, *args) -> None:
    """Send ``task(*args)`` to the broker, or run it here when tasks are eager.

    One connection attempt, no retries, no result subscription (the task's row, not Celery's
    result, says how it went): a broker that is down fails within the connect timeout."""
    app = task.app
    if app.conf.task_always_eager:
        if settings.EAGER_TASKS_IN_BACKGROUND and current_request() is not None:
            _run_in_background(task, args)
        else:  # a command, a test, or work a background task queues: here and now
            task.apply_async(args)
        return
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0, timeout=settings.BROKER_SEND_TIMEOUT)
            task.apply_async(args, connection=connection, retry=False, ignore_result=True)
    except (KombuError, OSError) as exc:
        logger.warning("Could not queue %s%r: %s", task.name, args, exc)
        raise QueueUnavailable() from exc


def _run_in_background(task: Task, args: tuple) -> None:
    """Run an eager task in a daemon thread with its own database connection. The thread
    starts with an empty context, so what the task queues in turn runs inline in it."""

    def run() -> None:
        try:
            task.apply(args, throw=True)
        except Exception:
            logger.exception("Background task %s%r failed", task.name, args)
        finally:
            connections.close_all()

    threading.Thread(target=run, name=f"eager-{task.name}", daemon=True).start()


def wait_finished(row, *, timeout: float, poll: float = 0.5) -> bool:
    """Refresh a row of queued work (it has ``is_finished``) until its work is done or
    ``timeout`` seconds pass; whether it finished. For the command line, which waits."""
    deadline = time.monotonic() + timeout
    row.refresh_from_db()
    while not row.is_finished:
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
        row.refresh_from_db()
    return True


def enqueue_on_commit(task: Task, *args, on_failure: Callable[[str], object]) -> None:
    """Queue the task once the surrounding transaction commits (so the worker sees its row).

    If the broker cannot take it, ``on_failure(message)`` runs first — it marks the row so
    nothing waits for a task that was never sent — and QueueUnavailable then propagates from
    the end of the outermost ``transaction.atomic()`` block (or from here, outside one)."""

    def send() -> None:
        try:
            enqueue(task, *args)
        except QueueUnavailable as exc:
            on_failure(exc.message)
            raise

    transaction.on_commit(send)


# --- Taking back work whose worker vanished (the watchdog) -----------------------------


def stalled(queryset, *, since: datetime):
    """Rows whose last sign of life (heartbeat, else creation) is older than ``since``."""
    return queryset.filter(
        Q(heartbeat_at__lt=since) | Q(heartbeat_at__isnull=True, created_at__lt=since)
    )


def touch(model, row, **changes) -> bool:
    """Take the row for this recovery: a conditional update on the status and heartbeat read,
    so two watchdogs (or a worker waking up) never both act on it."""
    return bool(
        model.objects.filter(pk=row.pk, status=row.status, heartbeat_at=row.heartbeat_at).update(
            heartbeat_at=timezone.now(), **changes
        )
    )


def recover_each(rows, label: str, recover: Callable[[object], str]) -> list[str]:
    """Apply one app's recovery to each stalled row: one line per row acted on. A broker that
    is down leaves the row for the next pass."""
    actions = []
    for row in rows:
        try:
            action = recover(row)
        except QueueUnavailable:
            action = "broker unreachable; will try again"
        if action:
            actions.append(f"{label} {row.pk}: {action}")
    return actions
