"""Static files under hashed names, compressed with gzip and brotli (WhiteNoise), so that a
browser keeps each for a year and a new version is a new name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """A file not collected yet (a fresh checkout before `make setup`, a test run) keeps its
    plain name, which WhiteNoise's finders serve, instead of failing the page."""

    manifest_strict = False

    def hashed_name(self, name: str, content: Any = None, filename: str | None = None) -> str:
        try:
            return super().hashed_name(name, content, filename)
        except ValueError:
            return name


class PlotlyFinder(BaseFinder):
    """``plotly/plotly.min.js`` from the installed plotly package, and nothing else of it (its
    datasets and templates would only be collected, compressed and served for nothing)."""

    NAME = "plotly/plotly.min.js"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source = Path(plotly.__file__).parent / "package_data"
        self.storage = FileSystemStorage(location=str(self.source))
        self.storage.prefix = "plotly"  # type: ignore[attr-defined]  # read by collectstatic

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        found = str(self.source / "plotly.min.js") if path == self.NAME else None
        if find_all or kwargs.get("all"):
            return [found] if found else []
        return found

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        yield "plotly.min.js", self.storage
