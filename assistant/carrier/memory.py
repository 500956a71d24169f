"""In-memory twin of `SqlCarrierStore`, for tests and throwaway runs (STYLE: every store has one)."""

from __future__ import annotations

import threading
from datetime import datetime

from assistant.domain import Case, Redirect, Verification

__all__ = ["InMemoryCarrierStore"]


class InMemoryCarrierStore:
    """Cases, redirects and verification records in dicts; same semantics as the SQL store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cases: dict[str, Case] = {}
        self._case_keys: dict[str, str] = {}
        self._redirects: list[Redirect] = []
        self._redirect_keys: dict[str, Redirect] = {}
        self._failures: dict[str, list[datetime]] = {}
        self._verifications: dict[str, Verification] = {}

    def add_case(self, case: Case, idempotency_key: str) -> Case:
        with self._lock:
            if idempotency_key in self._case_keys:
                return self._cases[self._case_keys[idempotency_key]]
            self._cases[case.case_id] = case
            self._case_keys[idempotency_key] = case.case_id
            return case

    def get_case(self, case_id: str) -> Case | None:
        return self._cases.get(case_id)

    def case_by_key(self, idempotency_key: str) -> Case | None:
        case_id = self._case_keys.get(idempotency_key)
        return self._cases[case_id] if case_id else None

    def list_cases(self, tracking_id: str | None = None, limit: int = 100) -> list[Case]:
        found = [c for c in self._cases.values() if tracking_id in (None, c.tracking_id)]
        found.sort(key=lambda c: (-c.created_at.timestamp(), c.case_id))
        return found[:limit]

    def add_redirect(self, redirect: Redirect, idempotency_key: str) -> Redirect:
        with self._lock:
            if idempotency_key in self._redirect_keys:
                return self._redirect_keys[idempotency_key]
            self._redirects.append(redirect)
            self._redirect_keys[idempotency_key] = redirect
            return redirect

    def latest_redirect(self, tracking_id: str) -> Redirect | None:
        mine = [r for r in self._redirects if r.tracking_id == tracking_id]
        return max(mine, key=lambda r: r.applied_at) if mine else None

    def redirect_by_key(self, idempotency_key: str) -> Redirect | None:
        return self._redirect_keys.get(idempotency_key)

    def record_failure(self, tracking_id: str, at: datetime) -> None:
        with self._lock:
            self._failures.setdefault(tracking_id, []).append(at)

    def failures_since(self, tracking_id: str, since: datetime) -> list[datetime]:
        return sorted(t for t in self._failures.get(tracking_id, []) if t >= since)

    def clear_failures(self, tracking_id: str) -> None:
        with self._lock:
            self._failures.pop(tracking_id, None)

    def save_verification(self, verification: Verification) -> None:
        with self._lock:
            self._verifications[verification.token] = verification

    def get_verification(self, token: str) -> Verification | None:
        return self._verifications.get(token)
