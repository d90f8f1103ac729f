"""The risk table `/t/<team>/customers/`: filters, sorts, pages, HTMX fragments, roles, export."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import unescape
from urllib.parse import unquote

import pytest
from django.urls import reverse

from analytics.core import Params
from analytics.models import RISK_SORTS, AnalysisRun, CustomerResult, RunStatus, Segment
from analytics.pages import risk as risk_page_module
from analytics.selectors import risk
from analytics.services import RESULT_COLUMNS, analysis_run_start
from analytics.templatetags.revtrend_format import level_badge, money, percent, pvalue, signed
from customers.models import Customer

from .helpers import import_portfolio

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://evil.example","click")'


@dataclass(frozen=True)
class Spec:
    external_id: str
    decline_level: int | None
    segment: int | None
    revenue_at_risk: str
    relative_change_12m: float | None
    p_value: float | None
    slope: float | None
    revenue_mean: str | None
    cv: float | None
    active_months: int
    onset_month: date | None
    anomaly_count: int
    explanation: str = ""
    p_active: float | None = None
    expected_revenue_12m: str | None = None


# Ties (revenue at risk 0, level 3, segment 1, 30 active months) exercise the pk tiebreak.
SPECS = (
    Spec(
        "A-100",
        3,
        1,
        "5000.00",
        -0.5,
        0.0001,
        -200.0,
        "2000.00",
        0.3,
        30,
        date(2025, 1, 1),
        2,
        "",
        0.42,
        "19000.00",
    ),
    Spec(
        "A-200",
        2,
        1,
        "1200.50",
        -0.25,
        0.01,
        -50.0,
        "800.00",
        0.5,
        24,
        date(2024, 10, 1),
        0,
        "",
        0.9,
        "7200.00",
    ),
    Spec(
        "B-300",
        1,
        0,
        "300.00",
        -0.1,
        0.04,
        -10.0,
        "3000.00",
        0.2,
        30,
        date(2024, 6, 1),
        1,
        "",
        0.97,
        "33000.00",
    ),
    Spec(
        "b-400",
        0,
        0,
        "0.00",
        0.12,
        0.3,
        15.0,
        "5000.00",
        0.1,
        30,
        None,
        0,
        "+12 % growth",
        0.99,
        "61000.00",
    ),
    Spec("C-500", None, None, "0.00", None, None, None, "100.00", None, 2, None, 0),
    Spec(
        HYPERLINK,
        3,
        1,
        "4000.00",
        -0.34,
        0.002,
        -120.0,
        "1500.00",
        0.4,
        28,
        date(2025, 3, 1),
        3,
        "-34 % over 12 months, p = 0.002",
    ),
    Spec(
        "@SUM(1)",
        0,
        0,
        "0.00",
        0.05,
        0.5,
        2.0,
        "900.00",
        0.25,
        27,
        None,
        0,
        "=1+1",
        0.9,
        "10500.00",
    ),
    Spec("a b/c", 2, 0, "800.00", -0.2, 0.03, -30.0, "1000.00", None, 20, date(2024, 12, 1), 1),
)
SEGMENTS = {0: "Large steady", 1: "Small declining"}


def build_run(team, specs=SPECS) -> AnalysisRun:
    """A succeeded run with exactly these results (written while running, then finished)."""
    run = AnalysisRun.objects.create(
        team=team,
        window_start=date(2023, 1, 1),
        window_end=date(2025, 6, 1),
        status=RunStatus.RUNNING,
    )
    for number, name in SEGMENTS.items():
        size = sum(1 for spec in specs if spec.segment == number)
        Segment.objects.create(run=run, number=number, name=name, size=size)
    for spec in specs:
        customer = Customer.objects.create(team=team, external_id=spec.external_id)
        values = {k: v for k, v in spec.__dict__.items() if k != "external_id"}
        CustomerResult.objects.create(run=run, customer=customer, n_months=30, **values)
    levels = [spec.decline_level for spec in specs]
    AnalysisRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED,
        customers_count=len(specs),
        **{f"level_{level}_count": levels.count(level) for level in range(4)},
        insufficient_count=levels.count(None),
        segments_count=len(SEGMENTS),
    )
    run.refresh_from_db()
    return run


@pytest.fixture
def run(team_a) -> AnalysisRun:
    return build_run(team_a)


def list_url(team, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    url = reverse("customer_list", args=[team.slug])
    return f"{url}?{query}" if query else url


def export_url(team, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("customer_export", args=[team.slug]) + (f"?{query}" if query else "")


ROW_ID = re.compile(r'<th scope="row" class="customer"><a href="([^"]*)">([^<]*)</a>')


def row_ids(response) -> list[str]:
    assert response.status_code == 200
    return [unescape(match[1]) for match in ROW_ID.findall(response.content.decode())]


def row_links(response) -> dict[str, str]:
    return {unescape(i): unescape(h) for h, i in ROW_ID.findall(response.content.decode())}


def expected_order(column: str, descending: bool, specs=SPECS) -> list[str]:
    """Nulls last in both directions; ties by creation order (the pk) in the sort's
    direction, so that one index per column serves both directions."""

    def key(indexed):
        index, spec = indexed
        tie = -index if descending else index
        value = getattr(spec, column)
        if value is None:
            return (1, 0, tie)
        if isinstance(value, date):
            value = value.toordinal()
        value = float(value)
        return (0, -value if descending else value, tie)

    return [spec.external_id for _, spec in sorted(enumerate(specs), key=key)]


@pytest.fixture
def viewer(client_for, viewer_a):
    return client_for(viewer_a)


# --- the page, roles, team scoping ---------------------------------------------------------


@pytest.mark.parametrize("user", ["viewer_a", "analyst_a", "admin_a"])
def test_every_member_reads_the_table(request, client_for, team_a, run, user):
    response = client_for(request.getfixturevalue(user)).get(list_url(team_a))
    assert response.status_code == 200
    assert b"<html" in response.content and b'id="risk-filters"' in response.content
    assert len(row_ids(response)) == len(SPECS)


@pytest.mark.parametrize(
    "url",
    [
        lambda team: list_url(team),
        lambda team: list_url(team, level=3),
        lambda team: export_url(team),
    ],
    ids=["page", "filtered", "export"],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_a_member_of_another_team_gets_404(client_for, admin_b, team_a, run, url, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    response = client_for(admin_b).get(url(team_a), headers=headers)
    assert response.status_code == 404
    assert b"A-100" not in b"".join(getattr(response, "streaming_content", [response.content]))


def test_anonymous_is_sent_to_login(client, team_a, run):
    for url in (list_url(team_a), export_url(team_a)):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_every_member_sees_the_customers_link_in_the_nav(viewer, team_a, run):
    page = viewer.get(reverse("dashboard", args=[team_a.slug])).content.decode()
    assert f'href="{list_url(team_a)}"' in page


def test_without_a_run_the_page_says_so_and_links_to_the_dashboard(viewer, team_a):
    for headers in ({}, {"HX-Request": "true"}):
        response = viewer.get(list_url(team_a), headers=headers)
        assert response.status_code == 200
        page = response.content.decode()
        assert "No analysis results yet" in page
        assert f'href="{reverse("dashboard", args=[team_a.slug])}"' in page


def test_a_failed_or_running_run_is_not_shown(viewer, team_a, run):
    AnalysisRun.objects.create(
        team=team_a,
        window_start=date(2024, 1, 1),
        window_end=date(2025, 6, 1),
        status=RunStatus.FAILED,
    )
    response = viewer.get(list_url(team_a))
    assert f"run #{run.pk}" in response.content.decode()
    assert len(row_ids(response)) == len(SPECS)


def test_the_default_order_is_revenue_at_risk_descending(viewer, team_a, run):
    response = viewer.get(list_url(team_a))
    assert row_ids(response) == expected_order("revenue_at_risk", descending=True)
    assert 'data-sort="-revenue_at_risk"' in response.content.decode()


def test_rows_show_badge_segment_and_formatted_figures(viewer, team_a, run):
    page = viewer.get(list_url(team_a, q="A-100")).content.decode()
    row = page[page.index("A-100</a>") :].split("</tr>")[0]
    cells = [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in row.split("<td")[1:]]
    cells = [c.split(">", 1)[1].strip() if ">" in c else c for c in cells]
    assert cells == [
        "3 · Sharp decline",
        "5,000",
        "New",  # the follow-up every customer starts with
        "–",  # no owner
        "1 Small declining",
        "42\u00a0%",
        "19,000",
        "−50\u00a0%",
        "<\u00a00.001",
        "−200.0",
        "2,000",
        "0.30",
        "30",
        "2025-01",
        "2",
    ]
    assert 'class="level level-3"' in row


def test_insufficient_data_is_a_grey_badge_with_text(viewer, team_a, run):
    page = viewer.get(list_url(team_a, level="none")).content.decode()
    assert 'class="level level-none"' in page and "Insufficient data" in page


def test_customer_links_carry_the_url_encoded_id(viewer, team_a, run):
    links = row_links(viewer.get(list_url(team_a)))
    base = list_url(team_a)
    assert set(links) == {spec.external_id for spec in SPECS}
    for external_id, href in links.items():
        assert href.startswith(base) and href.endswith("/")
        assert unquote(href[len(base) : -1]) == external_id
    assert " " not in links["a b/c"] and '"' not in links[HYPERLINK]


# --- filters --------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["0", "1", "2", "3", "none"])
def test_filter_by_level(viewer, team_a, run, level):
    wanted = None if level == "none" else int(level)
    expected = [s.external_id for s in SPECS if s.decline_level == wanted]
    ids = row_ids(viewer.get(list_url(team_a, level=level)))
    assert sorted(ids) == sorted(expected) and ids


@pytest.mark.parametrize("segment", [0, 1])
def test_filter_by_segment(viewer, team_a, run, segment):
    expected = [s.external_id for s in SPECS if s.segment == segment]
    assert sorted(row_ids(viewer.get(list_url(team_a, segment=segment)))) == sorted(expected)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("a-", {"A-100", "A-200"}),  # prefix, case-insensitive
        ("B-", {"B-300", "b-400"}),
        ("00", {"A-100", "A-200", "B-300", "b-400", "C-500"}),  # contains
        ("%", set()),  # a LIKE wildcard is a literal character
        ("sum(", {"@SUM(1)"}),
    ],
)
def test_search_on_the_customer_id(viewer, team_a, run, q, expected):
    from urllib.parse import quote

    assert set(row_ids(viewer.get(list_url(team_a, q=quote(q))))) == expected


def test_filters_combine(viewer, team_a, run):
    ids = row_ids(viewer.get(list_url(team_a, level=3, segment=1, q="a-")))
    assert ids == ["A-100"]


def test_segment_filter_lists_the_runs_segment_names(viewer, team_a, run):
    page = viewer.get(list_url(team_a, segment=1)).content.decode()
    assert '<option value="1" selected>1 · Small declining</option>' in page
    assert '<option value="0">0 · Large steady</option>' in page


MALFORMED = [{"level": "7"}, {"level": "x"}, {"segment": "-1"}, {"segment": "abc"},
             {"page": "abc"}, {"page": "0"}]  # fmt: skip


@pytest.mark.parametrize("params", MALFORMED)
def test_malformed_filters_are_ignored(viewer, team_a, run, params):
    ids = row_ids(viewer.get(list_url(team_a, **params)))
    assert ids == expected_order("revenue_at_risk", descending=True)


def test_a_filter_that_matches_nothing_says_so(viewer, team_a, run):
    response = viewer.get(list_url(team_a, q="nobody"))
    assert row_ids(response) == []
    assert "No customers match these filters" in response.content.decode()


# --- sorting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column",
    sorted(c for c, path in risk.SORT_PATHS.items() if c == path),  # the run's figures
)
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_sort_on_every_whitelisted_column(viewer, team_a, run, column, descending):
    sort = f"-{column}" if descending else column
    response = viewer.get(list_url(team_a, sort=sort))
    assert row_ids(response) == expected_order(column, descending)
    sorted_header = re.search(r'aria-sort="(\w+)"[^>]*>\s*<a class="sort" href="[^"]*"[^>]*'
                              r'data-sort-key="(\w+)"', response.content.decode())  # fmt: skip
    assert sorted_header.groups() == ("descending" if descending else "ascending", column)


@pytest.mark.parametrize("sort", RISK_SORTS, ids=[sort.column for sort in RISK_SORTS])
def test_each_sortable_column_is_declared_once_with_its_index(sort):
    """The selector, the indexes and the headings all come from RISK_SORTS: a column that
    can be empty must say so (its index would otherwise hold no empties, and its pages would
    leave them out), and each declared index exists."""
    model, *path = [CustomerResult, *sort.path.split("__")]
    for name in path[:-1]:
        model = model._meta.get_field(name).related_model
    field = model._meta.get_field(path[-1])
    assert sort.nullable == field.null
    indexes = {index.name: index for index in CustomerResult._meta.indexes}
    if sort.index:
        index = indexes[f"result_sort_{sort.index}"]
        assert index.fields == ["run", sort.column, "id"]
        assert (index.condition is not None) == sort.nullable
    sortable_headings = {key for key, _, _ in risk_page_module.COLUMNS if key}
    assert sort.column in sortable_headings


@pytest.mark.parametrize("sort", ["customer__team__name", "-explanation", "components", "1;--"])
def test_an_unknown_sort_is_ignored(viewer, team_a, run, sort):
    response = viewer.get(list_url(team_a, sort=sort))
    assert row_ids(response) == expected_order("revenue_at_risk", descending=True)


def test_header_links_toggle_the_direction_and_keep_the_filters(team_a):
    query = risk.RiskQuery.from_params({"level": "3", "q": "a", "page": "2"})
    assert query.sort_toggled("revenue_at_risk") == "revenue_at_risk"  # current → ascending
    assert query.sort_toggled("p_value") == "p_value"  # smallest p first
    assert query.sort_toggled("anomaly_count") == "-anomaly_count"  # most anomalies first
    ascending = risk.RiskQuery.from_params({"sort": "revenue_at_risk"})
    assert ascending.sort_toggled("revenue_at_risk") == "-revenue_at_risk"
    url = query.url("/t/acme/customers/", sort="p_value", page=1)
    assert url == "/t/acme/customers/?level=3&q=a&sort=p_value"


# --- pagination -----------------------------------------------------------------------------


@pytest.fixture
def page_of_3(monkeypatch):
    monkeypatch.setattr(risk, "PAGE_SIZE", 3)


def test_pages_split_the_sorted_table(viewer, team_a, run, page_of_3):
    order = expected_order("revenue_at_risk", descending=True)
    pages = [row_ids(viewer.get(list_url(team_a, page=n))) for n in (1, 2, 3)]
    assert pages == [order[:3], order[3:6], order[6:]]
    first = viewer.get(list_url(team_a)).content.decode()
    assert "Page 1 of 3" in first and "of 8" in first
    assert 'rel="next" href="/t/acme/customers/?page=2"' in first
    last = viewer.get(list_url(team_a, page=3)).content.decode()
    assert 'rel="prev" href="/t/acme/customers/?page=2"' in last
    assert 'rel="next"' not in last


def test_a_page_past_the_end_shows_the_last_page_when_the_total_is_known(
    viewer, team_a, run, page_of_3
):
    order = expected_order("revenue_at_risk", descending=True)
    assert row_ids(viewer.get(list_url(team_a, page=99))) == order[6:]


def test_pages_of_a_search_need_no_total(viewer, team_a, run, page_of_3):
    first = viewer.get(list_url(team_a, q="0", sort="p_value"))
    matching = [i for i in expected_order("p_value", False) if "0" in i.lower()]
    assert row_ids(first) == matching[:3]
    page = first.content.decode()
    assert "Page 1<" in page and 'href="/t/acme/customers/?q=0&amp;sort=p_value&amp;page=2"' in page
    second = viewer.get(list_url(team_a, q="0", sort="p_value", page=2))
    assert row_ids(second) == matching[3:6]
    assert row_ids(viewer.get(list_url(team_a, q="0", page=50))) == []


def test_page_links_keep_filters_and_sort(viewer, team_a, run, page_of_3):
    page = viewer.get(list_url(team_a, segment=0, sort="cv")).content.decode()
    assert "of 4" in page
    assert 'rel="next" href="/t/acme/customers/?segment=0&amp;sort=cv&amp;page=2"' in page


def count_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize(
    "params", [{}, {"level": "3"}, {"segment": "0"}, {"q": "a", "sort": "cv"}, {"page": "2"}]
)
def test_query_count_does_not_grow_with_the_page_size_and_nothing_is_counted(
    viewer, team_a, run, monkeypatch, django_assert_max_num_queries, params
):
    viewer.get(list_url(team_a))  # warm the session
    counts = []
    for page_size in (2, 50):
        monkeypatch.setattr(risk, "PAGE_SIZE", page_size)
        # 12: with the follow-up, the page also reads the team's hidden customers and its
        # members (the owner filter and the bulk assignment).
        with django_assert_max_num_queries(12) as captured:
            response = viewer.get(list_url(team_a, **params))
        assert response.status_code == 200
        queries = count_queries(captured)
        assert not [q for q in queries if "COUNT(" in q.upper()], queries
        counts.append(len(queries))
    # A sort on a column with empty values reads them in a second query when the page
    # reaches them (a larger page does): one query more, never one per row.
    assert counts[0] <= counts[1] <= counts[0] + 1


@pytest.mark.parametrize("sort", ["p_value", "-relative_change_12m", "slope"])
def test_insufficient_data_sorted_by_a_figure_it_lacks_lists_the_empties_without_a_search(
    viewer, team_a, run, django_assert_max_num_queries, sort
):
    insufficient = [spec for spec in SPECS if spec.decline_level is None]
    assert insufficient and all(getattr(spec, sort.lstrip("-")) is None for spec in insufficient)
    expected = expected_order(sort.lstrip("-"), sort.startswith("-"), specs=insufficient)
    viewer.get(list_url(team_a))  # warm the session
    with django_assert_max_num_queries(12) as captured:
        response = viewer.get(list_url(team_a, level="none", sort=sort))
    assert row_ids(response) == expected
    column = sort.lstrip("-")
    assert not [q for q in count_queries(captured) if f'"{column}" IS NOT NULL' in q]


def test_pages_of_a_nullable_sort_run_on_into_the_empty_values(viewer, team_a, run, monkeypatch):
    monkeypatch.setattr(risk, "PAGE_SIZE", 2)
    order = expected_order("onset_month", True)
    pages = []
    for number in range(1, -(-len(order) // 2) + 1):
        pages += row_ids(viewer.get(list_url(team_a, sort="-onset_month", page=number)))
    assert pages == order


def test_the_page_query_leaves_out_the_chart_data(
    viewer, team_a, run, django_assert_max_num_queries
):
    # 13 on a first visit: the session is saved once (last team), the page's ids come in
    # their own query so the sorted query needs no join, and the team's hidden customers
    # and members in one query each.
    with django_assert_max_num_queries(13) as captured:
        viewer.get(list_url(team_a))
    rows_query = next(q for q in count_queries(captured) if "analytics_customerresult" in q)
    # The chart's series stay out; the why-sentence is shown under each customer.
    assert '"components"' not in rows_query and '"explanation"' in rows_query


# --- HTMX -----------------------------------------------------------------------------------


def test_an_htmx_request_gets_only_the_table_fragment(viewer, team_a, run):
    response = viewer.get(list_url(team_a, level=3), headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page and 'id="risk-filters"' not in page
    assert page.lstrip().startswith('<section id="risk-table"')
    assert sorted(row_ids(response)) == sorted([HYPERLINK, "A-100"])
    # The filter form's sort field follows the table (out-of-band swap).
    assert 'id="id_sort" hx-swap-oob="true"' in page
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page_from_the_query_string(viewer, team_a, run):
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    response = viewer.get(list_url(team_a, level=2, sort="slope"), headers=headers)
    page = response.content.decode()
    assert "<html" in page and 'id="risk-filters"' in page
    assert '<option value="2" selected>' in page
    assert 'name="sort" id="id_sort" value="slope"' in page
    assert "hx-swap-oob" not in page
    assert row_ids(response) == [
        i for i in expected_order("slope", False) if i in {"A-200", "a b/c"}
    ]


def test_the_page_drives_the_table_through_htmx_with_plain_fallbacks(viewer, team_a, run):
    page = viewer.get(list_url(team_a, q="A")).content.decode()
    form = page[page.index('<form id="risk-filters"') :].split(">", 1)[0]
    assert 'method="get" action="/t/acme/customers/"' in form
    assert 'hx-get="/t/acme/customers/"' in form and 'hx-push-url="true"' in form
    assert 'hx-target="#risk-table"' in form
    header = re.search(r'<a class="sort" href="([^"]*)" hx-get="([^"]*)"', page)
    assert header[1] == header[2] and "q=A" in header[1]
    assert 'value="A"' in page  # the search box shows the query from the URL


# --- CSV export -----------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("user", ["viewer_a", "analyst_a", "admin_a"])
def test_every_member_exports_the_table_as_an_attachment(request, client_for, team_a, run, user):
    response = client_for(request.getfixturevalue(user)).get(export_url(team_a))
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment; filename=")
    rows = read_csv(response)
    assert tuple(rows[0]) == (*RESULT_COLUMNS, "owner", "status")
    assert len(rows) == 1 + len(SPECS)


def test_export_columns_follow_export_results(viewer, team_a, run):
    rows = read_csv(viewer.get(export_url(team_a, q="A-100")))
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record == {
        "customer_id": "A-100",
        "decline_level": "3",
        "segment": "1",
        "slope": "-200.0",
        "slope_low": "",
        "slope_high": "",
        "relative_change_12m": "-0.5",
        "p_value": "0.0001",
        "revenue_mean": "2000.00",
        "revenue_std": "",
        "cv": "0.3",
        "resid_std": "",
        "seasonal_strength": "",
        "active_months": "30",
        "n_months": "30",
        "churned": "false",
        "onset_month": "2025-01",
        "revenue_at_risk": "5000.00",
        "anomaly_count": "2",
        "explanation": "",
        "p_active": "0.42",
        "expected_revenue_12m": "19000.00",
        "owner": "",
        "status": "new",
    }


def test_export_respects_filters_and_sort_across_all_pages(viewer, team_a, run, page_of_3):
    rows = read_csv(viewer.get(export_url(team_a, segment=0, sort="p_value", page=2)))
    segment_0 = {"B-300", "b-400", "@SUM(1)", "a b/c"}
    expected = [i for i in expected_order("p_value", False) if i in segment_0]
    assert [row[0].lstrip("'") for row in rows[1:]] == expected
    level = read_csv(viewer.get(export_url(team_a, level="none")))
    assert [row[0] for row in level[1:]] == ["C-500"] and level[1][1] == ""


def test_export_neutralises_formulas_but_keeps_numbers_numeric(viewer, team_a, run):
    rows = read_csv(viewer.get(export_url(team_a)))
    by_id = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    evil = by_id[f"'{HYPERLINK}"]
    assert evil["relative_change_12m"] == "-0.34" and evil["slope"] == "-120.0"
    assert evil["explanation"] == "'-34 % over 12 months, p = 0.002"
    at_sum = by_id["'@SUM(1)"]
    assert at_sum["explanation"] == "'=1+1"
    assert by_id["b-400"]["explanation"] == "'+12 % growth"
    assert by_id["A-100"]["slope"] == "-200.0"
    assert HYPERLINK not in by_id and "@SUM(1)" not in by_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-0.34", "-0.34"),
        ("+5", "+5"),
        ("-1e-05", "-1e-05"),
        ("-120.0", "-120.0"),
        ("-inf", "-inf"),
        ("=1+2", "'=1+2"),
        ("-2+3", "'-2+3"),
        ("+cmd", "'+cmd"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("A-1", "A-1"),
        (3, 3),
        ("", ""),
    ],
)
def test_neutralise(value, expected):
    assert risk.neutralise(value) == expected


def test_export_without_a_run_is_just_the_header(viewer, team_a):
    assert read_csv(viewer.get(export_url(team_a))) == [[*RESULT_COLUMNS, "owner", "status"]]


def test_the_export_link_carries_the_filters_but_not_the_page(viewer, team_a, run, page_of_3):
    page = viewer.get(list_url(team_a, level=3, sort="cv", page=2)).content.decode()
    assert 'href="/t/acme/customers/export.csv?level=3&amp;sort=cv"' in page


# --- formatting -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12345.678"), "12,346"),
        (Decimal("1000.00"), "1,000"),
        (Decimal("845.2"), "845"),  # whole units whatever the size: one rule
        (Decimal("0"), "0"),
        (Decimal("0.4"), "0"),
        (Decimal("-0.4"), "0"),
        (-1500, "−1,500"),
        (None, "–"),
    ],
)
def test_money(value, expected):
    assert money(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-0.34, "−34\u00a0%"),
        (0.12, "+12\u00a0%"),
        (-0.034, "−3.4\u00a0%"),
        (0.0, "0\u00a0%"),
        (-0.00001, "0\u00a0%"),
        (None, "–"),
        (float("nan"), "–"),
    ],
)
def test_percent(value, expected):
    assert percent(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0004, "<\u00a00.001"), (0.001, "0.001"), (0.0123, "0.012"), (1.0, "1.000"), (None, "–")],
)
def test_pvalue(value, expected):
    assert pvalue(value) == expected


def test_signed_uses_a_real_minus():
    assert signed(-1234.56) == "−1,234.6" and signed(0.456, 2) == "0.46"


def test_level_badge_is_text_and_colour():
    assert str(level_badge(3)) == '<span class="level level-3">3 · Sharp decline</span>'
    assert str(level_badge(0)) == '<span class="level level-0">0 · Stable or growing</span>'
    none = str(level_badge(None))
    assert 'class="level level-none"' in none and "Insufficient data" in none


# --- a real analysis ------------------------------------------------------------------------


def test_the_table_of_a_real_run_agrees_with_the_runs_counts(
    viewer, team_a, django_capture_on_commit_callbacks
):
    import_portfolio(team_a, customers=40, seed=11)
    with django_capture_on_commit_callbacks(execute=True):
        run = analysis_run_start(team=team_a, params=Params())
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    page = viewer.get(list_url(team_a)).content.decode()
    assert f"of {run.customers_count}" in page
    for level, count in enumerate([run.level_0_count, run.level_1_count,
                                   run.level_2_count, run.level_3_count]):  # fmt: skip
        assert len(row_ids(viewer.get(list_url(team_a, level=level)))) == count
    insufficient = row_ids(viewer.get(list_url(team_a, level="none")))
    assert len(insufficient) == run.insufficient_count
    for segment in Segment.objects.filter(run=run):
        shown = row_ids(viewer.get(list_url(team_a, segment=segment.number)))
        assert len(shown) == segment.size
    exported = read_csv(viewer.get(export_url(team_a)))
    assert len(exported) == 1 + run.customers_count


def test_the_table_explains_itself(viewer, team_a, run):
    html = viewer.get(list_url(team_a)).content.decode()
    legend = html[html.index('id="level-legend"') :].split("</details>")[0]
    # The thresholds the run used, in words.
    assert "10 %" in legend and "25 %" in legend and "50 %" in legend and "0.05" in legend
    assert "churned" in legend and "Insufficient data" in legend
    # Every figure's heading says what it means, to the eye (title) and to a screen reader.
    for label in ("Revenue at risk", "p\u2011value", "CV", "Still buying"):
        heading = re.search(rf'<th [^>]*title="([^"]+)"[^>]*>(?:(?!</th>).)*{label}', html, re.S)
        assert heading, label
        described = re.search(
            rf'aria-describedby="(col-help-\d+)"[^>]*>(?:(?!</th>).)*{label}', html, re.S
        )
        assert described and f'id="{described.group(1)}"' in html
    # The why-sentence under each customer that has one.
    row = html[html.index(">@SUM(1)</a>") :].split("</th>")[0]
    assert 'class="why-line"' in row


def test_every_amount_carries_the_teams_currency(viewer, team_a, run):
    team_a.currency = "EUR"
    team_a.save()
    html = viewer.get(list_url(team_a)).content.decode()
    risks = re.findall(r'<td class="num risk-cell"[^>]*>([^<]*)</td>', html)
    assert risks and all(cell.startswith("EUR\u00a0") for cell in risks), risks
    dashboard = viewer.get(reverse("dashboard", args=[team_a.slug])).content.decode()
    kpi = re.search(r'id="kpi-revenue-at-risk">([^<]*)<', dashboard).group(1)
    assert kpi.startswith("EUR\u00a0")
