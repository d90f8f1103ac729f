from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers and revenue data"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (a member who leaves owns none of the team's customers)
