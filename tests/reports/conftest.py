"""Fixtures of the report tests: a hand-made analysed portfolio with exact figures, and a
fake OpenAI-compatible server on 127.0.0.1 that the real ``openai`` SDK talks to."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from analytics.models import AnalysisRun, Anomaly, CustomerResult, RunStatus, Segment
from customers.models import Customer

SEGMENTS = (  # the figures of RESULTS below, as a run computes them
    (0, "High value · declining · steady", {"revenue_median": 4600.0, "revenue_mean": 4600.0,
     "revenue_max": 5000.0, "relative_change_12m": 0.02, "cv": 0.2, "residual_share": 0.05,
     "activity": 0.95, "seasonal_strength": 0.3, "share_declining": 0.5, "share_sharp": 0.0,
     "portfolio_median": 825.0, "portfolio_q75": 3375.0}),
    (1, "Low value · declining sharply · volatile", {"revenue_median": 675.0,
     "revenue_mean": 682.5, "revenue_max": 900.0, "relative_change_12m": -0.315, "cv": 0.8,
     "residual_share": 0.3, "activity": 0.7, "seasonal_strength": 0.1, "share_declining": 0.75,
     "share_sharp": 0.5, "portfolio_median": 825.0, "portfolio_q75": 3375.0}),
)  # fmt: skip

# external id, segment, level, mean, change 12m, p-value, at risk, onset, anomalies, churned
RESULTS = (
    ("C-001", 0, 0, "5000.00", 0.12, 0.21, "0.00", None, 0, False),
    ("C-002", 0, 1, "4200.00", -0.08, 0.04, "1200.50", date(2025, 1, 1), 0, False),
    ("C-003", 1, 3, "900.00", -0.52, 0.0004, "5400.00", date(2024, 9, 1), 2, False),
    ("C-004", 1, 3, "750.00", -0.41, 0.002, "3600.00", date(2024, 9, 1), 0, True),
    ("C-005", 1, 2, "600.00", -0.22, 0.01, "1500.00", date(2024, 11, 1), 1, False),
    ("C-006", 1, 0, "480.00", 0.03, 0.6, "0.00", None, 0, False),
    ("short-1", None, None, "120.00", None, None, "0.00", None, 0, False),
)
# The previous run's levels (for movers and a customer's previous level).
PREVIOUS_LEVELS = {"C-001": 0, "C-002": 0, "C-003": 2, "C-004": 3, "C-005": 3, "C-006": 0}


def make_run(team, results, *, levels_only: bool = False, age_days: int = 0) -> AnalysisRun:
    run = AnalysisRun.objects.create(
        team=team,
        window_start=date(2023, 1, 1),
        window_end=date(2025, 6, 1),
        params={"alpha": 0.05},
        status=RunStatus.RUNNING,
    )
    if not levels_only:
        for number, name, features in SEGMENTS:
            size = sum(1 for row in results if row[1] == number)
            Segment.objects.create(run=run, number=number, name=name, size=size,
                                   features=features, profile={})  # fmt: skip
    levels = [row[2] for row in results]
    for row in results:
        _result(team, run, row)
    AnalysisRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED,
        customers_count=len(results),
        **{f"level_{level}_count": levels.count(level) for level in range(4)},
        insufficient_count=levels.count(None),
        anomalies_count=sum(row[8] for row in results),
        segments_count=0 if levels_only else len(SEGMENTS),
        created_at=timezone.now() - timedelta(days=age_days),
    )
    run.refresh_from_db()
    return run


def _result(team, run, row) -> None:
    external_id, segment, level, mean, change, p_value, risk, onset, anomalies, churned = row
    customer, _ = Customer.objects.get_or_create(team=team, external_id=external_id)
    months = 30 if level is not None else 4
    CustomerResult.objects.create(
        run=run, customer=customer, segment=segment, decline_level=level,
        revenue_mean=Decimal(mean), revenue_std=Decimal(mean) / 4, cv=0.25,
        relative_change_12m=change, p_value=p_value, revenue_at_risk=Decimal(risk),
        onset_month=onset, anomaly_count=anomalies, churned=churned,
        slope=None if change is None else round(float(mean) * change / 12, 2),
        slope_low=None if change is None else round(float(mean) * change / 8, 2),
        slope_high=None if change is None else round(float(mean) * change / 16, 2),
        seasonal_strength=0.35, active_months=months - (3 if churned else 0), n_months=months,
        explanation=f"Level {level}: revenue changed {change} over 12 months.",
    )  # fmt: skip
    for index in range(anomalies):
        Anomaly.objects.create(
            run=run, customer=customer, month=date(2025, 3 + index, 1),
            revenue=Decimal("150.00") + index, expected=Decimal("820.00"), zscore=-3.4 - index,
        )  # fmt: skip


@pytest.fixture
def portfolio(team_a):
    """Two succeeded runs of team A; the newer one is current."""
    previous_rows = [
        (cid, None, level, "100.00", None, None, "0.00", None, 0, False)
        for cid, level in PREVIOUS_LEVELS.items()
    ]
    previous = make_run(team_a, previous_rows, levels_only=True, age_days=30)
    current = make_run(team_a, RESULTS)
    return current, previous


# --- The fake OpenAI-compatible server -------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: object = None  # a dict (JSON) or a str (sent as is)
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


def chat_completion(content: str, *, model: str = "fake-model-1") -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {"prompt_tokens": 321, "completion_tokens": 123, "total_tokens": 444},
    }


DEFAULT_ANSWER = """## Profile
A customer in segment 1.

## Risk analysis
Level 3: revenue fell 52% (p-value 0.0004); 5,400 at risk over the next 12 months.

## Recommended actions
1. Account manager: call within 7 days about the 5.4k at risk.
"""


class FakeOpenAI:
    """Answers POST /v1/chat/completions with the scripted replies, in order, then with
    ``default``; records every request's path, headers and JSON body."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.default = Reply(body=chat_completion(DEFAULT_ANSWER))
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                fake.requests.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": json.loads(raw),
                    }
                )
                reply = fake.script.pop(0) if fake.script else fake.default
                if self.path != "/v1/chat/completions":
                    reply = Reply(status=404, body={"error": {"message": "no such path"}})
                time.sleep(reply.delay)
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = body.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (a timeout test)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def bodies(self) -> list[dict]:
        return [request["body"] for request in self.requests]


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The retry waits asked for, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr("reports.llm._sleep", waits.append)
    return waits


@pytest.fixture
def fake_llm(settings, sleeps):
    fake = FakeOpenAI()
    fake.thread.start()
    settings.OPENAI_API_KEY = "test"
    settings.OPENAI_BASE_URL = fake.url + "/v1"
    settings.OPENAI_MODEL = "fake-model-1"
    settings.OPENAI_TIMEOUT = 5.0
    settings.LLM_RETRY_ATTEMPTS = 3
    settings.LLM_RETRY_BACKOFF = 0.01
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


@pytest.fixture
def offline(settings):
    settings.OPENAI_API_KEY = ""
