"""Ports: what the core needs from the outside world, as `typing.Protocol` (STYLE rule 2).

Adapters live beside their technology (the simulator and the HTTP adapter in
`assistant/carrier/`, the SQL stores in `assistant/carrier/store.py`, Qdrant in `retrieval/`);
in-memory twins live beside the port they implement or in `tests/fakes.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
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
from assistant.handoff.models import Handoff, HandoffMessage, HandoffStatus, MessageRole

__all__ = [
    "CarrierBackend",
    "CaseStore",
    "ConversationActivity",
    "ConversationDataStore",
    "ConversationLock",
    "Embedder",
    "EtaEstimate",
    "EtaPredictor",
    "HandoffQueue",
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


class HandoffQueue(Protocol):
    """Conversations waiting for a person (assistant/handoff/queue.py: SQL and in-memory twin).

    `enqueue` with a key seen before returns the first handoff. `claim` moves only a waiting
    handoff, `resolve` only an open one, an agent's message needs a claimed one: otherwise
    `NotFound` or `Conflict`, and nothing changes. `list_handoffs` is by priority, then arrival
    (resolved ones newest first); `position` is 1-based among waiting live handoffs.
    """

    def enqueue(self, handoff: Handoff) -> Handoff: ...

    def get(self, handoff_id: str) -> Handoff | None: ...

    def open_for(self, conversation_id: str) -> Handoff | None: ...

    def list_handoffs(
        self, status: HandoffStatus | None = None, limit: int = 100
    ) -> Sequence[Handoff]: ...

    def claim(self, handoff_id: str, agent: str, at: datetime) -> Handoff: ...

    def resolve(
        self, handoff_id: str, at: datetime, note: str | None = None, return_to_bot: bool = False
    ) -> Handoff: ...

    def add_message(
        self, handoff_id: str, role: MessageRole, text: str, at: datetime
    ) -> HandoffMessage: ...

    def messages(
        self, *, handoff_id: str | None = None, conversation_id: str | None = None, after: int = 0
    ) -> Sequence[HandoffMessage]: ...

    def position(self, handoff_id: str) -> int | None: ...

    def waiting_count(self, min_priority: int = 0) -> int: ...

    def recent(self, since: datetime) -> Sequence[Handoff]: ...

    def forget(self, conversation_id: str) -> None: ...


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


@runtime_checkable
class ConversationDataStore(Protocol):
    """A store that keeps rows about a conversation, keyed by its id (tokens, feedback, handoffs).

    Deleting a conversation (a customer's request, or the retention purge) calls `forget` on
    every such store in the composition root (api/retention.py finds them): it removes every row
    of that conversation and is a no-op when there is none, so a purge cut short can be re-run.
    """

    def forget(self, conversation_id: str) -> None: ...


class ConversationActivity(Protocol):
    """When each conversation was last active: what the retention purge goes by.

    `touch` records activity (the engine calls it on every start and turn, with the clock's
    time); `inactive_since(cutoff)` lists conversations whose last activity is before `cutoff`,
    oldest first, at most `limit`; `forget` drops the record.
    """

    def touch(self, conversation_id: str, at: datetime) -> None: ...

    def inactive_since(self, cutoff: datetime, limit: int = 1000) -> Sequence[str]: ...

    def forget(self, conversation_id: str) -> None: ...


class ConversationLock(Protocol):
    """Serialises the turns of one conversation across processes (API workers sharing one
    database); the engine's own lock covers the threads of one process. `hold` waits a bounded
    time and raises `Conflict` (409) when the conversation stays busy."""

    def hold(self, conversation_id: str) -> AbstractContextManager[None]: ...
