"""`/help/`: how RevTrend decides, in plain words (the longer form is docs/method.md)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
def help_page(request: HttpRequest) -> HttpResponse:
    return render(request, "help.html")
