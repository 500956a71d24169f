"""Credentials: conversation tokens for customers, API keys for agents and content owners.

Conversation tokens are `secrets.token_urlsafe(32)` (256 random bits), handed out once and
stored only as a SHA-256 digest beside the conversation id, in the same SQL database as cases
(SQLite by default, PostgreSQL by URL). A digest of a high-entropy secret needs no salt or slow
hash: guessing the token is as hard as guessing the digest.

How a request with a token is judged:

| token                                   | conversation id     | answer |
|-----------------------------------------|---------------------|--------|
| missing, malformed or unknown           | any                 | 401 `unauthenticated` |
| valid, but for another conversation     | any (exists or not) | 403 `forbidden` (never 404: no probing for ids) |
| valid for this conversation             | this one            | allowed |

API keys (`X-API-Key`) come in two separate roles, agents and admins (content owners). A key of
the other role is a 403; no key or an unknown one is a 401. With no keys configured, `env=dev`
generates one key per role at start-up and logs it; `env=prod` generates none, so those routes
stay closed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, select

from assistant.errors import Forbidden, Unauthenticated
from assistant.settings import Settings

__all__ = ["KeyRing", "Role", "TokenStore", "conversation_tokens", "digest"]

log = logging.getLogger(__name__)

Role = Literal["agent", "admin"]

metadata = MetaData()

conversation_tokens = Table(
    "conversation_tokens",
    metadata,
    Column("conversation_id", String(64), primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class TokenStore:
    """Conversation tokens, stored hashed; tables are created idempotently on construction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine, checkfirst=True)

    def issue(self, conversation_id: str) -> str:
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                conversation_tokens.insert().values(
                    conversation_id=conversation_id,
                    token_sha256=digest(token),
                    created_at=datetime.now(UTC),
                )
            )
        return token

    def authorize(self, conversation_id: str, token: str | None) -> None:
        """Return when `token` opens `conversation_id`; raise 401/403 otherwise (see module doc)."""
        if not token:
            raise Unauthenticated(
                "send the conversation's token as 'Authorization: Bearer <token>'",
                code="unauthenticated",
            )
        presented = digest(token)
        with self.engine.connect() as conn:
            stored = conn.execute(
                select(conversation_tokens.c.token_sha256).where(
                    conversation_tokens.c.conversation_id == conversation_id
                )
            ).scalar_one_or_none()
            if stored is not None and hmac.compare_digest(stored, presented):
                return
            # Looked up by digest: it identifies nothing without the token itself.
            other = conn.execute(
                select(conversation_tokens.c.conversation_id).where(
                    conversation_tokens.c.token_sha256 == presented
                )
            ).scalar_one_or_none()
        if other is not None:
            raise Forbidden("this token belongs to another conversation", code="forbidden")
        raise Unauthenticated("unknown conversation token", code="unauthenticated")

    def forget(self, conversation_id: str) -> None:
        """Drop a conversation's token (retention clean-up)."""
        with self.engine.begin() as conn:
            conn.execute(
                conversation_tokens.delete().where(
                    conversation_tokens.c.conversation_id == conversation_id
                )
            )


@dataclass(frozen=True)
class KeyRing:
    """The API keys of each role, kept as digests and compared in constant time."""

    agent: tuple[str, ...]
    admin: tuple[str, ...]
    generated: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        agent = [k for k in settings.agent_keys if k]
        admin = [k for k in settings.admin_keys if k]
        generated = False
        if settings.env == "dev":
            if not agent:
                agent = ["dev-agent-" + secrets.token_urlsafe(18)]
                log.warning("dev mode: no agent keys configured; generated agent key %s", agent[0])
                generated = True
            if not admin:
                admin = ["dev-admin-" + secrets.token_urlsafe(18)]
                log.warning("dev mode: no admin keys configured; generated admin key %s", admin[0])
                generated = True
        elif not agent or not admin:
            log.warning(
                "no %s keys configured: those routes refuse every request",
                " and ".join(r for r, keys in (("agent", agent), ("admin", admin)) if not keys),
            )
        return cls(
            agent=tuple(digest(k) for k in agent),
            admin=tuple(digest(k) for k in admin),
            generated=generated,
        )

    @staticmethod
    def _matches(presented: str, digests: tuple[str, ...]) -> bool:
        # Compare against every key so the time taken does not depend on which one matched.
        found = False
        for known in digests:
            found |= hmac.compare_digest(known, presented)
        return found

    def role_of(self, key: str | None) -> Role | None:
        if not key:
            return None
        presented = digest(key)
        if self._matches(presented, self.agent):
            return "agent"
        if self._matches(presented, self.admin):
            return "admin"
        return None

    def require(self, role: Role, key: str | None) -> Role:
        if not key:
            raise Unauthenticated("send an API key in the X-API-Key header", code="unauthenticated")
        found = self.role_of(key)
        if found is None:
            raise Unauthenticated("unknown API key", code="unauthenticated")
        if found != role:
            raise Forbidden(f"this route needs an {role} key", code="forbidden")
        return found
