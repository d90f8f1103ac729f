from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Team
from analytics.core import Params
from analytics.services import (
    MAX_SEGMENTS,
    AnalysisError,
    analysis_run_start,
    analysis_run_wait,
    run_summary,
)
from analytics.services.window import month_argument


def _alpha(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError("alpha must be between 0 and 1 (exclusive)")
    return value


def _segments(text: str) -> int:
    value = int(text)
    if not 2 <= value <= MAX_SEGMENTS:
        raise argparse.ArgumentTypeError(f"segments must be between 2 and {MAX_SEGMENTS}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


class Command(BaseCommand):
    help = (
        "Analyse a team's revenue through Celery, wait for the run and print its id, status, "
        "customer counts by decline level and timings. Exits non-zero if the run failed."
    )

    def add_arguments(self, parser):
        defaults = Params()
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument(
            "--window-end",
            type=month_argument,
            help="last month analysed, YYYY-MM (default: the last complete month of the data)",
        )
        parser.add_argument("--alpha", type=_alpha, default=defaults.alpha)
        parser.add_argument(
            "--segments", type=_segments, default=None, help="KMeans k (default: by silhouette)"
        )
        parser.add_argument("--anomaly-z", type=_positive, default=defaults.anomaly_z)
        parser.add_argument(
            "--timeout", type=_positive, default=3600.0, help="seconds to wait for the run"
        )

    def handle(self, *args, **options):
        team = Team.objects.filter(slug=options["team"]).first()
        if team is None:
            raise CommandError(f"No team with slug {options['team']!r}.")
        params = Params(
            alpha=options["alpha"], segments=options["segments"], anomaly_z=options["anomaly_z"]
        )
        try:
            run = analysis_run_start(team=team, params=params, window_end=options["window_end"])
            self.stdout.write(f"Run #{run.pk} started for {team.slug} …")
            run = analysis_run_wait(run=run, timeout=options["timeout"])
        except AnalysisError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(run_summary(run))
        if run.status != "SUCCEEDED":
            raise CommandError(f"Run #{run.pk} failed: {run.error}")
