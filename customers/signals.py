"""A member who leaves a team stops owning its customers (they become unowned, and their
alerts go to the team's admins)."""

from __future__ import annotations

from django.db.models.signals import post_delete
from django.dispatch import Signal, receiver

from accounts.models import Membership

from .models import Customer

# Sent once an import has SUCCEEDED and committed; kwargs: upload (Upload). The apps above
# listen (workflow analyses the team's data again when the team wants it).
import_succeeded = Signal()


@receiver(post_delete, sender=Membership, dispatch_uid="customers_owner_left_team")
def owner_left_team(sender: type[Membership], instance: Membership, **kwargs: object) -> None:
    Customer.objects.filter(team_id=instance.team_id, owner_id=instance.user_id).update(owner=None)
