"""The synthetic portfolio: determinism, schema, and that its truth table tells the truth."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from pandas.testing import assert_frame_equal

from customers.demo import (
    DECLINES,
    LEVEL_EDGES,
    MIN_ACTIVE_MONTHS,
    MIN_SPAN_MONTHS,
    PATTERNS,
    generate_portfolio,
    true_level_for_change,
    write_portfolio,
)

CUSTOMERS = 2_000
END_MONTH = "2025-12"
LAST_MONTH = pd.Period(END_MONTH, "M")


@pytest.fixture(scope="module")
def portfolio():
    return generate_portfolio(customers=CUSTOMERS, seed=7)


@pytest.fixture(scope="module")
def truth(portfolio) -> pd.DataFrame:
    return portfolio.truth.set_index("customer_id")


@pytest.fixture(scope="module")
def monthly(portfolio) -> pd.Series:
    """Net revenue per (customer_id, "YYYY-MM"), only for months that have transactions."""
    tx = portfolio.transactions
    return tx.groupby(["customer_id", tx["date"].str[:7]])["amount"].sum()


def months_around(month: str, radius: int) -> tuple[str, str]:
    period = pd.Period(month, "M")
    return str(period - radius), str(period + radius)


def test_same_arguments_give_identical_frames_and_files(tmp_path):
    first = generate_portfolio(customers=300, seed=3)
    second = generate_portfolio(customers=300, seed=3)
    assert_frame_equal(first.transactions, second.transactions)
    assert_frame_equal(first.truth, second.truth)

    paths_a = write_portfolio(first, tmp_path / "a")
    paths_b = write_portfolio(second, tmp_path / "b")
    for a, b in zip(paths_a, paths_b, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_a_different_seed_gives_a_different_portfolio():
    first = generate_portfolio(customers=300, seed=3)
    other = generate_portfolio(customers=300, seed=4)
    assert not first.transactions.equals(other.transactions)
    assert not first.truth["pattern"].equals(other.truth["pattern"])


def test_transactions_schema(portfolio):
    tx = portfolio.transactions
    assert list(tx.columns) == ["customer_id", "date", "amount"]
    assert tx["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert tx["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    dates = pd.to_datetime(tx["date"], format="%Y-%m-%d")
    assert dates.min() >= pd.Timestamp("2023-01-01")
    assert dates.max() <= pd.Timestamp("2025-12-31")
    amounts = tx["amount"].to_numpy()
    assert amounts.dtype == np.float64
    np.testing.assert_array_equal(np.round(amounts, 2), amounts)
    assert (amounts != 0).all()
    # Transaction level, not monthly: several invoices make up a typical month.
    customer_months = tx.groupby(["customer_id", tx["date"].str[:7]]).ngroups
    assert len(tx) / customer_months > 1.5


def test_truth_schema(portfolio):
    truth = portfolio.truth
    expected = [
        "customer_id",
        "pattern",
        "true_level",
        "true_change_12m",
        "scale",
        "onset_month",
        "churned",
        "spike_months",
    ]
    assert list(truth.columns[: len(expected)]) == expected
    assert len(truth) == CUSTOMERS
    assert truth["customer_id"].is_unique
    assert set(portfolio.transactions["customer_id"]) <= set(truth["customer_id"])
    assert str(truth["true_level"].dtype) == "Int64"
    onsets = truth.loc[truth["onset_month"] != "", "onset_month"]
    assert onsets.str.fullmatch(r"\d{4}-\d{2}").all()


def test_written_files_have_the_documented_headers(portfolio, tmp_path):
    transactions_path, truth_path = write_portfolio(portfolio, tmp_path / "out")
    assert transactions_path.read_text().splitlines()[0] == "customer_id,date,amount"
    header = truth_path.read_text().splitlines()[0].split(",")
    assert header[:3] == ["customer_id", "pattern", "true_level"]
    again = pd.read_csv(transactions_path, dtype={"customer_id": str, "date": str})
    assert len(again) == len(portfolio.transactions)
    np.testing.assert_allclose(again["amount"], portfolio.transactions["amount"])


def test_every_pattern_is_present(truth):
    counts = truth["pattern"].value_counts()
    assert set(counts.index) == set(PATTERNS)
    assert counts.min() >= 20


def test_true_levels_follow_the_12_month_change(truth):
    measured = truth[truth["true_change_12m"].notna() & ~truth["churned"]]
    expected = true_level_for_change(measured["true_change_12m"].to_numpy())
    np.testing.assert_array_equal(measured["true_level"].to_numpy(dtype=int), expected)


def test_true_changes_keep_clear_of_the_band_edges(truth):
    change = truth.loc[~truth["churned"], "true_change_12m"].dropna().to_numpy()
    distance = np.abs(change[:, None] - np.array(LEVEL_EDGES)[None, :])
    assert distance.min() >= 0.02 - 1e-9


@pytest.mark.parametrize(
    ("pattern", "level"),
    [
        ("stable", 0),
        ("growing", 0),
        ("seasonal", 0),
        ("volatile", 0),
        ("intermittent", 0),
        ("new", 0),
        ("mild_decline", 1),
        ("moderate_decline", 2),
        ("sharp_decline", 3),
        ("churned", 3),
    ],
)
def test_each_pattern_has_its_level(truth, pattern, level):
    levels = truth.loc[truth["pattern"] == pattern, "true_level"]
    assert (levels == level).all()


def test_pattern_changes_are_in_their_bands(truth):
    change = truth.groupby("pattern")["true_change_12m"].agg(["min", "max"])
    for flat in ("stable", "seasonal", "volatile", "intermittent"):
        assert change.loc[flat, "min"] >= -0.05
        assert change.loc[flat, "max"] <= 0.05
    assert change.loc["growing", "min"] > 0
    assert change.loc["mild_decline", "min"] > -0.25
    assert change.loc["mild_decline", "max"] < -0.10
    assert change.loc["moderate_decline", "min"] > -0.50
    assert change.loc["moderate_decline", "max"] < -0.25
    assert change.loc["sharp_decline", "max"] < -0.50
    assert (truth.loc[truth["churned"], "true_change_12m"] == -1.0).all()


def test_declines_and_churns_record_an_onset_inside_the_span(truth):
    dated = truth[truth["pattern"].isin([*DECLINES, "churned"])]
    assert (dated["onset_month"] != "").all()
    assert (dated["onset_month"] > dated["first_month"]).all()
    assert (dated["onset_month"] <= END_MONTH).all()
    # Some declines began before the last 12 months, some inside them.
    year_ago = str(LAST_MONTH - 12)
    declines = dated[dated["pattern"].isin(DECLINES)]
    assert (declines["onset_month"] <= year_ago).any()
    assert (declines["onset_month"] > year_ago).any()
    undated = truth[~truth["pattern"].isin([*DECLINES, "churned"])]
    assert (undated["onset_month"] == "").all()


def test_churned_customers_bought_regularly_then_stopped(truth, monthly):
    churned = truth[truth["churned"]]
    assert len(churned) > 0
    tail_start = str(LAST_MONTH - 2)
    for customer_id, row in churned.iterrows():
        months = monthly.loc[customer_id]
        assert months.index.max() < tail_start, customer_id
        buying = months.index[months.index < row["onset_month"]]
        span_before = (pd.Period(row["onset_month"]) - pd.Period(row["first_month"])).n
        assert len(buying) / span_before >= 0.7, customer_id


def test_recorded_spikes_stand_out_in_the_data(truth, monthly):
    spiked = truth[truth["spike_months"] != ""]
    assert len(spiked) > 50
    for customer_id, spike_list in spiked["spike_months"].items():
        months = monthly.loc[customer_id]
        spikes = spike_list.split(";")
        ordinary = months.drop(spikes)
        for spike in spikes:
            low, high = months_around(spike, 6)
            buying = ordinary[ordinary > 0]
            near = buying[(buying.index >= low) & (buying.index <= high)]
            # A sparse buyer may have no order within six months: compare with all its orders.
            typical = near.median() if len(near) else buying.median()
            assert months[spike] > 2 * typical, (customer_id, spike)


def test_refunds_exist_and_some_months_net_negative(portfolio, truth, monthly):
    assert (portfolio.transactions["amount"] < 0).any()
    assert (monthly < 0).any()
    refunded = truth.index[truth["has_refunds"]]
    negative = portfolio.transactions.loc[portfolio.transactions["amount"] < 0, "customer_id"]
    assert set(negative) == set(refunded)


def observed_span_and_activity(truth: pd.DataFrame, monthly: pd.Series) -> pd.DataFrame:
    by_customer = monthly.groupby(level="customer_id")
    first = by_customer.apply(lambda months: months.index.get_level_values("date").min())
    span = first.map(lambda month: (LAST_MONTH - pd.Period(month, "M")).n + 1)
    active = by_customer.apply(lambda months: int((months > 0).sum()))
    return pd.DataFrame({"first": first, "span": span, "active": active}).reindex(truth.index)


def test_insufficient_means_too_short_or_too_few_active_months(truth, monthly):
    observed = observed_span_and_activity(truth, monthly)
    too_little = (observed["span"] < MIN_SPAN_MONTHS) | (observed["active"] < MIN_ACTIVE_MONTHS)
    insufficient = truth["pattern"] == "insufficient"
    pd.testing.assert_series_equal(too_little, insufficient, check_names=False)
    assert truth.loc[insufficient, "true_level"].isna().all()
    assert truth.loc[~insufficient, "true_level"].notna().all()
    assert (observed["first"] == truth["first_month"]).all()


def test_late_starters_have_no_rows_before_their_first_month(truth):
    late = truth[truth["first_month"] > "2023-01"]
    assert len(late) > 100
    assert (truth.loc[truth["pattern"] == "new", "span_months"] < 13).all()


def test_scales_span_at_least_three_orders_of_magnitude(truth):
    assert truth["scale"].max() / truth["scale"].min() >= 1_000
    assert truth["scale"].min() < 100
    assert truth["scale"].max() > 100_000


def test_too_few_months_are_rejected():
    with pytest.raises(ValueError, match="months"):
        generate_portfolio(customers=10, months=12)


def test_command_writes_both_files(tmp_path):
    output = tmp_path / "demo"
    out = io.StringIO()
    call_command("generate_demo", customers=60, months=30, seed=2, output=str(output), stdout=out)
    transactions = pd.read_csv(output / "transactions.csv")
    truth = pd.read_csv(output / "truth.csv")
    assert list(transactions.columns) == ["customer_id", "date", "amount"]
    assert len(truth) == 60
    assert transactions["date"].max() <= "2025-12-31"
    text = out.getvalue()
    assert str(output / "transactions.csv") in text
    assert f"{len(transactions):,} rows" in text
    assert "60 customers" in text
    assert "stable:" in text
