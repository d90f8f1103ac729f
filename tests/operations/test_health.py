"""Health checks, one-line 4xx logs, HEAD wherever GET is, links for ids holding ../ ."""

from __future__ import annotations

import logging

import pytest

from analytics.links import customer_url_builder
from tests.conftest import celery_pointed_at

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_login_and_without_data(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_checks_database_schema_and_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok", "database": "ok", "migrations": "ok", "broker": "not used",
    }  # fmt: skip


def test_readyz_is_503_when_the_broker_is_down(client):
    with celery_pointed_at("redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["broker"].startswith("error")
    assert body["database"] == "ok"


def test_a_refused_request_is_logged_as_one_line_without_traceback(
    client_for, viewer_a, team_a, caplog
):
    handler = logging.StreamHandler()
    from revtrend_site.logs import OneLineClientErrors

    handler.addFilter(OneLineClientErrors())
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client_for(viewer_a).post(f"/t/{team_a.slug}/runs/start/")
    assert response.status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records and all(handler.filter(r) for r in records)
    assert all(r.exc_info is None for r in records)


def test_a_server_error_keeps_its_traceback():
    from revtrend_site.logs import OneLineClientErrors

    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("django.request", logging.ERROR, "", 0, "x", (), sys.exc_info())
    record.status_code = 500
    assert OneLineClientErrors().filter(record) and record.exc_info is not None


def test_head_is_answered_wherever_get_is(client_for, viewer_a, team_a):
    client = client_for(viewer_a)
    for page in ("", "customers/", "segments/", "runs/", "reports/", "backtests/"):
        get = client.get(f"/t/{team_a.slug}/{page}")
        head = client.head(f"/t/{team_a.slug}/{page}")
        assert head.status_code == get.status_code == 200, page
        assert head.content == b""


@pytest.mark.parametrize(
    ("external_id", "expected"),
    [
        ("C-1", "/t/acme/customers/C-1/"),
        ("../../admin", "/t/acme/customers/..%2F..%2Fadmin/"),
        ("a/b", "/t/acme/customers/a%2Fb/"),
        ("50%", "/t/acme/customers/50%25/"),
        ("..", "/t/acme/customers/?q=.."),
        ("a b?c#d", "/t/acme/customers/a%20b%3Fc%23d/"),
    ],
)
def test_customer_links_keep_the_id_in_one_segment(external_id, expected):
    assert customer_url_builder(team_slug="acme")(external_id) == expected


def test_no_template_syntax_leaks_into_a_page(client, client_for, viewer_a, team_a):
    """A multi-line {# … #} is not a Django comment: it is shown on every page."""
    pages = [client.get("/accounts/login/")]
    viewer = client_for(viewer_a)
    pages += [viewer.get(f"/t/{team_a.slug}/{page}") for page in ("", "customers/", "runs/")]
    for response in pages:
        assert response.status_code == 200
        assert b"{#" not in response.content and b"{%" not in response.content
        assert b"#}" not in response.content and b"%}" not in response.content


@pytest.mark.django_db
def test_the_help_page_explains_the_levels_in_words(client):
    html = client.get("/help/").content.decode()
    assert "How RevTrend decides" in html and 'id="level-legend"' in html
    assert "Revenue at risk" in html and "p-value" in html


@pytest.mark.django_db
def test_error_pages_keep_the_sites_layout_and_say_what_is_needed(client_for, viewer_a, team_a):
    client = client_for(viewer_a)
    refused = client.post(f"/t/{team_a.slug}/runs/start/")
    html = refused.content.decode()
    assert refused.status_code == 403 and 'id="error-403"' in html
    assert "This needs the Analyst role." in html and 'class="topbar"' in html
    missing = client.get(f"/t/{team_a.slug}/customers/NOPE/")
    assert missing.status_code == 404 and 'id="error-404"' in missing.content.decode()
