"""The audit trail: every action and refusal recorded with who, what, when, object and
address; append-only; a filtered page for each team's admins."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from customers.services import upload_confirm, upload_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)  # imports and runs queue on commit

CSV = b"customer_id,date,amount\n" + b"".join(
    f"c{i % 6},2024-{1 + i % 12:02d}-10,{i}.5\n".encode() for i in range(120)
)


def actions(team=None) -> list[tuple[str, str, str]]:
    events = (
        AuditEvent.objects.all() if team is None else AuditEvent.objects.filter(team_id=team.pk)
    )
    return [(e.username, e.action, e.outcome) for e in events.order_by("id")]


def test_log_ins_failed_log_ins_and_log_outs_are_recorded_with_the_address(client, admin_a):
    client.post("/accounts/login/", {"username": admin_a.username, "password": "nope"},
                REMOTE_ADDR="192.0.2.7")  # fmt: skip
    client.post("/accounts/login/", {"username": admin_a.username, "password": PASSWORD},
                REMOTE_ADDR="192.0.2.8")  # fmt: skip
    client.post("/accounts/logout/", REMOTE_ADDR="192.0.2.8")
    logins = AuditEvent.objects.filter(action__in=["login", "logout"]).order_by("id")
    assert [(e.username, e.action, e.outcome, e.address) for e in logins] == [
        (admin_a.username, "login", "failed", "192.0.2.7"),
        (admin_a.username, "login", "ok", "192.0.2.8"),
        (admin_a.username, "logout", "ok", "192.0.2.8"),
    ]


def test_uploads_imports_runs_and_reports_are_recorded(client_for, admin_a, team_a):
    client = client_for(admin_a)
    upload = upload_create(team=team_a, data=CSV, filename="a.csv", user=admin_a)
    upload_confirm(upload=upload, column_mapping={})
    assert client.post(f"/t/{team_a.slug}/runs/start/").status_code == 302
    client.post(f"/t/{team_a.slug}/reports/generate/", {"kind": "portfolio"})
    recorded = [(a, o) for _, a, o in actions(team_a) if a != "role granted"]
    assert recorded == [
        ("upload", "ok"), ("import queued", "ok"), ("import", "ok"),
        ("analysis started", "ok"), ("report requested", "ok"),
    ]  # fmt: skip
    imported = AuditEvent.objects.get(action="import")
    assert imported.username == admin_a.username and imported.object_id == str(upload.pk)
    assert imported.detail == "120 rows, append"


def test_a_refused_action_is_recorded(client_for, viewer_a, team_a):
    response = client_for(viewer_a).post(f"/t/{team_a.slug}/runs/start/", REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 403
    event = AuditEvent.objects.get(outcome="refused")
    assert (event.username, event.action, event.team_slug, event.address) == (
        viewer_a.username, "POST run_start", team_a.slug, "192.0.2.9",
    )  # fmt: skip
    assert event.detail == "needs Analyst, has Viewer"


def test_role_changes_are_recorded(team_a):
    call_command("create_user", "newbie", "--team", team_a.slug, "--role", "viewer")
    call_command("create_user", "newbie", "--team", team_a.slug, "--role", "analyst")
    assert [(e.action, e.detail) for e in AuditEvent.objects.order_by("id")] == [
        ("role granted", "newbie: viewer"),
        ("role changed", "newbie: analyst"),
    ]


def test_the_trail_is_append_only(admin_a):
    event = AuditEvent.objects.first()
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.update(action="x")


@pytest.mark.postgres
def test_the_database_refuses_to_change_or_delete_audit_rows(admin_a):
    pk = AuditEvent.objects.first().pk
    for sql in ("UPDATE audit_auditevent SET action = 'x' WHERE id = %s",
                "DELETE FROM audit_auditevent WHERE id = %s"):  # fmt: skip
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [pk])
    assert AuditEvent.objects.filter(pk=pk).exists()


def test_the_team_page_shows_its_own_events_to_admins_only(
    client_for, admin_a, analyst_a, admin_b, team_a, team_b
):
    upload_create(team=team_a, data=CSV, filename="mine.csv", user=admin_a)
    upload_create(team=team_b, data=CSV, filename="theirs.csv", user=admin_b)
    page = client_for(admin_a).get(f"/t/{team_a.slug}/audit/")
    assert page.status_code == 200
    assert b"mine.csv" in page.content and b"theirs.csv" not in page.content
    filtered = client_for(admin_a).get(f"/t/{team_a.slug}/audit/", {"action": "role granted"})
    assert b"mine.csv" not in filtered.content and b"andy-analyst: analyst" in filtered.content
    assert client_for(analyst_a).get(f"/t/{team_a.slug}/audit/").status_code == 403
    assert client_for(admin_b).get(f"/t/{team_a.slug}/audit/").status_code == 404


def test_the_team_page_pages_keeping_its_filters(client_for, admin_a, team_a):
    for index in range(55):
        upload_create(team=team_a, data=CSV + f"c{index},2024-01-01,1\n".encode(),
                      filename=f"f{index}.csv", user=admin_a)  # fmt: skip
    client = client_for(admin_a)
    first = client.get(f"/t/{team_a.slug}/audit/", {"action": "upload"}).content.decode()
    assert "?action=upload&amp;page=2" in first and "Page 1 of 2" in first
    second = client.get(f"/t/{team_a.slug}/audit/", {"action": "upload", "page": 2})
    assert second.content.decode().count('<tr class="outcome-ok">') == 5
