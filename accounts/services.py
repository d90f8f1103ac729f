from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils.text import slugify

from audit.services import audit_record

from .models import Membership, Role, Team

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def team_get_or_create(*, slug: str, name: str | None = None) -> tuple[Team, bool]:
    if slug != slugify(slug):
        raise ValueError(f"Team slug {slug!r} must be lowercase letters, digits and hyphens.")
    return Team.objects.get_or_create(slug=slug, defaults={"name": name or slug.title()})


@transaction.atomic
def user_grant_role(
    *,
    username: str,
    team: Team,
    role: str,
    password: str | None = None,
    validate: bool = True,
) -> tuple[User, bool]:
    """Create the user if needed and give it ``role`` in ``team``; returns (user, created).

    A password must pass every validator of AUTH_PASSWORD_VALIDATORS (ValidationError);
    ``validate=False`` is for the demo's published password only."""
    role = Role(role)
    user_model = get_user_model()
    if password and validate:
        existing = user_model.objects.filter(username=username).first()
        validate_password(password, existing or user_model(username=username))
    user, created = user_model.objects.get_or_create(username=username)
    if password:
        user.set_password(password)
        user.save(update_fields=["password"])
    elif created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Membership.objects.update_or_create(user=user, team=team, defaults={"role": role})
    return user, created


CURRENCY = re.compile(r"[A-Z]{3}")


def team_currency_set(*, team: Team, code: str, user: object = None) -> Team:
    """Set the team's currency (an ISO 4217 code such as EUR, or empty); ValueError when the
    code is not three letters."""
    code = code.strip().upper()
    if code and not CURRENCY.fullmatch(code):
        raise ValueError("The currency is a three-letter ISO code, such as EUR, USD or GBP.")
    if code != team.currency:
        team.currency = code
        team.save(update_fields=["currency"])
        audit_record(action="team.currency", team=team, user=user, detail=code or "(none)")
    return team
