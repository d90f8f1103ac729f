"""The segments page `/t/<team>/segments/`: roles, team scoping, exact figures on hand-made
results, the level mix, links into the risk table, the radar's data and the query count."""

from __future__ import annotations

import json
import re
from datetime import date
from html import unescape
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from analytics.core.segments import FEATURES
from analytics.models import AnalysisRun, CustomerResult, RunStatus, Segment
from analytics.services.segments import AXES
from customers.models import Customer

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"
MINUS = "\u2212"

# Two segments and two customers too short to segment; segment 1 holds the declines.
SEGMENTS = (
    {
        "number": 0,
        "name": "High value · partly declining · steady",
        "features": {
            "revenue_median": 1000.0,
            "revenue_mean": 1200.0,
            "revenue_max": 2000.0,
            "share_declining": 1 / 3,
            "share_sharp": 0.0,
            "portfolio_median": 400.0,
            "portfolio_q75": 900.0,
            "relative_change_12m": 0.12,
            "cv": 0.2,
            "residual_share": 0.05,
            "activity": 0.95,
            "seasonal_strength": 0.3,
        },
        "profile": {
            "log_revenue": 1.0,
            "relative_change_12m": 1.0,
            "cv": -1.0,
            "residual_share": -1.0,
            "activity": 1.0,
            "seasonal_strength": 0.0,
        },
    },
    {
        "number": 1,
        "name": "Low value · declining sharply · volatile",
        "features": {
            "revenue_median": 316.23,
            "revenue_mean": 350.0,
            "revenue_max": 600.0,
            "share_declining": 0.75,
            "share_sharp": 0.5,
            "portfolio_median": 400.0,
            "portfolio_q75": 900.0,
            "relative_change_12m": -0.34,
            "cv": 0.81,
            "residual_share": 0.3,
            "activity": 0.6,
            "seasonal_strength": None,
        },
        "profile": {
            "log_revenue": -1.0,
            "relative_change_12m": -1.0,
            "cv": 1.0,
            "residual_share": 1.0,
            "activity": -1.0,
            "seasonal_strength": None,
        },
    },
)
# (customer id, segment, level)
RESULTS = (
    ("S0-a", 0, 0),
    ("S0-b", 0, 0),
    ("S0-c", 0, 1),
    ("S1-a", 1, 3),
    ("S1-b", 1, 3),
    ("S1-c", 1, 2),
    ("S1-d", 1, 0),
    ("short-1", None, None),
    ("short-2", None, None),
)


def build_run(team, *, segments=SEGMENTS, results=RESULTS, status=RunStatus.SUCCEEDED):
    run = AnalysisRun.objects.create(
        team=team, window_start=date(2023, 1, 1), window_end=date(2025, 6, 1), status="RUNNING"
    )
    for spec in segments:
        size = sum(1 for _, segment, _ in results if segment == spec["number"])
        Segment.objects.create(run=run, size=size, **spec)
    for external_id, segment, level in results:
        customer, _ = Customer.objects.get_or_create(team=team, external_id=external_id)
        CustomerResult.objects.create(
            run=run, customer=customer, segment=segment, decline_level=level, n_months=30
        )
    AnalysisRun.objects.filter(pk=run.pk).update(
        status=status, customers_count=len(results), segments_count=len(segments)
    )
    run.refresh_from_db()
    return run


@pytest.fixture
def run(team_a) -> AnalysisRun:
    return build_run(team_a)


@pytest.fixture
def viewer(client_for, viewer_a):
    return client_for(viewer_a)


def segments_url(team) -> str:
    return reverse("segment_list", args=[team.slug])


def customers_url(team) -> str:
    return reverse("customer_list", args=[team.slug])


class _TableParser(HTMLParser):
    """The text of each cell of ``#segment-table``'s body, and each row's links."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self._in_table = self._in_body = self._in_cell = False
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "segment-table":
            self._in_table = True
        elif self._in_table and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append({"class": attrs.get("class", ""), "cells": [], "links": []})
        elif self._in_body and tag in ("td", "th"):
            self._in_cell = True
            self.rows[-1]["cells"].append("")
        elif self._in_body and tag == "a":
            self.rows[-1]["links"].append(attrs["href"])
        elif self._in_cell and tag == "span" and "hint" in attrs.get("class", ""):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_table = self._in_body = False
        elif tag in ("td", "th"):
            self._in_cell = False
        elif tag == "span" and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if self._in_cell and not self._hidden:
            self.rows[-1]["cells"][-1] += data


def table_rows(response) -> list[dict]:
    assert response.status_code == 200
    parser = _TableParser()
    parser.feed(response.content.decode())
    for row in parser.rows:
        # Collapse layout whitespace but keep the no-break spaces the formatting puts in.
        row["cells"] = [re.sub(r"[ \t\r\n]+", " ", cell).strip() for cell in row["cells"]]
    return parser.rows


def radar_data(response) -> dict:
    match = re.search(
        r'<script id="segments-chart-data" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, "no radar data on the page"
    return json.loads(match[1])


# --- roles, team scoping -------------------------------------------------------------------


@pytest.mark.parametrize("user", ["viewer_a", "analyst_a", "admin_a"])
def test_every_member_sees_the_segments(request, client_for, team_a, run, user):
    response = client_for(request.getfixturevalue(user)).get(segments_url(team_a))
    assert response.status_code == 200
    assert [row["cells"][0] for row in table_rows(response)][:2] == [
        "0 High value · partly declining · steady",
        "1 Low value · declining sharply · volatile",
    ]


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_a_member_of_another_team_gets_404(client_for, admin_b, team_a, run, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    response = client_for(admin_b).get(segments_url(team_a), headers=headers)
    assert response.status_code == 404
    assert b"declining" not in response.content


def test_an_unknown_team_is_404(viewer):
    assert viewer.get(reverse("segment_list", args=["nope"])).status_code == 404


def test_anonymous_is_sent_to_login(client, team_a, run):
    response = client.get(segments_url(team_a))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_only_get_is_allowed(viewer, team_a, run):
    assert viewer.post(segments_url(team_a)).status_code == 405


def test_every_member_sees_the_segments_link_in_the_nav(viewer, team_a, run):
    page = viewer.get(reverse("dashboard", args=[team_a.slug])).content.decode()
    assert f'href="{segments_url(team_a)}"' in page
    own = viewer.get(segments_url(team_a)).content.decode()
    assert f'href="{segments_url(team_a)}" aria-current="page"' in own


# --- empty states, which run -----------------------------------------------------------------


def test_without_a_run_the_page_says_so_and_links_to_the_dashboard(viewer, team_a):
    response = viewer.get(segments_url(team_a))
    assert response.status_code == 200
    page = response.content.decode()
    assert "No analysis results yet" in page
    assert f'href="{reverse("dashboard", args=[team_a.slug])}"' in page
    assert "plotly.min.js" not in page and "segments-chart-data" not in page


def test_a_run_without_segments_says_so(viewer, team_a):
    build_run(team_a, segments=(), results=(("short-1", None, None),))
    page = viewer.get(segments_url(team_a)).content.decode()
    assert "No segments in this analysis" in page
    assert "plotly.min.js" not in page


def test_a_failed_or_running_newer_run_is_not_shown(viewer, team_a, run):
    for status in (RunStatus.FAILED, RunStatus.RUNNING):
        build_run(team_a, segments=SEGMENTS[:1], results=RESULTS[:3], status=status)
    rows = table_rows(viewer.get(segments_url(team_a)))
    assert [row["cells"][1] for row in rows] == ["3", "4", "2"]
    assert f"run #{run.pk}" in viewer.get(segments_url(team_a)).content.decode()


def test_a_newer_succeeded_run_replaces_the_older_one(viewer, team_a, run):
    newer = build_run(team_a, segments=SEGMENTS[:1], results=RESULTS[:3])
    response = viewer.get(segments_url(team_a))
    rows = table_rows(response)
    assert [row["cells"][0] for row in rows] == ["0 High value · partly declining · steady"]
    assert [row["cells"][-6:-1] for row in rows] == [["2", "1", "0", "0", "0"]]
    assert f"run #{newer.pk}" in response.content.decode()


# --- the table ------------------------------------------------------------------------------


def test_the_table_shows_sizes_shares_and_features_in_their_units(viewer, team_a, run):
    rows = table_rows(viewer.get(segments_url(team_a)))
    assert [row["cells"][:9] for row in rows] == [
        [
            "0 High value · partly declining · steady",
            "3",
            f"33.3{NBSP}%",
            "1,000",  # the median customer's revenue_mean
            f"+12{NBSP}%",
            "0.20",
            "0.05",
            f"95{NBSP}%",
            "0.30",
        ],
        [
            "1 Low value · declining sharply · volatile",
            "4",
            f"44.4{NBSP}%",
            "316",
            f"{MINUS}34{NBSP}%",
            "0.81",
            "0.30",
            f"60{NBSP}%",
            "–",
        ],
        ["Not segmented", "2", f"22.2{NBSP}%", "–", "–", "–", "–", "–", "–"],
    ]


def test_the_level_mix_counts_each_segments_customers_by_level(viewer, team_a, run):
    rows = table_rows(viewer.get(segments_url(team_a)))
    # levels 0, 1, 2, 3, insufficient data
    assert [row["cells"][9:14] for row in rows] == [
        ["2", "1", "0", "0", "0"],
        ["1", "0", "1", "2", "0"],
        ["0", "0", "0", "0", "2"],
    ]


def test_the_level_mix_kept_by_the_finished_run_is_what_the_page_shows(viewer, team_a, run):
    # A run keeps its mix when it finishes; the page then shows it without grouping the
    # results (these stored counts deliberately differ from the results to tell them apart).
    mix = {"0": [5, 0, 0, 0, 0], "1": [0, 6, 0, 1, 0], "none": [0, 0, 0, 0, 7]}
    AnalysisRun.objects.filter(pk=run.pk).update(segment_level_mix=mix)
    rows = table_rows(viewer.get(segments_url(team_a)))
    assert [row["cells"][9:14] for row in rows] == [
        ["5", "0", "0", "0", "0"],
        ["0", "6", "0", "1", "0"],
        ["0", "0", "0", "0", "7"],
    ]


def test_the_level_mix_bar_has_a_text_alternative(viewer, team_a, run):
    page = viewer.get(segments_url(team_a)).content.decode()
    assert 'aria-label="Level mix: level 0: 1, level 2: 1, level 3: 2"' in page
    assert 'class="mix-part mix-3" x="50.00%" width="50.00%"' in page  # after 25 + 25


def test_the_level_mix_reads_only_the_current_run(viewer, team_a, run):
    older_results = (("S0-a", 0, 3), ("S0-b", 0, 3), ("S0-c", 0, 3))
    AnalysisRun.objects.filter(pk=run.pk).update(created_at=run.created_at.replace(year=2030))
    build_run(team_a, segments=SEGMENTS[:1], results=older_results)  # older by created_at
    rows = table_rows(viewer.get(segments_url(team_a)))
    assert rows[0]["cells"][9:14] == ["2", "1", "0", "0", "0"]


def test_each_segment_row_links_to_the_risk_table_filtered_to_it(viewer, team_a, run):
    rows = table_rows(viewer.get(segments_url(team_a)))
    base = customers_url(team_a)
    assert rows[0]["links"][0] == f"{base}?segment=0"
    assert rows[1]["links"][0] == f"{base}?segment=1"
    # Level counts link to the segment and level; zero counts link nowhere.
    assert rows[1]["links"][1:] == [
        f"{base}?segment=1&level=0",
        f"{base}?segment=1&level=2",
        f"{base}?segment=1&level=3",
    ]
    assert rows[2]["links"] == [f"{base}?level=none"]


def test_the_segment_link_opens_the_risk_table_showing_only_its_customers(viewer, team_a, run):
    link = table_rows(viewer.get(segments_url(team_a)))[1]["links"][0]
    page = viewer.get(link).content.decode()
    row_ids = re.findall(r'<th scope="row" class="customer"><a [^>]*>([^<]*)<', page)
    shown = {unescape(external_id) for external_id in row_ids}
    assert shown == {"S1-a", "S1-b", "S1-c", "S1-d"}


def test_names_are_escaped(viewer, team_a):
    hostile = {**SEGMENTS[0], "name": "<script>alert(1)</script>"}
    build_run(team_a, segments=(hostile,), results=RESULTS[:3])
    response = viewer.get(segments_url(team_a))
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page
    assert radar_data(response)["segments"][0]["name"] == "<script>alert(1)</script>"


# --- the radar ------------------------------------------------------------------------------


def test_the_radar_data_has_one_trace_per_segment_with_its_profile(viewer, team_a, run):
    response = viewer.get(segments_url(team_a))
    data = radar_data(response)
    assert data["keys"] == list(AXES)
    assert data["axes"] == list(AXES.values())
    assert data["segments"] == [
        {
            "number": 0,
            "name": "High value · partly declining · steady",
            "size": 3,
            "values": [1.0, 1.0, -1.0, -1.0, 1.0, 0.0],
        },
        {
            "number": 1,
            "name": "Low value · declining sharply · volatile",
            "size": 4,
            "values": [-1.0, -1.0, 1.0, 1.0, -1.0, None],
        },
    ]
    page = response.content.decode()
    assert re.search(r'src="/static/plotly/plotly\.min(\.[0-9a-f]{12})?\.js"', page)
    assert re.search(r'src="/static/js/segments_chart(\.[0-9a-f]{12})?\.js"', page)


def test_the_radar_has_an_axis_for_every_feature_the_core_segments_on():
    assert set(AXES) == set(FEATURES)


# --- speed ----------------------------------------------------------------------------------


def test_query_count_is_bounded_and_does_not_grow_with_the_segments(
    viewer, team_a, django_assert_max_num_queries
):
    viewer.get(segments_url(team_a))  # warm the session
    counts = []
    for k in (1, 2):
        build_run(team_a, segments=SEGMENTS[:k], results=RESULTS)
        with django_assert_max_num_queries(10) as captured:
            response = viewer.get(segments_url(team_a))
        assert response.status_code == 200
        results_queries = [
            q["sql"] for q in captured.captured_queries if "analytics_customerresult" in q["sql"]
        ]
        assert len(results_queries) == 1 and "GROUP BY" in results_queries[0]
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


# --- why each segment has its name ------------------------------------------------------------


def test_each_name_is_explained_by_the_figures_that_earned_its_words(viewer, team_a, run):
    team_a.currency = "EUR"
    team_a.save(update_fields=["currency"])
    page = unescape(viewer.get(segments_url(team_a)).content.decode())
    section = page[page.index('id="segment-names"') :]
    section = re.sub(r"<[^>]+>", " ", section[: section.index("</section>")])
    section = re.sub(r"[ \t\n]+", " ", section)
    # Segment 0: its median customer (1,000) is above the portfolio's top-quarter start (900).
    assert (
        f"High value : its median customer's revenue, EUR{NBSP}1,000 a month, is in the "
        f"portfolio's top quarter (from EUR{NBSP}900)" in section
    )
    assert "Partly declining : 33 % of its customers are at level 1 or worse" in section
    assert "Steady : the median CV is 0.20 (0.3 or less)" in section
    # Segment 1: below the median and nobody above min(900, 3 × 400).
    assert f"none of its customers has more than EUR{NBSP}900" in section
    assert "Declining sharply : 50 % of its customers are at level 3" in section
    assert "Volatile : the median CV is 0.81 (0.8 or more)" in section


def test_a_run_from_before_explained_names_says_to_run_again(viewer, team_a):
    old = [{**spec, "features": {"log_revenue": 3.0, "cv": 0.2}} for spec in SEGMENTS]
    build_run(team_a, segments=old)
    page = viewer.get(segments_url(team_a)).content.decode()
    assert page.count("older than the explained names") == 2
