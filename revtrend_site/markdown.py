"""Markdown that users or a model wrote, rendered to HTML that is safe to mark safe.

Markdown first, then nh3 keeps only the tags and attributes listed here: no script, no style,
no image (nothing loads from elsewhere), no on* attribute, no javascript: URL; links get
rel="noopener noreferrer nofollow". Used for reports and for notes on customers.
"""

from __future__ import annotations

from collections.abc import Mapping

import markdown
import nh3

TAGS = frozenset({
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "strong", "em", "b", "i", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
    "del",
})  # fmt: skip
ATTRIBUTES: Mapping[str, set[str]] = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


def render_markdown(
    text: str,
    *,
    extra_tags: frozenset[str] = frozenset(),
    extra_attributes: Mapping[str, set[str]] | None = None,
) -> str:
    rendered = markdown.markdown(text, extensions=["sane_lists"])
    return nh3.clean(
        rendered,
        tags=set(TAGS | extra_tags),
        attributes={**ATTRIBUTES, **(extra_attributes or {})},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
