from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Team
from analytics.services.window import month_argument
from backtests.models import Backtest, BacktestStatus
from backtests.presenters import backtest_view
from backtests.services import DEFAULT_HORIZON, MAX_HORIZON, BacktestError, backtest_start
from revtrend_site.queueing import wait_finished


def _horizon(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_HORIZON:
        raise argparse.ArgumentTypeError(f"horizon must be 1 to {MAX_HORIZON} months")
    return value


class Command(BaseCommand):
    help = (
        "Analyse a team's data as it stood at each cutoff (nothing after it reaches the "
        "analysis), compare every customer with the following months, save the backtest in "
        "the team's history and print its tables. Exits non-zero if it failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument(
            "--cutoff",
            type=month_argument,
            nargs="+",
            help="cutoff months, YYYY-MM (default: the latest month that leaves a full "
            "horizon, and 6 months before it)",
        )
        parser.add_argument("--horizon", type=_horizon, default=DEFAULT_HORIZON)
        parser.add_argument("--timeout", type=float, default=3600.0)

    def handle(self, *args, **options):
        team = Team.objects.filter(slug=options["team"]).first()
        if team is None:
            raise CommandError(f"No team with slug {options['team']!r}.")
        try:
            backtest = backtest_start(
                team=team, cutoffs=options["cutoff"], horizon=options["horizon"]
            )
        except BacktestError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Backtest #{backtest.pk} started for {team.slug} …")
        backtest = self._wait(backtest, options["timeout"])
        if backtest.status != BacktestStatus.SUCCEEDED:
            raise CommandError(f"Backtest #{backtest.pk} failed: {backtest.error}")
        self.stdout.write(report(backtest))

    def _wait(self, backtest: Backtest, timeout: float) -> Backtest:
        if not wait_finished(backtest, timeout=timeout):
            raise CommandError(
                f"Backtest #{backtest.pk} is still {backtest.get_status_display().lower()} "
                f"after {timeout:.0f} s (is a worker running? `make worker`)."
            )
        return backtest


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    cells = [headers, *rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return lines


def report(backtest: Backtest) -> str:
    lines = [f"Backtest #{backtest.pk}: SUCCEEDED, horizon {backtest.horizon} months"]
    for cut in backtest_view(backtest)["cutoffs"]:
        lines += [
            "",
            f"Cutoff {cut['cutoff']} (run #{cut['run_id']}): {cut['population']} customers "
            f"judged, {cut['loss_share']} had a real loss",
        ]
        lines += _table(
            ["level", "customers", "real loss", "bought nothing", "median next/previous"],
            [
                [r["label"], r["customers"], r["loss_share"], r["no_purchase_share"],
                 r["median_ratio"]]
                for r in cut["levels"]
            ],
        )  # fmt: skip
        lines.append("")
        lines += _table(
            ["method", "scored", "AUC", "declining: lost", "recall", "lift", "level 3: lost",
             f"top {cut['top_n']} lost"],
            [
                [m["name"], m["scored"], m["auc"], m["declining"]["precision"],
                 m["declining"]["recall"], m["declining"]["lift"], m["sharp"]["precision"],
                 m["top_loss"]]
                for m in cut["methods"]
            ],
        )  # fmt: skip
        lines.append(f"best possible top {cut['top_n']}: {cut['best_top_loss']}")
        for row in cut["calibration"]:
            lines.append(
                f"{row['label']}: predicted {row['predicted']}, realised {row['realised']} "
                f"(ratio {row['ratio']})"
            )
    return "\n".join(lines)
