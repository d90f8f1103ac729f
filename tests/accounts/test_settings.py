from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_settings(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    environment.update(env, DJANGO_SETTINGS_MODULE="revtrend_site.settings")
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER)"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    "env,message",
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL='mysql://x@y/z' must start with"),
        ({"CELERY_BROKER_URL": "http://broker"}, "CELERY_BROKER_URL='http://broker' must start"),
        ({"MAX_UPLOAD_MB": "lots"}, "MAX_UPLOAD_MB='lots' is not a whole number"),
        ({"OPENAI_TIMEOUT": "0"}, "OPENAI_TIMEOUT=0.0 is below the minimum"),
    ],
)
def test_bad_setting_stops_start_up_with_a_clear_message(env, message):
    result = load_settings(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_defaults_are_sqlite_and_eager_tasks():
    result = load_settings(CELERY_BROKER_URL="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True"]


def test_broker_url_turns_off_eager_tasks():
    result = load_settings(CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    assert result.stdout.split() == ["django.db.backends.sqlite3", "False"]


def test_check_deploy_is_clean_with_production_variables():
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environment.update(
        DJANGO_SETTINGS_MODULE="revtrend_site.settings",
        SECRET_KEY="x" * 30 + "Q9!k2mZ7pL0vB4nR8tY6wE1uI3oA5sD",
        DEBUG="false",
        ALLOWED_HOSTS="revtrend.example.com",
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS="true",
        SECURE_COOKIES="true",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
