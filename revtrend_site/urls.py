from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from analytics.pages.help import help_page
from operations.audit_page import audit_list
from workflow import urls as workflow_urls

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("operations.urls")),
    path("", include("accounts.urls")),
    path("t/<slug:team_slug>/", include(workflow_urls.team_urlpatterns)),
    path("t/<slug:team_slug>/", include("analytics.urls")),
    path("t/<slug:team_slug>/uploads/", include("customers.urls")),
    path("t/<slug:team_slug>/reports/", include("reports.urls")),
    path("t/<slug:team_slug>/backtests/", include("backtests.urls")),
    path("t/<slug:team_slug>/audit/", audit_list, name="audit_list"),
    path("notifications/", include(workflow_urls.user_urlpatterns)),
    path("help/", help_page, name="help"),
]
