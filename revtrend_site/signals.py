"""Sending an app's signal to the apps above it without letting a listener fail the sender."""

from __future__ import annotations

import logging

from django.dispatch import Signal

logger = logging.getLogger(__name__)


def announce(signal: Signal, sender: type, **kwargs: object) -> None:
    """Send ``signal``; a listener that raises is logged with its traceback and the others
    still run (what the sender did stands)."""
    for receiver, outcome in signal.send_robust(sender=sender, **kwargs):
        if isinstance(outcome, Exception):
            logger.error("%r failed on %r", receiver, kwargs, exc_info=outcome)
