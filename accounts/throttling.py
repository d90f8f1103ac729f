"""Who a login attempt comes from, for django-axes' per-address throttling."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from. Behind the TLS proxy (BEHIND_TLS_PROXY) every
    request's REMOTE_ADDR is the proxy's, so the address the proxy appended to
    X-Forwarded-For is taken — the last one, the only one a client cannot forge."""
    if settings.BEHIND_TLS_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")
