from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Membership, Role, Team
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_anonymous_request_to_team_page_redirects_to_login(client, team_a):
    response = client.get(reverse("dashboard", args=[team_a.slug]))
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=/t/acme/")


def test_login_page_renders_without_external_assets(client):
    response = client.get("/accounts/login/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "htmx" in body and "http://" not in body and "https://" not in body


def test_member_sees_dashboard_of_own_team(client_for, viewer_a, team_a):
    response = client_for(viewer_a).get(reverse("dashboard", args=[team_a.slug]))
    assert response.status_code == 200
    assert b"Acme Ltd" in response.content


@pytest.mark.parametrize(
    "name,args",
    [
        ("dashboard", []),
        ("upload_list", []),
        ("upload_detail", [1]),
        ("upload_preview", [1]),
        ("upload_status", [1]),
    ],
)
def test_non_member_gets_404_on_every_team_page(client_for, admin_b, team_a, name, args):
    response = client_for(admin_b).get(reverse(name, args=[team_a.slug, *args]))
    assert response.status_code == 404


def test_unknown_team_is_404_not_403(client_for, admin_a):
    assert client_for(admin_a).get("/t/no-such-team/").status_code == 404


def test_home_redirects_to_first_team(client_for, admin_a):
    response = client_for(admin_a).get("/")
    assert response.status_code == 302 and response.url == "/t/acme/"


def test_home_without_team_explains_what_to_do(client, django_user_model):
    user = django_user_model.objects.create_user("loner", password="x")
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200 and b"not in a team" in response.content


def test_team_switcher_lists_only_the_users_teams(client_for, admin_a, team_a, team_b):
    Team.objects.create(name="Initech", slug="initech")
    Membership.objects.create(user=admin_a, team=team_b, role=Role.VIEWER)
    body = client_for(admin_a).get("/t/acme/").content.decode()
    assert 'href="/t/globex/"' in body and "Initech" not in body


def test_membership_role_ordering():
    membership = Membership(role=Role.ANALYST)
    assert membership.has_role(Role.VIEWER) and membership.has_role(Role.ANALYST)
    assert not membership.has_role(Role.ADMIN)


def test_create_user_command_creates_team_user_and_role(django_user_model):
    call_command(
        "create_user", "carol", "--team", "newco", "--role", "analyst", "--password", "pw-123456"
    )
    user = django_user_model.objects.get(username="carol")
    assert user.check_password("pw-123456")
    assert Membership.objects.get(user=user, team__slug="newco").role == Role.ANALYST
    call_command("create_user", "carol", "--team", "newco", "--role", "admin")
    assert Membership.objects.get(user=user, team__slug="newco").role == Role.ADMIN
    assert django_user_model.objects.get(username="carol").check_password("pw-123456")


def test_create_user_rejects_bad_team_slug():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="lowercase"):
        call_command("create_user", "dave", "--team", "Bad Slug", "--role", "viewer")


# --- Login throttling and passwords -------------------------------------------------------


def _fail_login(client, username: str, address: str = "10.0.0.1"):
    return client.post(
        "/accounts/login/", {"username": username, "password": "wrong-password"},
        REMOTE_ADDR=address,
    )  # fmt: skip


@pytest.mark.django_db
def test_logins_are_throttled_per_account_with_a_clear_message(client, admin_a, settings):
    statuses = [_fail_login(client, admin_a.username).status_code for _ in range(5)]
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # the 5th locks
    locked = client.post(
        "/accounts/login/", {"username": admin_a.username, "password": PASSWORD},
        REMOTE_ADDR="10.9.9.9",
    )  # fmt: skip
    # the right password, from another address: still locked
    assert locked.status_code == 429
    assert b"Too many failed log-ins" in locked.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_logins_are_throttled_per_address(client, admin_a, viewer_a, settings):
    for index in range(settings.AXES_FAILURE_LIMIT):
        _fail_login(client, f"nobody-{index}", address="10.0.0.7")
    response = client.post(
        "/accounts/login/", {"username": viewer_a.username, "password": PASSWORD},
        REMOTE_ADDR="10.0.0.7",
    )  # fmt: skip
    assert response.status_code == 429


@pytest.mark.django_db
def test_an_admin_unlocks_an_account(client, admin_a, settings):
    from django.core.management import call_command

    for _ in range(settings.AXES_FAILURE_LIMIT):
        _fail_login(client, admin_a.username)
    call_command("axes_reset_username", admin_a.username)
    response = client.post(
        "/accounts/login/", {"username": admin_a.username, "password": PASSWORD},
        REMOTE_ADDR="10.9.9.9",
    )  # fmt: skip
    assert response.status_code == 302


@pytest.mark.django_db
def test_a_weak_password_is_refused_by_the_command(team_a):
    from django.core.management import CommandError, call_command

    for weak in ("short", "12345678901", "password123", "alice-smith-2024"):
        with pytest.raises(CommandError, match="Password refused"):
            call_command("create_user", "alice-smith", "--team", team_a.slug,
                         "--role", "viewer", "--password", weak)  # fmt: skip


def test_password_reset_is_not_offered(client):
    assert client.get("/accounts/password_reset/").status_code == 404


@pytest.mark.django_db
def test_seed_demo_keeps_its_published_password_and_validates_a_chosen_one(settings):
    from django.core.management import CommandError, call_command

    from analytics.management.commands.seed_demo import DEMO_PASSWORD

    with pytest.raises(CommandError, match="Password refused"):
        call_command("seed_demo", "--password", "123", "--customers", "5")
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="demo-admin").exists()
    assert DEMO_PASSWORD == "revtrend-demo"  # the README's
