"""All settings, from `BUDBRINGER_*` environment variables (DESIGN §2).

Read them through `get_settings()`; nothing else in the project reads `os.environ`.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from assistant.clock import Clock, FrozenClock, SystemClock

__all__ = ["DEMO_SEED", "LLMSettings", "Settings", "get_settings"]

_ROOT = Path(__file__).resolve().parent
DEMO_SEED = _ROOT / "carrier" / "seed"
_SOURCE_KNOWLEDGE = _ROOT.parent / "knowledge" / "content"

Language = Literal["da", "sv", "nb", "fi", "en"]


class LLMSettings(BaseModel):
    """An OpenAI-compatible endpoint; all unset means offline mode."""

    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str | None = None
    timeout_s: float = Field(default=20.0, gt=0)

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BUDBRINGER_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    env: Literal["dev", "prod"] = "dev"
    data_dir: Path = Path(".budbringer")
    carrier_seed: Path = DEMO_SEED
    carrier_url: str | None = None
    carrier_api_key: SecretStr | None = None
    carrier_timeout_s: float = Field(default=5.0, gt=0)
    now: datetime | None = None
    knowledge_dir: Path = Path("knowledge/content")
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    database_url: str | None = None
    llm: LLMSettings = LLMSettings()
    agent_keys: Annotated[list[str], NoDecode] = []
    admin_keys: Annotated[list[str], NoDecode] = []
    verify_max_attempts: int = Field(default=3, ge=1)
    verify_lock_minutes: int = Field(default=15, ge=1)

    # HTTP edge (api/)
    cors_origins: Annotated[list[str], NoDecode] = []
    rate_limit_conversation: str = "30/minute"
    rate_limit_client: str = "300/minute"
    max_body_bytes: int = Field(default=65536, ge=1024)

    # Handoff (assistant/handoff): the agents' language, the declared value (EUR) above which a
    # lost parcel goes to a person, the longest wait before a callback or case is offered instead,
    # and business hours per country as "<IANA zone>|<days> HH:MM-HH:MM[,<days> HH:MM-HH:MM]".
    agents_language: Language = "en"
    handoff_value_limit_eur: float = Field(default=500.0, ge=0)
    handoff_max_wait_minutes: int = Field(default=20, ge=1)
    business_hours: dict[str, str] = {
        "DK": "Europe/Copenhagen|mon-fri 08:00-20:00,sat 10:00-15:00",
        "SE": "Europe/Stockholm|mon-fri 08:00-20:00,sat 10:00-15:00",
        "NO": "Europe/Oslo|mon-fri 08:00-20:00,sat 10:00-15:00",
        "FI": "Europe/Helsinki|mon-fri 08:00-20:00,sat 10:00-15:00",
    }

    # Personal data: conversations (and their checkpoints) older than this are deleted.
    retention_days: int = Field(default=90, ge=1)

    _split = field_validator("agent_keys", "admin_keys", "cors_origins", mode="before")(_split_csv)

    @field_validator("now")
    @classmethod
    def _now_has_offset(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("BUDBRINGER_NOW needs an offset, e.g. 2026-11-22T12:00:00+01:00")
        return value

    @property
    def resolved_knowledge_dir(self) -> Path:
        """The content folder; the default falls back to the one beside the source tree."""
        if self.knowledge_dir.is_absolute() or self.knowledge_dir.exists():
            return self.knowledge_dir
        return _SOURCE_KNOWLEDGE

    @property
    def sql_url(self) -> str:
        """SQLAlchemy URL for cases, queue and carrier records."""
        return self.database_url or f"sqlite:///{self.data_dir / 'budbringer.db'}"

    def make_clock(self) -> Clock:
        return FrozenClock(self.now) if self.now is not None else SystemClock()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
