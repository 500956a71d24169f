"""Customer feedback on a conversation (a rating 1-5 and an optional comment), in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    select,
)

__all__ = ["FeedbackRecord", "FeedbackStore", "feedback"]

metadata = MetaData()

feedback = Table(
    "feedback",
    metadata,
    Column("feedback_id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(64), nullable=False, index=True),
    Column("rating", SmallInteger, nullable=False),
    Column("comment", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class FeedbackRecord:
    feedback_id: int
    conversation_id: str
    rating: int
    comment: str | None
    created_at: datetime


class FeedbackStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine, checkfirst=True)

    def add(self, conversation_id: str, rating: int, comment: str | None) -> FeedbackRecord:
        created = datetime.now(UTC)
        with self.engine.begin() as conn:
            result = conn.execute(
                feedback.insert().values(
                    conversation_id=conversation_id,
                    rating=rating,
                    comment=comment,
                    created_at=created,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
        return FeedbackRecord(int(key[0]), conversation_id, rating, comment, created)

    def for_conversation(self, conversation_id: str) -> list[FeedbackRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(feedback)
                .where(feedback.c.conversation_id == conversation_id)
                .order_by(feedback.c.feedback_id)
            ).all()
        return [
            FeedbackRecord(
                r.feedback_id,
                r.conversation_id,
                r.rating,
                r.comment,
                r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC),
            )
            for r in rows
        ]

    def forget(self, conversation_id: str) -> None:
        """Drop a conversation's feedback (deletion on request, retention purge)."""
        with self.engine.begin() as conn:
            conn.execute(feedback.delete().where(feedback.c.conversation_id == conversation_id))
