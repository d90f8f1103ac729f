"""Every odd input is a message, never a 500: a fuzz over every page's query parameters, the
forms that start work and the import command, plus the specific cases seen (NUL in ``q``,
``until=9999-12-31``, date formats pandas cannot use, NUL in a file, a year-2200 row)."""

from __future__ import annotations

import itertools

import pytest
from django.core.management import CommandError, call_command

from analytics.core import Params
from analytics.models import AnalysisRun
from analytics.services import analysis_run_start
from customers.ingest.parsing import date_format_problem
from customers.models import Customer, RevenueRecord, UploadStatus
from customers.services import upload_create, upload_import_now
from reports.services import report_request
from tests.analytics.helpers import import_portfolio

pytestmark = pytest.mark.django_db(transaction=True)  # runs and reports queue on commit

HOSTILE = [
    "\x00", "a\x00b", "\x1b[31m", "", " ", "-1", "0", "99999999999999999999999", "1e309",
    "nan", "NaN", "inf", "9999-12-31", "0001-01-01", "0000-00-00", "2024-13-45", "%", "%Q",
    "%-d", "%s", "'; DROP TABLE customers_customer; --", "<script>alert(1)</script>",
    "../../etc/passwd", "\u202egnp.exe", "x" * 5000, "[]", "{}", "true", "none", "me",
]  # fmt: skip
PAGES = {
    "": ["run", "page"],
    "customers/": ["level", "segment", "q", "sort", "page", "owner", "status", "dir"],
    "customers/export.csv": ["level", "segment", "q", "sort"],
    "segments/": ["run", "segment"],
    "runs/": ["page"],
    "uploads/": ["page"],
    "reports/": ["kind", "author", "since", "until", "q", "page"],
    "reports/group/": ["segment", "level"],
    "reports/group/statistics/": ["segment", "level"],
    "reports/panels/customer/": ["customer"],
    "reports/panels/segments/": ["segment"],
    "reports/panels/portfolio/": ["run"],
    "backtests/": ["page"],
}


@pytest.fixture
def analysed(team_a):
    import_portfolio(team_a, customers=30, seed=2)
    run = analysis_run_start(team=team_a, params=Params())
    report_request(team=team_a, kind="portfolio", scope={})
    return run


def body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def test_no_query_parameter_value_gives_a_server_error(client_for, admin_a, team_a, analysed):
    client = client_for(admin_a)
    client.raise_request_exception = False  # a 500 must show as a status, not stop the loop
    failures = []
    for (page, names), value in itertools.product(PAGES.items(), HOSTILE):
        for name in names:
            response = client.get(f"/t/{team_a.slug}/{page}", {name: value})
            body(response)  # a streamed body that breaks half-way is a failure too
            if response.status_code >= 500:
                failures.append((page, name, value[:20], response.status_code))
    assert failures == []


def test_a_nul_in_the_address_is_a_clear_400(client_for, viewer_a, team_a, analysed):
    client = client_for(viewer_a)
    for url in (
        f"/t/{team_a.slug}/customers/?q=%00",
        f"/t/{team_a.slug}/customers/export.csv?q=%00",
        f"/t/{team_a.slug}/reports/panels/customer/?customer=a%00",
        f"/t/{team_a.slug}/customers/C%00-1/",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert b"control character" in response.content


def test_hostile_customer_ids_in_the_path_are_404_not_500(client_for, viewer_a, team_a, analysed):
    client = client_for(viewer_a)
    client.raise_request_exception = False
    for value in HOSTILE[3:]:
        response = client.get(f"/t/{team_a.slug}/customers/{value}/")
        assert response.status_code < 500, value[:20]


def test_a_date_filter_at_the_end_of_time_is_reported_not_a_500(
    client_for, viewer_a, team_a, analysed
):
    response = client_for(viewer_a).get(f"/t/{team_a.slug}/reports/", {"until": "9999-12-31"})
    assert response.status_code == 200
    assert b"Choose a day between" in response.content


@pytest.mark.parametrize("date_format", ["%", "%Q", "%-d", "%s", "%Y-%m-%", "%d/%m", "%Y\x00"])
def test_date_formats_that_cannot_read_dates_are_refused_before_anything_is_queued(
    client_for, admin_a, team_a, date_format, tmp_path
):
    assert date_format_problem(date_format)
    data = b"customer_id,date,amount\nc1,2024-01-05,10\n"
    upload = upload_create(team=team_a, data=data, filename="f.csv")
    client = client_for(admin_a)
    client.raise_request_exception = False
    preview = client.get(
        f"/t/{team_a.slug}/uploads/{upload.pk}/preview/",
        {"customer": "customer_id", "date": "date", "amount": "amount", "date_format": date_format},
    )
    assert preview.status_code in (200, 400)
    response = client.post(
        f"/t/{team_a.slug}/uploads/{upload.pk}/confirm/",
        {"customer": "customer_id", "date": "date", "amount": "amount", "mode": "append",
         "date_format": date_format},
    )  # fmt: skip
    assert response.status_code == 400
    upload.refresh_from_db()
    assert upload.status == UploadStatus.DRAFT  # nothing queued
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    with pytest.raises(CommandError):
        call_command("import_transactions", str(path), "--team", team_a.slug,
                     "--date-format", date_format)  # fmt: skip
    assert not RevenueRecord.objects.exists()


@pytest.mark.parametrize("date_format", ["%d/%m/%Y", "%Y%m%d", "%d %b %Y %H:%M", "%y-%m-%d"])
def test_ordinary_date_formats_pass(date_format):
    assert date_format_problem(date_format) == ""


def test_a_nul_inside_a_customer_id_is_an_invalid_row_not_an_internal_error(team_a):
    rows = "".join(f"c{i},2024-01-05,10\n" for i in range(800))  # past the first 8 KB
    data = f"customer_id,date,amount\n{rows}bad\x00id,2024-02-05,5\n".encode()
    upload = upload_import_now(upload=upload_create(team=team_a, data=data, filename="n.csv"))
    assert upload.status == UploadStatus.FAILED
    assert upload.errors == [{"row": 802, "reason": "customer id contains a control character"}]
    assert not Customer.objects.filter(team=team_a).exists()


def test_a_row_dated_in_the_future_is_invalid_and_cannot_move_the_window(team_a):
    data = b"customer_id,date,amount\nc1,2024-01-05,10\nc2,2200-12-31,99\n"
    upload = upload_import_now(upload=upload_create(team=team_a, data=data, filename="f.csv"))
    assert upload.status == UploadStatus.FAILED
    assert upload.errors == [{"row": 3, "reason": "date '2200-12-31' is in the future"}]
    upload = upload_create(team=team_a, data=data, filename="f.csv", skip_invalid=True)
    upload = upload_import_now(upload=upload)
    assert upload.status == UploadStatus.SUCCEEDED
    assert str(upload.last_month) == "2024-01-01"
    assert not AnalysisRun.objects.exists()


def test_ids_with_slashes_dots_and_percent_round_trip_through_their_links(
    client_for, viewer_a, team_a
):
    from analytics.links import customer_url_builder
    from tests.analytics.helpers import import_csv

    odd = ["../x", "a/b", "50%", "c?d", "..", "=1+2"]
    rows = "".join(
        f'"{cid}",2024-{month:02d}-10,{100 + month}\n' for cid in odd for month in range(1, 13)
    )
    import_csv(team_a, "customer_id,date,amount\n" + rows)
    analysis_run_start(team=team_a, params=Params())
    client = client_for(viewer_a)
    url_for = customer_url_builder(team_slug=team_a.slug)
    for cid in odd:
        response = client.get(url_for(cid))
        assert response.status_code == 200, cid
        assert cid.encode() in response.content or cid == ".."  # ".." lands on the search
    listed = client.get(url_for("..")).content.decode()  # the search finds "../x" too
    assert f'href="{url_for("../x")}"' in listed


@pytest.mark.parametrize(
    "options",
    [
        ["--customer-column", "\x00"],
        ["--customer-column", "nope"],
        ["--date-column", "x" * 5000],
        ["--amount-column", "customer_id"],
        ["--quantity-column", "amount"],
        ["--quantity-column", "amount", "--price-column", "missing"],
        ["--date-format", "%Y-%m-%d\x1b"],
        ["--team", "Not A Slug!"],
        ["--team", "ghost"],
    ],
)
def test_odd_import_options_are_a_message_and_change_nothing(team_a, tmp_path, options):
    path = tmp_path / "t.csv"
    path.write_bytes(b"customer_id,date,amount\nc1,2024-01-05,10\n")
    arguments = ["import_transactions", str(path), "--team", team_a.slug, *options]
    with pytest.raises(CommandError):
        call_command(*arguments)
    assert not RevenueRecord.objects.exists() and not Customer.objects.exists()
