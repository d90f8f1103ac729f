"""Page latency under load: every page a user opens (risk table, customer pages, dashboard,
segments, runs, reports, backtests) of 100,000 analysed customers on PostgreSQL, served by
gunicorn (2 workers), hit by 8 concurrent logged-in clients for 30 s.

    .venv/bin/python benchmarks/web.py [--seconds 30] [--clients 8] [--quick]
    .venv/bin/python benchmarks/web.py --after-import [--customers 50000] [--clients 16]

``--after-import`` measures the pages right after an import, twice in one run: a fresh team
imported the way imports worked before (no ANALYZE: the planner still believes the revenue
table holds what it held before), then a second fresh team imported as now (the import
ANALYZEs what it filled). Both teams are deleted at the end.

Reuses benchmarks/analyze.py's team (``bench-analyze-100000``): imports the portfolio and runs
an analysis only when they are missing. Starts gunicorn on a free port of 127.0.0.1, logs in
through the login form, sends the load (keep-alive connections, only to 127.0.0.1), prints
p50 / p95 / max latency per kind of URL, and stops gunicorn.

Goal (issue 14): p95 ≤ 100 ms and zero errors (issue 4 asked ≤ 150 ms).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._django import print_table, setup  # noqa: E402

HOST = "127.0.0.1"
USERNAME = "bench-web-viewer"
PASSWORD = "load-test-secret-7391"  # a local benchmark database only
GOAL_P95_MS = 100.0  # issue 14 (issue 4 asked 150)
WORKERS = 2
PAGES = 20
CUSTOMER_SAMPLE = 5000
# Per client: a bound on requests whatever the speed, besides the time limit.
MAX_REQUESTS_PER_CLIENT = 200_000
TIMEOUT_S = 10.0
SORTS = (
    "-revenue_at_risk",
    "revenue_at_risk",
    "-decline_level",
    "relative_change_12m",
    "p_value",
    "slope",
    "-revenue_mean",
    "-cv",
    "-anomaly_count",
    "-onset_month",
)
LEVELS = ("0", "1", "2", "3", "none")
# kind → weight in the mix
MIX = {
    "risk: sort + page": 3,
    "risk: level filter": 2,
    "risk: segment filter": 2,
    "risk: HTMX fragment": 3,
    "customer page": 3,
    "dashboard": 1,
    "segments": 1,
    "runs": 1,
    "reports": 1,
    "backtests": 1,
}
PLAIN_PAGES = {
    "dashboard": "",
    "segments": "segments/",
    "runs": "runs/",
    "reports": "reports/",
    "backtests": "backtests/",
}


@dataclass
class Target:
    team_slug: str
    segments: list[int]
    customers: list[str]

    def risk_url(self, **params: object) -> str:
        query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
        return f"/t/{self.team_slug}/customers/" + (f"?{query}" if query else "")

    def request(self, kind: str, rng: random.Random) -> tuple[str, dict[str, str]]:
        """A random URL of ``kind`` and its extra headers."""
        page = rng.randint(1, PAGES)
        sort = rng.choice(SORTS)
        if kind in PLAIN_PAGES:
            return f"/t/{self.team_slug}/{PLAIN_PAGES[kind]}", {}
        if kind == "customer page":
            external_id = quote(rng.choice(self.customers), safe="")
            return f"/t/{self.team_slug}/customers/{external_id}/", {}
        if kind == "risk: level filter":
            return self.risk_url(level=rng.choice(LEVELS), sort=sort, page=page), {}
        if kind == "risk: segment filter":
            return self.risk_url(segment=rng.choice(self.segments), sort=sort, page=page), {}
        if kind == "risk: HTMX fragment":
            params = rng.choice(
                [
                    {"level": rng.choice(LEVELS)},
                    {"segment": rng.choice(self.segments)},
                    {"level": rng.choice(LEVELS[1:]), "segment": rng.choice(self.segments)},
                    {},
                ]
            )
            url = self.risk_url(**params, sort=sort, page=page)
            return url, {"HX-Request": "true", "HX-Current-URL": f"http://{HOST}{url}"}
        return self.risk_url(sort=sort, page=page), {}


@dataclass
class Sample:
    kind: str
    seconds: float
    ok: bool


@dataclass
class Client:
    port: int
    cookie: str
    target: Target
    seed: int
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def run(self, deadline: float) -> None:
        rng = random.Random(self.seed)
        kinds, weights = list(MIX), list(MIX.values())
        connection = http.client.HTTPConnection(HOST, self.port, timeout=TIMEOUT_S)
        try:
            for _ in range(MAX_REQUESTS_PER_CLIENT):
                if time.perf_counter() >= deadline:
                    break
                kind = rng.choices(kinds, weights)[0]
                url, headers = self.target.request(kind, rng)
                started = time.perf_counter()
                try:
                    status = _get(connection, url, {"Cookie": self.cookie, **headers})
                    ok = status == 200
                    if not ok:
                        self.errors.append(f"{status} {url}")
                except (OSError, http.client.HTTPException) as exc:
                    ok = False
                    self.errors.append(f"{type(exc).__name__} {url}")
                    connection.close()
                self.samples.append(Sample(kind, time.perf_counter() - started, ok))
        finally:
            connection.close()


def _get(connection: http.client.HTTPConnection, url: str, headers: dict[str, str]) -> int:
    connection.request("GET", url, headers={"Connection": "keep-alive", **headers})
    response = connection.getresponse()
    response.read()
    if response.getheader("Connection", "").lower() == "close":
        connection.close()  # the next request opens a new one
    return response.status


# --- data, user, server ------------------------------------------------------------------


def ensure_analysis(slug: str, customers: int):
    """The bench team's current run, importing and analysing only what is missing."""
    from analytics.core import Params
    from analytics.models import RunStatus, current_run
    from analytics.services import analysis_run_start
    from benchmarks.analyze import ensure_portfolio

    ensure_portfolio(slug, customers)
    from accounts.models import Team

    team = Team.objects.get(slug=slug)
    run = current_run(team)
    if run is None:
        print(f"Analysing {customers:,} customers (once) …")
        run = analysis_run_start(team=team, params=Params())  # eager: finished on return
        run.refresh_from_db()
        if run.status != RunStatus.SUCCEEDED:
            raise SystemExit(f"the analysis failed: {run.error}")
    return team, run


def build_target(team, run) -> Target:
    from analytics.models import CustomerResult, Segment

    segments = list(
        Segment.objects.filter(run=run).order_by("number").values_list("number", flat=True)
    )
    ids = list(
        CustomerResult.objects.filter(run=run)
        .order_by("?")
        .values_list("customer__external_id", flat=True)[:CUSTOMER_SAMPLE]
    )
    return Target(team_slug=team.slug, segments=segments or [0], customers=ids)


def ensure_user(team) -> None:
    from accounts.models import Role
    from accounts.services import user_grant_role

    user_grant_role(username=USERNAME, team=team, role=Role.VIEWER, password=PASSWORD)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, log) -> subprocess.Popen:
    env = dict(
        os.environ,
        DEBUG="false",
        ALLOWED_HOSTS=HOST,
        SECURE_COOKIES="false",  # plain HTTP on 127.0.0.1
        DJANGO_SETTINGS_MODULE="revtrend_site.settings",
    )
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "revtrend_site.wsgi",
        "-w",
        str(WORKERS),
        "-b",
        f"{HOST}:{port}",
        "--timeout",
        "60",
    ]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)  # gunicorn stops its workers gracefully
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def wait_until_serving(port: int, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/accounts/login/")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s")


def log_in(port: int) -> str:
    """The Cookie header of a session logged in through the login form."""
    connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT_S)
    connection.request("GET", "/accounts/login/")
    response = connection.getresponse()
    page = response.read().decode()
    cookies = _cookies(response)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    body = urlencode({"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token})
    connection.request(
        "POST",
        "/accounts/login/",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
            "Referer": f"http://{HOST}:{port}/accounts/login/",
        },
    )
    response = connection.getresponse()
    response.read()
    cookies.update(_cookies(response))
    connection.close()
    if response.status != 302 or "sessionid" not in cookies:
        raise RuntimeError(f"login failed: HTTP {response.status}")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    cookies = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        cookies[name.strip()] = rest.split(";", 1)[0]
    return cookies


def forget_session(cookie: str) -> None:
    from django.contrib.sessions.models import Session

    key = re.search(r"sessionid=([^;]+)", cookie)
    if key:
        Session.objects.filter(session_key=key[1]).delete()


# --- load and report -----------------------------------------------------------------------


def machine_cpu_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def run_load(port: int, cookie: str, target: Target, clients: int, seconds: float):
    # Warm-up: every worker imports, compiles templates and opens its database connection.
    Client(port, cookie, target, seed=0).run(time.perf_counter() + 2.0)
    workers = [Client(port, cookie, target, seed=i + 1) for i in range(clients)]
    deadline = time.perf_counter() + seconds
    CPU_USE.update(machine=-machine_cpu_seconds(), generator=-own_cpu_seconds())
    started = time.perf_counter()
    threads = [threading.Thread(target=c.run, args=(deadline,), daemon=True) for c in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + TIMEOUT_S * 2)
    elapsed = time.perf_counter() - started
    CPU_USE["machine"] += machine_cpu_seconds()
    CPU_USE["generator"] += own_cpu_seconds()
    CPU_USE["available"] = elapsed * (os.cpu_count() or 1)
    return [s for c in workers for s in c.samples], [e for c in workers for e in c.errors], elapsed


# CPU seconds during the load: the whole machine's, this load generator's, and what the
# cores could have given — the generator shares the cores with the server and PostgreSQL.
CPU_USE: dict[str, float] = {}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def report(samples: list[Sample], elapsed: float) -> tuple[float, int]:
    rows = []
    groups = {kind: [s for s in samples if s.kind == kind] for kind in MIX}
    groups["all"] = samples
    for kind, group in groups.items():
        if not group:
            continue
        ms = [s.seconds * 1000 for s in group]
        errors = sum(1 for s in group if not s.ok)
        rows.append(
            [
                kind,
                f"{len(group):,}",
                errors,
                f"{len(group) / elapsed:,.1f}",
                f"{percentile(ms, 0.50):.1f}",
                f"{percentile(ms, 0.95):.1f}",
                f"{max(ms):.1f}",
            ]
        )
    print_table(["URL kind", "requests", "errors", "req/s", "p50 ms", "p95 ms", "max ms"], rows)
    all_ms = [s.seconds * 1000 for s in samples]
    return percentile(all_ms, 0.95), sum(1 for s in samples if not s.ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="5 s of load, for trying")
    parser.add_argument(
        "--after-import", action="store_true", help="fresh imports, without and with ANALYZE"
    )
    args = parser.parse_args()
    seconds = 5.0 if args.quick else args.seconds
    if not 1 <= args.clients <= 64 or not 0 < seconds <= 600:
        parser.error("--clients 1..64 and --seconds 0..600")

    database = setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("benchmarks/web.py needs PostgreSQL (the bench database)")
    if args.after_import:
        after_import(database, args.customers, args.clients, seconds)
        return
    team, run = ensure_analysis(f"bench-analyze-{args.customers}", args.customers)
    measure(database, team, run, args.clients, seconds)


def after_import(database: str, customers: int, clients: int, seconds: float) -> None:
    from accounts.models import Team
    from customers import services

    stamp = int(time.time())
    analyze_after_import = services._refresh_statistics
    results = []
    try:
        for label, refresh in (("before: no ANALYZE", lambda: None), ("now", analyze_after_import)):
            services._refresh_statistics = refresh
            print(f"\n== Right after an import, {label}")
            team, run = ensure_analysis(f"bench-fresh-{stamp}-{len(results)}", customers)
            results.append((label, *measure(database, team, run, clients, seconds)))
    finally:
        services._refresh_statistics = analyze_after_import
        for index in range(2):
            Team.objects.filter(slug=f"bench-fresh-{stamp}-{index}").delete()
    print("\nRight after an import (same run, same machine):")
    print_table(
        ["import", "p95 ms", "errors"],
        [[label, f"{p95:.1f}", errors] for label, p95, errors in results],
    )


def measure(database: str, team, run, clients: int, seconds: float) -> tuple[float, int]:
    from django.db import connection

    target = build_target(team, run)
    ensure_user(team)
    connection.close()  # the server's workers use their own connections

    port = free_port()
    with tempfile.TemporaryFile(mode="w+") as log:
        server = start_gunicorn(port, log)
        cookie = ""
        try:
            wait_until_serving(port, server)
            cookie = log_in(port)
            samples, errors, elapsed = run_load(port, cookie, target, clients, seconds)
        except BaseException:
            log.seek(0)
            print(log.read()[-4000:], file=sys.stderr)
            raise
        finally:
            stop(server)
            if cookie:
                forget_session(cookie)

    print(
        f"\nPage latency on {database}: run #{run.pk}, {run.customers_count:,} customers, "
        f"{len(target.segments)} segments; gunicorn {WORKERS} workers (sync) on 127.0.0.1, "
        f"{clients} clients for {seconds:.0f} s ({os.cpu_count()} CPUs shared by all)"
    )
    p95, error_count = report(samples, elapsed)
    print(
        f"CPU during the load: the machine {CPU_USE['machine']:.1f} of "
        f"{CPU_USE['available']:.1f} CPU-seconds "
        f"({100 * CPU_USE['machine'] / CPU_USE['available']:.0f} %), of which the load "
        f"generator {CPU_USE['generator']:.1f} "
        f"({100 * CPU_USE['generator'] / CPU_USE['available']:.0f} % of the cores)"
    )
    if errors:
        print("First errors:", *errors[:5], sep="\n  ")
    met = p95 <= GOAL_P95_MS and error_count == 0
    print(
        f"Goal: p95 ≤ {GOAL_P95_MS:.0f} ms and zero errors: {'✓' if met else '✗'} "
        f"(p95 {p95:.1f} ms, {error_count} errors)"
    )
    return p95, error_count


if __name__ == "__main__":
    main()
