"""Listening to the apps below: a succeeded run is judged against the team's alert rules; a
succeeded import is analysed again when the team wants that."""

from __future__ import annotations

from django.dispatch import receiver

from analytics.models import AnalysisRun
from analytics.signals import run_succeeded
from customers.models import Upload
from customers.signals import import_succeeded
from revtrend_site.queueing import enqueue

from .schedules import analyse_after_import

EVALUATE_TASK = "workflow.tasks.alerts_evaluate_task"


@receiver(run_succeeded, sender=AnalysisRun, dispatch_uid="workflow_judge_run")
def judge_run(sender: type[AnalysisRun], run: AnalysisRun, **kwargs: object) -> None:
    enqueue(EVALUATE_TASK, run.pk)


@receiver(import_succeeded, sender=Upload, dispatch_uid="workflow_analyse_import")
def analyse_import(sender: type[Upload], upload: Upload, **kwargs: object) -> None:
    analyse_after_import(upload=upload)
