"""Log-ins, log-outs, failed log-ins and role changes, wherever they happen (the admin, a
command, a view)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Membership

from .models import Outcome
from .services import audit_record


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs) -> None:
    audit_record(action="login", user=user, request=request)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(action="logout", user=user, request=request)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    audit_record(
        action="login",
        outcome=Outcome.FAILED,
        request=request,
        username=str(credentials.get("username", ""))[:150],
    )


@receiver(post_save, sender=Membership)
def _role_set(sender, instance: Membership, created: bool, **kwargs) -> None:
    audit_record(
        action="role granted" if created else "role changed",
        team=instance.team,
        target=instance,
        detail=f"{instance.user.username}: {instance.role}",
    )


@receiver(post_delete, sender=Membership)
def _role_removed(sender, instance: Membership, **kwargs) -> None:
    audit_record(
        action="role removed",
        team=instance.team,
        target=instance,
        detail=f"{instance.user.username} was {instance.role}",
    )
