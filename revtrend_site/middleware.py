"""Project-wide request guards."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

# NUL and the other C0 controls but tab, newline and carriage return: never meaningful in a
# path or a query parameter, and PostgreSQL refuses NUL in text (a 500 before this).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MESSAGE = "The address contains a control character (such as %00), which no page accepts."


class RejectControlCharactersMiddleware:
    """400 with a message for a control character in the path or the query string. Form
    bodies are left to Django's forms, which refuse NUL in every text field."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _CONTROL.search(request.path) or any(
            _CONTROL.search(key) or any(_CONTROL.search(value) for value in values)
            for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


# The request being served, for code far below a view: the audit trail records who and from
# where, and queueing knows whether a web request would wait for eager work.
_current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "current_request", default=None
)


def current_request() -> HttpRequest | None:
    return _current_request.get()


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


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
