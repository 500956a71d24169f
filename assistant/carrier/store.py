"""Persistent carrier records through SQLAlchemy: cases, redirects, verification attempts.

SQLite in the data dir by default; PostgreSQL, unchanged, with `BUDBRINGER_DATABASE_URL`.
One `SqlCarrierStore` implements the `CaseStore`, `RedirectStore` and `VerificationStore` ports.
An idempotency key is unique per table: replaying it returns the first record, never a second.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from assistant.carrier import codec
from assistant.domain import (
    Case,
    CaseCategory,
    CaseStatus,
    Redirect,
    RedirectOption,
    Verification,
)

__all__ = ["SqlCarrierStore", "make_engine"]

metadata = MetaData()

cases = Table(
    "carrier_cases",
    metadata,
    Column("case_id", String(40), primary_key=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("tracking_id", String(40), nullable=False, index=True),
    Column("category", String(40), nullable=False),
    Column("priority", String(10), nullable=False),
    Column("description", Text, nullable=False),
    Column("contact_email", String(320)),
    Column("contact_phone", String(40)),
    Column("status", String(20), nullable=False),
    Column("language", String(5), nullable=False),
    Column("shipment_status", String(40)),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

redirects = Table(
    "carrier_redirects",
    metadata,
    Column("redirect_id", String(40), primary_key=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("tracking_id", String(40), nullable=False, index=True),
    Column("option", Text, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

verification_failures = Table(
    "carrier_verification_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tracking_id", String(40), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
)

verifications = Table(
    "carrier_verifications",
    metadata,
    Column("token", String(100), primary_key=True),
    Column("tracking_id", String(40), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets its folder created, WAL and a busy timeout."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    # SQLite's DateTime keeps the wall-clock time and drops the offset: store UTC so that
    # `_aware` reads back the same instant.
    return value.astimezone(UTC)


def _option_to_json(option: RedirectOption) -> str:
    return json.dumps(codec.encode_redirect_option(option))


def _option_from_json(text: str) -> RedirectOption:
    return codec.decode_redirect_option(json.loads(text))


class SqlCarrierStore:
    """Cases, redirects and verification records in one SQL database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    # --- CaseStore -------------------------------------------------------------------------
    def add_case(self, case: Case, idempotency_key: str) -> Case:
        row = {
            "case_id": case.case_id,
            "idempotency_key": idempotency_key,
            "tracking_id": case.tracking_id,
            "category": case.category.value,
            "priority": case.priority,
            "description": case.description,
            "contact_email": case.contact_email,
            "contact_phone": case.contact_phone,
            "status": case.status.value,
            "language": case.language,
            "shipment_status": case.shipment_status,
            "created_at": _utc(case.created_at),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(cases).values(**row))
        except IntegrityError:
            existing = self.case_by_key(idempotency_key)
            if existing is None:
                raise
            return existing
        return case

    def get_case(self, case_id: str) -> Case | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(cases).where(cases.c.case_id == case_id)).mappings().first()
        return _case(row) if row else None

    def case_by_key(self, idempotency_key: str) -> Case | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(cases).where(cases.c.idempotency_key == idempotency_key))
                .mappings()
                .first()
            )
        return _case(row) if row else None

    def list_cases(self, tracking_id: str | None = None, limit: int = 100) -> list[Case]:
        query = select(cases).order_by(cases.c.created_at.desc(), cases.c.case_id).limit(limit)
        if tracking_id:
            query = query.where(cases.c.tracking_id == tracking_id)
        with self.engine.connect() as conn:
            return [_case(row) for row in conn.execute(query).mappings()]

    # --- RedirectStore ---------------------------------------------------------------------
    def add_redirect(self, redirect: Redirect, idempotency_key: str) -> Redirect:
        row = {
            "redirect_id": redirect.redirect_id,
            "idempotency_key": idempotency_key,
            "tracking_id": redirect.tracking_id,
            "option": _option_to_json(redirect.option),
            "applied_at": _utc(redirect.applied_at),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(redirects).values(**row))
        except IntegrityError:
            existing = self.redirect_by_key(idempotency_key)
            if existing is None:
                raise
            return existing
        return redirect

    def latest_redirect(self, tracking_id: str) -> Redirect | None:
        query = (
            select(redirects)
            .where(redirects.c.tracking_id == tracking_id)
            .order_by(redirects.c.applied_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _redirect(row) if row else None

    def redirect_by_key(self, idempotency_key: str) -> Redirect | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(redirects).where(redirects.c.idempotency_key == idempotency_key)
                )
                .mappings()
                .first()
            )
        return _redirect(row) if row else None

    # --- VerificationStore -----------------------------------------------------------------
    def record_failure(self, tracking_id: str, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(verification_failures).values(tracking_id=tracking_id, at=_utc(at)))

    def failures_since(self, tracking_id: str, since: datetime) -> list[datetime]:
        query = (
            select(verification_failures.c.at)
            .where(verification_failures.c.tracking_id == tracking_id)
            .order_by(verification_failures.c.at)
        )
        with self.engine.connect() as conn:
            times = [_aware(t) for t in conn.execute(query).scalars()]
        return [t for t in times if t >= since]

    def clear_failures(self, tracking_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                verification_failures.delete().where(
                    verification_failures.c.tracking_id == tracking_id
                )
            )

    def save_verification(self, verification: Verification) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(verifications).values(
                    token=verification.token,
                    tracking_id=verification.tracking_id,
                    expires_at=_utc(verification.expires_at),
                )
            )

    def get_verification(self, token: str) -> Verification | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(verifications).where(verifications.c.token == token))
                .mappings()
                .first()
            )
        if not row:
            return None
        return Verification(row["tracking_id"], row["token"], _aware(row["expires_at"]))


def _case(row: Any) -> Case:
    return Case(
        case_id=row["case_id"],
        tracking_id=row["tracking_id"],
        category=CaseCategory(row["category"]),
        priority=row["priority"],
        description=row["description"],
        contact_email=row["contact_email"],
        contact_phone=row["contact_phone"],
        status=CaseStatus(row["status"]),
        created_at=_aware(row["created_at"]),
        language=row["language"],
        shipment_status=row["shipment_status"],
    )


def _redirect(row: Any) -> Redirect:
    return Redirect(
        redirect_id=row["redirect_id"],
        tracking_id=row["tracking_id"],
        option=_option_from_json(row["option"]),
        applied_at=_aware(row["applied_at"]),
    )
