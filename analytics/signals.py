"""What the analysis tells the apps above it, without knowing them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent once a run has SUCCEEDED and its transaction committed; kwargs: run (AnalysisRun).
# Apps above analytics listen (workflow judges alert rules against the previous run).
run_succeeded = Signal()
