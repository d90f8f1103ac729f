from __future__ import annotations


class AnalysisError(Exception):
    """A run cannot start or continue; the message is for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RunInProgress(AnalysisError):
    def __init__(self, run):
        super().__init__(
            f"Analysis run #{run.pk} is still {run.get_status_display().lower()}; "
            "wait for it to finish before starting another."
        )
        self.run = run
