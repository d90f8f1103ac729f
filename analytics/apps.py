from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analysis runs"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (a run's results table is created and dropped with it)
