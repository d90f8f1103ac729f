from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.upload_list, name="upload_list"),
    path("<int:upload_id>/", views.upload_detail, name="upload_detail"),
    path("<int:upload_id>/preview/", views.upload_preview_partial, name="upload_preview"),
    path("<int:upload_id>/confirm/", views.upload_confirm_view, name="upload_confirm"),
    path("<int:upload_id>/status/", views.upload_status_partial, name="upload_status"),
    path("<int:upload_id>/discard/", views.upload_discard, name="upload_discard"),
    path("<int:upload_id>/retry/", views.upload_retry, name="upload_retry"),
]
