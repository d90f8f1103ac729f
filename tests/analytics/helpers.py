"""Builders shared by the analysis tests: data goes in through the real import."""

from __future__ import annotations

from customers.demo import generate_portfolio
from customers.models import Upload, UploadStatus
from customers.services import upload_create, upload_import_now


def import_csv(team, text: str, *, name: str = "data.csv", mode: str = "append") -> Upload:
    upload = upload_create(team=team, data=text.encode(), filename=name, mode=mode)
    upload = upload_import_now(upload=upload)
    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message
    return upload


def import_portfolio(
    team, *, customers: int = 60, months: int = 30, seed: int = 3, end_month: str = "2025-06"
) -> Upload:
    portfolio = generate_portfolio(
        customers=customers, months=months, seed=seed, end_month=end_month
    )
    data = portfolio.transactions.to_csv(index=False, float_format="%.2f", lineterminator="\n")
    upload = upload_create(team=team, data=data.encode(), filename=f"portfolio-{seed}.csv")
    upload = upload_import_now(upload=upload)
    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message
    return upload
