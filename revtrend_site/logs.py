"""Logging helpers."""

from __future__ import annotations

import logging


class OneLineClientErrors(logging.Filter):
    """A request refused with a 4xx (PermissionDenied, Http404) is the app working as meant:
    log its one line without the traceback Django attaches."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
