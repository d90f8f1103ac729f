"""Reports through the real ``openai`` SDK against a fake OpenAI-compatible server on
127.0.0.1: success, retries with backoff, their limits, timeouts, malformed answers,
hostile HTML and prompt injection."""

from __future__ import annotations

import pytest

from reports.models import ReportStatus
from reports.services import (
    report_as_markdown,
    report_as_text,
    report_create,
    report_generate_now,
    report_render_html,
)

from .conftest import Reply, chat_completion
from .test_facts_and_prompts import INJECTION, assert_only_inside_data_block

pytestmark = [pytest.mark.django_db, pytest.mark.llm]

ERROR = {"error": {"message": "the model is overloaded", "type": "server_error"}}


def generate(team, kind="customer", scope=None, **kwargs):
    scope = {"customer": "C-003"} if scope is None else scope
    report = report_create(team=team, kind=kind, scope=scope, **kwargs)
    return report_generate_now(report=report)


def test_a_report_sends_the_fact_sheet_to_the_configured_model(team_a, portfolio, fake_llm):
    report = generate(team_a)
    assert report.status == ReportStatus.DONE, report.error
    (request,) = fake_llm.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer test"
    body = request["body"]
    assert body["model"] == "fake-model-1"
    system, user = body["messages"]
    assert (system["role"], user["role"]) == ("system", "user")
    assert user["content"] == report.prompt and system["content"] == report.system_prompt
    for figure in ('"revenue_at_risk_12m": 5400.0', '"p_value": 0.0004', '"2024-09"'):
        assert figure in user["content"]
    assert report.facts["revenue_at_risk_12m"] == 5400.0
    assert (report.provider, report.model) == ("openai", "fake-model-1")
    assert (report.prompt_tokens, report.completion_tokens) == (321, 123)
    assert report.content.startswith("## Profile")
    assert report.grounding["unmatched"] == [] and report.grounding["checked"] >= 5
    assert report.duration_seconds is not None and report.error == ""


def test_a_429_is_retried_after_the_servers_retry_after(team_a, portfolio, fake_llm, sleeps):
    fake_llm.script = [Reply(429, ERROR, {"Retry-After": "2"})]
    report = generate(team_a)
    assert report.status == ReportStatus.DONE
    assert len(fake_llm.requests) == 2
    assert sleeps == [2.0]


def test_a_long_retry_after_is_capped(team_a, portfolio, fake_llm, sleeps, settings):
    settings.LLM_RETRY_AFTER_CAP = 5
    fake_llm.script = [Reply(503, ERROR, {"Retry-After": "3600"})]
    assert generate(team_a).status == ReportStatus.DONE
    assert sleeps == [5]


def test_without_retry_after_the_backoff_grows_with_jitter(team_a, portfolio, fake_llm, sleeps):
    fake_llm.script = [Reply(500, ERROR), Reply(502, ERROR)]
    assert generate(team_a).status == ReportStatus.DONE
    first, second = sleeps
    assert 0.005 <= first <= 0.01 and 0.01 <= second <= 0.02


def test_500s_until_the_retries_run_out_fail_only_that_report(team_a, portfolio, fake_llm):
    earlier = generate(team_a)
    fake_llm.requests.clear()
    fake_llm.script = [Reply(500, ERROR)] * 3
    report = generate(team_a, kind="portfolio", scope={})
    assert report.status == ReportStatus.FAILED
    assert "the model server answered 500 three times" in report.error
    assert len(fake_llm.requests) == 3
    assert report.facts["kind"] == "portfolio" and "BEGIN FACT SHEET" in report.prompt
    assert report.content == ""
    kept = type(earlier).objects.get(pk=earlier.pk)
    assert kept.status == ReportStatus.DONE
    assert (kept.content, kept.facts, kept.finished_at) == (
        earlier.content, earlier.facts, earlier.finished_at,
    )  # fmt: skip


def test_a_client_error_is_not_retried(team_a, portfolio, fake_llm):
    fake_llm.script = [Reply(401, {"error": {"message": "Incorrect API key provided"}})]
    report = generate(team_a)
    assert report.status == ReportStatus.FAILED
    assert "answered 401" in report.error and "Incorrect API key" in report.error
    assert len(fake_llm.requests) == 1


def test_a_server_slower_than_the_timeout_fails_with_the_timeout(
    team_a, portfolio, fake_llm, settings
):
    settings.OPENAI_TIMEOUT = 0.3
    settings.LLM_RETRY_ATTEMPTS = 2
    fake_llm.script = [Reply(body=chat_completion("late"), delay=1.0)] * 2
    report = generate(team_a)
    assert report.status == ReportStatus.FAILED
    assert "timed out after 0.3 s twice" in report.error


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": []},
         "malformed response: no choices"),
        ("<html>Bad gateway</html>", "malformed response"),
        (chat_completion(""), "malformed response: the first choice has no text"),
    ],
)  # fmt: skip
def test_a_malformed_response_fails_with_the_reason(team_a, portfolio, fake_llm, body, reason):
    fake_llm.script = [Reply(200, body)]
    report = generate(team_a)
    assert report.status == ReportStatus.FAILED
    assert reason in report.error
    assert len(fake_llm.requests) == 1


HOSTILE = """## Profile
<script>alert("profile")</script>A customer.
<img src="x" onerror="alert('img')">

## Risk analysis
[details](javascript:alert('link')) <a href="https://example.com" onclick="steal()">ok</a>

## Recommended actions
1. Call them.
"""


def test_html_from_the_model_is_sanitised_in_the_page_and_the_downloads(
    team_a, portfolio, fake_llm
):
    fake_llm.default = Reply(body=chat_completion(HOSTILE))
    report = generate(team_a)
    assert report.content == HOSTILE.strip()  # stored as it came, for the record
    page = report_render_html(report=report)
    assert "<h2>Profile</h2>" in page and "A customer." in page
    for forbidden in ("<script", 'alert("profile")', "onerror", "onclick", "javascript:"):
        assert forbidden not in page
    assert 'href="https://example.com"' in page
    for download in (report_as_text(report=report), report_as_markdown(report=report)):
        for forbidden in ("<script", "<img", "onerror", "onclick", "<a "):
            assert forbidden not in download
        assert "Call them." in download


def test_an_injected_customer_id_reaches_the_model_only_as_quoted_data(team_a, fake_llm):
    from .conftest import make_run

    make_run(team_a, [(INJECTION, None, 3, "900.00", -0.5, 0.001, "10.00", None, 0, False)],
             levels_only=True)  # fmt: skip
    report = generate(team_a, scope={"customer": INJECTION})
    assert report.status == ReportStatus.DONE
    system, user = fake_llm.bodies()[0]["messages"]
    assert "ignore previous instructions" not in system["content"]
    assert_only_inside_data_block(user["content"], "ignore previous instructions")


def test_a_figure_the_facts_do_not_contain_is_flagged_and_highlighted(team_a, portfolio, fake_llm):
    answer = "## Profile\nx\n\n## Risk analysis\n5,400 at risk, and 98,765 more.\n"
    fake_llm.default = Reply(body=chat_completion(answer + "\n## Recommended actions\n1. Act.\n"))
    report = generate(team_a)
    assert [item["text"] for item in report.unmatched_numbers] == ["98,765"]
    page = report_render_html(report=report)
    assert '<mark class="ungrounded" title="not in the fact sheet">98,765</mark>' in page
    assert page.count("<mark") == 1  # 5,400 is a fact
    assert "Figures not found in the fact sheet: 98,765" in report_as_text(report=report)
