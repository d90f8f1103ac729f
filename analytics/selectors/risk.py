"""The risk table: one run's customer results filtered, sorted and paged from a query string.

The query string is the whole state of the table (docs/interfaces.md: ``level``,
``segment``, ``q``, ``owner``, ``status``, ``sort``, ``page``), so a pushed URL, a bookmark or
the back button renders the same table. Unknown or malformed values are ignored, never an
error: the URL is user input.

The default view (no ``status``) leaves out the customers the team dismissed as not a risk or
snoozed, while their level is no worse than when they were; ``status=all`` shows everyone.

Speed at 100k customers:
- one query for the page's rows (the customer id joined in, the large ``components`` and
  ``explanation`` columns left out) and one for the run's segment names;
- no ``COUNT(*)``: the total comes from the run's stored counts when it is known without
  counting (no filter, a level alone, a segment alone); otherwise the page fetches one row more
  than it shows to know whether there is a next page;
- sorts always end with the primary key so that pages are stable.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from urllib.parse import urlencode

from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import OrderBy
from django.utils import timezone

from analytics.core import UNJUDGED
from analytics.links import customer_url_builder
from analytics.models import LEVEL_LABELS, RISK_SORTS, AnalysisRun, CustomerResult, Segment
from analytics.services.export import (
    BATCH,
    RESULT_COLUMNS,
    cell,
    neutralise,
    sentences_shown,
)
from customers.followup import INSUFFICIENT, hidden_customers
from customers.models import Customer, FollowUp

PAGE_SIZE = 50
DEFAULT_SORT = "-revenue_at_risk"
LEVEL_NONE = "none"
LEVEL_CHOICES: tuple[tuple[str, str], ...] = (
    *((str(level), f"{level} · {label}") for level, label in LEVEL_LABELS.items()),
    (LEVEL_NONE, "Insufficient data"),
)

# Sortable columns → the direction a first click sorts in, and those that can be empty; both
# from RISK_SORTS, the declaration the table's indexes are built from.
SORT_COLUMNS: dict[str, str] = {sort.column: sort.first for sort in RISK_SORTS}
NULLABLE_SORTS = frozenset(sort.column for sort in RISK_SORTS if sort.nullable)
SORT_PATHS = {sort.column: sort.path for sort in RISK_SORTS}
# The follow-up statuses in the order work moves through them (sorting by status).
STATUS_ORDER = Case(
    *(When(customer__follow_up=value, then=Value(rank)) for rank, value in enumerate(FollowUp)),
    output_field=IntegerField(),
)
OWNER_ME, OWNER_NONE = "me", "none"
STATUS_ALL = "all"
STATUS_CHOICES: tuple[tuple[str, str], ...] = (*FollowUp.choices, (STATUS_ALL, "All, hidden too"))
_OWNER = re.compile(r"[\w.@+-]{1,150}")
STATUSES = frozenset(value for value, _ in STATUS_CHOICES)
# Figures the core leaves empty for every customer with insufficient data: sorting the
# "insufficient data" filter by one has no values to read, only the empties (looking for
# values walked the whole run's index: 250 ms at 100,000 customers).
EMPTY_WHEN_INSUFFICIENT = set(UNJUDGED)
ROW_FIELDS = (
    "pk",
    "customer_id",
    "decline_level",
    "segment",
    "revenue_at_risk",
    "p_active",
    "expected_revenue_12m",
    "relative_change_12m",
    "p_value",
    "slope",
    "revenue_mean",
    "cv",
    "active_months",
    "onset_month",
    "anomaly_count",
    "explanation",  # the why-sentence under each customer (short text; the chart data is not)
)


@dataclass(frozen=True)
class RiskQuery:
    """The table's state, normalised: every field holds a valid value or its default."""

    level: str = ""
    segment: int | None = None
    q: str = ""
    owner: str = ""  # "me", "none" or a username
    status: str = ""  # a follow-up status, "all", or "" (the default view)
    sort: str = DEFAULT_SORT
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> RiskQuery:
        level = params.get("level", "").strip().lower()
        if level not in {value for value, _ in LEVEL_CHOICES}:
            level = ""
        sort = params.get("sort", "").strip()
        if sort.lstrip("-") not in SORT_COLUMNS:
            sort = DEFAULT_SORT
        return cls(
            level=level,
            segment=_small_int(params.get("segment"), minimum=0),
            q=params.get("q", "").strip()[:100],
            owner=owner if _OWNER.fullmatch(owner := params.get("owner", "").strip()) else "",
            status=status if (status := params.get("status", "").strip()) in STATUSES else "",
            sort=sort,
            page=_small_int(params.get("page"), minimum=1) or 1,
        )

    @property
    def sort_column(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    @property
    def is_filtered(self) -> bool:
        return bool(self.level or self.segment is not None or self.q or self.owner or self.status)

    def params(self, **changes) -> dict[str, str]:
        """The non-default fields as query parameters, after applying ``changes``."""
        state = replace(self, **changes)
        pairs = {
            "level": state.level,
            "segment": "" if state.segment is None else str(state.segment),
            "q": state.q,
            "owner": state.owner,
            "status": state.status,
            "sort": "" if state.sort == DEFAULT_SORT else state.sort,
            "page": "" if state.page == 1 else str(state.page),
        }
        return {key: value for key, value in pairs.items() if value}

    def url(self, base: str, **changes) -> str:
        query = urlencode(self.params(**changes))
        return f"{base}?{query}" if query else base

    def sort_toggled(self, column: str) -> str:
        """The sort a click on ``column``'s header asks for."""
        if column == self.sort_column:
            return column if self.descending else f"-{column}"
        return f"-{column}" if SORT_COLUMNS[column] == "desc" else column


def _small_int(value: str | None, *, minimum: int) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    number = int(value.strip())
    return number if minimum <= number <= 1_000_000 else None


@dataclass
class RiskPage:
    rows: list[dict]
    number: int
    page_size: int
    has_next: bool
    # None when knowing it would need a COUNT(*) (a search, or level and segment together).
    total: int | None
    segments: dict[int, str] = field(default_factory=dict)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def pages(self) -> int | None:
        if self.total is None:
            return None
        return max(1, -(-self.total // self.page_size))

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.page_size + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return (self.number - 1) * self.page_size + len(self.rows)


def risk_results(
    *, run: AnalysisRun, query: RiskQuery, viewer_id: int | None = None
) -> QuerySet[CustomerResult]:
    """The run's results matching ``query``'s filters, in its sort order (no paging)."""
    filtered = risk_filtered(run=run, query=query, viewer_id=viewer_id)
    return filtered.order_by(*_ordering(query))


def risk_filtered(
    *,
    run: AnalysisRun,
    query: RiskQuery,
    viewer_id: int | None = None,
    hidden: dict[int, int] | None = None,
) -> QuerySet[CustomerResult]:
    """The run's results matching ``query``'s filters, unordered. ``viewer_id`` is who "me"
    is; ``hidden`` the default view's hidden customers when the caller has read them."""
    results = _by_figures(CustomerResult.objects.filter(run=run), query)
    if query.owner or (query.status and query.status != STATUS_ALL):
        results = results.filter(customer_id__in=_customers(run, query, viewer_id))
    if not query.status:
        if hidden is None:
            hidden = hidden_customers(team_id=run.team_id, today=_today())
        if hidden:
            results = results.exclude(_still_hidden(hidden))
    return results


def _by_figures(results: QuerySet[CustomerResult], query: RiskQuery) -> QuerySet:
    if query.level == LEVEL_NONE:
        results = results.filter(decline_level__isnull=True)
    elif query.level:
        results = results.filter(decline_level=int(query.level))
    if query.segment is not None:
        results = results.filter(segment=query.segment)
    if query.q:
        results = results.filter(customer__external_id__icontains=query.q)
    return results


def _customers(run: AnalysisRun, query: RiskQuery, viewer_id: int | None) -> QuerySet:
    """The team's customers matching the owner and status filters (a subquery: joining the
    customers into the sorted query would keep PostgreSQL from a top-N sort)."""
    customers = Customer.objects.filter(team_id=run.team_id)
    if query.owner == OWNER_ME:
        customers = customers.filter(owner_id=viewer_id)
    elif query.owner == OWNER_NONE:
        customers = customers.filter(owner__isnull=True)
    elif query.owner:
        customers = customers.filter(owner__username=query.owner)
    if query.status and query.status != STATUS_ALL:
        customers = customers.filter(follow_up=query.status)
    return customers.values("pk")


def _still_hidden(hidden: dict[int, int]) -> Q:
    """Rows of hidden customers whose level is no worse than when they were hidden."""
    by_level: dict[int, list[int]] = {}
    for customer_id, level in hidden.items():
        by_level.setdefault(level, []).append(customer_id)
    condition = Q(pk__in=[])
    for level, ids in by_level.items():
        no_worse = Q(decline_level__isnull=True)
        if level != INSUFFICIENT:
            no_worse |= Q(decline_level__lte=level)
        condition |= Q(customer_id__in=ids) & no_worse
    return condition


def _today() -> date:
    return timezone.localdate()


def _sort_expression(column: str) -> Case | F:
    return STATUS_ORDER if column == "status" else F(SORT_PATHS[column])


def _ordering(query: RiskQuery) -> list[OrderBy]:
    """Empty values last in both directions; ties in the sort's direction by pk, so one
    index (run, column, id) serves a column both ways (scanned forwards or backwards)."""
    column, pk = _sort_expression(query.sort_column), F("pk")
    if query.descending:
        return [column.desc(nulls_last=True), pk.desc()]
    return [column.asc(nulls_last=True), pk.asc()]


def _page_rows(results: QuerySet, query: RiskQuery, start: int, count: int) -> list[dict]:
    """``count`` rows from ``start`` in the query's order, index-friendly.

    A nullable column is read in two parts: its values through the partial index
    (run, column, id) WHERE column IS NOT NULL, then the rows without a value. An
    ``ORDER BY … NULLS LAST`` in one query cannot use an index for both directions, and
    PostgreSQL sorted the whole run for every page.
    """
    column = query.sort_column
    expression = _sort_expression(column)
    # Plain ASC/DESC: with NULLS LAST, a backward index scan (which yields NULLS FIRST)
    # would not match and PostgreSQL would sort, even where no null can occur.
    order = (
        [expression.desc(), F("pk").desc()]
        if query.descending
        else [expression.asc(), F("pk").asc()]
    )
    ordered = results.order_by(*order)
    if column not in NULLABLE_SORTS:
        return list(ordered.values(*ROW_FIELDS)[start : start + count])
    present = ordered.filter(**{f"{column}__isnull": False})
    if query.level == LEVEL_NONE and column in EMPTY_WHEN_INSUFFICIENT:
        rows, values_before = [], 0
    else:
        rows = list(present.values(*ROW_FIELDS)[start : start + count])
        if len(rows) == count:
            return rows
        # Past the last value: the empties follow. Counting the values is only needed for
        # a page that starts among the empties.
        values_before = start + len(rows) if rows else present.count()
    empties = results.filter(**{f"{column}__isnull": True})
    empties = empties.order_by("-pk" if query.descending else "pk")
    offset = max(0, start - values_before)
    return rows + list(empties.values(*ROW_FIELDS)[offset : offset + count - len(rows)])


def risk_page(
    *,
    run: AnalysisRun,
    query: RiskQuery,
    team_slug: str,
    viewer_id: int | None = None,
    page_size: int | None = None,
) -> RiskPage:
    """One page of the table in a fixed number of queries, whatever the page size:
    segments, the hidden customers, the rows, the page's customers."""
    page_size = page_size or PAGE_SIZE
    # order_by: the model orders by run, which would join the runs table for nothing.
    segments_query = Segment.objects.filter(run=run).order_by("number")
    segment_rows = list(segments_query.values_list("number", "name", "size"))
    segments = {number: name for number, name, _ in segment_rows}
    sizes = {number: size for number, _, size in segment_rows}
    hidden = {} if query.status else hidden_customers(team_id=run.team_id, today=_today())
    total = _known_total(run=run, query=query, segment_sizes=sizes, hidden=hidden)
    number = query.page
    if total is not None:
        number = min(number, max(1, -(-total // page_size)))
    start = (number - 1) * page_size
    filtered = risk_filtered(run=run, query=query, viewer_id=viewer_id, hidden=hidden)
    rows = _page_rows(filtered, query, start, page_size + 1)
    has_next = len(rows) > page_size
    rows = rows[:page_size]
    if total is None and number == 1 and not has_next:
        total = len(rows)
    _add_customers(rows, team_slug=team_slug)
    for row in rows:
        row["segment_name"] = segments.get(row["segment"], "")
    return RiskPage(rows, number, page_size, has_next, total, segments)


def _add_customers(rows: list[dict], *, team_slug: str) -> None:
    """The page's customers (id, link, owner, follow-up) in a second, tiny query: joining
    customers into the sorted query kept PostgreSQL from a top-N sort (it sorted every row
    of the run, spilling to disk)."""
    customers = Customer.objects.filter(pk__in=[row["customer_id"] for row in rows])
    facts = {
        pk: (external_id, owner, status, snoozed_until)
        for pk, external_id, owner, status, snoozed_until in customers.values_list(
            "pk", "external_id", "owner__username", "follow_up", "snoozed_until"
        )
    }
    url_for = customer_url_builder(team_slug=team_slug)
    labels = dict(FollowUp.choices)
    for row in rows:
        external_id, owner, status, snoozed_until = facts[row["customer_id"]]
        row.update(
            external_id=external_id,
            url=url_for(external_id),
            owner=owner or "",
            status=status,
            status_label=labels.get(status, status),
            snoozed_until=snoozed_until,
        )


def _known_total(
    *,
    run: AnalysisRun,
    query: RiskQuery,
    segment_sizes: dict[int, int],
    hidden: dict[int, int],
) -> int | None:
    """The number of matching rows when the run already knows it, else None; the hidden
    customers the view leaves out are counted among themselves (a handful)."""
    if query.q or query.owner or query.status or (query.level and query.segment is not None):
        return None
    if query.level:
        known = (
            run.insufficient_count
            if query.level == LEVEL_NONE
            else run.customers_per_level[int(query.level)]
        )
    elif query.segment is not None:
        known = segment_sizes.get(query.segment, 0)
    else:
        known = run.customers_count
    if not hidden:
        return known
    shown = _by_figures(CustomerResult.objects.filter(run=run), query)
    return known - shown.filter(_still_hidden(hidden)).count()


# --- CSV export -----------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write returns the text, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


# export_results's columns, then the team's follow-up (docs/interfaces.md).
CSV_COLUMNS = (*RESULT_COLUMNS, "owner", "status")


def risk_csv_rows(
    *, run: AnalysisRun | None, query: RiskQuery, viewer_id: int | None = None
) -> Iterator[str]:
    """The filtered table as CSV lines: export_results's columns and cell format, then the
    owner and the follow-up status; all pages."""
    writer = csv.writer(_Echo(), lineterminator="\n")
    yield writer.writerow(CSV_COLUMNS)
    if run is None:
        return
    fields = [
        "customer__external_id",
        *RESULT_COLUMNS[1:],
        "customer__owner__username",
        "customer__follow_up",
    ]
    rows = risk_results(run=run, query=query, viewer_id=viewer_id).values_list(*fields)
    for row in sentences_shown(run, rows.iterator(chunk_size=BATCH)):
        yield writer.writerow([neutralise(cell(value)) for value in row])
