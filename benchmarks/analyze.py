"""`analyze` end to end on PostgreSQL: 100,000 customers × 36 months read from the database,
analysed and written back (results, anomalies, segments), in a child process whose peak
memory is measured. The portfolio is imported once into the benchmark database and kept
for later runs.

    .venv/bin/python benchmarks/analyze.py [--customers 100000]

Goals: issue 3, ≤ 20 s end to end and peak memory ≤ 2 GiB; issue 14, ≤ 15 s and ≤ 1 GiB.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._django import print_table, setup  # noqa: E402

# The child runs `manage.py analyze` and reports its own peak memory (RUSAGE_CHILDREN would
# report the largest child this process ever had).
CHILD = (
    "import resource, runpy, sys\n"
    "sys.argv = ['manage.py', 'analyze', '--team', sys.argv[1]]\n"
    "try:\n"
    "    runpy.run_path('manage.py', run_name='__main__')\n"
    "finally:\n"
    "    print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def monthly_csv(customers: int, seed: int) -> bytes:
    """One transaction per customer-month (the monthly totals): the same matrix the
    analysis sees, imported in a fraction of the invoice-level time."""
    from benchmarks.portfolio import monthly_matrix
    from customers.demo import generate_portfolio

    matrix, months, ids = monthly_matrix(
        generate_portfolio(customers=customers, seed=seed).transactions, end_month="2025-12"
    )
    import numpy as np
    import pandas as pd

    rows, columns = np.nonzero(~np.isnan(matrix))
    frame = pd.DataFrame(
        {
            "customer_id": ids[rows],
            "date": months[columns].strftime("%Y-%m-28"),
            "amount": np.round(matrix[rows, columns], 2),
        }
    )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def ensure_portfolio(slug: str, customers: int) -> None:
    from accounts.services import team_get_or_create
    from customers.models import Upload, UploadStatus
    from customers.services import upload_create, upload_import_now

    team, _ = team_get_or_create(slug=slug)
    if Upload.objects.filter(team=team, status=UploadStatus.SUCCEEDED).exists():
        return
    print(f"Importing {customers:,} customers into the benchmark database (once) …")
    upload = upload_import_now(
        upload=upload_create(team=team, data=monthly_csv(customers, seed=1), filename="b.csv")
    )
    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message


def keep_one_previous_run(slug: str) -> None:
    """Measure the same state every time: the team with one earlier run (its current
    results), not the pile of runs earlier benchmark runs left, whose ever larger tables
    and indexes made each measurement slower than the last (18.9 s → 22.3 s over six)."""
    from django.db import connection

    from analytics.models import AnalysisRun, Anomaly, CustomerResult

    runs = AnalysisRun.objects.filter(team__slug=slug).order_by("-pk")
    old = list(runs.values_list("pk", flat=True)[1:])
    if not old:
        return
    CustomerResult.objects.filter(run_id__in=old).delete()
    Anomaly.objects.filter(run_id__in=old).delete()
    AnalysisRun.objects.filter(pk__in=old).delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (CustomerResult, Anomaly):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    database = setup()
    slug = f"bench-analyze-{args.customers}"
    ensure_portfolio(slug, args.customers)
    keep_one_previous_run(slug)

    env = dict(os.environ, DJANGO_SETTINGS_MODULE="revtrend_site.settings")
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, slug], cwd=ROOT, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    peak_mib = int(completed.stdout.rsplit("MAXRSS ", 1)[-1]) / 1024
    if completed.returncode != 0:
        print(completed.stdout, completed.stderr)
        raise SystemExit("analyze failed")

    from analytics.models import AnalysisRun

    run = AnalysisRun.objects.filter(team__slug=slug).order_by("-pk").first()
    print(
        f"\n`analyze` end to end on {database}: {run.customers_count:,} customers, "
        f"window {run.window_start:%Y-%m} to {run.window_end:%Y-%m}, eager (one process)"
    )
    # Stages on the clock that add up to the total (waiting: the rest); the chunks' work per
    # stage summed over chunks, which exceeds their clock time when chunks run side by side.
    labels = {
        "plan": "plan",
        "chunks": "chunks (on the clock)",
        "read_wall": "  read (on the clock)",
        "compute_wall": "  compute (on the clock)",
        "write_wall": "  write (on the clock)",
        "read": "  read (work, all chunks)",
        "compute": "  compute (work, all chunks)",
        "write": "  write (work, all chunks)",
        "finish": "finish",
        "index": "  indexing the run's table (beside segmenting)",
        "segment": "  segmenting",
        "total": "total",
    }
    stages = [
        [f"stage: {label}", f"{run.timings[name]:.2f}"]
        for name, label in labels.items()
        if name in run.timings
    ]
    if "chunks" in run.timings and "total" in run.timings:
        parts = sum(run.timings.get(name, 0.0) for name in ("plan", "chunks", "finish"))
        stages.insert(-1, ["stage: waiting (total − plan − chunks − finish)",
                           f"{run.timings['total'] - parts:.2f}"])  # fmt: skip
    print_table(
        ["stage", "seconds"],
        [*stages, ["command wall-clock", f"{wall:.2f}"], ["peak memory (MiB)", f"{peak_mib:,.0f}"]],
    )
    print("Goals: ≤ 15 s in the run, peak memory ≤ 1 GiB (issue 14; issue 3: 20 s, 2 GiB).")


if __name__ == "__main__":
    main()
