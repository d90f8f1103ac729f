"""`/help/`: how RevTrend decides, in plain words (the longer form is docs/method.md)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from analytics.core.segments import NAMING


@require_safe
def help_page(request: HttpRequest) -> HttpResponse:
    shares = ("sharp_share", "declining_share", "partly_declining_share", "growing_change",
              "occasional_activity")  # fmt: skip
    context = {key: f"{getattr(NAMING, key) * 100:g} %" for key in shares}
    return render(request, "help.html", {"naming": NAMING, **context})
