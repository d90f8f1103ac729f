from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Team
from analytics.models import AnalysisRun
from reports.facts import ReportError
from reports.models import ReportKind, ReportStatus
from reports.services import report_create, report_generate_now


class Command(BaseCommand):
    help = (
        "Generate a report with the configured LLM (or the offline narrator when "
        "OPENAI_API_KEY is not set), save it in the team's history and print its Markdown. "
        "Exits non-zero with the reason if it failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument("--kind", required=True, choices=ReportKind.values)
        parser.add_argument("--customer", help="the customer's uploaded id (kind customer)")
        parser.add_argument("--segment", type=int, help="segment number (kinds segment, group)")
        parser.add_argument("--level", type=int, choices=range(4), help="decline level (group)")
        parser.add_argument("--run", type=int, help="run id (default: the team's current run)")

    def handle(self, *args, **options):
        team = Team.objects.filter(slug=options["team"]).first()
        if team is None:
            raise CommandError(f"No team with slug {options['team']!r}.")
        run = None
        if options["run"] is not None:
            run = AnalysisRun.objects.filter(team=team, pk=options["run"]).first()
            if run is None:
                raise CommandError(f"Team {team.slug} has no run #{options['run']}.")
        scope = {
            name: options[name]
            for name in ("customer", "segment", "level")
            if options[name] is not None
        }
        try:
            report = report_create(team=team, kind=options["kind"], scope=scope, run=run)
            report = report_generate_now(report=report)
        except ReportError as exc:
            raise CommandError(exc.message) from None
        if report.status != ReportStatus.DONE:
            raise CommandError(f"Report #{report.pk} failed: {report.error}")
        self.stdout.write(report.content)
        unmatched = report.unmatched_numbers
        if unmatched:
            found = ", ".join(item["text"] for item in unmatched)
            self.stderr.write(f"Figures not found in the fact sheet: {found}")
        self.stderr.write(f"Saved as report #{report.pk} ({report.provider} · {report.model}).")
