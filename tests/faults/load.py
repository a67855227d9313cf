"""A client that retries one command with one Idempotency-Key, recording every attempt."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

IN_USE = "idempotency-key-in-use"


@dataclass(frozen=True)
class Attempt:
    """One request and what came back (`status` None: a connection-level error)."""

    sent: float
    answered: float
    status: int | None
    error: str = ""
    retry_after: str | None = None
    problem: bool = False
    body: dict[str, Any] | None = None

    @property
    def seconds(self) -> float:
        return self.answered - self.sent

    def within(self, start: float, end: float) -> bool:
        return start <= self.sent and self.answered <= end

    def answered_between(self, start: float, end: float) -> bool:
        return start <= self.answered <= end

    def describe(self) -> str:
        return f"{self.status} after {self.seconds:.1f}s {self.error[:300]}"


@dataclass
class Command:
    name: str  # lodge, assign, contacts
    complaint_id: str | None  # None for a lodging until it is acknowledged
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def acknowledged(self) -> dict[str, Any] | None:
        last = self.attempts[-1] if self.attempts else None
        if last is not None and last.status is not None and 200 <= last.status < 300:
            return last.body
        return None


def is_unavailable(attempt: Attempt) -> bool:
    """A 503 problem with Retry-After, or no HTTP answer at all (a connection-level error)."""
    if attempt.status is None:
        return True
    return attempt.status == 503 and attempt.problem and bool(attempt.retry_after)


def try_once(http: httpx.Client, method: str, path: str, **kwargs: Any) -> Attempt:
    sent = time.monotonic()
    try:
        response = http.request(method, path, **kwargs)
    except httpx.HTTPError as error:
        return Attempt(sent, time.monotonic(), None, f"{type(error).__name__}: {error}")
    answered = time.monotonic()
    problem = False
    body: dict[str, Any] | None = None
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        body = parsed
        media = response.headers.get("content-type", "").split(";")[0].strip()
        problem = media == "application/problem+json" and all(
            isinstance(parsed.get(key), str) and parsed[key] for key in ("type", "title", "detail")
        )
        problem = problem and parsed.get("status") == response.status_code
    return Attempt(
        sent,
        answered,
        response.status_code,
        "" if response.is_success else response.text[:500],
        response.headers.get("retry-after"),
        problem,
        body,
    )


def send(
    http: httpx.Client,
    command: Command,
    path: str,
    body: dict[str, Any],
    abort: threading.Event,
    bound: float,
) -> dict[str, Any] | None:
    """The command, retried with its one key until a 2xx or a final 4xx (or the bound)."""
    headers = {"Idempotency-Key": f"fault-{uuid.uuid4()}"}
    deadline = time.monotonic() + bound
    while True:
        attempt = try_once(http, "POST", path, json=body, headers=headers)
        command.attempts.append(attempt)
        status = attempt.status
        in_use = status == 409 and str((attempt.body or {}).get("type", "")).endswith(IN_USE)
        if status is not None and status < 500 and not in_use:
            return command.acknowledged
        if abort.is_set() or time.monotonic() > deadline:
            return None
        time.sleep(min(float(attempt.retry_after or 0.5), 1.0) if status else 0.3)
