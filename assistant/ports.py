"""Ports: what the core needs from the outside world, as `typing.Protocol` (STYLE rule 2).

Adapters live beside their technology (the simulator and the HTTP adapter in
`assistant/carrier/`, the SQL stores in `assistant/carrier/store.py`, Qdrant in `retrieval/`);
in-memory twins live beside the port they implement or in `tests/fakes.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from assistant.domain import (
    Case,
    CaseRequest,
    Redirect,
    RedirectOption,
    ServicePoint,
    Shipment,
    ShipmentView,
    Verification,
)

__all__ = [
    "CarrierBackend",
    "CaseStore",
    "Embedder",
    "EtaEstimate",
    "EtaPredictor",
    "Passage",
    "RedirectStore",
    "RetrievalResult",
    "Retriever",
    "VerificationStore",
]


@runtime_checkable
class CarrierBackend(Protocol):
    """The carrier's system: shipments, verification, redirects and cases.

    Every refusal is a `ToolFailed` with a stable reason code; unknown ids raise
    `ToolFailed("not_found", ...)`. Calls that change something take an idempotency key:
    the same key never produces a second redirect or case.
    """

    def get_shipment(self, tracking_id: str, verification: str | None = None) -> ShipmentView: ...

    def verify_recipient(self, tracking_id: str, postcode: str) -> Verification: ...

    def list_redirect_options(
        self, tracking_id: str, verification: str
    ) -> Sequence[RedirectOption]: ...

    def redirect_delivery(
        self, tracking_id: str, option_id: str, verification: str, idempotency_key: str
    ) -> Redirect: ...

    def create_case(self, request: CaseRequest, idempotency_key: str) -> Case: ...

    def get_case(self, case_id: str) -> Case: ...

    def list_cases(self, tracking_id: str | None = None, limit: int = 100) -> Sequence[Case]: ...

    def service_points(self, country: str) -> Sequence[ServicePoint]: ...


class CaseStore(Protocol):
    """Where cases are kept; `add_case` with a key seen before returns the first case unchanged."""

    def add_case(self, case: Case, idempotency_key: str) -> Case: ...

    def get_case(self, case_id: str) -> Case | None: ...

    def list_cases(self, tracking_id: str | None = None, limit: int = 100) -> Sequence[Case]: ...

    def case_by_key(self, idempotency_key: str) -> Case | None: ...


class RedirectStore(Protocol):
    """Redirects the carrier applied; `add_redirect` with a key seen before returns the first one."""

    def add_redirect(self, redirect: Redirect, idempotency_key: str) -> Redirect: ...

    def latest_redirect(self, tracking_id: str) -> Redirect | None: ...

    def redirect_by_key(self, idempotency_key: str) -> Redirect | None: ...


class VerificationStore(Protocol):
    """Failed postcode attempts (for the lock-out) and issued verification tokens."""

    def record_failure(self, tracking_id: str, at: datetime) -> None: ...

    def failures_since(self, tracking_id: str, since: datetime) -> Sequence[datetime]: ...

    def clear_failures(self, tracking_id: str) -> None: ...

    def save_verification(self, verification: Verification) -> None: ...

    def get_verification(self, token: str) -> Verification | None: ...


class Embedder(Protocol):
    """Dense text embeddings (multilingual e5: `query:` / `passage:` prefixes applied inside).

    `embed_query` is cached, so understanding and retrieval share one embedding per turn.
    """

    @property
    def dimension(self) -> int: ...

    def embed_query(self, text: str) -> Sequence[float]: ...

    def embed_passages(self, texts: Sequence[str]) -> Sequence[Sequence[float]]: ...


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk of a help-centre article, with what a citation needs."""

    article_id: str
    language: str
    title: str
    text: str
    snippet: str
    score: float
    chunk_index: int = 0
    source_path: str = ""
    updated: date | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetrievalResult:
    """Passages best first, at most one per article; `abstained` when nothing is relevant enough.

    `language` is the language of the passages; `fell_back` is true when the customer's language
    had nothing relevant and English passages are returned instead.
    """

    query: str
    language: str
    passages: tuple[Passage, ...]
    abstained: bool
    fell_back: bool = False
    top_score: float = 0.0


class Retriever(Protocol):
    """Hybrid search over the live help-centre index."""

    def search(
        self,
        query: str,
        language: str,
        *,
        limit: int = 3,
        query_vector: Sequence[float] | None = None,
    ) -> RetrievalResult: ...


class EtaEstimate(Protocol):
    """A delivery prediction: most likely date, an 80% interval, the chance of being on time."""

    @property
    def most_likely(self) -> date: ...

    @property
    def earliest(self) -> date: ...

    @property
    def latest(self) -> date: ...

    @property
    def p_by_promised(self) -> float | None: ...

    @property
    def window_start(self) -> datetime | None: ...

    @property
    def window_end(self) -> datetime | None: ...


class EtaPredictor(Protocol):
    """The parcel predictor; refuses delivered or damaged parcels with `ToolFailed`."""

    def predict(self, shipment: Shipment, now: datetime) -> EtaEstimate: ...
