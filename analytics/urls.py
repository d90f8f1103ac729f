from __future__ import annotations

from django.urls import path

from . import views
from .pages import risk
from .pages.customer import customer_detail

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("customers/", risk.customer_list, name="customer_list"),
    path("customers/export.csv", risk.customer_export, name="customer_export"),
    path("customers/<path:customer_id>/", customer_detail, name="customer_detail"),
    path("runs/start/", views.run_start, name="run_start"),
    path("runs/<int:run_id>/", views.run_detail, name="run_detail"),
    path("runs/<int:run_id>/status/", views.run_status_partial, name="run_status"),
]
