"""Who writes a report: any OpenAI-compatible chat API, or the offline narrator.

A provider has one method, ``generate(*, system, prompt) -> Completion``, and raises
``LLMError`` with a sentence a person can act on when it cannot answer.

``OpenAIProvider`` talks to OpenAI or any server speaking its protocol (vLLM, llama.cpp,
Ollama …) through the official SDK. The SDK's own retries are off (``max_retries=0``) so
that one policy, ours, decides: up to ``LLM_RETRY_ATTEMPTS`` attempts (default 3) on a 429,
a 5xx, a timeout or a refused connection, waiting ``LLM_RETRY_BACKOFF`` × 2^(attempt − 1)
seconds (default 1 s, at most ``MAX_BACKOFF_SECONDS``) with "equal jitter" (half fixed,
half random) between them, or the server's ``Retry-After`` when it sends one, capped at
``LLM_RETRY_AFTER_CAP`` seconds (default 30). Anything else (a 400, a bad key, a
malformed answer) fails at once: asking again would get the same answer.

The other provider, ``reports.narrator.OfflineNarrator``, needs no server;
``reports.services.provider_for_settings`` chooses between them.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import Protocol

DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 20.0
DEFAULT_RETRY_AFTER_CAP = 30.0
# The prompt asks for about 300 words; this only stops a runaway answer.
MAX_COMPLETION_TOKENS = 1200
TEMPERATURE = 0.2
SERVER_MESSAGE_CHARS = 200

# Looked up through the module so tests can replace it and not wait.
_sleep = time.sleep


class LLMError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    provider: str
    prompt_tokens: int | None
    completion_tokens: int | None
    seconds: float


class Provider(Protocol):
    name: str
    model: str

    def generate(self, *, system: str, prompt: str) -> Completion: ...


@dataclass(frozen=True)
class _Failure:
    """One failed attempt: why, whether asking again may help, how long the server asked
    us to wait (seconds) if it said."""

    reason: str
    retryable: bool
    retry_after: float | None = None


class OpenAIProvider:
    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str = "",
        timeout: float = 60.0,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF_SECONDS,
        retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP,
    ) -> None:
        from openai import OpenAI

        self.model = model
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.retry_after_cap = retry_after_cap
        self.base_url = base_url
        self.client = OpenAI(
            api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0
        )

    def generate(self, *, system: str, prompt: str) -> Completion:
        started = time.perf_counter()
        failures: list[_Failure] = []
        for attempt in range(1, self.attempts + 1):
            try:
                response = self._call(system=system, prompt=prompt)
            except Exception as exc:
                failure = self._classify(exc)
                failures.append(failure)
                if not failure.retryable or attempt == self.attempts:
                    break
                _sleep(self._delay(attempt, failure))
                continue
            return self._completion(response, time.perf_counter() - started)
        raise LLMError(_summary(failures))

    def _call(self, *, system: str, prompt: str):
        return self.client.chat.completions.create(
            model=self.model,
            messages=[
                {"role": "system", "content": system},
                {"role": "user", "content": prompt},
            ],
            temperature=TEMPERATURE,
            max_tokens=MAX_COMPLETION_TOKENS,
        )

    def _classify(self, exc: Exception) -> _Failure:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return _Failure(f"the model server timed out after {self.timeout:g} s", True)
        if isinstance(exc, openai.APIConnectionError):
            where = self.base_url or "the OpenAI API"
            return _Failure(f"could not connect to {where} ({exc})", True)
        if isinstance(exc, openai.APIResponseValidationError | ValueError):
            return _Failure(f"malformed response: {_short(str(exc))}", False)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            retryable = status == 429 or status >= 500
            wait = _retry_after(exc.response.headers) if retryable else None
            said = _short(getattr(exc, "message", "") or str(exc))
            reason = f"the model server answered {status}"
            if not retryable:
                reason += f" ({said})"
            return _Failure(reason, retryable, wait)
        if isinstance(exc, openai.OpenAIError):
            return _Failure(f"the OpenAI client failed: {_short(str(exc))}", False)
        raise exc

    def _delay(self, attempt: int, failure: _Failure) -> float:
        if failure.retry_after is not None:
            return min(max(failure.retry_after, 0.0), self.retry_after_cap)
        ceiling = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _completion(self, response, seconds: float) -> Completion:
        choices = getattr(response, "choices", None)
        if not choices:
            raise LLMError("malformed response: no choices")
        message = getattr(choices[0], "message", None)
        text = getattr(message, "content", None)
        if not isinstance(text, str) or not text.strip():
            raise LLMError("malformed response: the first choice has no text")
        usage = getattr(response, "usage", None)
        return Completion(
            text=text.strip(),
            model=getattr(response, "model", None) or self.model,
            provider=self.name,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            seconds=round(seconds, 3),
        )


def _retry_after(headers) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return float(raw_ms) / 1000
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SERVER_MESSAGE_CHARS else text[: SERVER_MESSAGE_CHARS - 1] + "…"


_TIMES = {1: "once", 2: "twice", 3: "three times", 4: "four times", 5: "five times"}


def _summary(failures: list[_Failure]) -> str:
    """ "the model server answered 500 three times" or the last reason with the count."""
    last = failures[-1]
    if len(failures) == 1:
        if last.retryable:
            return f"{last.reason} (no retries configured)"
        return last.reason
    if all(f.reason == last.reason for f in failures):
        return f"{last.reason} {_TIMES.get(len(failures), f'{len(failures)} times')}"
    return f"gave up after {len(failures)} attempts; the last: {last.reason}"
