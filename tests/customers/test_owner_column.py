"""An upload's optional owner column sets each customer's account owner (a team member's
username or e-mail); an owner who is not a member is an invalid row."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer, RevenueRecord, UploadStatus
from customers.services import upload_create, upload_import_now

pytestmark = pytest.mark.django_db


def upload(team, text: str, **options):
    created = upload_create(team=team, data=text.encode(), filename="owners.csv", **options)
    return upload_import_now(upload=created)


def owners(team) -> dict[str, str | None]:
    rows = Customer.objects.filter(team=team).values_list("external_id", "owner__username")
    return dict(rows)


@pytest.fixture
def members(team_a, analyst_a, viewer_a):
    analyst_a.email = "Andy@Example.com"
    analyst_a.save()
    return analyst_a, viewer_a


def test_owners_by_username_or_email_any_case_the_latest_row_wins(team_a, members):
    analyst, viewer = members
    text = (
        "customer_id,date,amount,Account Manager\n"
        f"A,2024-01-05,10,{viewer.username.upper()}\n"
        "A,2024-03-05,10,andy@example.com\n"  # the latest month names the owner
        f"A,2024-02-05,10,{viewer.username}\n"
        "B,2024-01-05,10,\n"  # blank: no owner set
        f"C,2024-01-05,10,{viewer.username}\n"
    )
    result = upload(team_a, text)
    assert result.status == UploadStatus.SUCCEEDED, result.error_message
    assert owners(team_a) == {"A": analyst.username, "B": None, "C": viewer.username}


def test_a_blank_owner_cell_keeps_the_owner_a_customer_has(team_a, members):
    analyst, _ = members
    upload(team_a, f"customer_id,date,amount,owner\nA,2024-01-05,10,{analyst.username}\n")
    second = upload(team_a, "customer_id,date,amount,owner\nA,2024-02-05,10,\n")
    assert second.status == UploadStatus.SUCCEEDED, second.error_message
    assert owners(team_a) == {"A": analyst.username}


def test_an_unknown_owner_rejects_the_file_in_strict_mode(team_a, admin_b, members):
    text = (
        "customer_id,date,amount,owner\n"
        "A,2024-01-05,10,nobody\n"
        f"B,2024-01-05,10,{admin_b.username}\n"  # a member of another team is unknown here
        "C,2024-01-05,10,\n"
    )
    result = upload(team_a, text)
    assert result.status == UploadStatus.FAILED
    assert [e["row"] for e in result.errors] == [2, 3]
    assert result.errors[0]["reason"] == "owner 'nobody' is not a member of this team"
    assert not Customer.objects.filter(team=team_a).exists()
    assert not RevenueRecord.objects.exists()


def test_skip_invalid_imports_the_rows_with_known_owners(team_a, members):
    _, viewer = members
    text = (
        "customer_id,date,amount,owner\n"
        "A,2024-01-05,10,nobody\n"
        f"B,2024-01-05,10,{viewer.username}\n"
    )
    result = upload(team_a, text, skip_invalid=True)
    assert result.status == UploadStatus.SUCCEEDED and result.rows_rejected == 1
    assert owners(team_a) == {"B": viewer.username}


def test_the_command_takes_an_owner_column(team_a, members, tmp_path):
    analyst, _ = members
    path = tmp_path / "t.csv"
    path.write_text(f"cust,day,total,am\nA,2024-01-05,10,{analyst.username}\n")
    out = io.StringIO()
    call_command(
        "import_transactions", str(path), "--team", team_a.slug, "--customer-column", "cust",
        "--date-column", "day", "--amount-column", "total", "--owner-column", "am", stdout=out,
    )  # fmt: skip
    assert owners(team_a) == {"A": analyst.username}
    path.write_text("cust,day,total,am\nB,2024-01-05,10,ghost\n")
    with pytest.raises(CommandError, match="owner 'ghost' is not a member of this team"):
        call_command(
            "import_transactions", str(path), "--team", team_a.slug, "--customer-column",
            "cust", "--date-column", "day", "--amount-column", "total", "--owner-column", "am",
            stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip
    assert not Customer.objects.filter(external_id="B").exists()


def test_the_preview_shows_unknown_owners_as_row_errors(client_for, admin_a, team_a, members):
    created = upload_create(
        team=team_a, data=b"customer_id,date,amount,owner\nA,2024-01-05,10,ghost\n",
        filename="o.csv", user=admin_a,
    )  # fmt: skip
    page = client_for(admin_a).get(f"/t/{team_a.slug}/uploads/{created.pk}/")
    html = page.content.decode()
    assert "Account owner column" in html
    assert "is not a member of this team" in html


def test_a_member_who_leaves_the_team_owns_none_of_its_customers(team_a, team_b, members):
    analyst, _ = members
    upload(team_a, f"customer_id,date,amount,owner\nA,2024-01-05,10,{analyst.username}\n")
    elsewhere = Customer.objects.create(team=team_b, external_id="Z", owner=analyst)
    analyst.memberships.get(team=team_a).delete()
    assert owners(team_a) == {"A": None}
    elsewhere.refresh_from_db()
    assert elsewhere.owner_id == analyst.pk  # another team's ownership is its own
