from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Team
from accounts.services import team_get_or_create
from customers.ingest import IngestError
from customers.models import UploadMode, UploadStatus
from customers.services import upload_create, upload_import_now

SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = "Import a CSV or XLSX file of transactions into a team's monthly revenue."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument("--create-team", action="store_true", help="create the team if missing")
        parser.add_argument("--customer-column")
        parser.add_argument("--date-column")
        amount = parser.add_mutually_exclusive_group()
        amount.add_argument("--amount-column")
        amount.add_argument("--quantity-column")
        parser.add_argument("--price-column")
        parser.add_argument(
            "--owner-column", help="account owner per row: a team member's username or e-mail"
        )
        parser.add_argument("--date-format", default="", help="strftime pattern, e.g. %%Y%%m%%d")
        parser.add_argument("--mode", choices=[m.value for m in UploadMode], default="append")
        parser.add_argument("--skip-invalid", action="store_true")

    def handle(self, *args, **options):
        path: Path = options["path"]
        if bool(options["quantity_column"]) != bool(options["price_column"]):
            raise CommandError("--quantity-column and --price-column go together.")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        team = self._team(options)  # after the checks: a failed call creates no team
        mapping = {
            "customer": options["customer_column"],
            "date": options["date_column"],
            "amount": options["amount_column"],
            "quantity": options["quantity_column"],
            "price": options["price_column"],
            "owner": options["owner_column"],
        }
        try:
            upload = upload_create(
                team=team,
                data=data,
                filename=path.name,
                mode=options["mode"],
                column_mapping={k: v for k, v in mapping.items() if v},
                date_format=options["date_format"],
                skip_invalid=options["skip_invalid"],
            )
            upload = upload_import_now(upload=upload)
        except IngestError as exc:
            raise CommandError(exc.message) from None
        if upload.status != UploadStatus.SUCCEEDED:
            raise CommandError(self._failure(upload))
        self._summary(upload)

    def _team(self, options) -> Team:
        slug = options["team"]
        if options["create_team"]:
            try:
                return team_get_or_create(slug=slug)[0]
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        team = Team.objects.filter(slug=slug).first()
        if team is None:
            raise CommandError(f"No team {slug!r}; pass --create-team to create it.")
        return team

    def _failure(self, upload) -> str:
        lines = [f"Import failed: {upload.error_message}"]
        lines += [f"  row {e['row']}: {e['reason']}" for e in upload.errors[:SHOWN_ERRORS]]
        if upload.rows_rejected > SHOWN_ERRORS:
            lines.append(f"  … and {upload.rows_rejected - SHOWN_ERRORS} more invalid rows")
        return "\n".join(lines)

    def _summary(self, upload) -> None:
        out = self.stdout
        out.write(f"Upload #{upload.pk}: {upload.original_name} ({upload.mode})")
        out.write(f"Rows read: {upload.rows_read}")
        out.write(f"Rows imported: {upload.rows_imported}")
        if upload.rows_rejected:
            out.write(f"Rows rejected: {upload.rows_rejected}")
            for error in upload.errors[:SHOWN_ERRORS]:
                out.write(f"  row {error['row']}: {error['reason']}")
            if upload.rows_rejected > SHOWN_ERRORS:
                out.write(f"  … and {upload.rows_rejected - SHOWN_ERRORS} more invalid rows")
        out.write(f"Customers: {upload.customers_count} ({upload.new_customers_count} new)")
        out.write(
            f"Months covered: {upload.months_count} "
            f"({upload.first_month:%Y-%m} to {upload.last_month:%Y-%m})"
        )
        out.write(f"Total amount: {upload.total_amount:,.2f}")
