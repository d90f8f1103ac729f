"""A backtest's stored results as the page shows them: rows of text and chart data."""

from __future__ import annotations

from collections.abc import Callable

from revtrend_site.numbers import format_money

from .models import Backtest

LEVEL_LABELS = {
    "0": "0 · Stable or growing",
    "1": "1 · Mild decline",
    "2": "2 · Moderate decline",
    "3": "3 · Sharp decline",
    "none": "Insufficient data",
}


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def number(value: float | None, places: int = 3) -> str:
    return "–" if value is None else f"{value:.{places}f}"


def backtest_view(backtest: Backtest, currency: str = "") -> dict:
    """``currency``: the team's code, before every amount (the page's money rule)."""
    cutoffs = [_cutoff(entry, currency) for entry in backtest.results or []]
    return {"cutoffs": cutoffs, "charts": [cutoff["chart"] for cutoff in cutoffs]}


def _cutoff(entry: dict, currency: str) -> dict:
    def money(value: float | None) -> str:
        return format_money(value, currency)

    methods = [_method(row, money) for row in entry["methods"]]
    best = max((row["top_loss"] for row in entry["methods"]), default=0.0)
    for row, raw in zip(methods, entry["methods"], strict=True):
        row["best_of_methods"] = raw["top_loss"] == best and best > 0
    return {
        "cutoff": entry["cutoff"],
        "run_id": entry["run_id"],
        "horizon": entry["horizon"],
        "population": entry["population"],
        "loss_share": percent(entry["loss_share"]),
        "top_n": entry["top_n"],
        "best_top_loss": money(entry["best_top_loss"]),
        "levels": [_level(row) for row in entry["levels"]],
        "methods": methods,
        "calibration": _calibration(entry.get("calibration") or {}, money),
        "seasonal": _seasonal(entry.get("seasonal")),
        "chart": {**_chart(entry), "currency": currency},
    }


def _level(row: dict) -> dict:
    return {
        "label": LEVEL_LABELS[row["level"]],
        "level": row["level"],
        "customers": row["customers"],
        "loss_share": percent(row["loss_share"]),
        "no_purchase_share": percent(row["no_purchase_share"]),
        "median_ratio": number(row["median_ratio"], 2),
    }


def _method(row: dict, money: Callable[[float | None], str]) -> dict:
    out = {
        "name": row["name"],
        "scored": percent(row["scored_share"]),
        "auc": number(row["auc"]),
        "auc_level": number(row.get("auc_level")),
        "top_loss": money(row["top_loss"]),
        "flags": row.get("declining") is not None,
    }
    for key in ("declining", "sharp"):
        quality = row.get(key) or {}
        out[key] = {
            "precision": percent(quality.get("precision")),
            "recall": percent(quality.get("recall")),
            "lift": number(quality.get("lift"), 2),
            "flagged": quality.get("flagged", 0),
        }
    return out


def _calibration(calibration: dict, money: Callable[[float | None], str]) -> list[dict]:
    rows = []
    for key, label in (
        ("revenue_at_risk", "Revenue at risk (where > 0), scaled to the horizon"),
        ("expected_revenue", "Expected revenue, scaled to the horizon"),
    ):
        part = calibration.get(key)
        if not part:
            continue
        ratio = part["predicted"] / part["realised"] if part["realised"] else None
        rows.append(
            {
                "label": label,
                "predicted": money(part["predicted"]),
                "realised": money(part["realised"]),
                "ratio": number(ratio, 2),
            }
        )
    return rows


def _seasonal(seasonal: dict | None) -> dict | None:
    if not seasonal:
        return None
    return {
        "population": seasonal["population"],
        "loss_share": percent(seasonal["loss_share"]),
        "auc": [(name, number(value)) for name, value in seasonal["auc"].items()],
    }


def _chart(entry: dict) -> dict:
    """What backtest_charts.js draws: loss share per level, and the calibration deciles."""
    levels = [row for row in entry["levels"] if row["customers"]]
    calibration = entry.get("calibration") or {}
    return {
        "cutoff": entry["cutoff"],
        "levels": {
            "labels": [LEVEL_LABELS[row["level"]] for row in levels],
            "level": [row["level"] for row in levels],
            "loss_share": [row["loss_share"] for row in levels],
            "no_purchase_share": [row["no_purchase_share"] for row in levels],
            "customers": [row["customers"] for row in levels],
        },
        "base_rate": entry["loss_share"],
        "calibration": {
            key: {
                "predicted": [pair[0] for pair in part["deciles"]],
                "realised": [pair[1] for pair in part["deciles"]],
            }
            for key, part in calibration.items()
            if part.get("deciles")
        },
    }
