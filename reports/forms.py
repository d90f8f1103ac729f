"""The forms of the report pages: a generate request, the history's filters, the group
generator's choice. They check shapes only; the services refuse a scope the run lacks."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

from accounts.models import Membership, Team
from analytics.models import LEVEL_LABELS

from .models import SCOPE_KEYS, ReportKind

MAX_CUSTOMER_ID = 200
MAX_SEARCH = 100


class ReportRequestForm(forms.Form):
    """A request to write a report: its kind and the scope that kind needs."""

    kind = forms.ChoiceField(choices=ReportKind.choices)
    customer = forms.CharField(required=False, max_length=MAX_CUSTOMER_ID, strip=False)
    segment = forms.IntegerField(required=False, min_value=0)
    level = forms.IntegerField(required=False, min_value=0, max_value=3)

    def scope(self) -> dict:
        data = self.cleaned_data
        needed = SCOPE_KEYS[data["kind"]]
        return {name: data[name] for name in needed if data.get(name) not in (None, "")}

    def error_text(self) -> str:
        return " ".join(
            f"{'' if name == '__all__' else name + ': '}{' '.join(str(e) for e in errors)}"
            for name, errors in self.errors.items()
        )


class ReportFilterForm(forms.Form):
    """The history's filters (GET); an invalid field is reported and ignored."""

    kind = forms.ChoiceField(required=False, choices=[("", "All kinds"), *ReportKind.choices])
    author = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(
        required=False,
        max_length=MAX_SEARCH,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Title or text"}),
    )

    def __init__(self, *args, team: Team, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("since", "until"):
            self.fields[name].validators.append(_within_range)
        members = (
            Membership.objects.filter(team=team)
            .select_related("user")
            .order_by("user__username")
            .values_list("user_id", "user__username")
        )
        author = self.fields["author"]
        assert isinstance(author, forms.ChoiceField)
        author.choices = [("", "Anyone"), *members]

    def filters(self) -> dict:
        """The valid filters as ``reports_for_team`` keywords (dates → aware datetimes; the
        "to" day is included)."""
        data = self.cleaned_data if self.is_bound else {}
        return {
            "kind": data.get("kind") or None,
            "author_id": data.get("author"),
            "since": _start_of(data.get("since")),
            "until": _start_of(data["until"] + timedelta(days=1)) if data.get("until") else None,
            "search": (data.get("q") or "").strip(),
        }

    def full_clean(self) -> None:
        super().full_clean()
        for name in list(self.errors):  # keep the valid filters
            if name in self.fields:
                self.cleaned_data.pop(name, None)


FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2200, 12, 31)


def _within_range(day: date) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise forms.ValidationError(f"Choose a day between {FIRST_DAY} and {LAST_DAY}.")


def _start_of(day: date | None) -> datetime | None:
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))


class GroupChoiceForm(forms.Form):
    """The group generator's choice: a segment of the current run and a decline level."""

    segment = forms.TypedChoiceField(coerce=int, label="Segment")
    level = forms.TypedChoiceField(coerce=int, label="Decline level")

    def __init__(self, *args, segments: list[tuple[int, str, int]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        segment_field, level_field = self.fields["segment"], self.fields["level"]
        assert isinstance(segment_field, forms.ChoiceField)
        assert isinstance(level_field, forms.ChoiceField)
        segment_field.choices = [
            ("", "Choose a segment"),
            *((number, f"{number} · {name} ({size} customers)") for number, name, size in segments),
        ]
        level_field.choices = [
            ("", "Choose a level"),
            *((level, f"{level} · {label}") for level, label in sorted(LEVEL_LABELS.items())),
        ]
