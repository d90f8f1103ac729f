"""Each run's results table follows the run (PostgreSQL; see analytics.services.partitions)."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from analytics.models import AnalysisRun
from analytics.services.partitions import partition_create, partition_drop


@receiver(post_save, sender=AnalysisRun, dispatch_uid="analytics_run_partition_create")
def run_partition_create(sender, instance: AnalysisRun, created: bool, raw: bool = False, **kwargs):
    if created:
        partition_create(run_id=instance.pk)


@receiver(post_delete, sender=AnalysisRun, dispatch_uid="analytics_run_partition_drop")
def run_partition_drop(sender, instance: AnalysisRun, **kwargs):
    partition_drop(run_id=instance.pk)
