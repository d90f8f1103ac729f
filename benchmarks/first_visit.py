"""What a browser downloads on a first and a second visit to the dashboard and the segments page.

Served the way production serves it (gunicorn + WhiteNoise from the collected static files),
requested the way a browser does (Accept-Encoding: br, gzip; a second visit re-uses what the
Cache-Control headers allow). Prints bytes on the wire and seconds per visit.

    .venv/bin/python benchmarks/first_visit.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = 8791
ASSET = re.compile(r'(?:src|href)="(/static/[^"]+)"')


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="revtrend-first-visit-") as scratch:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{scratch}/db.sqlite3",
            "REVTREND_VAR_DIR": scratch,
            "CELERY_BROKER_URL": "",
            "DEBUG": "false",
        }
        manage = [sys.executable, "manage.py"]
        for args in (["migrate", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"],
                     ["seed_demo", "--customers", "300"]):  # fmt: skip
            subprocess.run([*manage, *args], cwd=ROOT, env=env, check=True, capture_output=True)
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "revtrend_site.wsgi", "-b", f"127.0.0.1:{PORT}",
             "-w", "2"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_up()
            opener = _logged_in()
            print(f"{'page':<28} {'visit':<7} {'requests':>8} {'bytes':>12} {'seconds':>8}")
            cache: dict[str, str] = {}  # asset → its Cache-Control
            for name, path in (("dashboard", "/t/demo/"), ("segments", "/t/demo/segments/")):
                for visit in ("first", "second"):
                    requests, size, seconds = _visit(opener, path, cache, second=visit == "second")
                    print(f"{name:<28} {visit:<7} {requests:>8} {size:>12,} {seconds:>8.2f}")
            plotly = next((url for url in cache if "plotly" in url), None)
            if plotly:
                print(f"\nplotly: {plotly}\n  Cache-Control: {cache[plotly]}")
        finally:
            server.terminate()
            server.wait()
    return 0


def _wait_up() -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def _logged_in() -> urllib.request.OpenerDirector:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"http://127.0.0.1:{PORT}/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = f"csrfmiddlewaretoken={token}&username=demo-viewer&password=revtrend-demo".encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/accounts/login/", data=data,
        headers={"Referer": f"http://127.0.0.1:{PORT}/accounts/login/"},
    )  # fmt: skip
    opener.open(request).read()
    return opener


def _visit(opener, path: str, cache: dict[str, str], *, second: bool) -> tuple[int, int, float]:
    """The page and its assets; on a second visit, an asset whose Cache-Control lets the
    browser keep it (max-age of a day or more) is not fetched again."""
    started = time.perf_counter()
    html = _get(opener, path)
    requests, size = 1, len(html)
    for asset in dict.fromkeys(ASSET.findall(html.decode())):
        if second and _cached(cache.get(asset, "")):
            continue
        url, compressed = f"http://127.0.0.1:{PORT}{asset}", {"Accept-Encoding": "br, gzip"}
        response = opener.open(urllib.request.Request(url, headers=compressed))
        size += len(response.read())
        cache[asset] = response.headers.get("Cache-Control", "")
        requests += 1
    return requests, size, time.perf_counter() - started


def _cached(cache_control: str) -> bool:
    match = re.search(r"max-age=(\d+)", cache_control)
    return bool(match) and int(match.group(1)) >= 86400


def _get(opener, path: str) -> bytes:
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}{path}", headers={"Accept-Encoding": "identity"}
    )
    return opener.open(request).read()


if __name__ == "__main__":
    sys.exit(main())
