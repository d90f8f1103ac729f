"""The team's follow-up: owners (one or many), statuses with their history, snoozes, notes,
and how they shape the risk table — kept across runs, audited, written by analysts and admins
only."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import AnalysisRun
from audit.models import AuditEvent
from customers.followup import StatusRequest, status_set
from customers.models import Customer, CustomerNote, FollowUp, FollowUpChange
from tests.workflow.helpers import make_run as make_run_with

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
# external id → (level, revenue at risk): the default order is by revenue at risk.
START = {"K-1": (3, 900), "K-2": (2, 800), "K-3": (1, 700), "K-4": (0, 600), "K-5": (None, 0)}


def make_run(team, levels: dict[str, int | None], risks: dict[str, int]) -> AnalysisRun:
    """A succeeded run with these levels and revenue at risk for the team's customers."""
    states = {cid: {"level": level, "risk": risks[cid]} for cid, level in levels.items()}
    return make_run_with(team, states)


@pytest.fixture
def run(team_a) -> AnalysisRun:
    return make_run(
        team_a, {k: v[0] for k, v in START.items()}, {k: v[1] for k, v in START.items()}
    )


def customer(team, external_id: str) -> Customer:
    return Customer.objects.get(team=team, external_id=external_id)


def table(client, team, **params) -> str:
    response = client.get(reverse("customer_list", args=[team.slug]), params)
    assert response.status_code == 200
    return response.content.decode()


def shown(html: str) -> list[str]:
    """The customers in the table, in its order."""
    return sorted(
        (cid for cid in START if f">{cid}</a>" in html), key=lambda cid: html.index(f">{cid}</a>")
    )


def post(client, name: str, team, data: dict, **headers):
    return client.post(reverse(name, args=[team.slug]), data, **headers)


# --- owners -------------------------------------------------------------------------------


def test_an_analyst_assigns_an_owner_in_bulk_and_the_table_says_so(
    client_for, analyst_a, viewer_a, team_a, run
):
    client = client_for(analyst_a)
    ids = [customer(team_a, cid).pk for cid in ("K-1", "K-3")]
    response = post(
        client, "follow_up_owner", team_a,
        {"customer": ids, "owner": viewer_a.pk, "query": "level=3"}, **HTMX,
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200 and 'id="risk-table"' in html and "<html" not in html
    assert "2 customers now with" in html and viewer_a.username in html
    assert shown(html) == ["K-1"]  # the table comes back with the query it was posted from
    owners = dict(Customer.objects.filter(team=team_a).values_list("external_id", "owner"))
    assert owners == {"K-1": viewer_a.pk, "K-2": None, "K-3": viewer_a.pk, "K-4": None, "K-5": None}
    event = AuditEvent.objects.get(action="customer.owner")
    assert event.team_id == team_a.pk and event.username == analyst_a.username
    assert "2 customer(s)" in event.detail and "K-1" in event.detail


def test_my_customers_and_the_owner_filters(client_for, analyst_a, viewer_a, team_a, run):
    post(client_for(analyst_a), "follow_up_owner", team_a,
         {"customer": [customer(team_a, "K-2").pk], "owner": viewer_a.pk})  # fmt: skip
    post(client_for(analyst_a), "follow_up_owner", team_a,
         {"customer": [customer(team_a, "K-4").pk], "owner": analyst_a.pk})  # fmt: skip
    viewer = client_for(viewer_a)
    assert shown(table(viewer, team_a, owner="me")) == ["K-2"]
    assert shown(table(viewer, team_a, owner=analyst_a.username)) == ["K-4"]
    assert shown(table(viewer, team_a, owner="none")) == ["K-1", "K-3", "K-5"]
    assert "My customers" in table(viewer, team_a)


def test_a_new_run_keeps_owners_and_statuses(client_for, analyst_a, viewer_a, team_a, run):
    post(client_for(analyst_a), "follow_up_owner", team_a,
         {"customer": [customer(team_a, "K-2").pk], "owner": viewer_a.pk})  # fmt: skip
    status_set(
        customer=customer(team_a, "K-3"), request=StatusRequest("contacted"), level=1,
        user=analyst_a,
    )  # fmt: skip
    make_run(team_a, {"K-2": 3, "K-3": 2}, {"K-2": 10, "K-3": 5})
    html = table(client_for(viewer_a), team_a, owner="me")
    assert shown(html) == ["K-2"]
    assert shown(table(client_for(viewer_a), team_a, status="contacted")) == ["K-3"]


@pytest.mark.parametrize("owner", ["not-a-member", "other-team"])
def test_an_owner_from_outside_the_team_is_refused_and_nothing_changes(
    client_for, analyst_a, admin_b, team_a, run, owner, django_user_model
):
    stranger = (
        admin_b if owner == "other-team" else django_user_model.objects.create(username="stranger")
    )
    data = {"customer": [customer(team_a, "K-1").pk], "owner": stranger.pk}
    response = post(client_for(analyst_a), "follow_up_owner", team_a, data, **HTMX)
    assert "The owner must be a member of this team." in response.content.decode()
    assert not Customer.objects.filter(owner__isnull=False).exists()
    assert not AuditEvent.objects.filter(action="customer.owner").exists()


def test_another_teams_customers_are_never_touched(
    client_for, analyst_a, viewer_a, team_a, team_b, run
):
    theirs = Customer.objects.create(team=team_b, external_id="THEIRS")
    post(client_for(analyst_a), "follow_up_owner", team_a,
         {"customer": [theirs.pk, customer(team_a, "K-1").pk], "owner": viewer_a.pk})  # fmt: skip
    theirs.refresh_from_db()
    assert theirs.owner_id is None and customer(team_a, "K-1").owner_id == viewer_a.pk


def test_assigning_nobody_ticked_says_so(client_for, analyst_a, team_a, run):
    response = post(client_for(analyst_a), "follow_up_owner", team_a, {"owner": ""}, **HTMX)
    assert "Choose at least one customer." in response.content.decode()


# --- roles and teams ----------------------------------------------------------------------

WRITES = ("follow_up_owner", "follow_up_status", "follow_up_note")


@pytest.mark.parametrize("name", WRITES)
def test_a_viewer_cannot_write_and_sees_no_forms(client_for, viewer_a, team_a, run, name):
    client = client_for(viewer_a)
    target = customer(team_a, "K-1")
    data = {"customer": target.pk, "owner": "", "status": "lost", "body": "x"}
    assert post(client, name, team_a, data).status_code == 403
    target.refresh_from_db()
    assert target.follow_up == FollowUp.NEW and not CustomerNote.objects.exists()
    assert 'id="bulk-owner"' not in table(client, team_a)
    page = client.get(reverse("customer_detail", args=[team_a.slug, "K-1"])).content.decode()
    assert 'id="follow-up"' in page and "follow-up/status/" not in page


@pytest.mark.parametrize("name", WRITES)
def test_another_teams_admin_gets_404(client_for, admin_b, team_a, run, name):
    data = {"customer": customer(team_a, "K-1").pk, "status": "lost", "body": "x"}
    assert post(client_for(admin_b), name, team_a, data).status_code == 404


def test_a_customer_of_another_team_is_404_for_status_and_notes(
    client_for, admin_a, team_a, team_b, run
):
    theirs = Customer.objects.create(team=team_b, external_id="THEIRS")
    client = client_for(admin_a)
    for name in ("follow_up_status", "follow_up_note"):
        data = {"customer": theirs.pk, "status": "lost", "body": "x"}
        assert post(client, name, team_a, data).status_code == 404
    theirs.refresh_from_db()
    assert theirs.follow_up == FollowUp.NEW


@pytest.mark.parametrize("name", WRITES)
def test_a_get_is_not_allowed(client_for, admin_a, team_a, run, name):
    assert client_for(admin_a).get(reverse(name, args=[team_a.slug])).status_code == 405


# --- statuses, "not a risk", snoozes ------------------------------------------------------


def set_status(client, team, external_id: str, **fields):
    data = {"customer": customer(team, external_id).pk, **fields}
    return post(client, "follow_up_status", team, data, **HTMX)


def test_a_status_change_is_kept_with_its_history_and_audited(client_for, analyst_a, team_a, run):
    client = client_for(analyst_a)
    response = set_status(client, team_a, "K-2", status="contacted", note="Called **Jo**")
    html = response.content.decode()
    assert response.status_code == 200 and 'id="follow-up"' in html and "<html" not in html
    assert 'data-status="contacted"' in html and "<strong>Jo</strong>" in html
    set_status(client, team_a, "K-2", status="recovering")
    changes = list(FollowUpChange.objects.order_by("pk").values_list("previous", "status", "level"))
    assert changes == [("new", "contacted", 2), ("contacted", "recovering", 2)]
    page = client.get(reverse("customer_detail", args=[team_a.slug, "K-2"])).content.decode()
    history = page[page.index('id="status-history"') :]
    assert history.index("Recovering") < history.index("New</td>")  # newest first
    events = AuditEvent.objects.filter(action="customer.status").order_by("pk")
    details = list(events.values_list("detail", flat=True))
    assert details == ["K-2: new → contacted", "K-2: contacted → recovering"]


def test_not_a_risk_needs_a_reason_and_a_refusal_changes_nothing(
    client_for, analyst_a, team_a, run
):
    response = set_status(client_for(analyst_a), team_a, "K-1", status="not_a_risk", note="n")
    assert "Say why this customer is not a risk." in response.content.decode()
    assert customer(team_a, "K-1").follow_up == FollowUp.NEW
    assert not FollowUpChange.objects.exists() and not CustomerNote.objects.exists()


def test_not_a_risk_leaves_the_default_view_until_the_level_worsens(
    client_for, analyst_a, viewer_a, team_a, run
):
    set_status(client_for(analyst_a), team_a, "K-2", status="not_a_risk", reason="Seasonal buyer")
    viewer = client_for(viewer_a)
    html = table(viewer, team_a)
    assert shown(html) == ["K-1", "K-3", "K-4", "K-5"]
    assert "of 4" in html  # the stored total, less the hidden customer
    assert shown(table(viewer, team_a, level="2")) == []
    assert shown(table(viewer, team_a, status="all")) == list(START)
    assert shown(table(viewer, team_a, status="not_a_risk")) == ["K-2"]
    # Same level in the next run: still hidden. Worse: back, still marked "Not a risk".
    make_run(team_a, {"K-1": 3, "K-2": 2}, {"K-1": 5, "K-2": 9})
    assert shown(table(viewer, team_a)) == ["K-1"]
    make_run(team_a, {"K-1": 3, "K-2": 3}, {"K-1": 5, "K-2": 9})
    html = table(viewer, team_a)
    assert shown(html) == ["K-2", "K-1"] and "Not a risk" in html


def test_a_snooze_hides_until_its_date(client_for, analyst_a, viewer_a, team_a, run, monkeypatch):
    until = timezone.localdate() + timedelta(days=7)
    set_status(client_for(analyst_a), team_a, "K-1", status="investigating",
               snoozed_until=until.isoformat())  # fmt: skip
    viewer = client_for(viewer_a)
    assert "K-1" not in shown(table(viewer, team_a))
    monkeypatch.setattr("analytics.selectors.risk._today", lambda: until)
    assert "K-1" in shown(table(viewer, team_a))


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"status": "lost", "snoozed_until": "2020-01-01"}, "Snooze until a date after today."),
        ({"status": "lost", "snoozed_until": "next week"}, "Give the snooze date as YYYY-MM-DD."),
        ({"status": "on fire"}, "Unknown status 'on fire'."),
        ({"status": "lost", "reason": "x" * 501}, "The reason is longer than 500 characters."),
    ],
)  # fmt: skip
def test_bad_status_input_is_refused_with_a_message(
    client_for, analyst_a, team_a, run, fields, message
):
    response = set_status(client_for(analyst_a), team_a, "K-1", **fields)
    assert message in unescape(response.content.decode())
    assert customer(team_a, "K-1").follow_up == FollowUp.NEW and not FollowUpChange.objects.exists()


def test_the_table_sorts_by_status_in_workflow_order(client_for, analyst_a, viewer_a, team_a, run):
    client = client_for(analyst_a)
    for cid, status in (("K-1", "lost"), ("K-2", "contacted"), ("K-3", "investigating")):
        set_status(client, team_a, cid, status=status)
    # New (K-4, K-5: ties by pk) → investigating → contacted → … → lost.
    assert shown(table(client_for(viewer_a), team_a, sort="status")) == [
        "K-4", "K-5", "K-3", "K-2", "K-1"
    ]  # fmt: skip
    assert shown(table(client_for(viewer_a), team_a, sort="-status"))[0] == "K-1"


# --- notes --------------------------------------------------------------------------------


def test_notes_are_markdown_rendered_safely_newest_first(
    client_for, analyst_a, viewer_a, team_a, run
):
    client = client_for(analyst_a)
    target = customer(team_a, "K-3")
    post(client, "follow_up_note", team_a, {"customer": target.pk, "body": "First call"}, **HTMX)
    body = "Next: [agenda](https://example.com) <script>alert(1)</script> ![x](https://evil/x.png)"
    response = post(client, "follow_up_note", team_a, {"customer": target.pk, "body": body}, **HTMX)
    html = response.content.decode()
    notes = html[html.index('id="notes"') :]
    assert notes.index("Next:") < notes.index("First call")
    assert "<script>" not in html and "alert(1)" not in notes.split("</ol>")[0].replace("&lt;", "")
    assert "<img" not in notes and 'rel="noopener noreferrer nofollow"' in notes
    assert analyst_a.username in notes
    page = client_for(viewer_a).get(reverse("customer_detail", args=[team_a.slug, "K-3"]))
    assert "First call" in page.content.decode()


def test_an_empty_note_is_refused(client_for, analyst_a, team_a, run):
    response = post(client_for(analyst_a), "follow_up_note", team_a,
                    {"customer": customer(team_a, "K-3").pk, "body": "   "}, **HTMX)  # fmt: skip
    assert "The note is empty." in response.content.decode()
    assert not CustomerNote.objects.exists()


# --- export -------------------------------------------------------------------------------


def test_the_export_carries_owner_and_status(client_for, analyst_a, viewer_a, team_a, run):
    post(client_for(analyst_a), "follow_up_owner", team_a,
         {"customer": [customer(team_a, "K-1").pk], "owner": viewer_a.pk})  # fmt: skip
    set_status(client_for(analyst_a), team_a, "K-1", status="contacted")
    response = client_for(viewer_a).get(reverse("customer_export", args=[team_a.slug]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    first = next(row for row in rows if row["customer_id"] == "K-1")
    assert (first["owner"], first["status"]) == (viewer_a.username, "contacted")
    other = next(row for row in rows if row["customer_id"] == "K-2")
    assert (other["owner"], other["status"]) == ("", "new")
