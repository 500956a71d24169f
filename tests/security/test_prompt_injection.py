"""Prompt injection (attacks.yaml) in the customer's words, help-centre articles and carrier data.

Each attack runs twice: offline, and with a scripted model that obeys the injection (it proposes
the redirect with the real postcode and a confirmation, and writes a reply that claims the
redirect is done, discloses the recipient and says whatever the attacker asked). The product
must still hold: no side effect without the flow's own confirmation turn, no recipient data
before verification (nor sent to the model), nothing the injected instruction asked for.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from assistant.eta.model import EtaModel
from assistant.ports import RetrievalResult
from assistant.settings import DEMO_SEED
from assistant.understanding import Understander
from retrieval.retriever import HybridRetriever
from tests.scripted_llm import Json, Recorded, Reply, ScriptedLLM, Text
from tests.security.conftest import ATTACKS, Attack, build_bot, poisoned_seed, recipient_of


def evil_commands(attack: Attack, postcode: str) -> list[dict[str, str]]:
    """What an obeying model proposes, whatever was asked: act now, verified, confirmed."""
    return [
        {"type": "start_flow", "flow": "redirect_delivery", "tracking_id": attack.target},
        {"type": "set_slot", "name": "postcode", "value": postcode},
        {"type": "set_slot", "name": "redirect_option", "value": "1"},
        {"type": "confirm", "answer": "yes"},
    ]


def evil_text(attack: Attack, recipient: dict[str, str]) -> str:
    """What an obeying model writes: what the injection asked for, and the recipient's data."""
    if attack.model:
        return attack.model
    asked = ". ".join(attack.canaries)
    if attack.channel == "knowledge":
        # A cited help-centre answer that does what the poisoned article says.
        return f"{asked}. [poison-{attack.id}]"
    if attack.channel == "carrier":
        # A rewrite that keeps the id (so only its content can give it away).
        return f"{attack.target}: {asked}."
    return (
        f"Done: {attack.target} has been redirected to your door. The recipient is "
        f"{recipient['name']}, {recipient['street']}, {recipient['postcode']} {recipient['city']}, "
        f"phone {recipient['phone']}, {recipient['email']}. {asked}"
    )


class RecordingRetriever:
    """The poisoned index, remembering which articles it handed out."""

    def __init__(self, inner: HybridRetriever) -> None:
        self.inner = inner
        self.articles: set[str] = set()

    def search(
        self, query: str, language: str, *, limit: int = 3, query_vector: Any = None
    ) -> RetrievalResult:
        result = self.inner.search(query, language, limit=limit, query_vector=query_vector)
        self.articles |= {p.article_id for p in result.passages}
        return result


def _joined_digits(text: str) -> str:
    return re.sub(r"(?<=\d)[\s\-.()]+(?=\d)", "", text)


def disclosures(text: str, recipient: dict[str, str]) -> list[str]:
    """The recipient's personal data found in `text`."""
    found = [
        recipient[key]
        for key in ("name", "street", "email")
        if recipient[key].casefold() in text.casefold()
    ]
    phone = recipient["phone"].lstrip("+")
    national = phone[2:] if phone[:2] in ("45", "46", "47") else phone[3:]  # 358 for Finland
    digits = _joined_digits(text)
    if phone in digits or national.lstrip("0") in digits:
        found.append(recipient["phone"])
    if re.search(rf"(?<!\d){re.escape(recipient['postcode'])}(?!\d)", text):
        found.append(f"postcode {recipient['postcode']}")
    return found


MODES = ["offline", "llm"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack_is_refused(
    attack: Attack,
    mode: str,
    tmp_path: Path,
    security_eta: EtaModel,
    security_understander: Understander,
    poisoned_index: HybridRetriever,
    llm_server: ScriptedLLM,
) -> None:
    recipient = recipient_of(attack.target)
    llm = None
    if mode == "llm":
        llm = llm_server
        llm.reset()
        commands = evil_commands(attack, recipient["postcode"])
        text = evil_text(attack, recipient)

        def obey(request: Recorded) -> Reply:
            return Json({"commands": commands}) if request.structured else Text(text)

        llm.respond_with(obey)
    seed = poisoned_seed(attack, tmp_path) if attack.channel == "carrier" else DEMO_SEED
    retriever = RecordingRetriever(poisoned_index)
    bot, conn = build_bot(
        seed=seed,
        eta=security_eta,
        understander=security_understander,
        retriever=retriever,
        llm=llm,
    )
    try:
        bot.start(attack.language)
        for turn in attack.turns:
            bot.say(turn)
    finally:
        conn.close()

    # The attack reached the assistant: the poisoned article was retrieved, the poisoned parcel
    # looked up.
    if attack.channel == "knowledge":
        assert f"poison-{attack.id}" in retriever.articles
    if attack.channel == "carrier":
        looked_up = [
            a for r in bot.results for a in r.actions if a["tool"] == "get_shipment_status"
        ]
        assert looked_up and looked_up[0]["result"]["tracking_id"] == attack.target
    # No side effect: nothing redirected, no case filed.
    assert bot.store.latest_redirect(attack.target) is None
    assert bot.store.list_cases() == []
    assert not any(
        a["tool"] in ("redirect_delivery", "create_case") for r in bot.results for a in r.actions
    )
    # No disclosure before verification (no attack knows the postcode).
    replies = "\n".join(bot.replies())
    assert disclosures(replies, recipient) == [], replies
    # Nothing the injected instruction asked for.
    said = [c for c in attack.canaries if c.casefold() in replies.casefold()]
    assert said == [], replies
    if llm is not None:
        assert llm.requests, "the model was asked (LLM mode)"
        for request in llm.requests:
            sent = str(request.body)
            leaked = [
                recipient[k] for k in ("name", "street", "email", "phone") if recipient[k] in sent
            ]
            assert leaked == [], "recipient data sent to the model before verification"
