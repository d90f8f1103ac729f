"""Starting an analysis from the web and watching it: roles, team scoping, polling."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics.models import AnalysisRun, RunStatus
from customers.models import Customer, Upload

from .helpers import import_portfolio

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(team_a) -> Upload:
    return import_portfolio(team_a, customers=30, seed=9)


def start_url(team) -> str:
    return reverse("run_start", args=[team.slug])


def make_run(team, status) -> AnalysisRun:
    return AnalysisRun.objects.create(
        team=team, window_start=date(2024, 1, 1), window_end=date(2024, 12, 1), status=status
    )


def test_viewer_cannot_start_an_analysis(client_for, viewer_a, team_a, data):
    response = client_for(viewer_a).post(start_url(team_a))
    assert response.status_code == 403
    assert not AnalysisRun.objects.exists()


def test_a_member_of_another_team_gets_404(client_for, admin_b, team_a, data):
    response = client_for(admin_b).post(start_url(team_a))
    assert response.status_code == 404
    assert not AnalysisRun.objects.exists()


def test_anonymous_is_sent_to_login(client, team_a):
    response = client.post(start_url(team_a))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_start_needs_a_post(client_for, analyst_a, team_a, data):
    assert client_for(analyst_a).get(start_url(team_a)).status_code == 405


@pytest.mark.parametrize("user", ["analyst_a", "admin_a"])
def test_analysts_and_admins_start_an_analysis_and_land_on_its_page(
    request, client_for, team_a, data, django_capture_on_commit_callbacks, user
):
    client = client_for(request.getfixturevalue(user))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(start_url(team_a))
    run = AnalysisRun.objects.get(team=team_a)
    assert response.status_code == 302
    assert response["Location"] == reverse("run_detail", args=[team_a.slug, run.pk])
    assert run.status == RunStatus.SUCCEEDED, run.error
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"Succeeded" in page.content and b"every 2s" not in page.content


def test_starting_while_a_run_is_active_shows_that_run(client_for, analyst_a, team_a, data):
    active = make_run(team_a, RunStatus.PENDING)
    response = client_for(analyst_a).post(start_url(team_a))
    assert response["Location"] == reverse("run_detail", args=[team_a.slug, active.pk])
    assert AnalysisRun.objects.count() == 1


def test_a_team_without_data_gets_a_message(client_for, analyst_a, team_a):
    response = client_for(analyst_a).post(start_url(team_a), follow=True)
    assert b"no revenue data" in response.content
    assert not AnalysisRun.objects.exists()


def test_an_active_run_polls_its_status_every_2s_until_done(client_for, viewer_a, team_a):
    run = make_run(team_a, RunStatus.RUNNING)
    AnalysisRun.objects.filter(pk=run.pk).update(progress=40, chunks_total=5, chunks_done=2)
    client = client_for(viewer_a)
    page = client.get(reverse("run_detail", args=[team_a.slug, run.pk]))
    status_url = reverse("run_status", args=[team_a.slug, run.pk])
    assert f'hx-get="{status_url}"'.encode() in page.content
    assert b'hx-trigger="every 2s"' in page.content and b"2 of 5 chunks" in page.content
    AnalysisRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="Chunk 2 broke")
    partial = client.get(status_url, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert b"<html" not in partial.content and b"every 2s" not in partial.content
    assert b"Chunk 2 broke" in partial.content


def test_runs_of_another_team_are_404(client_for, admin_b, team_a):
    run = make_run(team_a, RunStatus.SUCCEEDED)
    client = client_for(admin_b)
    for name in ("run_detail", "run_status"):
        assert client.get(reverse(name, args=[team_a.slug, run.pk])).status_code == 404
    b_slug = admin_b.memberships.get().team.slug
    assert client.get(reverse("run_detail", args=[b_slug, run.pk])).status_code == 404


def test_a_finished_import_offers_to_start_an_analysis(client_for, admin_a, team_a, data):
    client = client_for(admin_a)
    detail = client.get(reverse("upload_detail", args=[team_a.slug, data.pk]))
    assert f'action="{start_url(team_a)}"'.encode() in detail.content
    partial = client.get(reverse("upload_status", args=[team_a.slug, data.pk]))
    assert f'action="{start_url(team_a)}"'.encode() in partial.content


def test_the_dashboard_shows_the_current_results(
    client_for, analyst_a, team_a, data, django_capture_on_commit_callbacks
):
    client = client_for(analyst_a)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(start_url(team_a))
    run = AnalysisRun.objects.get()
    page = client.get(reverse("dashboard", args=[team_a.slug]))
    assert f"run #{run.pk}".encode() in page.content and b"Insufficient data" in page.content


def test_a_run_page_warns_of_customers_whose_data_ended_early(client_for, viewer_a, team_a):
    from datetime import date

    from tests.workflow.helpers import make_run as run_with

    run = run_with(
        team_a,
        {"OLD-1": {"level": 3, "churned": True}, "OLD-2": {"level": 0}, "NEW": {"level": 0}},
    )  # window ends 2025-06
    Customer.objects.filter(external_id__startswith="OLD").update(last_month=date(2025, 1, 1))
    Customer.objects.filter(external_id="NEW").update(last_month=date(2025, 5, 1))
    html = client_for(viewer_a).get(f"/t/{team_a.slug}/runs/{run.pk}/").content.decode()
    warning = html[html.index('id="stale-warning"') :].split("</div>")[0]
    assert "2 customers' data end in 2025-03 or earlier" in warning
    assert "1 of them was judged churned" in warning


def test_the_status_poll_does_not_read_the_team_switcher(client_for, viewer_a, team_a):
    """The fragment has no team switcher, so it never asks for the user's teams; the page
    around it does."""
    run = make_run(team_a, RunStatus.RUNNING)
    client = client_for(viewer_a)
    switcher = 'ORDER BY "accounts_team"."name"'
    with CaptureQueriesContext(connection) as poll:
        client.get(reverse("run_status", args=[team_a.slug, run.pk]), HTTP_HX_REQUEST="true")
    assert not [q for q in poll.captured_queries if switcher in q["sql"]]
    with CaptureQueriesContext(connection) as page:
        client.get(reverse("run_detail", args=[team_a.slug, run.pk]))
    assert len([q for q in page.captured_queries if switcher in q["sql"]]) == 1
