"""Shared fixtures: two teams, a user of each role, and the real services.

PostgreSQL, Redis (with a real Celery worker) and Chromium are used where they are
reachable. Locally a test that needs a missing one is skipped with the reason; with
CI=true it fails instead, because CI must exercise them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from urllib.parse import urlparse

import pytest
from django.db import connection

from accounts.models import Membership, Role, Team

# Playwright's sync API runs an event loop in the test thread; Django must allow ORM calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REDIS_URL = os.environ.get("REVTREND_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("REVTREND_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct-horse-battery-staple"


def require(available: bool, reason: str) -> None:
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI=true requires this: {reason}", pytrace=False)
    pytest.skip(reason)


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Eager work runs where it is queued, so a test sees it done when the request returns
    # (tests/operations/test_background.py covers the background thread itself).
    settings.EAGER_TASKS_IN_BACKGROUND = False
    # Hashing test passwords slowly protects nothing and costs seconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # An import starts no analysis on its own, so each test says when one runs
    # (tests/workflow/ turns it on where that is what it checks).
    settings.ANALYSE_AFTER_IMPORT = False


@pytest.fixture(autouse=True)
def _require_marked_services(request):
    if request.node.get_closest_marker("postgres"):
        require(
            connection.vendor == "postgresql",
            "needs PostgreSQL: run with DATABASE_URL=postgres://… (make test finds a local one)",
        )


def wait_until_finished(model, pk: int, timeout: float = 60.0):
    """Poll a row with ``is_finished`` (an upload, a run) until a worker finishes it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = model.objects.get(pk=pk)
        if row.is_finished:
            return row
        time.sleep(0.1)
    raise AssertionError(f"{model.__name__} {pk} still {row.status} after {timeout}s")


@pytest.fixture(autouse=True)
def _eager_celery_unless_worker(request):
    """Tasks run in-process, even with CELERY_BROKER_URL set, unless a test asks for the
    real worker: a queued task with nobody consuming it would only hang the test."""
    if "celery_worker" in request.fixturenames:
        yield
        return
    from revtrend_site.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


@pytest.fixture
def team_a(db) -> Team:
    return Team.objects.create(name="Acme Ltd", slug="acme")


@pytest.fixture
def team_b(db) -> Team:
    return Team.objects.create(name="Globex", slug="globex")


def make_member(django_user_model, team: Team, username: str, role: str):
    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    Membership.objects.create(user=user, team=team, role=role)
    return user


@pytest.fixture
def admin_a(django_user_model, team_a):
    return make_member(django_user_model, team_a, "alice-admin", Role.ADMIN)


@pytest.fixture
def analyst_a(django_user_model, team_a):
    return make_member(django_user_model, team_a, "andy-analyst", Role.ANALYST)


@pytest.fixture
def viewer_a(django_user_model, team_a):
    return make_member(django_user_model, team_a, "vera-viewer", Role.VIEWER)


@pytest.fixture
def admin_b(django_user_model, team_b):
    return make_member(django_user_model, team_b, "bob-admin", Role.ADMIN)


@pytest.fixture
def client_for(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def celery_worker(transactional_db, settings):
    """A real Celery worker thread consuming from Redis; tasks see committed rows."""
    require(reachable(REDIS_URL), f"needs Redis at {REDIS_URL} (set REVTREND_TEST_REDIS_URL)")
    from celery.contrib.testing.worker import start_worker

    from revtrend_site.celery import app

    with (
        celery_pointed_at(REDIS_URL),
        start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as w,
    ):
        yield w


@contextlib.contextmanager
def celery_pointed_at(broker: str, *, eager: bool = False):
    """Point the Celery app at this broker (and result backend), then put everything back.
    Celery reads CELERY_BROKER_URL / CELERY_RESULT_BACKEND from the environment before its
    own settings, so those are set too: with them set (as in CI) a changed broker_url alone
    is ignored."""
    from revtrend_site.celery import app

    names = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    saved_env = {name: os.environ.get(name) for name in names}
    saved = {k: app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager")}
    os.environ.update(dict.fromkeys(names, broker))
    app.conf.update(broker_url=broker, result_backend=broker, task_always_eager=eager)
    _forget_connections(app)
    try:
        yield app
    finally:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        app.conf.update(saved)
        _forget_connections(app)


def _forget_connections(app) -> None:
    """Drop the broker pools and result backend Celery cached for the old settings, as it
    does itself after a fork; otherwise messages may go to the broker of another test."""
    app._after_fork()
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)
