"""Turning an uploaded transactions file into monthly revenue records.

reading → mapping → parsing (validation) → aggregation → writing; each step is a
plain function, so the web upload, the Celery task and the command line share it.
"""

from __future__ import annotations

from typing import TypedDict


class RowError(TypedDict):
    """One rejected row of the file: its spreadsheet row number and every reason."""

    row: int
    reason: str


class IngestError(Exception):
    """A problem with the file as a whole; nothing is imported."""

    def __init__(self, message: str, *, errors: list[RowError] | None = None, rejected: int = 0):
        super().__init__(message)
        self.message = message
        self.errors = errors or []
        self.rejected = rejected
