"""`/healthz` (the process answers) and `/readyz` (it can serve: database, broker, schema).

Both are fast, need no login and show no data: a load balancer or an orchestrator polls them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from revtrend_site.celery import app

_migrated = False  # once the schema is up to date in this process, it stays so


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(), "migrations": _migrations(), "broker": _broker()}
    ready = all(value in ("ok", "not used") for value in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", **checks},
                        status=200 if ready else 503)  # fmt: skip


def _database() -> str:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means not ready
        return f"error: {type(exc).__name__}"
    return "ok"


def _migrations() -> str:
    global _migrated
    if _migrated:
        return "ok"
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    if plan:
        return f"{len(plan)} unapplied (run `manage.py migrate`)"
    _migrated = True
    return "ok"


def _broker() -> str:
    if app.conf.task_always_eager:
        return "not used"  # tasks run in the web process
    try:
        with app.connection_for_write() as connection:
            # Ignored: kombu takes float seconds here; its stubs (celery-types) say int.
            connection.ensure_connection(max_retries=0, timeout=settings.BROKER_SEND_TIMEOUT)  # type: ignore[arg-type]
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"
