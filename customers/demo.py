"""Synthetic customer portfolio with known truth, for the demo and the detection benchmark.

Each customer has an *underlying* monthly revenue (noise-free, deseasonalised) whose change over
the last 12 months fixes its true decline level as docs/method.md defines it. What a method sees is
that level times a 12-month seasonal profile times autocorrelated lognormal noise, delivered as
lumpy orders (a skipped month's demand arrives with the next order), split into several invoices,
with one-off spikes and refunds injected on top. The truth table records everything a benchmark
needs to score a method: pattern, true level and change, onset, churn and the spike months.

Pure numpy / pandas (no Django) so benchmarks and tests can import it directly. All randomness
comes from one ``numpy.random.default_rng(seed)`` drawn in a fixed order: same arguments give
byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

# Roughly a B2B book: most customers steady, a fifth declining, a tail of new and thin accounts.
PATTERN_SHARES: dict[str, float] = {
    "stable": 0.28,
    "growing": 0.12,
    "seasonal": 0.10,
    "volatile": 0.09,
    "intermittent": 0.09,
    "mild_decline": 0.07,
    "moderate_decline": 0.06,
    "sharp_decline": 0.04,
    "churned": 0.04,
    "new": 0.04,
    "insufficient": 0.07,
}
PATTERNS: tuple[str, ...] = tuple(PATTERN_SHARES)
DECLINES: tuple[str, ...] = ("mild_decline", "moderate_decline", "sharp_decline")

# Underlying 12-month change per pattern. The decline bands keep 2 points clear of the level
# edges (-10 %, -25 %, -50 %, docs/method.md) so a true level is never decided by rounding.
CHANGE_RANGES: dict[str, tuple[float, float]] = {
    "stable": (-0.05, 0.05),
    "growing": (0.05, 0.60),
    "seasonal": (-0.05, 0.05),
    "volatile": (-0.05, 0.05),
    "intermittent": (-0.05, 0.05),
    "mild_decline": (-0.23, -0.12),
    "moderate_decline": (-0.48, -0.27),
    "sharp_decline": (-0.90, -0.52),
    "churned": (-0.05, 0.05),  # drift before the customer stops
    "new": (0.0, 0.0),  # ramp-up instead, see _new_customer_ramp
    "insufficient": (-0.05, 0.05),
}
LEVEL_EDGES: tuple[float, float, float] = (-0.50, -0.25, -0.10)
MIN_SPAN_MONTHS = 6
MIN_ACTIVE_MONTHS = 3
MIN_MONTHS = 24

DECLINE_SHAPES: tuple[str, ...] = ("linear", "exponential", "step")
SPIKE_SHARE = 0.08
CARRY_CAP = 2.0  # most demand carried into one order, in expected orders
REFUND_SHARE = 0.12

# A portfolio-wide calendar (December peak, January and August troughs) that most customers
# share to some degree; the rest of each profile is the customer's own.
COMMON_SEASON = np.array([-0.4, -0.2, 0.1, 0.0, 0.1, 0.0, -0.2, -0.6, 0.2, 0.3, 0.4, 0.8])


@dataclass(frozen=True)
class Portfolio:
    """``transactions``: one row per invoice, ``customer_id`` (str), ``date`` ("YYYY-MM-DD"),
    ``amount`` (float, 2 decimals, negative for refunds), sorted by customer and date.

    ``truth``: one row per customer, in this column order:

    - ``customer_id``, ``pattern`` (one of PATTERNS; "insufficient" whenever the written data has
      fewer than 6 months of span or 3 months with positive net revenue),
    - ``true_level`` (Int64 0-3, <NA> for insufficient), ``true_change_12m`` (underlying change
      from month T-12 to T as a fraction; -1 for churned; NaN for new and insufficient customers,
      whose span does not reach back 12 months or who are not judged),
    - ``scale`` (baseline underlying monthly revenue; the plateau for new customers),
    - ``onset_month`` ("YYYY-MM": first month below the baseline for declines, the first faded or
      empty month for churned; "" otherwise), ``churned`` (bool),
    - ``spike_months`` (";"-joined "YYYY-MM" of injected one-off spikes: the anomaly truth),
    - ``decline_shape`` (linear / exponential / step / churn / ""), ``first_month``,
      ``span_months``, ``active_months`` (as observed in the transactions), ``order_rate``,
      ``noise_cv``, ``seasonal_amplitude`` (log peak deviation), ``has_refunds``.
    """

    transactions: pd.DataFrame
    truth: pd.DataFrame


@dataclass
class _Customers:
    """Per-customer draws; arrays of length n_customers unless noted."""

    pattern: np.ndarray  # index into PATTERNS
    scale: np.ndarray  # baseline underlying monthly revenue (a new customer's plateau)
    start: np.ndarray  # first month the customer can buy
    existing: np.ndarray  # bool: already a customer before the window, first order not forced
    churn: np.ndarray  # first month without revenue for churned customers, else n_months
    noise_cv: np.ndarray
    order_rate: np.ndarray  # expected share of months with an order
    few_orders: np.ndarray  # bool: insufficient by having only one or two orders
    invoices_per_order: np.ndarray  # Poisson mean of extra invoices per order


def true_level_for_change(change: np.ndarray) -> np.ndarray:
    """docs/method.md's level (0-3) for an underlying 12-month change given as a fraction."""
    return 3 - np.digitize(change, LEVEL_EDGES, right=True)


def generate_portfolio(
    *, customers: int, months: int = 36, seed: int = 0, end_month: str = "2025-12"
) -> Portfolio:
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if months < MIN_MONTHS:
        raise ValueError(f"months must be at least {MIN_MONTHS} to define a 12-month change")
    rng = np.random.default_rng(seed)
    calendar = _calendar(end_month, months)
    people = _draw_customers(rng, customers, months)
    underlying, change, onset, shape = _underlying(rng, people, months)
    seasonal, amplitude = _seasonal_factors(rng, people.pattern, calendar)
    demand = underlying * seasonal * _ar1_lognormal_noise(rng, people.noise_cv, months)
    orders, order_rate = _order_months(rng, people, months)
    people = replace(people, order_rate=order_rate)
    expected_order = underlying * seasonal / people.order_rate[:, None]
    revenue = _carry_demand(rng, demand, orders, people, carry_cap=CARRY_CAP * expected_order)
    first_order = orders.argmax(axis=1)
    spikes = _spikes(rng, people, expected_order, first_order)
    refunds = _refunds(rng, people, expected_order, first_order, spikes)
    transactions, monthly_net, has_rows = _transactions(
        rng, people, calendar, revenue, spikes, refunds
    )
    truth = _truth_frame(
        people,
        calendar,
        change=change,
        onset=onset,
        shape=shape,
        amplitude=amplitude,
        refunds=refunds,
        spikes=spikes,
        monthly_net=monthly_net,
        has_rows=has_rows,
    )
    return Portfolio(transactions=transactions, truth=truth)


def write_portfolio(portfolio: Portfolio, directory: Path) -> tuple[Path, Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    transactions_path = directory / "transactions.csv"
    truth_path = directory / "truth.csv"
    portfolio.transactions.to_csv(
        transactions_path, index=False, lineterminator="\n", float_format="%.2f"
    )
    portfolio.truth.to_csv(truth_path, index=False, lineterminator="\n")
    return transactions_path, truth_path


@dataclass(frozen=True)
class _Calendar:
    months: np.ndarray  # datetime64[M], oldest first
    labels: np.ndarray  # "YYYY-MM" strings
    days_in_month: np.ndarray
    first_day_offset: np.ndarray  # index of each month's first day in `day_labels`
    day_labels: np.ndarray  # "YYYY-MM-DD" for every day of the window

    @property
    def month_of_year(self) -> np.ndarray:
        return self.months.astype(np.int64) % 12


def _calendar(end_month: str, n_months: int) -> _Calendar:
    end = np.datetime64(end_month, "M")
    months = end - np.arange(n_months - 1, -1, -1)
    first_days = months.astype("datetime64[D]")
    days_in_month = ((months + 1).astype("datetime64[D]") - first_days).astype(np.int64)
    all_days = np.arange(first_days[0], (end + 1).astype("datetime64[D]"))
    return _Calendar(
        months=months,
        labels=np.datetime_as_string(months, unit="M"),
        days_in_month=days_in_month,
        first_day_offset=(first_days - first_days[0]).astype(np.int64),
        # Object strings: gathering millions of shared references is cheaper than fixed-width.
        day_labels=np.datetime_as_string(all_days, unit="D").astype(object),
    )


def _assign_patterns(rng: np.random.Generator, n: int) -> np.ndarray:
    # Exact shares (largest remainder) rather than independent draws, so small portfolios still
    # contain every pattern in the intended proportion.
    shares = np.array(list(PATTERN_SHARES.values()))
    raw = shares * n
    counts = np.floor(raw).astype(np.int64)
    leftover = n - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:leftover]] += 1
    return rng.permutation(np.repeat(np.arange(len(PATTERNS)), counts))


def _code(name: str) -> int:
    return PATTERNS.index(name)


def _is(pattern: np.ndarray, *names: str) -> np.ndarray:
    return np.isin(pattern, [_code(name) for name in names])


def _draw_customers(rng: np.random.Generator, n: int, n_months: int) -> _Customers:
    pattern = _assign_patterns(rng, n)
    last = n_months - 1
    # Log-normal around 2,000 a month: tens for the smallest accounts, hundreds of thousands for
    # the largest few.
    scale = np.clip(rng.lognormal(np.log(2000.0), 1.5, n), 20.0, 500_000.0)

    existing = rng.random(n) < 0.75
    late_start = rng.integers(1, last - 11, n)  # span of at least 13 months: u[T-12] exists
    # Thin intermittent buyers need more months to show at least three orders.
    late_start_intermittent = rng.integers(1, max(2, last - 23), n)
    churn_months = rng.integers(3, 11, n)
    churn = n_months - churn_months
    late_start_churned = rng.integers(1, np.maximum(2, churn - 11))
    new_start = rng.integers(last - 11, last - 4, n)
    short_span_start = rng.integers(last - 4, last + 1, n)
    few_orders_start = rng.integers(0, last - 4, n)
    short_span = rng.random(n) < 0.6

    start = np.where(existing, 0, late_start)
    start = np.where(_is(pattern, "intermittent") & ~existing, late_start_intermittent, start)
    start = np.where(_is(pattern, "churned") & ~existing, late_start_churned, start)
    start = np.where(_is(pattern, "new"), new_start, start)
    insufficient = _is(pattern, "insufficient")
    start = np.where(insufficient, np.where(short_span, short_span_start, few_orders_start), start)
    existing = existing & (start == 0) & ~_is(pattern, "new", "insufficient")
    churn = np.where(_is(pattern, "churned"), churn, n_months)

    few_orders = insufficient & ~short_span
    return _Customers(
        pattern=pattern,
        scale=scale,
        start=start,
        existing=existing,
        churn=churn,
        noise_cv=_noise_cv(rng, pattern),
        order_rate=_order_rate(rng, pattern, few_orders),
        few_orders=few_orders,
        invoices_per_order=rng.uniform(0.3, 1.0, n) * np.maximum(0.5, np.log10(scale) - 1.0),
    )


def _noise_cv(rng: np.random.Generator, pattern: np.ndarray) -> np.ndarray:
    n = len(pattern)
    ordinary = np.exp(rng.uniform(np.log(0.15), np.log(0.6), n))
    volatile = rng.uniform(0.7, 1.5, n)
    return np.where(_is(pattern, "volatile"), volatile, ordinary)


def _order_rate(
    rng: np.random.Generator, pattern: np.ndarray, few_orders: np.ndarray
) -> np.ndarray:
    """Expected share of months with an order (intermittent rates come from _order_months)."""
    n = len(pattern)
    monthly = rng.uniform(0.92, 1.0, n)
    gappy = rng.uniform(0.6, 0.92, n)
    rate = np.where(rng.random(n) < 0.7, monthly, gappy)
    rate = np.where(_is(pattern, "volatile"), rng.uniform(0.6, 1.0, n), rate)
    # "Orders every month and then stops" is what makes an empty tail implausible.
    rate = np.where(_is(pattern, "churned"), rng.uniform(0.93, 1.0, n), rate)
    return np.where(few_orders, 0.05, rate)


def _underlying(
    rng: np.random.Generator, people: _Customers, n_months: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Underlying revenue (customers x months), its true 12-month change, onset month index
    (-1 when none) and the decline shape name ("" when none)."""
    n = len(people.pattern)
    last = n_months - 1
    t = np.arange(n_months)[None, :]
    low, high = (np.array([CHANGE_RANGES[p][i] for p in PATTERNS]) for i in (0, 1))
    target = rng.uniform(low[people.pattern], high[people.pattern])

    yearly_rate = np.log1p(target) / 12.0
    multiplier = np.exp(yearly_rate[:, None] * (t - people.start[:, None]))

    decline_mult, decline_onset, shape = _decline_multiplier(rng, people, target, n_months)
    declining = _is(people.pattern, *DECLINES)
    multiplier = np.where(declining[:, None], decline_mult, multiplier)

    churn_mult, churn_onset = _churn_multiplier(rng, people, n_months)
    churned = _is(people.pattern, "churned")
    multiplier = np.where(churned[:, None], multiplier * churn_mult, multiplier)

    new = _is(people.pattern, "new")
    multiplier = np.where(new[:, None], _new_customer_ramp(rng, people, n_months), multiplier)

    underlying = people.scale[:, None] * multiplier
    underlying[t < people.start[:, None]] = 0.0

    before = underlying[:, last - 12]
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(before > 0, (underlying[:, last] - before) / before, np.nan)
    change[_is(people.pattern, "new", "insufficient")] = np.nan

    onset = np.full(n, -1)
    onset = np.where(declining, decline_onset, onset)
    onset = np.where(churned, churn_onset, onset)
    shape = np.where(declining, shape, np.where(churned, "churn", ""))
    return underlying, change, onset, shape


def _decline_multiplier(
    rng: np.random.Generator, people: _Customers, target: np.ndarray, n_months: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat until the onset, then falling so that u[T] / u[T-12] = 1 + target exactly."""
    n = len(target)
    last = n_months - 1
    t = np.arange(n_months)[None, :]
    shape = rng.choice(np.array(DECLINE_SHAPES), size=n, p=[0.4, 0.35, 0.25])
    # Gradual declines may have started before the last year; a step (a lost contract) must
    # fall inside it. At least three reduced months, at least seven baseline months.
    # (Bounds are clipped only so that the draws for non-declining customers stay valid.)
    gradual_onset = rng.integers(np.clip(people.start + 7, last - 23, last - 3), last - 2)
    step_onset = rng.integers(np.clip(people.start + 7, last - 11, last - 3), last - 2)
    onset = np.where(shape == "step", step_onset, gradual_onset)

    months_falling = np.clip(t - onset[:, None] + 1, 0, None)  # 1 at the onset month
    in_window = last - onset + 1
    before_window = np.maximum(0, in_window - 12)

    exponential_rate = np.log1p(target) / np.minimum(in_window, 12)
    exponential = np.exp(exponential_rate[:, None] * months_falling)
    # Solves (1 - s*in_window) / (1 - s*before_window) = 1 + target; stays positive.
    slope = -target / (in_window - (1.0 + target) * before_window)
    linear = 1.0 - slope[:, None] * months_falling
    step = np.where(months_falling > 0, 1.0 + target[:, None], 1.0)

    multiplier = np.select(
        [shape[:, None] == "linear", shape[:, None] == "exponential"], [linear, exponential], step
    )
    return multiplier, onset, shape


def _churn_multiplier(
    rng: np.random.Generator, people: _Customers, n_months: int
) -> tuple[np.ndarray, np.ndarray]:
    """Zero from the churn month; some customers fade over a few months first."""
    n = len(people.churn)
    t = np.arange(n_months)[None, :]
    fades = rng.random(n) < 0.3
    fade_months = np.where(fades, rng.integers(3, 7, n), 0)
    floor = rng.uniform(0.3, 0.7, n)
    fade_start = people.churn - fade_months
    progress = (t - fade_start[:, None] + 1) / np.maximum(fade_months, 1)[:, None]
    fading = 1.0 - (1.0 - floor[:, None]) * np.clip(progress, 0.0, 1.0)
    multiplier = np.where(t >= people.churn[:, None], 0.0, fading)
    return multiplier, fade_start


def _new_customer_ramp(rng: np.random.Generator, people: _Customers, n_months: int) -> np.ndarray:
    n = len(people.start)
    t = np.arange(n_months)[None, :]
    depth = rng.uniform(0.3, 0.7, n)[:, None]
    pace = rng.uniform(1.0, 3.0, n)[:, None]
    age = np.clip(t - people.start[:, None], 0, None)
    return 1.0 - depth * np.exp(-age / pace)


def _seasonal_factors(
    rng: np.random.Generator, pattern: np.ndarray, calendar: _Calendar
) -> tuple[np.ndarray, np.ndarray]:
    """Multiplicative 12-month profile averaging 1 over a year, and its log amplitude."""
    n = len(pattern)
    moy = np.arange(12)[None, :]
    phase, phase2 = rng.uniform(0, 12, n)[:, None], rng.uniform(0, 12, n)[:, None]
    harmonic = rng.uniform(0.0, 0.6, n)[:, None]
    own = np.cos(2 * np.pi * (moy - phase) / 12) + harmonic * np.cos(
        4 * np.pi * (moy - phase2) / 12
    )
    common_weight = rng.uniform(0.0, 1.0, n)[:, None]
    common = (COMMON_SEASON - COMMON_SEASON.mean()) / np.abs(COMMON_SEASON).max()
    profile = common_weight * common + (1 - common_weight) * own
    profile /= np.abs(profile).max(axis=1, keepdims=True)

    weak = rng.uniform(0.0, 0.12, n)
    moderate = rng.uniform(0.12, 0.3, n)
    amplitude = np.where(rng.random(n) < 0.7, weak, moderate)
    amplitude = np.where(_is(pattern, "seasonal"), rng.uniform(0.35, 0.8, n), amplitude)

    yearly = np.exp(amplitude[:, None] * profile)
    yearly /= yearly.mean(axis=1, keepdims=True)
    return yearly[:, calendar.month_of_year], amplitude


def _ar1_lognormal_noise(rng: np.random.Generator, cv: np.ndarray, n_months: int) -> np.ndarray:
    """Mean-one multiplicative noise with coefficient of variation `cv` and some persistence,
    because real monthly revenue wanders rather than being independent month to month."""
    n = len(cv)
    sigma = np.sqrt(np.log1p(cv**2))
    phi = rng.uniform(0.0, 0.4, n)
    shocks = rng.standard_normal((n, n_months))
    log_noise = np.empty((n, n_months))
    log_noise[:, 0] = sigma * shocks[:, 0]
    innovation = sigma * np.sqrt(1 - phi**2)
    for month in range(1, n_months):
        log_noise[:, month] = phi * log_noise[:, month - 1] + innovation * shocks[:, month]
    return np.exp(log_noise - sigma[:, None] ** 2 / 2)


def _order_months(
    rng: np.random.Generator, people: _Customers, n_months: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which months have an order (customers x months), and each customer's order rate."""
    n = len(people.pattern)
    t = np.arange(n_months)[None, :]
    orders = rng.random((n, n_months)) < people.order_rate[:, None]

    intermittent = _is(people.pattern, "intermittent")
    schedule, rate = _intermittent_schedule(rng, people.start, n_months)
    orders = np.where(intermittent[:, None], schedule, orders)
    order_rate = np.where(intermittent, rate, people.order_rate)

    second = rng.integers(people.start, n_months)
    with_second = rng.random(n) < 0.5
    sparse = (t == people.start[:, None]) | ((t == second[:, None]) & with_second[:, None])
    orders = np.where(people.few_orders[:, None], sparse, orders)

    orders &= (t >= people.start[:, None]) & (t < people.churn[:, None])
    forced = ~people.existing | ~orders.any(axis=1)
    orders[forced, people.start[forced]] = True
    return orders, order_rate


def _intermittent_schedule(
    rng: np.random.Generator, start: np.ndarray, n_months: int
) -> tuple[np.ndarray, np.ndarray]:
    """Quarterly, four-monthly or half-yearly orders with a month of jitter, or random months."""
    n = len(start)
    t = np.arange(n_months)[None, :]
    period = rng.choice(np.array([3, 4, 6, 0]), size=n, p=[0.4, 0.15, 0.2, 0.25])
    phase = rng.integers(0, 6, n) % np.maximum(period, 1)
    on_schedule = (period[:, None] > 0) & (
        (t - phase[:, None]) % np.maximum(period, 1)[:, None] == 0
    )
    jitter = rng.choice(np.array([-1, 0, 1]), size=(n, n_months), p=[0.15, 0.7, 0.15])
    rows, cols = np.nonzero(on_schedule)
    jittered = np.zeros((n, n_months), dtype=bool)
    jittered[rows, np.clip(cols + jitter[rows, cols], 0, n_months - 1)] = True

    random_rate = rng.uniform(0.15, 0.35, n)
    random_orders = rng.random((n, n_months)) < random_rate[:, None]
    schedule = np.where(period[:, None] > 0, jittered, random_orders)
    rate = np.where(period > 0, 1.0 / np.maximum(period, 1), random_rate)
    return schedule, rate


def _carry_demand(
    rng: np.random.Generator,
    demand: np.ndarray,
    orders: np.ndarray,
    people: _Customers,
    *,
    carry_cap: np.ndarray,
) -> np.ndarray:
    """Order value per month: demand accumulates until the next order month.

    What is carried from skipped months is capped (``carry_cap``): a buyer silent for two years
    does not then order two years' worth; the rest went elsewhere."""
    # Existing customers already had demand building up before the window opened.
    gap = 1.0 / people.order_rate - 1.0
    pending = np.where(people.existing, people.scale * rng.uniform(0, 1, len(gap)) * gap, 0.0)
    revenue = np.zeros_like(demand)
    for month in range(demand.shape[1]):
        pending = np.minimum(pending, carry_cap[:, month]) + demand[:, month]
        ordering = orders[:, month]
        revenue[ordering, month] = pending[ordering]
        pending[ordering] = 0.0
    return revenue


def _month_window(people: _Customers, first_order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Months after the first order and before any churn: where spikes and refunds may go."""
    return first_order + 1, people.churn - 1


def _spikes(
    rng: np.random.Generator,
    people: _Customers,
    expected_order: np.ndarray,
    first_order: np.ndarray,
) -> np.ndarray:
    """Extra one-off amounts (customers x months): the anomaly ground truth.

    Sized from the customer's largest expected order and its own noise level, so that a spike
    stands clearly above the customer's normal months even late in a steep decline."""
    n, n_months = expected_order.shape
    low, high = _month_window(people, first_order)
    eligible = ~_is(people.pattern, "insufficient") & (high - low >= 2)
    chosen = eligible & (rng.random(n) < SPIKE_SHARE)
    first = rng.integers(low, np.maximum(high, low) + 1)
    second = rng.integers(low, np.maximum(high, low) + 1)
    has_second = chosen & (rng.random(n) < 0.25) & (np.abs(second - first) >= 3)

    peak = expected_order.max(axis=1)
    spikes = np.zeros((n, n_months))
    for month, rows in ((first, chosen), (second, has_second)):
        size = rng.uniform(3.0, 8.0, n) * (1.0 + people.noise_cv) * peak
        spikes[np.nonzero(rows)[0], month[rows]] = size[rows]
    return spikes


def _refunds(
    rng: np.random.Generator,
    people: _Customers,
    expected_order: np.ndarray,
    first_order: np.ndarray,
    spikes: np.ndarray,
) -> np.ndarray:
    """Negative amounts (customers x months); in a month without an order the month nets
    negative. Kept away from spike months so a spike's size is what was injected."""
    n: int  # (numpy's shapes are untyped: an Any here would make the draws below floats)
    n_months: int
    n, n_months = expected_order.shape
    t = np.arange(n_months)[None, :]
    low, high = _month_window(people, first_order)
    has_refunds = ~_is(people.pattern, "insufficient") & (rng.random(n) < REFUND_SHARE)
    monthly_chance = rng.uniform(0.04, 0.15, n)
    refund = has_refunds[:, None] & (rng.random((n, n_months)) < monthly_chance[:, None])
    refund &= (t >= low[:, None]) & (t <= high[:, None]) & (spikes == 0)
    share = rng.uniform(0.1, 0.7, (n, n_months))
    return np.where(refund, -share * expected_order, 0.0)


def _transactions(
    rng: np.random.Generator,
    people: _Customers,
    calendar: _Calendar,
    revenue: np.ndarray,
    spikes: np.ndarray,
    refunds: np.ndarray,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Invoice rows, plus the monthly net revenue and 'has any row' matrices they add up to."""
    n, n_months = revenue.shape
    order_rows, order_months = np.nonzero(revenue > 0)
    invoice_counts = 1 + rng.poisson(people.invoices_per_order[order_rows])
    order_of_invoice = np.repeat(np.arange(len(order_rows)), invoice_counts)
    # Dirichlet split: a few invoices of uneven size make up each month's order.
    weights = rng.gamma(2.0, size=len(order_of_invoice))
    weights /= np.bincount(order_of_invoice, weights)[order_of_invoice]
    order_amounts = revenue[order_rows, order_months][order_of_invoice] * weights

    spike_rows, spike_months = np.nonzero(spikes)
    refund_rows, refund_months = np.nonzero(refunds)
    rows = np.concatenate([order_rows[order_of_invoice], spike_rows, refund_rows])
    months = np.concatenate([order_months[order_of_invoice], spike_months, refund_months])
    amounts = np.concatenate(
        [order_amounts, spikes[spike_rows, spike_months], refunds[refund_rows, refund_months]]
    )
    days = (rng.random(len(rows)) * calendar.days_in_month[months]).astype(np.int64)

    amounts = np.round(amounts, 2)
    keep = amounts != 0  # tiny invoices of the smallest accounts round to nothing
    rows, months, days, amounts = rows[keep], months[keep], days[keep], amounts[keep]
    # One integer key with a stable sort: several times faster than lexsort on millions of rows.
    order = np.argsort((rows * n_months + months) * 31 + days, kind="stable")
    rows, months, days, amounts = rows[order], months[order], days[order], amounts[order]

    cell = rows * n_months + months
    monthly_net = np.bincount(cell, amounts, minlength=n * n_months).reshape(n, n_months)
    has_rows = np.bincount(cell, minlength=n * n_months).reshape(n, n_months) > 0
    frame = pd.DataFrame(
        {
            "customer_id": _customer_ids(n)[rows],
            "date": calendar.day_labels[calendar.first_day_offset[months] + days],
            "amount": amounts,
        }
    )
    return frame, monthly_net, has_rows


def _customer_ids(n: int) -> np.ndarray:
    width = max(6, len(str(n)))
    return np.array([f"C{number:0{width}d}" for number in range(1, n + 1)], dtype=object)


def _truth_frame(
    people: _Customers,
    calendar: _Calendar,
    *,
    change: np.ndarray,
    onset: np.ndarray,
    shape: np.ndarray,
    amplitude: np.ndarray,
    refunds: np.ndarray,
    spikes: np.ndarray,
    monthly_net: np.ndarray,
    has_rows: np.ndarray,
) -> pd.DataFrame:
    n, n_months = monthly_net.shape
    first_month = has_rows.argmax(axis=1)
    span_months = np.where(has_rows.any(axis=1), n_months - first_month, 0)
    active_months = (monthly_net > 0).sum(axis=1)
    # Judge sufficiency on the data actually written, so the truth agrees with what any method
    # can see (a thin intermittent buyer may, by chance, have too few orders).
    insufficient = (span_months < MIN_SPAN_MONTHS) | (active_months < MIN_ACTIVE_MONTHS)
    pattern = np.array(PATTERNS, dtype=object)[people.pattern]
    pattern[insufficient] = "insufficient"
    churned = pattern == "churned"

    level = pd.array(true_level_for_change(np.nan_to_num(change)), dtype="Int64")
    level[churned] = 3
    level[pattern == "new"] = 0
    level[insufficient] = pd.NA
    change = np.where(insufficient, np.nan, change)

    labels = calendar.labels
    return pd.DataFrame(
        {
            "customer_id": _customer_ids(n),
            "pattern": pattern,
            "true_level": level,
            "true_change_12m": np.round(change, 6),
            "scale": np.round(people.scale, 2),
            "onset_month": np.where(
                (onset >= 0) & ~insufficient, labels[np.clip(onset, 0, None)], ""
            ),
            "churned": churned,
            "spike_months": _joined_months(spikes > 0, labels),
            "decline_shape": np.where(insufficient, "", shape),
            "first_month": np.where(span_months > 0, labels[first_month], ""),
            "span_months": span_months,
            "active_months": active_months,
            "order_rate": np.round(people.order_rate, 4),
            "noise_cv": np.round(people.noise_cv, 4),
            "seasonal_amplitude": np.round(amplitude, 4),
            "has_refunds": (refunds < 0).any(axis=1),
        }
    )


def _joined_months(marks: np.ndarray, labels: np.ndarray) -> list[str]:
    joined = [""] * marks.shape[0]
    rows, months = np.nonzero(marks)
    for row, month in zip(rows.tolist(), months.tolist(), strict=True):
        joined[row] = f"{joined[row]};{labels[month]}" if joined[row] else str(labels[month])
    return joined
