"""Log-ins, log-outs and failed log-ins, wherever they happen (the admin, a view, a
command); role changes are recorded by accounts/signals.py."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

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
