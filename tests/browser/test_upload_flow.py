from __future__ import annotations

import pytest

from customers.models import RevenueRecord, Upload, UploadStatus
from tests.browser.conftest import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.postgres]

ROWS = 150_000


def orders_csv(tmp_path):
    """Headers no alias knows, so the admin must map them; big enough to watch progress."""
    path = tmp_path / "orders-export.csv"
    lines = ["Client Ref;Order Day;Qty;Each"]
    lines += [
        f"{i % 900:05d};2024-{1 + i % 12:02d}-{1 + i % 28:02d};{1 + i % 3};2.50"
        for i in range(ROWS)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_admin_uploads_maps_columns_and_watches_the_import_finish(
    page, celery_worker, admin_a, team_a, tmp_path
):
    log_in(page, admin_a.username)
    page.click("nav >> text=Uploads")
    page.set_input_files("#id_file", str(orders_csv(tmp_path)))
    page.click("text=Upload and preview")

    # The preview shows the raw rows and says which columns it could not find.
    page.wait_for_selector("#mapping-error")
    assert "Could not find the customer and date" in page.inner_text("#mapping-error")
    assert page.inner_text("table.raw thead").split() == [
        "Client",
        "Ref",
        "Order",
        "Day",
        "Qty",
        "Each",
    ]
    screenshot(page, "upload-preview-unmapped")

    # Editing the mapping re-renders the parsed preview through HTMX (no page load).
    page.select_option("#id_customer", "Client Ref")
    page.select_option("#id_date", "Order Day")
    page.select_option("#id_quantity", "Qty")
    page.select_option("#id_price", "Each")
    page.wait_for_selector("#parsed-preview")
    first_row = page.inner_text("#parsed-preview tbody tr:first-child").split()
    assert first_row == ["2", "00000", "2024-01", "2.50"]
    screenshot(page, "upload-preview-mapped")

    page.click("#confirm-import")
    page.wait_for_selector("#upload-status")
    first_status = page.get_attribute("#upload-status", "data-status")
    assert first_status in {"PENDING", "RUNNING"}, first_status
    assert page.locator("#upload-status progress").count() == 1
    screenshot(page, "upload-progress")

    page.wait_for_selector("#upload-status[data-status=SUCCEEDED]", timeout=120_000)
    assert page.locator("#upload-status progress").count() == 0
    summary = page.inner_text("#upload-status")
    assert "Rows imported\n150,000" in summary and "(900 new)" in summary
    screenshot(page, "upload-done")
    page.watch.assert_clean()

    upload = Upload.objects.get()
    assert upload.status == UploadStatus.SUCCEEDED
    assert upload.column_mapping == {
        "customer": "Client Ref",
        "date": "Order Day",
        "quantity": "Qty",
        "price": "Each",
    }
    # 12 divides 900, so customer i % 900 always buys in the same month i % 12
    assert RevenueRecord.objects.filter(team=team_a).count() == 900


def test_login_page_and_history_load_no_foreign_assets(page, admin_a, team_a):
    log_in(page, admin_a.username)
    page.goto(f"{page.watch.base_url}/t/{team_a.slug}/uploads/")
    assert page.evaluate("typeof htmx") == "object"
    screenshot(page, "upload-history")
    page.watch.assert_clean()
