"""The carrier REST API (`assistant/carrier/REST.md`) over any `CarrierBackend`.

`budbringer carrier serve` runs `create_carrier_app(build_simulator(settings))` under uvicorn, so
the HTTP adapter (`assistant/carrier/http.py`) can be developed and tested against the embedded
simulator, and a carrier can compare its own API with ours. Bodies go through
`assistant/carrier/codec.py`, the codec the adapter uses too.

Every error answers with the refusal body `{"reason", "explanation", "details"}`:

```
ToolFailed not_found, case_not_found          404
ToolFailed idempotency_conflict               409
ToolFailed verification_locked                423
ToolFailed backend_unavailable (a proxy)      503
any other ToolFailed (a carrier rule)         422
invalid request (body, header, query)         422  reason invalid_request
missing or wrong API key                      401  reason unauthorized
unknown path / method                         404 not_found / 405 method_not_allowed
anything else                                 500  reason internal_error (logged, no trace sent)
```
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.carrier import codec
from assistant.carrier.seed import load_seed
from assistant.carrier.simulator import CarrierSimulator
from assistant.carrier.store import SqlCarrierStore, make_engine
from assistant.errors import ToolFailed
from assistant.ports import CarrierBackend
from assistant.settings import Settings

__all__ = ["build_simulator", "create_carrier_app", "refusal_status"]

logger = logging.getLogger(__name__)

_STATUS_BY_REASON = {
    "not_found": 404,
    "case_not_found": 404,
    "idempotency_conflict": 409,
    "verification_locked": 423,
    "backend_unavailable": 503,
    "backend_unauthorized": 503,
}
_REASON_BY_HTTP_STATUS = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
}

VerificationHeader = Annotated[
    str | None,
    Header(alias="X-Verification", description="Token from POST .../verification."),
]
IdempotencyKeyHeader = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="The same key never makes a second redirect or case.",
    ),
]


def refusal_status(reason: str) -> int:
    """The HTTP status a refusal with `reason` is served with (REST.md, "Errors").

    Args:
        reason: A `ToolFailed.reason` code.

    Returns:
        404, 409, 423 or 503 for the reasons that have their own status, 422 for carrier rules.
    """
    return _STATUS_BY_REASON.get(reason, 422)


def _refusal(status: int, reason: str, explanation: str, **details: Any) -> JSONResponse:
    return JSONResponse(
        codec.encode_refusal(ToolFailed(reason, explanation, details)), status_code=status
    )


def _bearer_guard(api_keys: Sequence[str]) -> Any:
    keys = [key.encode() for key in api_keys if key]

    def require_key(authorization: Annotated[str | None, Header()] = None) -> None:
        scheme, _, given = (authorization or "").partition(" ")
        # compare_digest against every key, so the time taken says nothing about which matched.
        matches = [hmac.compare_digest(given.strip().encode(), key) for key in keys]
        if scheme.lower() != "bearer" or not any(matches):
            raise StarletteHTTPException(
                401,
                "a valid API key is needed: Authorization: Bearer <key>",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_key


def create_carrier_app(backend: CarrierBackend, api_keys: Sequence[str] = ()) -> FastAPI:
    """A FastAPI app serving `backend` over the carrier REST shape.

    Args:
        backend: Any carrier backend; `budbringer carrier serve` passes the simulator.
        api_keys: When non-empty, every `/v1` call needs `Authorization: Bearer <one of them>`;
            `/healthz` stays open for load balancers.

    Returns:
        The app; routes are synchronous because the backends are (they run in the thread pool).
    """
    app = FastAPI(
        title="Budbringer carrier API",
        version="1",
        description="Shipments, verification, redirects and cases (assistant/carrier/REST.md).",
    )
    dependencies = [Depends(_bearer_guard(api_keys))] if any(api_keys) else []

    @app.exception_handler(ToolFailed)
    def _tool_failed(_request: Request, exc: ToolFailed) -> JSONResponse:
        return JSONResponse(codec.encode_refusal(exc), status_code=refusal_status(exc.reason))

    @app.exception_handler(RequestValidationError)
    def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
        return _refusal(422, "invalid_request", f"the request is not valid: {where}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = _REASON_BY_HTTP_STATUS.get(exc.status_code, f"http_{exc.status_code}")
        explanation = str(exc.detail)
        if exc.status_code in (404, 405):
            explanation = f"no such resource: {request.method} {request.url.path}"
        response = _refusal(exc.status_code, reason, explanation)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    def _crashed(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("carrier API %s %s crashed", request.method, request.url.path)
        return _refusal(500, "internal_error", "the carrier API failed; nothing was changed")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/shipments/{tracking_id}", dependencies=dependencies)
    def get_shipment(tracking_id: str, verification: VerificationHeader = None) -> JSONResponse:
        view = backend.get_shipment(tracking_id, verification or None)
        return JSONResponse(codec.encode_shipment_view(view))

    @app.post("/v1/shipments/{tracking_id}/verification", dependencies=dependencies)
    def verify_recipient(tracking_id: str, body: codec.VerificationRequestBody) -> JSONResponse:
        verification = backend.verify_recipient(tracking_id, body.postcode)
        return JSONResponse(codec.encode_verification(verification))

    @app.get("/v1/shipments/{tracking_id}/redirect-options", dependencies=dependencies)
    def redirect_options(tracking_id: str, verification: VerificationHeader = None) -> JSONResponse:
        options = backend.list_redirect_options(tracking_id, verification or "")
        return JSONResponse(codec.encode_redirect_options(options))

    @app.post("/v1/shipments/{tracking_id}/redirects", dependencies=dependencies)
    def redirect_delivery(
        tracking_id: str,
        body: codec.RedirectRequestBody,
        idempotency_key: IdempotencyKeyHeader,
        verification: VerificationHeader = None,
    ) -> JSONResponse:
        redirect = backend.redirect_delivery(
            tracking_id, body.option_id, verification or "", idempotency_key
        )
        return JSONResponse(codec.encode_redirect(redirect), status_code=201)

    @app.post("/v1/cases", dependencies=dependencies)
    def create_case(
        body: codec.CaseRequestBody, idempotency_key: IdempotencyKeyHeader
    ) -> JSONResponse:
        case = backend.create_case(codec.decode_case_request(body), idempotency_key)
        return JSONResponse(codec.encode_case(case), status_code=201)

    @app.get("/v1/cases/{case_id}", dependencies=dependencies)
    def get_case(case_id: str) -> JSONResponse:
        return JSONResponse(codec.encode_case(backend.get_case(case_id)))

    @app.get("/v1/cases", dependencies=dependencies)
    def list_cases(
        tracking_id: str | None = None,
        limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    ) -> JSONResponse:
        return JSONResponse(codec.encode_cases(backend.list_cases(tracking_id, limit)))

    @app.get("/v1/service-points", dependencies=dependencies)
    def service_points(country: Annotated[str, Query()]) -> JSONResponse:
        return JSONResponse(codec.encode_service_points(backend.service_points(country)))

    return app


def build_simulator(settings: Settings) -> CarrierSimulator:
    """The embedded carrier simulator as the settings describe it.

    Args:
        settings: Seed folder, SQL URL (one `SqlCarrierStore` serves as case, redirect and
            verification store), clock and verification limits.

    Returns:
        A simulator whose records survive a restart over the same database.
    """
    store = SqlCarrierStore(make_engine(settings.sql_url))
    return CarrierSimulator(
        load_seed(settings.carrier_seed),
        cases=store,
        redirects=store,
        verifications=store,
        clock=settings.make_clock(),
        max_attempts=settings.verify_max_attempts,
        lock_minutes=settings.verify_lock_minutes,
    )
