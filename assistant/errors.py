"""Errors, in three families (STYLE rule 7).

```
BudbringerError
├── ToolFailed             the flow or the model can react: a carrier rule refused, a backend failed.
│   │                      Carries a stable `reason` code and a human `explanation`.
│   └── LLMUnavailable     the language model failed, timed out or answered nonsense: use the offline path.
├── ConfigurationError     a developer or operator mistake: bad settings, a broken seed folder.
│   └── SeedError          every bad line of a seed, listed in one message.
└── AssistantError         the caller's mistake; `api/` maps each to an HTTP problem response.
    ├── InvalidInput       (422)
    ├── NotFound           (404)
    ├── Conflict           (409)
    ├── Unauthenticated    (401)
    ├── Forbidden          (403)
    └── RateLimited        (429)
```

Only `api/` turns these into HTTP responses; everything below it raises them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "AssistantError",
    "BudbringerError",
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "LLMUnavailable",
    "NotFound",
    "RateLimited",
    "SeedError",
    "SeedProblem",
    "ToolFailed",
    "Unauthenticated",
]


class BudbringerError(Exception):
    """Root of every error this project raises on purpose."""


class ToolFailed(BudbringerError):
    """A tool refused or could not complete; the flow explains it to the customer.

    `reason` is a stable code (`not_verified`, `out_for_delivery`, `backend_unavailable`, ...);
    `explanation` is a plain-English sentence for logs, agents and the LLM; `details` holds
    structured facts (dates, attempts left) that replies may quote.
    """

    def __init__(
        self, reason: str, explanation: str, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"{reason}: {explanation}")
        self.reason = reason
        self.explanation = explanation
        self.details: dict[str, Any] = dict(details or {})

    def as_result(self) -> dict[str, Any]:
        """The shape a refused tool call takes in `Turn.actions[].result`."""
        return {"reason": self.reason, "explanation": self.explanation, **self.details}


class LLMUnavailable(ToolFailed):
    """The language model could not be used for this call (error, timeout, unusable answer).

    Callers fall back to the offline path; the conversation never sees this error.
    """

    def __init__(self, explanation: str) -> None:
        super().__init__("llm_unavailable", explanation)


class ConfigurationError(BudbringerError):
    """Settings, files or wiring are wrong; fix the deployment, not the conversation."""


@dataclass(frozen=True)
class SeedProblem:
    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file.name}:{self.line}: {self.message}"


class SeedError(ConfigurationError):
    """A carrier seed folder has bad lines; the message lists every one of them."""

    def __init__(self, folder: Path, problems: Sequence[SeedProblem]) -> None:
        self.folder = folder
        self.problems = list(problems)
        listing = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(
            f"carrier seed {folder} has {len(self.problems)} bad line(s) and was not loaded:\n"
            f"{listing}"
        )


@dataclass
class AssistantError(BudbringerError):
    """The caller asked for something impossible; `code` is stable, `detail` is for people."""

    detail: str
    code: str = "invalid"
    status: int = field(default=400, init=False)

    def __post_init__(self) -> None:
        super().__init__(self.detail)


@dataclass
class InvalidInput(AssistantError):
    code: str = "invalid_input"
    status: int = field(default=422, init=False)


@dataclass
class NotFound(AssistantError):
    code: str = "not_found"
    status: int = field(default=404, init=False)


@dataclass
class Conflict(AssistantError):
    code: str = "conflict"
    status: int = field(default=409, init=False)


@dataclass
class Unauthenticated(AssistantError):
    code: str = "unauthenticated"
    status: int = field(default=401, init=False)


@dataclass
class Forbidden(AssistantError):
    code: str = "forbidden"
    status: int = field(default=403, init=False)


@dataclass
class RateLimited(AssistantError):
    code: str = "rate_limited"
    retry_after_s: int = 1
    status: int = field(default=429, init=False)
