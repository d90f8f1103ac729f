from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from customers.demo import PATTERNS, generate_portfolio, write_portfolio


def calendar_month(value: str) -> str:
    try:
        return f"{datetime.strptime(value, '%Y-%m'):%Y-%m}"
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Write a synthetic portfolio with known truth: transactions.csv (customer_id,date,amount) "
        "and truth.csv (pattern, true decline level, onset, churn, injected spikes per customer)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, required=True)
        parser.add_argument("--months", type=int, default=36)
        parser.add_argument("--seed", type=int, default=0)
        # A fixed default rather than "last month": the same command must give the same files.
        parser.add_argument(
            "--end-month", type=calendar_month, default="2025-12", help="last month, YYYY-MM"
        )
        parser.add_argument("--output", type=Path, required=True, help="directory (created)")

    def handle(self, *args, **options):
        try:
            portfolio = generate_portfolio(
                customers=options["customers"],
                months=options["months"],
                seed=options["seed"],
                end_month=options["end_month"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        transactions_path, truth_path = write_portfolio(portfolio, Path(options["output"]))
        truth = portfolio.truth
        self.stdout.write(f"Wrote {transactions_path} ({len(portfolio.transactions):,} rows)")
        self.stdout.write(f"Wrote {truth_path} ({len(truth):,} customers)")
        counts = truth["pattern"].value_counts().reindex(PATTERNS, fill_value=0)
        for pattern, count in counts.items():
            self.stdout.write(f"  {pattern}: {count:,}")
