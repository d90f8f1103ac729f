"""Do two versions of RevTrend export the same results on the demo portfolio?

For a change meant to alter no behaviour (a restructuring): the demo portfolio is seeded and
analysed by each version on its own fresh SQLite database, then both exports (per-customer
results and anomalies) are compared byte for byte.

    .venv/bin/python scripts/exports_unchanged.py BASE_REV [--customers N]

BASE_REV is checked out into a temporary git worktree; the other version is this working
tree as it is (uncommitted changes included). Exit status 0 when the exports are identical.
"""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def export(tree: Path, work: Path, customers: int) -> tuple[bytes, bytes]:
    """Seed and analyse the demo portfolio with the code in ``tree``; its two exports."""
    work.mkdir(parents=True)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "MEDIA_ROOT": str(work / "media"),
        "CELERY_BROKER_URL": "",
        "OPENAI_API_KEY": "",
    }

    def manage(*args: str) -> None:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=tree, env=env,
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode:
            sys.exit(f"manage.py {' '.join(args)} failed in {tree}:\n{done.stderr}")

    manage("migrate", "--noinput", "-v", "0")
    manage("seed_demo", "--customers", str(customers))
    results, anomalies = work / "results.csv", work / "anomalies.csv"
    manage("export_results", "--team", "demo", "--output", str(results),
           "--anomalies", str(anomalies))  # fmt: skip
    return results.read_bytes(), anomalies.read_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the git revision to compare this working tree with")
    parser.add_argument("--customers", type=int, default=2000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="revtrend-exports-") as scratch:
        base_tree = Path(scratch) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base_tree), options.base],
                       cwd=ROOT, check=True)  # fmt: skip
        try:
            before = export(base_tree, Path(scratch) / "before", options.customers)
            after = export(ROOT, Path(scratch) / "after", options.customers)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT,
                           check=False)  # fmt: skip
    same = True
    for name, old, new in zip(("results", "anomalies"), before, after, strict=True):
        lines, new_lines = old.count(b"\n"), new.count(b"\n")
        if old == new:
            print(f"{name}: identical ({lines:,} lines, {len(old):,} bytes)")
            continue
        same = False
        print(f"{name}: DIFFERENT ({lines:,} lines before, {new_lines:,} after)")
        diff = difflib.unified_diff(old.decode().splitlines(), new.decode().splitlines(),
                                    "before", "after", lineterm="", n=0)  # fmt: skip
        for line in list(diff)[:20]:
            print("  " + line)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
