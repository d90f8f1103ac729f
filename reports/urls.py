"""`/t/<team>/reports/…` (docs/interfaces.md): history, one report, its downloads, generation."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.report_list, name="report_list"),
    path("generate/", views.report_start, name="report_generate"),
    path("group/", views.group_generator, name="report_group"),
    path("group/statistics/", views.group_statistics_partial, name="report_group_statistics"),
    path("panels/customer/", views.customer_panel_partial, name="report_customer_panel"),
    path("panels/segments/", views.segment_panels_partial, name="report_segment_panels"),
    path("panels/portfolio/", views.portfolio_panel_partial, name="report_portfolio_panel"),
    path("<int:report_id>/", views.report_detail, name="report_detail"),
    path("<int:report_id>/body/", views.report_body_partial, name="report_body"),
    path("<int:report_id>/panel/", views.report_panel_partial, name="report_panel"),
    path("<int:report_id>/download.md", views.report_download_md, name="report_download_md"),
    path("<int:report_id>/download.txt", views.report_download_txt, name="report_download_txt"),
    path("<int:report_id>/delete/", views.report_delete, name="report_delete"),
]
