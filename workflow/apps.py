from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = "Alerts, notifications, schedules and digests"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (a finished run is judged; an import re-analysed)
