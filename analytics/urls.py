from __future__ import annotations

from django.urls import path

from .pages import customer, dashboard, followup, risk, runs, segments

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("customers/", risk.customer_list, name="customer_list"),
    path("customers/export.csv", risk.customer_export, name="customer_export"),
    path("customers/<path:customer_id>/", customer.customer_detail, name="customer_detail"),
    path("follow-up/owner/", followup.follow_up_owner, name="follow_up_owner"),
    path("follow-up/status/", followup.follow_up_status, name="follow_up_status"),
    path("follow-up/note/", followup.follow_up_note, name="follow_up_note"),
    path("segments/", segments.segment_list, name="segment_list"),
    path("runs/", runs.run_list, name="run_list"),
    path("runs/start/", runs.run_start, name="run_start"),
    path("runs/<int:run_id>/", runs.run_detail, name="run_detail"),
    path("runs/<int:run_id>/status/", runs.run_status_partial, name="run_status"),
]
