"""`HttpCarrierBackend`: the `CarrierBackend` port over the carrier's REST API (`REST.md`).

Every answer goes through `assistant/carrier/codec.py`, the codec the served simulator uses too.
What the caller sees is always a domain value or a `ToolFailed`, never an httpx exception:

```
what happened                                       ToolFailed reason        details.cause
the server refused (4xx with a refusal body)        the server's reason      (server's details)
401 / 403                                           backend_unauthorized     -
connect error, reset, protocol error                backend_unavailable      connect | transport
no answer within timeout_s                          backend_unavailable      timeout
500 / 502 / 503 / 504                               backend_unavailable      http_<status>
other status, non-JSON or schema-invalid body       backend_unavailable      http_<status> | invalid_body
circuit open                                        backend_unavailable      circuit_open
```

Retries (bounded, exponential backoff with jitter: `backoff_s * 2**(n-1)`, scaled by a random
factor in [0.5, 1], at most 5 s) happen only where repeating the request cannot do something twice:

```
call                     request                                   retried on connect error,
                                                                   timeout, 500/502/503/504
get_shipment             GET  /v1/shipments/{id}                   yes, up to `retries` times
list_redirect_options    GET  /v1/shipments/{id}/redirect-options  yes
redirect_delivery        POST /v1/shipments/{id}/redirects         yes (same Idempotency-Key)
create_case              POST /v1/cases                            yes (same Idempotency-Key)
get_case, list_cases     GET  /v1/cases/...                        yes
service_points           GET  /v1/service-points                   yes
verify_recipient         POST /v1/shipments/{id}/verification      never: each try is an attempt
                                                                   the carrier counts towards
                                                                   the lock-out
```

A circuit breaker keeps a dead carrier from costing every conversation `timeout_s` per call.
It counts calls, not attempts: a call fails when its last attempt fails (transport, timeout,
5xx, unreadable body); any answer the server gave on purpose (a value, a refusal, a 401) is a
success.

```
            breaker_threshold consecutive failed calls
  CLOSED ──────────────────────────────────────────────> OPEN  (calls fail fast, no request)
    ^                                                     │  breaker_reset_s after opening
    │ trial call succeeds                                 v
    └──────────────────────────────────────────────── HALF_OPEN  (one trial call, no retries;
                         trial call fails: back to OPEN ─┘        other calls fail fast)
```

The client never reads proxy settings from the environment (`trust_env=False`): everything it
needs comes from `Settings` (`carrier_url`, `carrier_api_key`, `carrier_timeout_s`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx

from assistant.carrier import codec
from assistant.domain import (
    Case,
    CaseRequest,
    Redirect,
    RedirectOption,
    ServicePoint,
    ShipmentView,
    Verification,
)
from assistant.errors import ConfigurationError, ToolFailed

__all__ = ["BreakerState", "HttpCarrierBackend"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_MAX_BACKOFF_S = 5.0
_UNAVAILABLE = "backend_unavailable"


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class _Breaker:
    """Consecutive-failure circuit breaker; thread-safe, time from an injected monotonic clock."""

    def __init__(self, threshold: int, reset_s: float, clock: Callable[[], float]) -> None:
        self._threshold = threshold
        self._reset_s = reset_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at = 0.0
        self._state = BreakerState.CLOSED
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            if (
                self._state is BreakerState.OPEN
                and self._clock() - self._opened_at >= self._reset_s
            ):
                return BreakerState.HALF_OPEN
            return self._state

    def admit(self) -> bool:
        """Let a call through: True when it is the half-open trial; `ToolFailed` when open."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return False
            waited = self._clock() - self._opened_at
            if self._state is BreakerState.OPEN and waited >= self._reset_s:
                self._state = BreakerState.HALF_OPEN
            if self._state is BreakerState.HALF_OPEN and not self._trial_running:
                self._trial_running = True
                logger.info("carrier circuit half-open: sending one trial call")
                return True
            retry_after = max(0.0, self._reset_s - waited)
        raise ToolFailed(
            _UNAVAILABLE,
            "the carrier's system has been failing, so we are not contacting it for a moment; "
            f"try again in about {retry_after:.0f} seconds",
            {"cause": "circuit_open", "retry_after_s": round(retry_after, 1)},
        )

    def record(self, *, ok: bool, trial: bool) -> None:
        with self._lock:
            if trial:
                self._trial_running = False
            if ok:
                if self._state is not BreakerState.CLOSED:
                    logger.info("carrier circuit closed: the carrier answers again")
                self._state = BreakerState.CLOSED
                self._failures = 0
                return
            self._failures += 1
            if trial or self._failures >= self._threshold:
                if self._state is not BreakerState.OPEN:
                    logger.warning(
                        "carrier circuit open after %d failed call(s); failing fast for %.1f s",
                        self._failures,
                        self._reset_s,
                    )
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()


class _Attempt(Exception):
    """One attempt that failed in a way the breaker counts; `retryable` for idempotent calls."""

    def __init__(self, cause: str, explanation: str, *, retryable: bool) -> None:
        super().__init__(explanation)
        self.cause = cause
        self.explanation = explanation
        self.retryable = retryable


class HttpCarrierBackend:
    """The carrier's system over HTTP, with timeouts, bounded retries and a circuit breaker.

    Args:
        base_url: Root of the carrier API, e.g. `https://carrier.example/api` (paths start `/v1`).
        api_key: Sent as `Authorization: Bearer <key>` when given.
        timeout_s: Connect, read, write and pool timeout of one attempt.
        retries: Extra attempts of an idempotent call after a retryable failure.
        backoff_s: Base delay before the first retry; doubles for each further one.
        breaker_threshold: Consecutive failed calls that open the circuit.
        breaker_reset_s: How long the circuit stays open before one trial call.
        transport: An httpx transport to use instead of the network (tests: `httpx.MockTransport`).
        clock: Monotonic seconds, for the breaker.
        sleep: How to wait between retries.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.2,
        breaker_threshold: int = 5,
        breaker_reset_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"the carrier URL must start with http:// or https://, not {base_url!r}"
            )
        if timeout_s <= 0 or retries < 0 or backoff_s < 0 or breaker_threshold < 1:
            raise ConfigurationError(
                "carrier client: timeout_s must be > 0, retries and backoff_s >= 0, "
                "breaker_threshold >= 1"
            )
        headers = {"Accept": "application/json", "User-Agent": "budbringer-carrier-client/1"}
        # Keys pasted into an environment variable often end in a newline.
        api_key = api_key.strip() if api_key else None
        if api_key and (" " in api_key or not api_key.isprintable()):
            raise ConfigurationError("the carrier API key must not contain spaces or controls")
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._retries = retries
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._random = random.Random()
        self._breaker = _Breaker(breaker_threshold, breaker_reset_s, clock)
        self._client = httpx.Client(
            base_url=self._base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )

    def __repr__(self) -> str:
        # Never the API key.
        return f"HttpCarrierBackend({self._base_url!r}, breaker={self.breaker_state.value})"

    @property
    def breaker_state(self) -> BreakerState:
        """The circuit breaker's state now (`half_open` once the reset time has passed)."""
        return self._breaker.state

    # --- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection pool; the backend cannot be used afterwards."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- CarrierBackend --------------------------------------------------------------------
    def get_shipment(self, tracking_id: str, verification: str | None = None) -> ShipmentView:
        """`GET /v1/shipments/{id}`; personal details only with a valid verification token."""
        return self._call(
            "GET",
            _shipment_path(tracking_id),
            codec.decode_shipment_view,
            idempotent=True,
            headers=_verification_header(verification),
        )

    def verify_recipient(self, tracking_id: str, postcode: str) -> Verification:
        """`POST .../verification`, sent exactly once: the carrier counts every attempt."""
        return self._call(
            "POST",
            _shipment_path(tracking_id, "verification"),
            codec.decode_verification,
            idempotent=False,
            json={"postcode": postcode},
        )

    def list_redirect_options(
        self, tracking_id: str, verification: str
    ) -> Sequence[RedirectOption]:
        """`GET .../redirect-options`: what this parcel allows, nearest first."""
        return self._call(
            "GET",
            _shipment_path(tracking_id, "redirect-options"),
            codec.decode_redirect_options,
            idempotent=True,
            headers=_verification_header(verification),
        )

    def redirect_delivery(
        self, tracking_id: str, option_id: str, verification: str, idempotency_key: str
    ) -> Redirect:
        """`POST .../redirects`; retried safely, the carrier replays the key's first redirect."""
        return self._call(
            "POST",
            _shipment_path(tracking_id, "redirects"),
            codec.decode_redirect,
            idempotent=True,
            json={"option_id": option_id},
            headers={**_verification_header(verification), "Idempotency-Key": idempotency_key},
        )

    def create_case(self, request: CaseRequest, idempotency_key: str) -> Case:
        """`POST /v1/cases`; retried safely, the carrier replays the key's first case."""
        return self._call(
            "POST",
            "/v1/cases",
            codec.decode_case,
            idempotent=True,
            json=codec.encode_case_request(request),
            headers={"Idempotency-Key": idempotency_key},
        )

    def get_case(self, case_id: str) -> Case:
        """`GET /v1/cases/{case_id}`."""
        if not case_id.strip():
            # An empty id would address the case list; answer as the carrier would.
            raise ToolFailed("case_not_found", f"no case with id {case_id}")
        return self._call(
            "GET", f"/v1/cases/{quote(case_id, safe='')}", codec.decode_case, idempotent=True
        )

    def list_cases(self, tracking_id: str | None = None, limit: int = 100) -> Sequence[Case]:
        """`GET /v1/cases`, newest first, optionally for one parcel."""
        params: dict[str, str | int] = {"limit": limit}
        if tracking_id is not None:
            params["tracking_id"] = tracking_id
        return self._call("GET", "/v1/cases", codec.decode_cases, idempotent=True, params=params)

    def service_points(self, country: str) -> Sequence[ServicePoint]:
        """`GET /v1/service-points?country=`."""
        return self._call(
            "GET",
            "/v1/service-points",
            codec.decode_service_points,
            idempotent=True,
            params={"country": country},
        )

    # --- one call: breaker, attempts, interpretation ---------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        decode: Callable[[object], T],
        *,
        idempotent: bool,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> T:
        trial = self._breaker.admit()
        # The half-open trial is a single probe: retrying it would hammer a carrier that is
        # only just coming back.
        attempts = 1 + self._retries if idempotent and not trial else 1
        ok = False
        try:
            value = self._attempts(method, path, decode, attempts, json, headers, params)
            ok = True
            return value
        except ToolFailed as refusal:
            # A refusal or a 401 is the carrier answering on purpose: it is up.
            ok = refusal.reason != _UNAVAILABLE
            raise
        finally:
            self._breaker.record(ok=ok, trial=trial)

    def _attempts(
        self,
        method: str,
        path: str,
        decode: Callable[[object], T],
        attempts: int,
        json: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str | int] | None,
    ) -> T:
        for attempt in range(1, attempts + 1):
            try:
                return self._attempt(method, path, decode, json, headers, params)
            except _Attempt as failure:
                if not failure.retryable or attempt == attempts:
                    logger.warning(
                        "carrier %s %s failed after %d attempt(s): %s",
                        method,
                        path,
                        attempt,
                        failure.cause,
                    )
                    raise ToolFailed(
                        _UNAVAILABLE,
                        failure.explanation,
                        {"cause": failure.cause, "attempts": attempt},
                    ) from None
                delay = self._backoff(attempt)
                logger.info(
                    "carrier %s %s attempt %d/%d failed (%s); retrying in %.2f s",
                    method,
                    path,
                    attempt,
                    attempts,
                    failure.cause,
                    delay,
                )
                self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        base = min(self._backoff_s * 2.0 ** (attempt - 1), _MAX_BACKOFF_S)
        # Jitter spreads the retries of many workers that failed at the same moment.
        return base * self._random.uniform(0.5, 1.0)

    def _attempt(
        self,
        method: str,
        path: str,
        decode: Callable[[object], T],
        json: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str | int] | None,
    ) -> T:
        started = time.perf_counter()
        try:
            response = self._client.request(method, path, json=json, headers=headers, params=params)
        except httpx.TimeoutException:
            raise _Attempt(
                "timeout",
                f"the carrier's system did not answer within {self._timeout_s:g} seconds",
                retryable=True,
            ) from None
        except httpx.ConnectError:
            raise _Attempt(
                "connect", "could not connect to the carrier's system", retryable=True
            ) from None
        except httpx.LocalProtocolError as exc:
            # Our own request is malformed (say, a control character in a header): repeating
            # it cannot help.
            raise _Attempt(
                "invalid_request",
                f"the request to the carrier's system could not be sent ({exc})",
                retryable=False,
            ) from None
        except httpx.HTTPError as exc:
            raise _Attempt(
                "transport",
                f"the connection to the carrier's system failed ({type(exc).__name__})",
                retryable=True,
            ) from None
        logger.debug(
            "carrier %s %s -> %d in %.0f ms",
            method,
            path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return self._interpret(response, decode)

    def _interpret(self, response: httpx.Response, decode: Callable[[object], T]) -> T:
        status = response.status_code
        if status in _RETRY_STATUSES:
            raise _Attempt(
                f"http_{status}",
                f"the carrier's system is having trouble (HTTP {status})",
                retryable=True,
            )
        if status in (401, 403):
            raise ToolFailed(
                "backend_unauthorized",
                f"the carrier's system did not accept our API key (HTTP {status}); "
                "check BUDBRINGER_CARRIER_API_KEY",
                {"status": status},
            )
        if 200 <= status < 300:
            try:
                return decode(_json(response))
            except codec.WireError as exc:
                logger.warning("carrier answer to %s unreadable: %s", response.request.url, exc)
                raise _Attempt(
                    "invalid_body",
                    "the carrier's system sent an answer we could not read",
                    retryable=False,
                ) from None
        if 400 <= status < 500:
            try:
                refusal = codec.decode_refusal(_json(response))
            except codec.WireError:
                pass
            else:
                raise refusal
        raise _Attempt(
            f"http_{status}",
            f"the carrier's system gave an unexpected answer (HTTP {status})",
            retryable=False,
        )


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise codec.WireError("the body is not JSON") from None


def _shipment_path(tracking_id: str, *rest: str) -> str:
    if not tracking_id:
        # An empty id would address another resource; answer as the carrier would.
        raise ToolFailed("not_found", "no parcel with tracking id ", {"tracking_id": tracking_id})
    # Quoted whole: a customer's text must never add path segments.
    return "/".join(("/v1/shipments", quote(tracking_id, safe=""), *rest))


def _verification_header(verification: str | None) -> dict[str, str]:
    return {"X-Verification": verification} if verification else {}
