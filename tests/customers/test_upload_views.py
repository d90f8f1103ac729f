from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Customer, RevenueRecord, Upload, UploadStatus

pytestmark = pytest.mark.django_db

CSV = (
    b"Client Ref,Order Day,Qty,Each,Note\n"
    b"007,2024-01-03,2,10.50,a\n"
    b"007,2024-02-03,1,99.99,b\n"
    b"42,2024-02-09,3,1.10,c\n"
)


MAPPING = {
    "customer": "Client Ref",
    "date": "Order Day",
    "amount": "",
    "quantity": "Qty",
    "price": "Each",
    "date_format": "",
    "mode": "append",
}


@pytest.fixture
def confirm(django_capture_on_commit_callbacks):
    """POST the mapping and run what the view queued on commit (the eager task)."""

    def post(client, team, upload, data=MAPPING):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("upload_confirm", args=[team.slug, upload.pk]), data)

    return post


def upload_file(client, team, content=CSV, name="orders.csv", mode="append"):
    return client.post(
        reverse("upload_list", args=[team.slug]),
        {"file": SimpleUploadedFile(name, content, content_type="text/csv"), "mode": mode},
    )


def test_admin_upload_stores_draft_and_shows_preview_with_detected_columns(
    client_for, admin_a, team_a
):
    client = client_for(admin_a)
    response = upload_file(
        client, team_a, content=b"CustomerID,InvoiceDate,Amount\n1,2024-01-01,5\n"
    )
    upload = Upload.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("upload_detail", args=[team_a.slug, upload.pk])
    assert upload.status == UploadStatus.DRAFT and upload.uploaded_by == admin_a
    page = client.get(response.url).content.decode()
    assert '<option value="CustomerID" selected>' in page
    assert '<option value="InvoiceDate" selected>' in page
    assert 'id="parsed-preview"' in page
    assert Customer.objects.count() == 0  # nothing imported before confirmation


def test_preview_partial_reparses_with_edited_mapping(client_for, admin_a, team_a):
    client = client_for(admin_a)
    upload_file(client, team_a)
    upload = Upload.objects.get()
    response = client.get(
        reverse("upload_preview", args=[team_a.slug, upload.pk]), MAPPING, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body  # only the fragment
    assert "007" in body and "2024-02" in body and "99.99" in body and "21.00" in body


def test_preview_without_usable_columns_explains_what_is_missing(client_for, admin_a, team_a):
    client = client_for(admin_a)
    upload_file(client, team_a)
    page = client.get(reverse("upload_detail", args=[team_a.slug, Upload.objects.get().pk]))
    assert b"Could not find the customer and date" in page.content


def test_confirm_imports_and_shows_summary(client_for, admin_a, team_a, confirm):
    client = client_for(admin_a)
    upload_file(client, team_a)
    upload = Upload.objects.get()
    response = confirm(client, team_a, upload)
    assert response.status_code == 302
    upload.refresh_from_db()
    assert upload.status == UploadStatus.SUCCEEDED
    assert str(upload.total_amount) == "124.29"
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"007", "42"}
    assert RevenueRecord.objects.count() == 3
    status = client.get(reverse("upload_status", args=[team_a.slug, upload.pk])).content.decode()
    assert "Imported" in status and "124.29" in status and "hx-trigger" not in status


def test_confirm_with_invalid_rows_fails_strictly_and_lists_rows(
    client_for, admin_a, team_a, confirm
):
    client = client_for(admin_a)
    upload_file(client, team_a, content=CSV + b"008,not-a-date,1,1,d\n")
    upload = Upload.objects.get()
    confirm(client, team_a, upload)
    upload.refresh_from_db()
    assert upload.status == UploadStatus.FAILED
    assert Customer.objects.count() == 0
    page = client.get(reverse("upload_detail", args=[team_a.slug, upload.pk])).content.decode()
    assert "1 of 4 rows are invalid" in page and "not-a-date" in page


def test_confirm_with_skip_invalid_imports_valid_rows(client_for, admin_a, team_a, confirm):
    client = client_for(admin_a)
    upload_file(client, team_a, content=CSV + b"008,not-a-date,1,1,d\n")
    upload = Upload.objects.get()
    confirm(client, team_a, upload, {**MAPPING, "skip_invalid": "on"})
    upload.refresh_from_db()
    assert upload.status == UploadStatus.SUCCEEDED
    assert (upload.rows_imported, upload.rows_rejected) == (3, 1)


def test_running_upload_status_keeps_polling(client_for, admin_a, team_a):
    client = client_for(admin_a)
    upload_file(client, team_a)
    upload = Upload.objects.get()
    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.RUNNING, progress=40)
    body = client.get(reverse("upload_status", args=[team_a.slug, upload.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in body and 'value="40"' in body


def test_duplicate_file_is_refused_at_upload(client_for, admin_a, team_a, confirm):
    client = client_for(admin_a)
    upload_file(client, team_a)
    upload = Upload.objects.get()
    confirm(client, team_a, upload)
    response = upload_file(client, team_a)
    assert response.status_code == 400
    assert b"already imported" in response.content
    assert Upload.objects.count() == 1


def test_wrong_extension_is_refused(client_for, admin_a, team_a):
    response = upload_file(client_for(admin_a), team_a, name="orders.pdf")
    assert response.status_code == 400 and b"expected a .csv or .xlsx" in response.content
    assert not Upload.objects.exists()


def test_history_lists_finished_uploads(client_for, admin_a, team_a, confirm):
    client = client_for(admin_a)
    upload_file(client, team_a)
    upload = Upload.objects.get()
    confirm(client, team_a, upload)
    page = client.get(reverse("upload_list", args=[team_a.slug])).content.decode()
    assert "orders.csv" in page and "Imported" in page and "alice-admin" in page


def test_discard_removes_a_draft(client_for, admin_a, team_a):
    client = client_for(admin_a)
    upload_file(client, team_a)
    upload = Upload.objects.get()
    client.post(reverse("upload_discard", args=[team_a.slug, upload.pk]))
    assert not Upload.objects.exists()


@pytest.mark.parametrize("role_fixture", ["analyst_a", "viewer_a"])
@pytest.mark.parametrize(
    "method,name,with_id",
    [
        ("get", "upload_list", False),
        ("post", "upload_list", False),
        ("get", "upload_detail", True),
        ("get", "upload_preview", True),
        ("post", "upload_confirm", True),
        ("get", "upload_status", True),
        ("post", "upload_discard", True),
    ],
)
def test_non_admins_get_403_on_upload_endpoints(
    request, client_for, admin_a, team_a, role_fixture, method, name, with_id
):
    upload_file(client_for(admin_a), team_a)
    upload = Upload.objects.get()
    client = client_for(request.getfixturevalue(role_fixture))
    args = [team_a.slug, upload.pk] if with_id else [team_a.slug]
    response = getattr(client, method)(reverse(name, args=args), MAPPING)
    assert response.status_code == 403
    upload.refresh_from_db()
    assert upload.status == UploadStatus.DRAFT


@pytest.mark.parametrize("role_fixture", ["analyst_a", "viewer_a"])
def test_non_admins_see_no_upload_link(request, client_for, team_a, role_fixture):
    client = client_for(request.getfixturevalue(role_fixture))
    body = client.get(reverse("dashboard", args=[team_a.slug])).content.decode()
    assert "/uploads/" not in body


def test_admin_of_other_team_cannot_see_upload(client_for, admin_a, admin_b, team_a):
    upload_file(client_for(admin_a), team_a)
    upload = Upload.objects.get()
    other = client_for(admin_b)
    assert other.get(reverse("upload_detail", args=[team_a.slug, upload.pk])).status_code == 404
    # and the id under the other team's own slug is not found either
    assert other.get(reverse("upload_detail", args=["globex", upload.pk])).status_code == 404


def test_a_file_refused_for_invalid_rows_offers_to_import_the_valid_ones(
    client_for, admin_a, team_a, django_capture_on_commit_callbacks
):
    from customers.models import RevenueRecord, Upload, UploadStatus
    from customers.services import upload_create, upload_import_now

    data = b"customer_id,date,amount\nA,2024-01-05,10\nB,not a date,5\nC,2024-02-05,7\n"
    refused = upload_import_now(
        upload=upload_create(team=team_a, data=data, filename="t.csv", user=admin_a)
    )
    assert refused.status == UploadStatus.FAILED and refused.rows_rejected == 1
    client = client_for(admin_a)
    page = client.get(f"/t/{team_a.slug}/uploads/{refused.pk}/").content.decode()
    assert 'id="retry-valid-rows"' in page and "without the 1 invalid one" in page
    with django_capture_on_commit_callbacks(execute=True):  # the import is queued on commit
        response = client.post(f"/t/{team_a.slug}/uploads/{refused.pk}/retry/")
    retry = Upload.objects.exclude(pk=refused.pk).get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{retry.pk}/")
    assert retry.status == UploadStatus.SUCCEEDED and retry.skip_invalid
    assert retry.rows_imported == 2 and retry.rows_rejected == 1
    assert RevenueRecord.objects.filter(team=team_a).count() == 2
    again = client.post(f"/t/{team_a.slug}/uploads/{retry.pk}/retry/", follow=True)
    assert "Only a file refused for its invalid rows" in again.content.decode()


def test_a_file_ending_before_the_teams_data_warns_with_counts(client_for, admin_a, team_a):
    from customers.services import upload_create, upload_import_now

    def imported(text: str, name: str):
        created = upload_create(team=team_a, data=text.encode(), filename=name, user=admin_a)
        return upload_import_now(upload=created)

    recent = imported("customer_id,date,amount\nA,2025-01-05,10\nA,2025-12-05,10\n", "a.csv")
    old = imported(
        "customer_id,date,amount\nB,2024-11-05,5\nC,2025-01-20,7\nA,2024-12-05,1\n", "old.csv"
    )
    client = client_for(admin_a)
    html = client.get(f"/t/{team_a.slug}/uploads/{old.pk}/").content.decode()
    warning = html[html.index('id="stale-warning"') :].split("</div>")[0]
    assert "This file ends in 2025-01, 11 months before the team" in warning
    assert "(2025-12)" in warning and "2 customers have no revenue after it" in warning
    fresh = client.get(f"/t/{team_a.slug}/uploads/{recent.pk}/").content.decode()
    assert 'id="stale-warning"' not in fresh
