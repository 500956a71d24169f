"""Help-centre answers through the real retriever over the whole help centre (built once per session)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from assistant.replies import Catalogue
from assistant.understanding import Understander
from graphs.context import AssistantContext
from graphs.engine import ConversationEngine, TurnResult
from tests.graphs.conftest import Chat
from tests.kb_index import FullIndex


@pytest.fixture
def kb_engine(chat: Chat, full_index: FullIndex) -> Iterator[ConversationEngine]:
    base = chat.engine.context
    context = AssistantContext(
        tools=base.tools,
        retriever=full_index.retriever,
        understander=Understander(full_index.embedder),
        catalogue=Catalogue(),
        clock=base.clock,
        embedder=full_index.embedder,
    )
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    yield ConversationEngine(context, SqliteSaver(conn))
    conn.close()


def _ask(engine: ConversationEngine, language: str, text: str) -> TurnResult:
    engine.start(f"kb-{language}-{abs(hash(text))}", language)
    return engine.turn(f"kb-{language}-{abs(hash(text))}", text)


@pytest.mark.parametrize(
    ("language", "question", "article"),
    [
        (
            "da",
            "hvor længe ligger min pakke i pakkeshoppen før den bliver sendt retur?",
            "pickup-deadline",
        ),
        ("sv", "hur mycket kostar tull och moms på ett paket från usa?", "customs-and-vat"),
        ("en", "what can't I send in a parcel, are lithium batteries ok?", "prohibited-items"),
        ("nb", "jeg fikk en sms om å betale toll, er det svindel?", "fraud-sms"),
        ("fi", "kuinka painava paketti saa olla pakettiautomaattiin?", "size-and-weight"),
    ],
)
def test_questions_are_answered_from_the_right_article_with_a_citation(
    kb_engine: ConversationEngine, language: str, question: str, article: str
) -> None:
    result = _ask(kb_engine, language, question)
    assert result.citations, result.messages
    assert result.citations[0]["article_id"] == article
    assert result.citations[0]["language"] == language
    assert result.language == language
    assert result.actions[-1]["tool"] == "search_knowledge"


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("da", "hvem vandt fodboldkampen i går?"),
        ("sv", "kan du ge mig ett recept på kanelbullar?"),
        ("en", "what's the weather going to be like in Paris tomorrow?"),
    ],
)
def test_out_of_scope_questions_get_an_honest_i_dont_know(
    kb_engine: ConversationEngine, language: str, question: str
) -> None:
    result = _ask(kb_engine, language, question)
    assert result.citations == []
    assert result.messages[0]["text"] == Catalogue().render("kb_dont_know", language)
