"""Problem responses (RFC 9457, `application/problem+json`) with a stable `code`.

Every error the API answers with goes through here: caller errors raised below the API
(`assistant.errors.AssistantError` subclasses carry `.code` and `.status`), errors of the HTTP
edge itself (`ApiProblem`: body too large, wrong content type, malformed JSON), request
validation and unknown routes. Unexpected exceptions become a 500 problem with no stack trace
in api/app.py (`_LastResort`), logged with the request id. The `type` is a URN built from the code,
so it is stable and does not pretend to be a web page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.errors import AssistantError, RateLimited

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "ApiProblem",
    "FieldError",
    "Problem",
    "declares_json",
    "install_problem_handlers",
    "problem_response",
    "problem_responses",
]


PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:budbringer:problem:"

_TITLES: dict[str, str] = {
    "validation_error": "The request is not valid",
    "malformed_json": "The body is not valid JSON",
    "unsupported_media_type": "Send the body as application/json",
    "payload_too_large": "The request body is too large",
    "request_timeout": "The request body arrived too slowly",
    "unauthenticated": "Credentials are missing or unknown",
    "forbidden": "These credentials do not open this resource",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "not_acceptable": "Cannot answer in the requested media type",
    "conflict": "Conflict",
    "rate_limited": "Too many requests",
    "not_ready": "The assistant is not ready yet",
    "internal_error": "Something went wrong on our side",
}


class FieldError(BaseModel):
    """One invalid field of a request (`loc` is the path to it, as FastAPI reports it)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "loc": ["body", "text"],
                    "msg": "Value error, text is empty after trimming",
                    "type": "value_error",
                }
            ]
        }
    )

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An error response (RFC 9457) with a stable, snake_case `code`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:budbringer:problem:forbidden",
                    "title": "These credentials do not open this resource",
                    "status": 403,
                    "detail": "this token belongs to another conversation",
                    "instance": "/v1/conversations/c_0b3f9d2e8a7c4e1f9a6b5c4d3e2f1a0b/messages",
                    "code": "forbidden",
                }
            ]
        }
    )

    type: str = Field(description="A URN naming the kind of problem; stable.")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The path of the request that failed.")
    code: str = Field(description="Stable snake_case code, e.g. `rate_limited`.")
    errors: list[FieldError] | None = Field(
        default=None, description="For `validation_error`: every invalid field."
    )


class ApiProblem(Exception):
    """An error of the HTTP edge itself (not a caller error from below the API)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


ErrorCounter = Callable[[str], None]


def problem_body(
    status: int,
    code: str,
    detail: str,
    instance: str,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": _TITLES.get(code, code.replace("_", " ").capitalize()),
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(
    status: int,
    code: str,
    detail: str,
    instance: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, detail, instance, errors),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for error in exc.errors():
        loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
        # The message pydantic gives is safe to show; the input it echoes is not repeated.
        out.append({"loc": loc, "msg": str(error.get("msg", "")), "type": str(error.get("type"))})
    return out


def declares_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "not_ready",
}


def install_problem_handlers(app: FastAPI, count_error: ErrorCounter | None = None) -> None:
    """Answer every error as a problem; `count_error(code)` feeds the error metric."""

    def counted(code: str) -> None:
        if count_error is not None:
            count_error(code)

    async def assistant_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AssistantError)
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(1, exc.retry_after_s))
        counted(exc.code)
        return problem_response(exc.status, exc.code, exc.detail, request.url.path, headers=headers)

    async def api_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        counted(exc.code)
        return problem_response(
            exc.status, exc.code, exc.detail, request.url.path, headers=exc.headers
        )

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _field_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            if not declares_json(request.headers.get("content-type")):
                counted("unsupported_media_type")
                return problem_response(
                    415, "unsupported_media_type", "send the body as application/json",
                    request.url.path,
                )  # fmt: skip
            counted("malformed_json")
            return problem_response(
                400,
                "malformed_json",
                "the request body is not valid JSON",
                request.url.path,
            )
        counted("validation_error")
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors) or "the request"
        return problem_response(
            422,
            "validation_error",
            f"invalid: {fields}",
            request.url.path,
            errors=errors,
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(
            exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error"
        )
        counted(code)
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no resource at {request.url.path}"
        return problem_response(
            exc.status_code, code, detail, request.url.path, headers=exc.headers
        )

    app.add_exception_handler(AssistantError, assistant_error)
    app.add_exception_handler(ApiProblem, api_problem)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


_EXAMPLES: dict[int, tuple[str, str]] = {
    400: ("malformed_json", "the request body is not valid JSON"),
    401: ("unauthenticated", "send the conversation's token as Authorization: Bearer <token>"),
    403: ("forbidden", "this token belongs to another conversation"),
    404: ("not_found", "no such resource"),
    408: ("request_timeout", "the request body did not arrive within 10 s"),
    409: (
        "conflict",
        "the request clashes with the current state (e.g. a reindex already running)",
    ),
    413: ("payload_too_large", "the request body is larger than 65536 bytes"),
    415: ("unsupported_media_type", "send the body as application/json"),
    422: ("validation_error", "invalid: body.text"),
    429: ("rate_limited", "too many messages in this conversation; retry in 12 s"),
    503: ("not_ready", "building the help-centre index"),
}

_DESCRIPTIONS = {
    400: "Malformed JSON",
    401: "Missing or unknown credentials",
    403: "Credentials of another conversation or role",
    404: "Not found",
    408: "The body arrived too slowly",
    409: "Conflict",
    413: "Body over the size limit",
    415: "Body is not JSON",
    422: "Invalid input",
    429: "Rate limited; see Retry-After",
    503: "Not ready",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented as a problem with an example."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        code, detail = _EXAMPLES[status]
        example = problem_body(status, code, detail, "/v1/...")
        entry: dict[str, Any] = {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"example": example}},
        }
        if status == 429:
            entry["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer"},
                }
            }
        out[status] = entry
    return out


def body_problems() -> Iterable[int]:
    """The statuses every route with a JSON body can answer with."""
    return (400, 408, 413, 415, 422)
