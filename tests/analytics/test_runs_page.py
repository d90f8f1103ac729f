"""The runs page `/t/<team>/runs/`: history, the start form and its validation, live status."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import AnalysisRun, RunStatus
from customers.models import Upload

from .helpers import import_portfolio

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(team_a) -> Upload:
    return import_portfolio(team_a, customers=30, seed=9)  # 2023-01 to 2025-06


def runs_url(team, page: int | None = None) -> str:
    url = reverse("run_list", args=[team.slug])
    return f"{url}?page={page}" if page else url


def start_url(team) -> str:
    return reverse("run_start", args=[team.slug])


def make_run(team, status=RunStatus.SUCCEEDED, **fields) -> AnalysisRun:
    run = AnalysisRun.objects.create(
        team=team,
        window_start=date(2024, 1, 1),
        window_end=date(2024, 12, 1),
        status=RunStatus.RUNNING,
        params={"alpha": 0.05, "segments": None, "anomaly_z": 3.5},
    )
    AnalysisRun.objects.filter(pk=run.pk).update(status=status, **fields)
    run.refresh_from_db()
    return run


# --- roles --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "can_start"),
    [
        ("viewer_a", False),
        ("analyst_a", True),
        ("admin_a", True),
    ],
)
def test_every_role_reads_the_history_only_analysts_and_admins_see_the_form(
    request, client_for, team_a, user, can_start
):
    run = make_run(team_a, customers_count=12, level_3_count=4)
    response = client_for(request.getfixturevalue(user)).get(runs_url(team_a))
    assert response.status_code == 200
    assert f'id="run-{run.pk}"'.encode() in response.content
    assert (b'id="run-form"' in response.content) is can_start


def test_viewer_cannot_post_the_start_form(client_for, viewer_a, team_a, data):
    response = client_for(viewer_a).post(start_url(team_a), {"alpha": "0.1"})
    assert response.status_code == 403
    assert not AnalysisRun.objects.exists()


def test_a_member_of_another_team_gets_404_on_every_page_and_partial(
    client_for, admin_b, team_a, data
):
    run = make_run(team_a, RunStatus.RUNNING)
    client = client_for(admin_b)
    assert client.get(runs_url(team_a)).status_code == 404
    assert client.post(start_url(team_a), {"alpha": "0.1"}).status_code == 404
    for name in ("run_detail", "run_status"):
        assert client.get(reverse(name, args=[team_a.slug, run.pk])).status_code == 404
    assert AnalysisRun.objects.count() == 1


def test_anonymous_is_sent_to_login(client, team_a):
    response = client.get(runs_url(team_a))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- history ------------------------------------------------------------------------------------


def test_history_shows_parameters_status_counts_and_duration(client_for, analyst_a, team_a):
    started = timezone.now() - timedelta(minutes=5)
    done = make_run(
        team_a,
        created_by=analyst_a,
        params={"alpha": 0.1, "segments": 4, "anomaly_z": 3.0},
        customers_count=120,
        level_0_count=50,
        level_1_count=30,
        level_2_count=20,
        level_3_count=15,
        insufficient_count=5,
        timings={"total": 12.345},
        started_at=started,
        finished_at=started + timedelta(seconds=20),
    )
    failed = make_run(
        team_a,
        RunStatus.FAILED,
        error="No customer has revenue in the window.",
        started_at=started,
        finished_at=started + timedelta(seconds=3),
    )
    content = client_for(analyst_a).get(runs_url(team_a)).content.decode()
    row = content.split(f'id="run-{done.pk}"')[1].split("</tr>")[0]
    assert "andy-analyst" in row and "2024-01 – 2024-12" in row
    assert "α 0.1 · k 4<br>|z| 3.0" in row and "Succeeded" in row and ">current</span>" in row
    cells = [cell.strip() for cell in row.split('<td class="num">')[1:]]
    assert [cell.split("<")[0] for cell in cells] == ["120", "50", "30", "20", "15", "5", "12.3 s"]
    failed_row = content.split(f'id="run-{failed.pk}"')[1].split("</tr>")[0]
    assert "Failed" in failed_row and "No customer has revenue" in failed_row
    assert "k auto" in failed_row and "3.0 s" in failed_row  # no total: start to end


def test_history_is_paginated_newest_first(client_for, viewer_a, team_a):
    runs = [make_run(team_a) for _ in range(23)]
    client = client_for(viewer_a)
    first = client.get(runs_url(team_a)).content.decode()
    assert f'id="run-{runs[-1].pk}"' in first and f'id="run-{runs[2].pk}"' not in first
    assert "Page 1 of 2" in first and f'href="{runs_url(team_a, 2)}"' in first
    second = client.get(runs_url(team_a, 2)).content.decode()
    assert [f'id="run-{run.pk}"' in second for run in runs[:4]] == [True, True, True, False]


def test_an_empty_history_says_so(client_for, viewer_a, team_a):
    content = client_for(viewer_a).get(runs_url(team_a)).content.decode()
    assert 'id="runs-empty"' in content and "An analyst or admin of the team starts them" in content


# --- starting a run -------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["analyst_a", "admin_a"])
def test_a_run_starts_with_the_chosen_parameters(
    request, client_for, team_a, data, django_capture_on_commit_callbacks, user
):
    client = client_for(request.getfixturevalue(user))
    form = {"window_end": "2025-03", "alpha": "0.1", "segments": "3", "anomaly_z": "3"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(start_url(team_a), form)
    run = AnalysisRun.objects.get(team=team_a)
    assert response.status_code == 302
    assert response["Location"] == reverse("run_detail", args=[team_a.slug, run.pk])
    assert run.window_end == date(2025, 3, 1)
    assert (run.params["alpha"], run.params["segments"], run.params["anomaly_z"]) == (0.1, 3, 3.0)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.segments_count == 3
    assert "Window end 2025-03 chosen by the user." in run.notes


def test_blank_fields_keep_the_defaults(client_for, analyst_a, team_a, data):
    client_for(analyst_a).post(
        start_url(team_a), {"window_end": "", "alpha": "", "segments": "", "anomaly_z": ""}
    )
    run = AnalysisRun.objects.get(team=team_a)
    assert (run.params["alpha"], run.params["segments"], run.params["anomaly_z"]) == (
        0.05,
        None,
        3.5,
    )
    assert run.window_end == date(2025, 6, 1)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("alpha", "0", "Alpha must be between 0 and 1 (exclusive)."),
        ("alpha", "1", "Alpha must be between 0 and 1 (exclusive)."),
        ("alpha", "-0.2", "Alpha must be between 0 and 1 (exclusive)."),
        ("alpha", "lots", "Enter a number."),
        ("segments", "1", "Segments must be between 2 and 20."),
        ("segments", "21", "Segments must be between 2 and 20."),
        ("segments", "2.5", "Enter a whole number."),
        ("window_end", "2025-13", "is not a month in the form YYYY-MM."),
        ("window_end", "March", "is not a month in the form YYYY-MM."),
        ("anomaly_z", "0", "The anomaly threshold must be a positive number."),
    ],
)
def test_invalid_parameters_are_explained_and_start_nothing(
    client_for, analyst_a, team_a, data, field, value, message
):
    response = client_for(analyst_a).post(start_url(team_a), {field: value})
    assert response.status_code == 400
    content = response.content.decode()
    error = content.split(f'id="id_{field}-error">')[1].split("</p>")[0]
    assert message in error.replace("&#x27;", "'")
    assert f'name="{field}" value="{value}"' in content  # the form keeps what was typed
    assert 'aria-invalid="true"' in content
    assert not AnalysisRun.objects.exists()


def test_a_window_end_outside_the_data_is_refused(client_for, analyst_a, team_a, data):
    response = client_for(analyst_a).post(start_url(team_a), {"window_end": "2030-01"})
    assert response.status_code == 400
    assert b'id="run-form-errors"' in response.content
    assert b"the team&#x27;s data ends in 2025-06" in response.content
    assert not AnalysisRun.objects.exists()


# --- live status and failures ---------------------------------------------------------------------


def test_an_active_run_shows_a_progress_bar_that_polls_until_done(client_for, viewer_a, team_a):
    run = make_run(team_a, RunStatus.RUNNING, progress=35, chunks_total=4, chunks_done=1)
    client = client_for(viewer_a)
    status_url = reverse("run_status", args=[team_a.slug, run.pk])
    content = client.get(runs_url(team_a)).content.decode()
    assert f'hx-get="{status_url}"' in content and 'hx-trigger="every 2s"' in content
    assert '<progress max="100" value="35"' in content and "1 of 4 chunks" in content

    running = client.get(status_url, HTTP_HX_REQUEST="true").content.decode()
    assert running.lstrip().startswith('<section class="card run-status" id="run-status"')
    assert "<html" not in running and 'hx-trigger="every 2s"' in running

    AnalysisRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, customers_count=9)
    done = client.get(status_url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in done and "hx-trigger" not in done and "<progress" not in done
    assert "Succeeded" in done and 'id="run-current"' in done


def test_a_failed_run_shows_its_reason_while_the_previous_results_stay(
    client_for, analyst_a, team_a
):
    good = make_run(team_a, customers_count=10)
    failed = make_run(team_a, RunStatus.FAILED, error="Chunk 2 broke: out of memory")
    client = client_for(analyst_a)
    content = client.get(runs_url(team_a)).content.decode()
    section = content.split('id="latest-failed"')[1].split("</section>")[0]
    assert f"#{failed.pk}</a> failed" in section and "Chunk 2 broke: out of memory" in section
    assert f"The results stay those of run #{good.pk}: nothing was replaced." in section
    detail = client.get(reverse("run_detail", args=[team_a.slug, failed.pk])).content.decode()
    assert "Chunk 2 broke" in detail
    assert f"still those of run #{good.pk}" in " ".join(re.sub(r"<[^>]+>", "", detail).split())


def test_the_start_button_is_disabled_while_a_run_is_active(client_for, analyst_a, team_a):
    make_run(team_a, RunStatus.PENDING)
    content = client_for(analyst_a).get(runs_url(team_a)).content.decode()
    assert "<button" in content and 'disabled title="Run #' in content
