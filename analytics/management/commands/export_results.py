from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Team
from analytics.models import RunStatus
from analytics.services import anomalies_export, current_run, results_export, run_for_team


class Command(BaseCommand):
    help = (
        "Write a run's per-customer results (default: the team's current run) as CSV, and "
        "optionally its anomalies."
    )

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument("--output", required=True, type=Path, help="results CSV path")
        parser.add_argument("--run", type=int, help="run id (default: the latest succeeded run)")
        parser.add_argument("--anomalies", type=Path, help="anomalies CSV path")

    def handle(self, *args, **options):
        team = Team.objects.filter(slug=options["team"]).first()
        if team is None:
            raise CommandError(f"No team with slug {options['team']!r}.")
        if options["run"] is not None:
            run = run_for_team(team=team, run_id=options["run"])
            if run is None:
                raise CommandError(f"Team {team.slug} has no run #{options['run']}.")
            if run.status != RunStatus.SUCCEEDED:
                raise CommandError(f"Run #{run.pk} is {run.status}: only a succeeded run exports.")
        else:
            run = current_run(team)
            if run is None:
                raise CommandError(f"Team {team.slug} has no succeeded analysis run yet.")
        with _open(options["output"]) as handle:
            customers = results_export(run=run, output=handle)
        self.stdout.write(f"Run #{run.pk}: {customers} customers → {options['output']}")
        if options["anomalies"] is not None:
            with _open(options["anomalies"]) as handle:
                anomalies = anomalies_export(run=run, output=handle)
            self.stdout.write(f"{anomalies} anomalies → {options['anomalies']}")


def _open(path: Path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise CommandError(f"Cannot write {path}: {exc}") from None
