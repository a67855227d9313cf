"""Request ids, one structured log line per request, and Prometheus metrics.

Counters and histograms are per process; with several workers `complaints serve` points
PROMETHEUS_MULTIPROC_DIR at a fresh folder, so `/metrics` adds up every worker's figures.
Positions and lags are read from the database at scrape time, so every worker reports the same.
Nothing personal is logged or exported: routes are templates, actors are ids.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.auth import authenticate

log = logging.getLogger("complaints.requests")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

REQUESTS = Counter("complaints_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "complaints_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
COMMANDS = Counter(
    "complaints_commands_total", "Commands by type and result", ["command", "result"]
)
EVENTS_WRITTEN = Counter("complaints_events_written_total", "Events written", ["type"])

# Command routes: (command, the one event it writes).
COMMAND_ROUTES = {
    "/complaints": ("lodge", "ComplaintLodged"),
    "/complaints/{complaint_id}/redirect": ("redirect", "ComplaintRedirected"),
    "/complaints/{complaint_id}/assign": ("assign", "InvestigatorAssigned"),
    "/complaints/{complaint_id}/contacts": ("record_contact", "ComplainantContacted"),
    "/complaints/{complaint_id}/resolve": ("resolve", "ComplaintResolved"),
    # Records management.
    "/complaints/{complaint_id}/retention-reviews": ("review_retention", "RetentionReviewed"),
    "/complaints/{complaint_id}/erase": ("erase", "PersonalDataErased"),
    "/complaints/{complaint_id}/restrict": ("restrict", "ProcessingRestricted"),
    "/complaints/{complaint_id}/lift-restriction": ("lift_restriction", "RestrictionLifted"),
    # The statutory process (Schedule 3).
    "/complaints/{complaint_id}/allegations": ("add_allegation", "AllegationAdded"),
    "/complaints/{complaint_id}/handling": ("decide_handling", "HandlingDecided"),
    "/complaints/{complaint_id}/iopc-referral": ("refer_to_iopc", "ReferredToIopc"),
    "/complaints/{complaint_id}/iopc-determination": (
        "record_iopc_determination",
        "IopcDetermined",
    ),
    "/complaints/{complaint_id}/updates": ("send_progress_update", "ProgressUpdateSent"),
    "/complaints/{complaint_id}/outcome": ("notify_outcome", "OutcomeNotified"),
    "/complaints/{complaint_id}/review": ("request_review", "ReviewRequested"),
    "/complaints/{complaint_id}/review-decision": ("decide_review", "ReviewDecided"),
    "/complaints/{complaint_id}/withdraw": ("withdraw", "ComplaintWithdrawn"),
}


def _result(status: int) -> str:
    if status < 400:
        return "recorded"
    if status in (401, 403):
        return "forbidden"
    if status < 500 and status not in (409, 412):
        return "invalid"
    return "refused" if status < 500 else "failed"


class RequestObserver:
    """ASGI middleware: X-Request-ID in and out, metrics, and the access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        offered = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._observe(scope, status, time.perf_counter() - started, request_id)

    def _observe(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"  # bounded labels
        REQUESTS.labels(method, route, str(status)).inc()
        LATENCY.labels(method, route).observe(seconds)
        state = scope.get("state", {})
        if method == "POST" and route in COMMAND_ROUTES:
            command, event = COMMAND_ROUTES[route]
            COMMANDS.labels(command, _result(status)).inc()
            if status < 400 and not state.get("replayed"):
                EVENTS_WRITTEN.labels(event).inc()
        log.info(
            json.dumps(
                {
                    "request_id": request_id,
                    "method": method,
                    "route": route,
                    "status": status,
                    "latency_ms": round(seconds * 1000, 2),
                    "actor": _actor(scope, state),
                },
                separators=(",", ":"),
            )
        )


def _actor(scope: Scope, state: dict[str, Any]) -> str | None:
    """The caller's id, also for requests refused before the route read the token."""
    principal = state.get("principal")
    if principal is not None:
        return str(principal.id)
    authorization = dict(scope["headers"]).get(b"authorization")
    app = scope.get("app")
    secret = getattr(getattr(app, "state", None), "jwt_secret", None)
    if not authorization or not secret:
        return None
    try:
        return authenticate(authorization.decode("latin-1"), secret).id
    except Exception:  # an invalid token has no actor to name
        return None


class ReadModelCollector(Collector):
    """Positions and lags, read when scraped."""

    def __init__(self, status: Callable[[], tuple[int, dict[str, Any]]]) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        try:
            head, models = self.status()
        except Exception:  # the store is down: no figures rather than a failed scrape
            return
        head_gauge = GaugeMetricFamily("complaints_event_log_head", "Position of the last event")
        head_gauge.add_metric([], head)
        position = GaugeMetricFamily(
            "complaints_projection_position",
            "Position each read model has processed",
            labels=["projection"],
        )
        lag = GaugeMetricFamily(
            "complaints_projection_lag", "Events each read model is behind", labels=["projection"]
        )
        for name, entry in models.items():
            position.add_metric([name], entry["position"])
            lag.add_metric([name], entry["lag"])
        yield from (head_gauge, position, lag)


def render_metrics(extra: Collector, *, shared_by_workers: bool) -> bytes:
    registry = CollectorRegistry()
    if shared_by_workers:
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    output = generate_latest(registry)
    extra_registry = CollectorRegistry()
    extra_registry.register(extra)
    return output + generate_latest(extra_registry)


def configure_logging() -> None:
    """One JSON object per line on stderr for requests; plain lines for everything else."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
