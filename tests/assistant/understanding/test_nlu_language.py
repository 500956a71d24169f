"""Language identification: lingua plus word evidence, sticky per conversation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from assistant.understanding import Understander

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))  # a Monday


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("jeg har stadig ikke modtaget noget og det er nu en uge siden", "da"),
        ("jag har fortfarande inte fått något och det har gått en vecka", "sv"),
        ("jeg har fortsatt ikke fått noe og det er over en uke siden", "nb"),
        ("en ole vieläkään saanut mitään ja siitä on jo viikko", "fi"),
        ("i still haven't received anything and it's been a week", "en"),
    ],
)
def test_clear_sentences_in_each_language(
    understander: Understander, text: str, language: str
) -> None:
    detected, confidence, switched = understander.detect_language(text)
    assert detected == language
    assert confidence > 0.5
    assert not switched


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("hvad sker der med min pakke", "da"),
        ("hva skjer med pakken min", "nb"),
        ("jeg har ikke fået min pakke endnu", "da"),
        ("jeg har ikke fått pakken min ennå", "nb"),
        ("hvornår bliver den leveret", "da"),
        ("når blir den levert", "nb"),
        ("kan I ringe mig op i morgen", "da"),
        ("kan dere ringe meg i morgen", "nb"),
    ],
)
def test_danish_and_bokmal_told_apart_by_their_words(
    understander: Understander, text: str, language: str
) -> None:
    assert understander.detect_language(text)[0] == language


def test_one_swedish_word_in_a_danish_conversation_stays_danish(understander: Understander) -> None:
    language, _, switched = understander.detect_language("tack", previous="da")
    assert (language, switched) == ("da", False)
    result = understander.understand("tack", conversation_language="da", now=NOW)
    assert (result.language, result.language_switched) == ("da", False)
    assert [i.name for i in result.intents] == ["thanks"]


def test_a_clear_swedish_paragraph_switches_a_danish_conversation(
    understander: Understander,
) -> None:
    text = "hej, jag förstår inte riktigt, var är mitt paket och när kommer det hem till mig?"
    result = understander.understand(text, conversation_language="da", now=NOW)
    assert result.language == "sv"
    assert result.language_switched


def test_mixed_english_words_do_not_switch_a_danish_conversation(
    understander: Understander,
) -> None:
    result = understander.understand(
        "tracking siger delivered men jeg har ikke fået noget", conversation_language="da", now=NOW
    )
    assert (result.language, result.language_switched) == ("da", False)


@pytest.mark.parametrize("text", ["ok", "ja", "8000", "👍", "RR361920561SE", "nope", "k-market"])
def test_short_messages_keep_the_conversation_language(
    understander: Understander, text: str
) -> None:
    assert understander.detect_language(text, previous="nb")[::2] == ("nb", False)


def test_bokmal_switch_from_danish_needs_bokmal_words(understander: Understander) -> None:
    assert understander.detect_language("kan den komme i morgen i stedet", previous="da")[0] == "da"
    switched = understander.detect_language(
        "hei, jeg har ikke fått pakken min ennå og lurer på hva som skjer", previous="da"
    )
    assert switched[0] == "nb"
    assert switched[2]


def test_no_evidence_and_no_conversation_gives_low_confidence_english(
    understander: Understander,
) -> None:
    language, confidence, switched = understander.detect_language("8000")
    assert (language, switched) == ("en", False)
    assert confidence < 0.5


def test_nordic_letters_give_a_nordic_guess(understander: Understander) -> None:
    assert understander.detect_language("blåbær")[0] == "da"
    assert understander.detect_language("här")[0] == "sv"
