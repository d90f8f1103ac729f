"""The risk table: one run's customer results filtered, sorted and paged from a query string.

The query string is the whole state of the table (docs/interfaces.md: ``level``, ``segment``, ``q``,
``sort``, ``page``), so a pushed URL, a bookmark or the back button renders the same table.
Unknown or malformed values are ignored, never an error: the URL is user input.

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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from django.db.models import F, QuerySet
from django.db.models.expressions import OrderBy

from analytics.core import UNJUDGED
from analytics.links import customer_url_builder
from analytics.models import LEVEL_LABELS, RISK_SORTS, AnalysisRun, CustomerResult, Segment
from analytics.services.export import BATCH, RESULT_COLUMNS, cell, neutralise
from customers.models import Customer

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
)


@dataclass(frozen=True)
class RiskQuery:
    """The table's state, normalised: every field holds a valid value or its default."""

    level: str = ""
    segment: int | None = None
    q: str = ""
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
        return bool(self.level or self.segment is not None or self.q)

    def params(self, **changes) -> dict[str, str]:
        """The non-default fields as query parameters, after applying ``changes``."""
        state = replace(self, **changes)
        pairs = {
            "level": state.level,
            "segment": "" if state.segment is None else str(state.segment),
            "q": state.q,
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


def risk_results(*, run: AnalysisRun, query: RiskQuery) -> QuerySet[CustomerResult]:
    """The run's results matching ``query``'s filters, in its sort order (no paging)."""
    return risk_filtered(run=run, query=query).order_by(*_ordering(query))


def risk_filtered(*, run: AnalysisRun, query: RiskQuery) -> QuerySet[CustomerResult]:
    """The run's results matching ``query``'s filters, unordered."""
    results = CustomerResult.objects.filter(run=run)
    if query.level == LEVEL_NONE:
        results = results.filter(decline_level__isnull=True)
    elif query.level:
        results = results.filter(decline_level=int(query.level))
    if query.segment is not None:
        results = results.filter(segment=query.segment)
    if query.q:
        results = results.filter(customer__external_id__icontains=query.q)
    return results


def _ordering(query: RiskQuery) -> list:
    """Empty values last in both directions; ties in the sort's direction by pk, so one
    index (run, column, id) serves a column both ways (scanned forwards or backwards)."""
    column, pk = F(query.sort_column), F("pk")
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
    # Plain ASC/DESC: with NULLS LAST, a backward index scan (which yields NULLS FIRST)
    # would not match and PostgreSQL would sort, even where no null can occur.
    order: list[OrderBy | str] = (
        [F(column).desc(), F("pk").desc()] if query.descending else [column, "pk"]
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
    *, run: AnalysisRun, query: RiskQuery, team_slug: str, page_size: int | None = None
) -> RiskPage:
    """One page of the table: two queries (segments, rows), whatever the page size."""
    page_size = page_size or PAGE_SIZE
    # order_by: the model orders by run, which would join the runs table for nothing.
    segments_query = Segment.objects.filter(run=run).order_by("number")
    segment_rows = list(segments_query.values_list("number", "name", "size"))
    segments = {number: name for number, name, _ in segment_rows}
    sizes = {number: size for number, _, size in segment_rows}
    total = _known_total(run=run, query=query, segment_sizes=sizes)
    number = query.page
    if total is not None:
        number = min(number, max(1, -(-total // page_size)))
    start = (number - 1) * page_size
    rows = _page_rows(risk_filtered(run=run, query=query), query, start, page_size + 1)
    # The page's ids in a second, tiny query: joining customers into the sorted query kept
    # PostgreSQL from a top-N sort (it sorted every row of the run, spilling to disk).
    external_ids = dict(
        Customer.objects.filter(pk__in=[row["customer_id"] for row in rows]).values_list(
            "pk", "external_id"
        )
    )
    for row in rows:
        row["external_id"] = external_ids[row["customer_id"]]
    has_next = len(rows) > page_size
    rows = rows[:page_size]
    if total is None and number == 1 and not has_next:
        total = len(rows)
    url_for = customer_url_builder(team_slug=team_slug)
    for row in rows:
        row["segment_name"] = segments.get(row["segment"], "")
        row["url"] = url_for(row["external_id"])
    return RiskPage(rows, number, page_size, has_next, total, segments)


def _known_total(
    *, run: AnalysisRun, query: RiskQuery, segment_sizes: dict[int, int]
) -> int | None:
    """The number of matching rows when the run already knows it, else None."""
    if query.q or (query.level and query.segment is not None):
        return None
    if query.level:
        if query.level == LEVEL_NONE:
            return run.insufficient_count
        return run.customers_per_level[int(query.level)]
    if query.segment is not None:
        return segment_sizes.get(query.segment, 0)
    return run.customers_count


# --- CSV export -----------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write returns the text, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def risk_csv_rows(*, run: AnalysisRun | None, query: RiskQuery) -> Iterator[str]:
    """The filtered table as CSV lines, export_results's columns and cell format, all pages."""
    writer = csv.writer(_Echo(), lineterminator="\n")
    yield writer.writerow(RESULT_COLUMNS)
    if run is None:
        return
    fields = ["customer__external_id", *RESULT_COLUMNS[1:]]
    rows = risk_results(run=run, query=query).values_list(*fields)
    for row in rows.iterator(chunk_size=BATCH):
        yield writer.writerow([neutralise(cell(value)) for value in row])
