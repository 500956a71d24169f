"""Collects what one turn says and does: replies from the catalogue, tool calls, quick replies."""

from __future__ import annotations

from typing import Any

from assistant.replies import Catalogue, Formatter
from assistant.tools import Action, CarrierTools
from graphs.state import Reply

__all__ = ["TurnIO"]


class TurnIO:
    """The writable side of a turn, handed to flow steps and nodes."""

    def __init__(
        self,
        catalogue: Catalogue,
        tools: CarrierTools,
        *,
        language: str,
        country: str | None,
        turn: int,
        conversation_id: str,
    ) -> None:
        self.catalogue = catalogue
        self.tools = tools
        self.language = language
        self.country = country
        self.turn = turn
        self.conversation_id = conversation_id
        self.fmt = Formatter(language, country)
        self.replies: list[Reply] = []
        self.actions: list[dict[str, Any]] = []
        self.quick_replies: list[str] = []
        self.flow_event: dict[str, Any] | None = None

    def text(self, key: str, **values: Any) -> str:
        return self.catalogue.render(key, self.language, variant=self.turn, **values)

    def say(self, key: str, **values: Any) -> None:
        self.replies.append({"key": key, "text": self.text(key, **values)})

    def say_lines(self, key: str, lines: list[str]) -> None:
        """One reply made of several rendered lines (an options list under its intro)."""
        self.replies.append({"key": key, "text": "\n".join(lines)})

    def quick(self, *keys: str) -> None:
        for key in keys:
            label = self.text(key)
            if label not in self.quick_replies:
                self.quick_replies.append(label)

    def quick_labels(self, labels: list[str]) -> None:
        """Quick replies that are data, not catalogue keys (tracking ids to pick from)."""
        for label in labels:
            if label not in self.quick_replies:
                self.quick_replies.append(label)

    def call(self, tool: str, arguments: dict[str, Any], **context: Any) -> Action:
        action = self.tools.run(tool, arguments, **context)
        self.actions.append(action.model_dump(mode="json"))
        return action
