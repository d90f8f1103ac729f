"""What the Content-Security-Policy allows beyond the app's own files, derived from the
installed Plotly so that an upgrade cannot silently widen (or break) it."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

import plotly

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# A style element Plotly's bundle fills with a literal stylesheet (maplibre's), written as
# a single-quoted string with no escapes, so its runtime text is the literal itself.
_STYLE_TEXT = re.compile(r"createElement\(\"style\"\);[^;]{0,200}?\.textContent='([^'\\]*)'")


def style_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


@cache
def plotly_style_hashes() -> tuple[str, ...]:
    """The empty <style> element Plotly fills through CSSOM (its rules are never text), and
    the stylesheets its bundle inserts as text."""
    try:
        bundle = PLOTLY_JS.read_text(encoding="utf-8")
    except OSError:
        return (style_hash(""),)
    return (style_hash(""), *(style_hash(text) for text in _STYLE_TEXT.findall(bundle)))
