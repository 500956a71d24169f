"""What the language model may propose for one customer message: a short list of commands.

These pydantic models are the JSON schema the model answers in (structured output). A proposal
is only a proposal: `graphs.llm_understanding` validates every command against the message, the
offered options and the enums, and the flow engine (`graphs.flows`) decides what happens.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from assistant.understanding import RedirectKindName

__all__ = [
    "MAX_COMMANDS",
    "AskKnowledge",
    "Cancel",
    "CategoryName",
    "Chitchat",
    "Command",
    "Commands",
    "Confirm",
    "Correct",
    "HandOff",
    "SetSlot",
    "SlotName",
    "StartFlow",
    "command_adapter",
]

MAX_COMMANDS = 6
FlowName = Literal["track_parcel", "redirect_delivery", "complaint"]
CategoryName = Literal[
    "damaged", "missing_after_delivery", "delayed", "lost", "wrong_delivery", "other"
]
# Slots the model may fill. Emails, phone numbers and descriptions are not among them: the
# offline understanding and the flow take those from the customer's own text.
SlotName = Literal["tracking_id", "postcode", "redirect_option", "complaint_category"]


class _Command(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class StartFlow(_Command):
    """The customer wants to track a parcel, change its delivery, or complain about it."""

    type: Literal["start_flow"]
    flow: FlowName
    tracking_id: str | None = Field(
        default=None, description="Only a tracking number the customer wrote in this message."
    )
    category: CategoryName | None = Field(default=None, description="For complaints.")
    redirect_kind: RedirectKindName | None = Field(
        default=None, description="For delivery changes: where or when the customer wants it."
    )


class SetSlot(_Command):
    """The customer answered with a value. redirect_option is the number of an offered option."""

    type: Literal["set_slot"]
    name: SlotName
    value: str


class Correct(_Command):
    """The customer corrects a value they gave before."""

    type: Literal["correct"]
    name: SlotName
    value: str


class Cancel(_Command):
    """The customer wants to stop what is in progress."""

    type: Literal["cancel"]


class AskKnowledge(_Command):
    """A question for the help centre (opening hours, prices, rules, how-to)."""

    type: Literal["ask_knowledge"]
    question: str


class HandOff(_Command):
    """The customer wants a person, or cannot be helped here."""

    type: Literal["hand_off"]
    reason: str


class Confirm(_Command):
    """The customer answers the yes/no question the assistant just asked."""

    type: Literal["confirm"]
    answer: Literal["yes", "no"]


class Chitchat(_Command):
    """A greeting, thanks, or nothing the assistant can act on."""

    type: Literal["chitchat"]
    kind: Literal["greeting", "thanks", "unknown"]


# A plain union (`anyOf` in the schema) rather than a discriminated one (`oneOf` plus a
# `discriminator` key): every constrained-decoding backend understands `anyOf`, and the literal
# `type` field still makes each item match exactly one command.
Command = StartFlow | SetSlot | Correct | Cancel | AskKnowledge | HandOff | Confirm | Chitchat
command_adapter: TypeAdapter[Command] = TypeAdapter(Command)


class Commands(BaseModel):
    """What the customer's message asks for, as commands, in the order the customer said them."""

    commands: Annotated[list[Command], Field(max_length=MAX_COMMANDS)]
