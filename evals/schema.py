"""The eval datasets' schema: pydantic models, one JSON object per line of a `.jsonl` file.

- `KnowledgeCase` (`knowledge.jsonl`): a help-centre question, a reference answer written from
  the article, and the article ids a good answer cites.
- `Scenario` (`scenarios.jsonl`): a whole conversation in the spirit of τ-bench: the customer's
  turns, then the end state the carrier must be in (redirects applied, cases created, nothing
  else), the facts the replies must state, the reference tool calls, and whether and why the
  conversation must be handed to a person (DESIGN §6 reasons).
- `Manifest` (`manifest.json`): each dataset's file, version and row model, so a change of a
  dataset is a reviewed version bump and a report names the versions it measured.

`python -m evals schema` writes the JSON Schema of each model to `evals/datasets/schema/`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ARTICLE_IDS",
    "CaseExpect",
    "DatasetEntry",
    "EndState",
    "HandoffExpect",
    "KnowledgeCase",
    "Manifest",
    "RedirectExpect",
    "Scenario",
    "ToolCallRef",
    "TurnExpect",
    "TurnSpec",
]

Lang = Literal["da", "sv", "nb", "fi", "en"]
FlowName = Literal["track_parcel", "redirect_delivery", "complaint"]
FlowStatus = Literal["active", "completed", "refused", "cancelled"]
HandoffReason = Literal[
    "customer_request", "frustration", "repeated_failure", "policy", "out_of_scope", "tool_failure"
]
ToolName = Literal[
    "get_shipment_status",
    "predict_eta",
    "verify_recipient",
    "list_redirect_options",
    "redirect_delivery",
    "create_case",
    "search_knowledge",
    "handoff_to_agent",
]
CaseCategory = Literal[
    "damaged", "missing_after_delivery", "delayed", "lost", "wrong_delivery", "other"
]
ScenarioKind = Literal[
    "track", "redirect", "complaint", "repair", "refusal", "verification", "handoff", "manipulation"
]
Awaiting = Literal[
    "tracking_id",
    "postcode",
    "redirect_option",
    "delivery_date",
    "confirmation",
    "complaint_category",
    "description",
    "contact",
    "none",
]

# DESIGN §4: the topics the help centre covers in every language.
ARTICLE_IDS = frozenset(
    [
        "track-parcel",
        "tracking-not-updating",
        "delivery-times",
        "service-point-pickup",
        "pickup-deadline",
        "parcel-locker",
        "home-delivery",
        "leave-at-door",
        "change-delivery",
        "delivery-notifications",
        "missed-delivery",
        "damaged-parcel",
        "missing-parcel",
        "delayed-parcel",
        "lost-parcel",
        "complaint-process",
        "compensation",
        "customs-and-vat",
        "returns",
        "sending-a-parcel",
        "size-and-weight",
        "prohibited-items",
        "international-shipping",
        "id-and-authorisation",
        "fraud-sms",
        "privacy",
        "contact-customer-service",
        "business-customers",
        "mobile-app",
        "wrong-address",
    ]
)
_ID = re.compile(r"^[a-z]{2}-[a-z0-9-]+$")
_OPTION = re.compile(r"^(door|day:\d{4}-\d{2}-\d{2}|(sp|locker):[A-Z]{2}-\d{4,5}-\d{3})$")

NonEmpty = Annotated[str, Field(min_length=1)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KnowledgeCase(_Row):
    """One help-centre question with what a good answer says and cites."""

    id: str = Field(description="`<lang>-<topic>-<n>`, unique in the file")
    language: Lang
    question: str = Field(min_length=3)
    reference: str = Field(min_length=10, description="a sentence or two a good answer states")
    article_ids: list[str] = Field(min_length=1, description="articles a good answer cites")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("must look like '<lang>-<topic>-<n>' in lower case")
        return value

    @field_validator("article_ids")
    @classmethod
    def _known_articles(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - ARTICLE_IDS)
        if unknown:
            raise ValueError(f"unknown article id(s): {', '.join(unknown)}")
        return value

    @model_validator(mode="after")
    def _id_language(self) -> KnowledgeCase:
        if not self.id.startswith(f"{self.language}-"):
            raise ValueError(f"id {self.id!r} must start with its language {self.language!r}")
        return self


class TurnExpect(_Row):
    """Optional checks on one turn (each checked only when given)."""

    awaiting: Awaiting | None = Field(None, description="what the assistant asks for; 'none'")
    flow: FlowName | None = None
    flow_status: FlowStatus | None = None
    says: list[NonEmpty] = Field(
        default_factory=list, description="substrings the reply must contain"
    )


class TurnSpec(_Row):
    """One customer message; `upset` and `closing` are gold labels for the dialogue rubric."""

    say: str = Field(min_length=1)
    upset: bool = Field(False, description="the customer is upset: the reply must show it")
    closing: bool = Field(False, description="the customer ends the chat: a polite close is due")
    expect: TurnExpect | None = None


class RedirectExpect(_Row):
    tracking_id: str = Field(min_length=13)
    option: str = Field(description="option id: door, day:YYYY-MM-DD, sp:<id> or locker:<id>")

    @field_validator("option")
    @classmethod
    def _option_shape(cls, value: str) -> str:
        if not _OPTION.match(value):
            raise ValueError("must be door, day:YYYY-MM-DD, sp:<point id> or locker:<point id>")
        return value


class CaseExpect(_Row):
    tracking_id: str = Field(min_length=13)
    category: CaseCategory


class EndState(_Row):
    """What the carrier holds after the conversation: exactly these redirects and cases.

    Empty lists mean "nothing changed": no redirect applied and no case created.
    """

    redirects: list[RedirectExpect] = Field(default_factory=list)
    cases: list[CaseExpect] = Field(default_factory=list)
    flow: FlowName | None = Field(None, description="flow of the last turn, when checked")
    flow_status: FlowStatus | None = Field(None, description="its status, when checked")


class HandoffExpect(_Row):
    reason: HandoffReason
    why: str = Field(min_length=3, description="why a person must take over")


class ToolCallRef(_Row):
    """A tool call a correct assistant makes; only the arguments given are compared."""

    name: ToolName
    args: dict[str, str | int | float | bool] = Field(default_factory=dict)


class Scenario(_Row):
    id: str
    language: Lang
    kind: ScenarioKind
    title: str = Field(min_length=3, description="what the scenario tests, in English")
    turns: list[TurnSpec] = Field(min_length=1, max_length=30)
    expect: EndState
    facts: list[NonEmpty] = Field(
        default_factory=list,
        description="substrings some reply must state (ids, places, dates as written)",
    )
    handoff: HandoffExpect | None = Field(
        None, description="the handoff that must happen; null: none may happen"
    )
    reference_tool_calls: list[ToolCallRef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _id_language(self) -> Scenario:
        if not self.id.startswith(f"{self.language}-"):
            raise ValueError(f"id {self.id!r} must start with its language {self.language!r}")
        return self


class DatasetEntry(_Row):
    file: str
    version: str = Field(pattern=r"^\d+\.\d+$")
    model: Literal["KnowledgeCase", "Scenario"]
    description: str = ""


class Manifest(_Row):
    """`evals/datasets/manifest.json`: the datasets an eval run reads and their versions."""

    now: str = Field(description="the frozen clock the scenarios were written for (ISO 8601)")
    datasets: dict[str, DatasetEntry]


MODELS: dict[str, type[BaseModel]] = {
    "KnowledgeCase": KnowledgeCase,
    "Scenario": Scenario,
    "Manifest": Manifest,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each dataset model, by model name."""
    return {name: model.model_json_schema() for name, model in MODELS.items()}
