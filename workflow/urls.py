"""Team pages under /t/<team>/ (alerts, webhooks, schedule); the user's under /notifications/."""

from __future__ import annotations

from django.urls import path

from . import views

team_urlpatterns = [
    path("alerts/", views.alerts_page, name="alerts_page"),
    path("alerts/rules/", views.rule_add, name="rule_add"),
    path("alerts/rules/<int:rule_id>/delete/", views.rule_remove, name="rule_remove"),
    path("alerts/rules/<int:rule_id>/toggle/", views.rule_switch, name="rule_switch"),
    path("alerts/webhooks/", views.webhook_add, name="webhook_add"),
    path("alerts/webhooks/<int:webhook_id>/", views.webhook_detail, name="webhook_detail"),
    path("alerts/webhooks/<int:webhook_id>/test/", views.webhook_send_test, name="webhook_test"),
    path("alerts/webhooks/<int:webhook_id>/delete/", views.webhook_remove, name="webhook_remove"),
    path("schedule/", views.schedule_page, name="schedule_page"),
]

user_urlpatterns = [
    path("", views.notifications_page, name="notifications_page"),
    path("menu/", views.notifications_menu, name="notifications_menu"),
    path("read/", views.notifications_read, name="notifications_read"),
    path("settings/", views.notification_settings, name="notification_settings"),
]
