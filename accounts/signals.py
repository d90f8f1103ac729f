"""Role changes go to the audit trail, wherever they are made (the admin, a command)."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from audit.services import audit_record

from .models import Membership


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
