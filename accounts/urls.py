from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

# Django's auth URLs without password reset: it needs outgoing e-mail, which RevTrend does
# not configure, so it is not offered (an admin sets a password: `create_user --password`).
urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]
