from __future__ import annotations

from django.urls import path

from . import views
from .pages import risk
from .pages.customer import customer_detail
from .pages.segments import segment_list

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("customers/", risk.customer_list, name="customer_list"),
    path("customers/export.csv", risk.customer_export, name="customer_export"),
    path("customers/<path:customer_id>/", customer_detail, name="customer_detail"),
    path("segments/", segment_list, name="segment_list"),
    path("runs/", views.run_list, name="run_list"),
    path("runs/start/", views.run_start, name="run_start"),
    path("runs/<int:run_id>/", views.run_detail, name="run_detail"),
    path("runs/<int:run_id>/status/", views.run_status_partial, name="run_status"),
]
