"""The dashboard and run views, kept importable here for ``analytics/urls.py``; they live in
``analytics/pages/`` with the other pages (one module per page)."""

from __future__ import annotations

from .pages.dashboard import dashboard
from .pages.runs import run_detail, run_list, run_start, run_status_partial

__all__ = ["dashboard", "run_detail", "run_list", "run_start", "run_status_partial"]
