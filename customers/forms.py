from __future__ import annotations

from pathlib import PurePath
from typing import Any

from django import forms
from django.conf import settings

from .ingest.mapping import FIELDS, ColumnMapping, guess_columns
from .ingest.parsing import date_format_problem
from .models import UploadMode

ACCEPTED_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx"}


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV (UTF-8) or XLSX: one row per invoice or order line.")
    mode = forms.ChoiceField(choices=UploadMode.choices, initial=UploadMode.APPEND)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        suffix = PurePath(upload.name).suffix.lower()
        if suffix not in ACCEPTED_SUFFIXES:
            raise forms.ValidationError(
                f"{upload.name}: expected a .csv or .xlsx file (not {suffix or 'no extension'})."
            )
        limit = settings.MAX_UPLOAD_MB * 1024 * 1024
        if upload.size > limit:
            raise forms.ValidationError(f"The file is larger than {settings.MAX_UPLOAD_MB} MB.")
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        return upload


class MappingForm(forms.Form):
    customer = forms.ChoiceField(label="Customer id column")
    date = forms.ChoiceField(label="Date column")
    amount = forms.ChoiceField(
        label="Amount column", required=False, help_text="Leave empty to use quantity × unit price."
    )
    quantity = forms.ChoiceField(label="Quantity column", required=False)
    price = forms.ChoiceField(label="Unit price column", required=False)
    owner = forms.ChoiceField(
        label="Account owner column",
        required=False,
        help_text="Optional: a team member's username or e-mail per row sets the customer's owner.",
    )
    date_format = forms.CharField(
        label="Date format",
        required=False,
        max_length=64,
        help_text="Empty for ISO dates (2025-03-31); otherwise a strftime pattern like %d/%m/%Y.",
    )
    mode = forms.ChoiceField(choices=UploadMode.choices)
    skip_invalid = forms.BooleanField(
        label="Skip invalid rows (import the valid rows and report the rest)", required=False
    )

    def __init__(self, *args, columns: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "—")] + [(c, c) for c in columns]
        for name in FIELDS:
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = choices

    @classmethod
    def initial_for(cls, mapping: ColumnMapping | None, upload, columns: list[str]) -> dict:
        if mapping is not None:
            initial = mapping.as_dict()
        else:  # keep what could be recognised; the admin picks the rest
            initial = {**guess_columns(columns), **upload.column_mapping}
        initial.update(
            date_format=upload.date_format, mode=upload.mode, skip_invalid=upload.skip_invalid
        )
        return initial

    def clean_date_format(self) -> str:
        date_format = self.cleaned_data["date_format"].strip()
        problem = date_format_problem(date_format) if date_format else ""
        if problem:
            raise forms.ValidationError(f"This date format cannot be used: {problem}.")
        return date_format

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean gives back cleaned_data
        if not data.get("amount") and not (data.get("quantity") and data.get("price")):
            raise forms.ValidationError("Choose an amount column, or both quantity and unit price.")
        if data.get("amount"):
            data["quantity"] = data["price"] = ""
        return data

    def column_mapping(self) -> dict[str, str]:
        return {f: self.cleaned_data[f] for f in FIELDS if self.cleaned_data.get(f)}
