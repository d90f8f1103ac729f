from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.backtest_list, name="backtest_list"),
    path("start/", views.backtest_create, name="backtest_start"),
    path("<int:backtest_id>/", views.backtest_detail, name="backtest_detail"),
    path("<int:backtest_id>/status/", views.backtest_status, name="backtest_status"),
]
