"""Prometheus metrics, one `Metrics` per app (its own registry, so tests can build many apps).

`create_app` keeps it on `app.state.metrics`; `GET /metrics` renders its registry. Add new
collectors as attributes in `Metrics.__init__`, each with a `budbringer_` name, and a small
`observe_...` method beside `observe_turn` when they are fed from a route.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from graphs.engine import TurnResult

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

# A turn takes ~5 ms (a yes/no) to ~50 ms (a help-centre question) offline and up to seconds
# with a language model: buckets cover 5 ms to 2 s with the resolution where the targets are.
TURN_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.045, 0.06, 0.09, 0.125, 0.25, 0.5, 1.0, 2.0)
REQUEST_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

HANDOFF_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)

ENDED = ("completed", "refused", "cancelled")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.turn_seconds = Histogram(
            "budbringer_turn_seconds",
            "Time to take one customer message, from the engine's start to the stored turn.",
            labelnames=("mode",),
            buckets=TURN_BUCKETS,
            registry=r,
        )
        self.turns = Counter(
            "budbringer_turns", "Customer turns taken.", labelnames=("language",), registry=r
        )
        self.flows_started = Counter(
            "budbringer_flows_started", "Guided flows started.", labelnames=("flow",), registry=r
        )
        self.flows_ended = Counter(
            "budbringer_flows_ended",
            "Guided flows that ended, by how (completed, refused, cancelled).",
            labelnames=("flow", "status"),
            registry=r,
        )
        self.abstentions = Counter(
            "budbringer_abstentions",
            "Help-centre questions answered with 'I don't know'.",
            labelnames=("language",),
            registry=r,
        )
        self.handoffs = Counter(
            "budbringer_handoffs",
            "Conversations handed to a person, by reason.",
            labelnames=("reason",),
            registry=r,
        )
        # Handoffs (api/routes/handoffs.py): waits from arrival to claim, handling from claim to
        # resolve; minutes to hours, so buckets from 30 s to 4 h.
        self.handoff_wait_seconds = Histogram(
            "budbringer_handoff_wait_seconds",
            "Time a handoff waited in the queue before an agent claimed it, by reason.",
            labelnames=("reason",),
            buckets=HANDOFF_BUCKETS,
            registry=r,
        )
        self.handoff_handling_seconds = Histogram(
            "budbringer_handoff_handling_seconds",
            "Time from claim (or arrival) to resolve, by reason.",
            labelnames=("reason",),
            buckets=HANDOFF_BUCKETS,
            registry=r,
        )
        self.handoffs_resolved = Counter(
            "budbringer_handoffs_resolved",
            "Handoffs resolved, by reason and whether the customer went back to the assistant.",
            labelnames=("reason", "returned_to_bot"),
            registry=r,
        )
        self.errors = Counter(
            "budbringer_errors",
            "Problem responses and failed turns, by stable code.",
            labelnames=("code",),
            registry=r,
        )
        self.requests = Counter(
            "budbringer_http_requests",
            "HTTP requests, by route template, method and status.",
            labelnames=("route", "method", "status"),
            registry=r,
        )
        self.request_seconds = Histogram(
            "budbringer_http_request_seconds",
            "HTTP request duration by route template (streams: until the last byte).",
            labelnames=("route",),
            buckets=REQUEST_BUCKETS,
            registry=r,
        )

    def observe_handoff_claimed(self, handoff: Any) -> None:
        """A handoff was claimed: how long the customer waited (api/routes/handoffs.py)."""
        if handoff.claimed_at is not None:
            waited = (handoff.claimed_at - handoff.created_at).total_seconds()
            self.handoff_wait_seconds.labels(reason=handoff.reason).observe(max(0.0, waited))

    def observe_handoff_resolved(self, handoff: Any) -> None:
        """A handoff was resolved: how long an agent worked on it (from the claim, or arrival)."""
        if handoff.resolved_at is not None:
            start = handoff.claimed_at or handoff.created_at
            spent = (handoff.resolved_at - start).total_seconds()
            self.handoff_handling_seconds.labels(reason=handoff.reason).observe(max(0.0, spent))
            self.handoffs_resolved.labels(
                reason=handoff.reason, returned_to_bot=str(handoff.return_to_bot).lower()
            ).inc()

    def error(self, code: str) -> None:
        self.errors.labels(code=code).inc()

    def observe_turn(self, result: TurnResult, seconds: float, *, mode: str) -> None:
        self.turn_seconds.labels(mode=mode).observe(seconds)
        self.turns.labels(language=result.language).inc()
        if result.flow is not None:
            if result.flow_started:
                self.flows_started.labels(flow=result.flow).inc()
            if result.flow_status in ENDED:
                self.flows_ended.labels(flow=result.flow, status=result.flow_status).inc()
        for action in result.actions:
            if action.get("tool") == "search_knowledge" and _abstained(action):
                self.abstentions.labels(language=result.language).inc()
        if result.handoff is not None and result.handoff_started:
            reason = str(result.handoff.get("reason") or "unknown")
            self.handoffs.labels(reason=reason).inc()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, method=method, status=str(status)).inc()
        self.request_seconds.labels(route=route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _abstained(action: dict[str, Any]) -> bool:
    result = action.get("result") or {}
    return bool(result.get("abstained"))
