"""Webhooks delivered over real HTTP to a local server (signed, retried on 5xx, given up after
the limit with the failure logged), the "send test" button, and e-mail through a real local
SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from workflow.models import AlertRule, DeliveryPreference, DeliveryStatus, RuleKind, Webhook
from workflow.models import WebhookDelivery as Delivery

from .helpers import judged

pytestmark = pytest.mark.django_db


@pytest.fixture
def hooked(team_a, admin_a, endpoint, settings):
    settings.WEBHOOK_ATTEMPTS = 3
    settings.WEBHOOK_BACKOFF = 0.0
    AlertRule.objects.create(team=team_a, kind=RuleKind.LEVEL, threshold=3)
    return Webhook.objects.create(team=team_a, name="Slack #revenue", url=endpoint.url)


def test_a_runs_alerts_arrive_signed_in_a_slack_compatible_body(team_a, hooked, endpoint):
    judged(team_a, {"A-1": {"level": 0}, "B-2": {"level": 3}})
    run = judged(team_a, {"A-1": {"level": 3}, "B-2": {"level": 3}})
    assert len(endpoint.received) == 1
    got = endpoint.received[0]
    expected = "sha256=" + hmac.new(hooked.secret.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-RevTrend-Signature"] == expected
    assert got.headers["Content-Type"] == "application/json"
    body = json.loads(got.body)
    assert body["text"] == "RevTrend: 1 new alert for Acme Ltd"
    assert "A-1" in body["blocks"][1]["text"]["text"] and "B-2" not in got.body.decode()
    assert body["revtrend"]["run"] == run.pk
    assert body["revtrend"]["alerts"][0]["customer"] == "A-1"
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.status_code, delivery.attempts) == (
        DeliveryStatus.DELIVERED, 200, 1
    )  # fmt: skip


def test_a_500_is_retried_and_then_delivered(team_a, hooked, endpoint):
    endpoint.statuses = [500, 200]
    judged(team_a, {"A": {"level": 1}})
    judged(team_a, {"A": {"level": 3}})
    assert len(endpoint.received) == 2
    assert endpoint.received[0].body == endpoint.received[1].body  # the same message again
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.status_code, delivery.attempts) == (
        DeliveryStatus.DELIVERED, 200, 2
    )  # fmt: skip


def test_it_gives_up_after_the_limit_and_logs_the_failure(team_a, hooked, endpoint, caplog):
    endpoint.statuses = [500]
    judged(team_a, {"A": {"level": 1}})
    with caplog.at_level(logging.WARNING, logger="workflow.delivery"):
        judged(team_a, {"A": {"level": 3}})
    assert len(endpoint.received) == 3
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.error) == (
        DeliveryStatus.FAILED, 3, "HTTP 500"
    )  # fmt: skip
    assert "gave up on delivery" in caplog.text


def test_a_4xx_is_not_retried(team_a, hooked, endpoint):
    endpoint.statuses = [410]
    judged(team_a, {"A": {"level": 1}})
    judged(team_a, {"A": {"level": 3}})
    delivery = Delivery.objects.get()
    assert len(endpoint.received) == 1 and delivery.status == DeliveryStatus.FAILED


def test_no_alert_no_message(team_a, hooked, endpoint):
    judged(team_a, {"A": {"level": 3}})
    judged(team_a, {"A": {"level": 3}})
    assert endpoint.received == [] and not Delivery.objects.exists()


def test_the_send_test_button_and_the_delivery_log(client_for, admin_a, team_a, hooked, endpoint):
    client = client_for(admin_a)
    response = client.post(reverse("webhook_test", args=[team_a.slug, hooked.pk]), follow=True)
    html = response.content.decode()
    assert json.loads(endpoint.received[0].body)["revtrend"] == {"team": "acme", "test": True}
    log = html[html.index('id="delivery-log"') :]
    assert 'data-status="DELIVERED"' in log and "<td>200</td>" in log and "test" in log
    assert hooked.secret in html
    assert AuditEvent.objects.filter(action="webhook.test").exists()


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://example.com/hook", "The webhook URL must start with http:// or https://."),
        ("javascript:alert(1)", "The webhook URL must start with http:// or https://."),
        ("https://", "This is not a usable webhook URL."),
    ],
)
def test_a_webhook_url_that_is_not_http_is_refused(client_for, admin_a, team_a, url, message):
    response = client_for(admin_a).post(
        reverse("webhook_add", args=[team_a.slug]), {"name": "x", "url": url}, follow=True
    )
    assert message in response.content.decode()
    assert not Webhook.objects.exists()


def test_an_admin_adds_a_webhook_and_sees_its_secret_and_others_cannot(
    client_for, admin_a, analyst_a, team_a, endpoint
):
    data, url = {"name": "Ops", "url": endpoint.url}, reverse("webhook_add", args=[team_a.slug])
    assert client_for(analyst_a).post(url, data).status_code == 403
    response = client_for(admin_a).post(url, data, follow=True)
    webhook = Webhook.objects.get()
    assert webhook.secret in response.content.decode() and len(webhook.secret) == 64
    assert AuditEvent.objects.filter(action="webhook.create", team_id=team_a.pk).exists()


def test_alert_email_goes_through_a_real_smtp_server(team_a, admin_a, smtp_server):
    admin_a.email = "ada@example.com"
    admin_a.save()
    DeliveryPreference.objects.create(user=admin_a, email="immediate")
    AlertRule.objects.create(team=team_a, kind=RuleKind.CHURNED)
    judged(team_a, {"Q-9": {"churned": False}})
    judged(team_a, {"Q-9": {"churned": True}})
    assert len(smtp_server.messages) == 1
    sender, recipients, content = smtp_server.messages[0]
    assert recipients == ["ada@example.com"] and b"revtrend@localhost" in sender.encode()
    assert b"Q-9 (Acme Ltd): churned" in content
    assert b"/t/acme/customers/Q-9/" in content


@pytest.mark.redis
def test_a_real_worker_retries_with_backoff(team_a, admin_a, endpoint, settings, celery_worker):
    settings.WEBHOOK_ATTEMPTS = 4
    settings.WEBHOOK_BACKOFF = 0.2
    endpoint.statuses = [503, 502, 200]
    webhook = Webhook.objects.create(team=team_a, name="w", url=endpoint.url)
    delivery = Delivery.objects.create(webhook=webhook, payload={"text": "hello"})
    from revtrend_site.queueing import enqueue

    started = time.monotonic()
    enqueue("workflow.tasks.webhook_deliver_task", delivery.pk)
    deadline = started + 30
    while time.monotonic() < deadline:
        delivery.refresh_from_db()
        if delivery.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
            break
        time.sleep(0.1)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    # Waited 0.2 s, then 0.4 s between the attempts (the worker's countdowns).
    assert time.monotonic() - started >= 0.6


def test_a_failed_alert_email_stays_due_for_the_next_digest(team_a, admin_a, settings, caplog):
    admin_a.email = "ada@example.com"
    admin_a.save()
    DeliveryPreference.objects.create(user=admin_a, email="immediate")
    AlertRule.objects.create(team=team_a, kind=RuleKind.CHURNED)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    judged(team_a, {"Q-9": {"churned": False}})
    with caplog.at_level(logging.WARNING, logger="workflow.delivery"):
        judged(team_a, {"Q-9": {"churned": True}})  # the run's alerts stand
    assert "Alert e-mail to user" in caplog.text
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from django.core import mail

    from workflow.tasks import daily_digest_task

    daily_digest_task.apply().get()
    assert len(mail.outbox) == 1 and "Q-9" in mail.outbox[0].body


def test_judging_a_run_twice_sends_its_webhook_message_once(team_a, hooked, endpoint):
    from workflow.tasks import alerts_evaluate_task

    judged(team_a, {"A": {"level": 1}})
    run = judged(team_a, {"A": {"level": 3}})
    alerts_evaluate_task.apply(args=[run.pk]).get()
    assert len(endpoint.received) == 1 and Delivery.objects.count() == 1


def test_links_in_messages_are_the_pages_own_links(settings):
    from workflow.delivery import customer_link

    settings.SITE_URL = "https://revtrend.example.com"
    assert customer_link("acme", "a/b c") == (
        "https://revtrend.example.com/t/acme/customers/a%2Fb%20c/"
    )
    # A whole dot segment would be resolved away by a browser: the search finds it instead.
    assert customer_link("acme", "..") == "https://revtrend.example.com/t/acme/customers/?q=.."
