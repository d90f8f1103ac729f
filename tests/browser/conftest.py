"""Headless Chromium through Playwright, pointed at Debian's /usr/bin/chromium."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, PASSWORD, require

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    require(Path(CHROMIUM).exists(), f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class PageWatch:
    """What a page did that a test must check: console errors and off-site requests."""

    base_url: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.console_errors == [], self.console_errors
        assert self.foreign_requests == [], self.foreign_requests


@pytest.fixture(autouse=True)
def _plain_static_names(settings):
    """The live server's own static handler serves from the finders, which know the files by
    their plain names; hashed names (what WhiteNoise serves in production, checked in
    tests/operations/test_static.py) would 404 there."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    }


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = PageWatch(base_url=live_server.url)
    page.on("console", lambda m: m.type == "error" and watch.console_errors.append(m.text))
    page.on("pageerror", lambda e: watch.console_errors.append(str(e)))
    page.on(
        "request",
        lambda r: (
            r.url.startswith(("http://", "https://"))
            and not r.url.startswith(live_server.url)
            and watch.foreign_requests.append(r.url)
        ),
    )
    page.watch = watch
    yield page
    context.close()


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{page.watch.base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{page.watch.base_url}/t/**")


def wait_until(page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression from the test until it is truthy. Playwright's
    wait_for_function evaluates its predicate with eval inside the page, which the app's
    Content-Security-Policy refuses; page.evaluate goes through the DevTools protocol."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.05)
