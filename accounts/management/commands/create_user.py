from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Role
from accounts.services import team_get_or_create, user_grant_role


class Command(BaseCommand):
    help = "Create a user if needed and give it a role in a team (created if missing)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--password", help="set this password (otherwise unchanged)")

    def handle(self, *args, **options):
        try:
            team, team_created = team_get_or_create(slug=options["team"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            user, created = user_grant_role(
                username=options["username"],
                team=team,
                role=options["role"],
                password=options["password"],
            )
        except ValidationError as exc:
            raise CommandError("Password refused: " + " ".join(exc.messages)) from None
        self.stdout.write(
            f"{'Created' if created else 'Updated'} user {user.username}: "
            f"{options['role']} in team {team.slug}{' (new team)' if team_created else ''}."
        )
