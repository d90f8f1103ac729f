"""Links to a team's pages that other apps build too (the reports link the customers they
name)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlencode

from django.urls import reverse

DOT_SEGMENTS = frozenset({".", ".."})


def customer_url_builder(*, team_slug: str) -> Callable[[str], str]:
    """external id → the customer's diagnostics page ``/t/<team>/customers/<id>/``, the id
    percent-encoded as one path segment ("/" too), so that no browser or proxy resolves a
    "../" inside an id to another page; the server decodes it back. An id that is a whole dot
    segment ("." or "..") would still be resolved away, so it links to the risk table
    searched for it instead."""
    base = reverse("customer_list", args=[team_slug])

    def url(external_id: str) -> str:
        if external_id in DOT_SEGMENTS:
            return f"{base}?{urlencode({'q': external_id})}"
        return f"{base}{quote(external_id, safe='')}/"

    return url
