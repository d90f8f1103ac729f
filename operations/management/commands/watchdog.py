"""`manage.py watchdog [--stalled-after SECONDS]`: one pass of the watchdog, from cron or by
hand (Celery beat runs the same every minute: `make beat`)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from operations.services import watchdog_sweep


class Command(BaseCommand):
    help = "Queue again, finish or fail runs, imports, reports and backtests whose worker vanished."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--stalled-after",
            type=float,
            help="Seconds without a sign of life that make work stalled "
            "(default: WATCHDOG_STALLED_AFTER).",
        )

    def handle(self, *args, **options) -> None:
        seconds = options["stalled_after"]
        if seconds is not None and seconds <= 0:
            raise CommandError("--stalled-after must be a positive number of seconds.")
        actions = watchdog_sweep(
            stalled_after=timedelta(seconds=seconds) if seconds is not None else None
        )
        for action in actions:
            self.stdout.write(action)
        self.stdout.write(f"{len(actions)} row(s) put right.")
