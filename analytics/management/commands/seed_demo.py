from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Role
from accounts.services import team_currency_set, team_get_or_create, user_grant_role
from analytics.core import Params
from analytics.models import RunStatus, current_run
from analytics.services import (
    AnalysisError,
    analysis_run_start,
    analysis_run_wait,
    results_are_current,
    run_summary,
)
from customers.demo import generate_portfolio, write_portfolio
from customers.models import Upload, UploadStatus
from customers.services import upload_create, upload_import_now

DEMO_FILE = "demo-transactions.csv"
# Published in the README for the demo team on a laptop; too close to "demo-viewer" for the
# similarity validator, so it is the one password not validated. A chosen one is.
DEMO_PASSWORD = "revtrend-demo"
ANALYSIS_TIMEOUT = 1800.0
DEMO_USERS = (
    ("demo-admin", Role.ADMIN),
    ("demo-analyst", Role.ANALYST),
    ("demo-viewer", Role.VIEWER),
)


class Command(BaseCommand):
    help = (
        "Create team 'demo', its three users, a generated demo portfolio and its analysis "
        "(idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEMO_PASSWORD)
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--months", type=int, default=36)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, **options):
        team, created = team_get_or_create(slug="demo", name="Demo Retail")
        if created:  # the generated amounts are euros; an admin may change it
            team_currency_set(team=team, code="EUR")
        admin = None
        for username, role in DEMO_USERS:
            try:
                user, _ = user_grant_role(
                    username=username,
                    team=team,
                    role=role,
                    password=options["password"],
                    validate=options["password"] != DEMO_PASSWORD,
                )
            except ValidationError as exc:
                raise CommandError("Password refused: " + " ".join(exc.messages)) from None
            admin = admin or user
        imported = Upload.objects.filter(
            team=team, original_name=DEMO_FILE, status=UploadStatus.SUCCEEDED
        ).exists()
        if imported:
            self.stdout.write("Demo data already imported.")
        else:
            self._import(team, admin, options)
        self._analyse(team, admin)
        self.stdout.write(
            self.style.SUCCESS(
                "Log in (at /accounts/login/ on the server) as demo-admin, demo-analyst "
                f"or demo-viewer with password: {options['password']}"
            )
        )

    def _analyse(self, team, admin) -> None:
        if results_are_current(team=team):  # the import's own analysis, or an earlier one
            run = current_run(team)
            assert run is not None  # results_are_current says there is one
            self.stdout.write(f"Demo analysis is up to date. {run_summary(run)}")
            return
        self.stdout.write("Analysing the demo portfolio …")
        try:
            run = analysis_run_start(team=team, params=Params(), user=admin)
            run = analysis_run_wait(run=run, timeout=ANALYSIS_TIMEOUT)
        except AnalysisError as exc:
            raise CommandError(f"Demo analysis failed: {exc.message}") from None
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"Demo analysis run #{run.pk} failed: {run.error}")
        self.stdout.write(run_summary(run))

    def _import(self, team, admin, options) -> None:
        self.stdout.write(
            f"Generating {options['customers']} customers × {options['months']} months …"
        )
        # The demo's last month is last month, so the pages look current.
        today = date.today()
        last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        portfolio = generate_portfolio(
            customers=options["customers"],
            months=options["months"],
            seed=options["seed"],
            end_month=last_month,
        )
        with tempfile.TemporaryDirectory() as tmp:
            transactions, _ = write_portfolio(portfolio, Path(tmp))
            data = transactions.read_bytes()
        upload = upload_create(team=team, data=data, filename=DEMO_FILE, user=admin)
        upload = upload_import_now(upload=upload)
        if upload.status != UploadStatus.SUCCEEDED:
            raise CommandError(f"Demo import failed: {upload.error_message}")
        self.stdout.write(
            f"Imported {upload.rows_imported} transactions of {upload.customers_count} customers "
            f"({upload.first_month:%Y-%m} to {upload.last_month:%Y-%m})."
        )
