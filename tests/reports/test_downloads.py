"""download.md / download.txt: title, model and body sanitised alike; images dropped, code kept."""

from __future__ import annotations

import re

import pytest

from reports.services import report_as_markdown, report_as_text

from .test_pages import make_report

pytestmark = pytest.mark.django_db

HOSTILE_TITLE = "Customer <img src=x onerror=alert(1)>\n# [x](javascript:alert(2))"
HOSTILE_MODEL = "fake<script>alert(3)</script>"
CONTENT = (
    "## Profile\nCustomer `<C-7>` and `=1+2` are ids; <b>bold</b> stays text.\n\n"
    "![pixel](https://tracker.example/p.png) ![inline](data:image/png;base64,AAAA)\n\n"
    "```\n<kept in a block>\n```\n\n[site](https://example.com) [bad](javascript:alert(4))\n"
)


@pytest.fixture
def hostile(team_a, portfolio):
    return make_report(
        team_a, portfolio[0], title=HOSTILE_TITLE, model=HOSTILE_MODEL, content=CONTENT
    )


def test_markdown_download_makes_title_and_model_literal_text(hostile):
    text = report_as_markdown(report=hostile)
    heading = text.split("\n")[0]
    assert heading.startswith("# Customer &lt;img")  # shown as written, never a tag
    assert "<img" not in text and "<script" not in text
    assert "](javascript:" not in text
    assert "\n# [x]" not in text  # the title's line break cannot start a heading or a link
    assert "fake&lt;script" in text


def test_markdown_download_drops_images_and_keeps_code(hostile):
    text = report_as_markdown(report=hostile).split("\n\n", 2)[2]  # the body
    assert "tracker.example" not in text and "data:image" not in text
    assert "pixel" in text and "inline" in text  # the alt text stays
    assert "`<C-7>`" in text and "`=1+2`" in text  # ids inside backticks kept as written
    assert "<kept in a block>" in text
    assert "[site](https://example.com)" in text and "javascript:" not in text
    assert "<b>" not in text and "bold stays text" in text


def test_text_download_sanitises_the_same_and_keeps_code(hostile):
    text = report_as_text(report=hostile)
    assert "<script" not in text.split("\n\n", 2)[2]  # the body
    assert "<C-7>" in text and "=1+2" in text
    assert "<b>" not in text
    assert "\n" not in text.split("\n")[0]  # the title is one line
    assert text.split("\n")[0] == HOSTILE_TITLE.replace("\n", " ")


@pytest.mark.django_db
def test_a_download_name_keeps_only_safe_characters(team_a):
    from reports.models import Report, ReportKind
    from reports.services import download_name

    report = Report.objects.create(
        team=team_a, kind=ReportKind.CUSTOMER, scope={"customer": '../évil "id"\r\n; x'}
    )
    name = download_name(report)
    assert name.startswith("revtrend-acme-customer-") and name.endswith(f"-report-{report.pk}")
    assert re.fullmatch(r"[A-Za-z0-9.-]+", name)
