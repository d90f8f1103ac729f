"""Without a broker, work queued by a command runs in-process, and says nothing of a broker it
does not use: no kombu "No hostname was supplied", no Celery "Task … succeeded" lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import django
django.setup()
from revtrend_site.celery import app

@app.task(name="probe")
def probe():
    return "probed"

print(probe.apply_async().get())
"""


def test_an_in_process_task_prints_only_what_the_command_prints(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="revtrend_site.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REVTREND_VAR_DIR=str(tmp_path),
        LOG_LEVEL="INFO",
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "probed"
    assert "hostname" not in done.stderr.lower(), done.stderr
    assert "succeeded in" not in done.stderr, done.stderr
