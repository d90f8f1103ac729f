"""Queueing work for the Celery workers from a request or a command.

Services queue tasks **by name** ("<app>.tasks.<function>"): the tasks modules import the
services they call, never the other way round, so there is no service ↔ task import circle.

Celery's own ``delay`` waits for a broker that is down: with the Redis result backend it
retries for about 19 s, then raises, and a row created for the task would wait PENDING for
ever. Here a broker that does not answer at once is an error the caller turns into a message,
and the row the task was for is put right (``on_failure``) before the error reaches it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from importlib import import_module
from typing import TypeVar

from celery import Task
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone
from kombu.exceptions import KombuError

from revtrend_site.celery import app as celery_app
from revtrend_site.middleware import current_request

logger = logging.getLogger(__name__)

_Row = TypeVar("_Row", bound=Model)

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


def task_named(name: str) -> Task:
    """The task registered as ``name`` ("analytics.tasks.analysis_run_task"); its module is
    imported first, which registers it (a no-op once imported)."""
    import_module(name.rpartition(".")[0])
    return celery_app.tasks[name]


def enqueue(name: str, *args) -> None:
    """Send the task ``name`` with ``args`` to the broker, or run it here when tasks are eager.

    One connection attempt, no retries, no result subscription (the task's row, not Celery's
    result, says how it went): a broker that is down fails within the connect timeout."""
    task = task_named(name)
    app = task.app
    if app.conf.task_always_eager:
        if settings.EAGER_TASKS_IN_BACKGROUND and current_request() is not None:
            _run_in_background(task, args)
        else:  # a command, a test, or work a background task queues: here and now
            task.apply_async(args)
        return
    try:
        with app.connection_for_write() as connection:
            # Ignored: the stubs (celery-types) are too narrow. kombu takes float seconds for
            # the timeout, and apply_async a connection to reuse (celery documents it).
            connection.ensure_connection(max_retries=0, timeout=settings.BROKER_SEND_TIMEOUT)  # type: ignore[arg-type]
            task.apply_async(args, connection=connection, retry=False, ignore_result=True)  # type: ignore[call-arg]
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


def enqueue_on_commit(name: str, *args, on_failure: Callable[[str], object]) -> None:
    """Queue the task once the surrounding transaction commits (so the worker sees its row).

    If the broker cannot take it, ``on_failure(message)`` runs first — it marks the row so
    nothing waits for a task that was never sent — and QueueUnavailable then propagates from
    the end of the outermost ``transaction.atomic()`` block (or from here, outside one)."""

    def send() -> None:
        try:
            enqueue(name, *args)
        except QueueUnavailable as exc:
            on_failure(exc.message)
            raise

    transaction.on_commit(send)


# --- Taking back work whose worker vanished (the watchdog) -----------------------------


def stalled(queryset: QuerySet[_Row], *, since: datetime) -> QuerySet[_Row]:
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


def recover_each(rows: Iterable[_Row], label: str, recover: Callable[[_Row], str]) -> list[str]:
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
