"""Intents per language, several per message, corrections, and answers to what was asked."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from assistant.domain import CaseCategory
from assistant.understanding import Understander

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))  # a Monday


def _names(understander: Understander, text: str, **kwargs: object) -> list[str]:
    result = understander.understand(text, now=NOW, **kwargs)  # type: ignore[arg-type]
    return [i.name for i in result.intents]


CASES = [
    # (language, text, intents)
    ("da", "hvor bliver min forsendelse af", ["track"]),
    ("da", "kan pakken stilles ved hoveddøren", ["redirect"]),
    ("da", "jeg vil gerne indgive en klage", ["complaint"]),
    ("da", "hvad koster porto til tyskland", ["knowledge"]),
    ("da", "må jeg få en medarbejder", ["human"]),
    ("da", "godaften", ["greeting"]),
    ("da", "mange tak for hjælpen", ["thanks"]),
    ("da", "annuller det", ["cancel"]),
    ("sv", "när kommer min beställning", ["track"]),
    ("sv", "kan ni ställa det vid dörren", ["redirect"]),
    ("sv", "jag vill lämna ett klagomål", ["complaint"]),
    ("sv", "vad kostar frakten till finland", ["knowledge"]),
    ("sv", "jag vill prata med en människa", ["human"]),
    ("sv", "hejsan", ["greeting"]),
    ("sv", "stort tack", ["thanks"]),
    ("sv", "glöm det", ["cancel"]),
    ("nb", "når kommer sendingen min", ["track"]),
    ("nb", "kan dere legge den utenfor døra", ["redirect"]),
    ("nb", "jeg vil klage på leveransen", ["complaint"]),
    ("nb", "hva koster det å sende til sverige", ["knowledge"]),
    ("nb", "kan jeg snakke med en saksbehandler", ["human"]),
    ("nb", "heisann", ["greeting"]),
    ("nb", "tusen takk", ["thanks"]),
    ("nb", "avbryt", ["cancel"]),
    ("fi", "milloin mun lähetys saapuu", ["track"]),
    ("fi", "voiko paketin jättää ovelle", ["redirect"]),
    ("fi", "haluan tehdä valituksen", ["complaint"]),
    ("fi", "paljonko maksaa lähettää paketti saksaan", ["knowledge"]),
    ("fi", "haluan puhua asiakaspalvelijan kanssa", ["human"]),
    ("fi", "moikka", ["greeting"]),
    ("fi", "kiitos paljon", ["thanks"]),
    ("fi", "peruuta", ["cancel"]),
    ("en", "where's my order", ["track"]),
    ("en", "can you leave it on the porch", ["redirect"]),
    ("en", "i want to file a complaint", ["complaint"]),
    ("en", "how much does shipping to finland cost", ["knowledge"]),
    ("en", "let me talk to a real person", ["human"]),
    ("en", "hello", ["greeting"]),
    ("en", "thank you", ["thanks"]),
    ("en", "never mind", ["cancel"]),
]


@pytest.mark.parametrize(("language", "text", "intents"), CASES)
def test_intent_per_language(
    understander: Understander, language: str, text: str, intents: list[str]
) -> None:
    assert _names(understander, text, conversation_language=language) == intents


@pytest.mark.parametrize(
    ("language", "yes", "no"),
    [
        ("da", "ja tak", "nej tak"),
        ("sv", "ja", "nej"),
        ("nb", "jepp", "nei"),
        ("fi", "joo", "ei"),
        ("en", "yes please", "nope"),
    ],
)
def test_yes_and_no_answer_a_confirmation(
    understander: Understander, language: str, yes: str, no: str
) -> None:
    kwargs = {"conversation_language": language, "expecting": "confirmation"}
    assert _names(understander, yes, **kwargs) == ["yes"]
    assert _names(understander, no, **kwargs) == ["no"]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("pakken kom helt smadret", CaseCategory.DAMAGED),
        ("appen siger leveret men jeg har intet fået", CaseCategory.MISSING_AFTER_DELIVERY),
        ("min pakke er forsinket igen", CaseCategory.DELAYED),
        ("paketet har försvunnit", CaseCategory.LOST),
        ("it went to my neighbour instead of me", CaseCategory.WRONG_DELIVERY),
        ("kuljettaja oli tyly", CaseCategory.OTHER),
        ("jeg vil klage", None),
    ],
)
def test_complaint_categories(
    understander: Understander, text: str, category: CaseCategory | None
) -> None:
    (intent,) = understander.understand(text, now=NOW).intents
    assert (intent.name, intent.category) == ("complaint", category)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("kan den stilles ved døren i stedet", "door"),
        ("skicka det till ett paketskåp istället", "locker"),
        ("jeg vil heller hente den på et hentested", "service_point"),
        ("can you deliver on thursday instead", "day"),
        ("can i change the delivery address", None),
    ],
)
def test_redirect_kinds(understander: Understander, text: str, kind: str | None) -> None:
    (intent,) = understander.understand(text, now=NOW).intents
    assert (intent.name, intent.redirect_kind) == ("redirect", kind)


def test_several_intents_in_the_order_written(understander: Understander) -> None:
    result = understander.understand("hvor er RR361920561SE og kan den komme til døren?", now=NOW)
    assert [(i.name, i.redirect_kind) for i in result.intents] == [
        ("track", None),
        ("redirect", "door"),
    ]
    assert _names(understander, "pakken er knust, og jeg vil tale med et menneske") == [
        "complaint",
        "human",
    ]
    assert _names(understander, "where is my parcel and what are your opening hours") == [
        "track",
        "knowledge",
    ]


def test_social_words_are_dropped_next_to_a_request(understander: Understander) -> None:
    assert _names(understander, "hej, hvor er min pakke") == ["track"]
    assert _names(understander, "tack! vad kostar det att skicka ett paket") == ["knowledge"]


@pytest.mark.parametrize(
    ("text", "slot", "postcodes"),
    [
        ("nej 8000 ikke 8200", "postcode", ("8000",)),
        ("ikke 8200 men 8000", "postcode", ("8000",)),
        ("sorry, I meant 2100", "postcode", ("2100",)),
    ],
)
def test_corrections_keep_the_corrected_value(
    understander: Understander, text: str, slot: str, postcodes: tuple[str, ...]
) -> None:
    result = understander.understand(text, now=NOW, country="DK", expecting="confirmation")
    assert [i.name for i in result.intents] == ["correction"]
    assert result.slots.correction_of == slot
    assert result.slots.postcodes == postcodes


def test_correction_of_a_date_and_of_an_email(understander: Understander) -> None:
    result = understander.understand("nej, ikke torsdag men fredag", now=NOW)
    assert [i.name for i in result.intents] == ["correction"]
    assert (result.slots.correction_of, [d.isoformat() for d in result.slots.dates]) == (
        "date",
        ["2026-11-27"],
    )
    result = understander.understand("fel mejl, den rätta är eva@example.se", now=NOW)
    assert (result.slots.correction_of, result.slots.email) == ("email", "eva@example.se")


def test_a_wrong_address_complaint_is_not_a_correction(understander: Understander) -> None:
    (intent,) = understander.understand("den blev leveret til forkert adresse", now=NOW).intents
    assert (intent.name, intent.category) == ("complaint", CaseCategory.WRONG_DELIVERY)


def test_bare_answers_have_no_intent_of_their_own(understander: Understander) -> None:
    assert (
        understander.understand("8000", now=NOW, country="DK", expecting="postcode").intents == ()
    )
    offered = ["Netto Skolevej", "Pakkeboks Føtex", "Stil den ved døren"]
    answer = understander.understand("2", now=NOW, expecting="redirect_option", offered=offered)
    assert (answer.intents, answer.slots.choice) == ((), 1)
    answer = understander.understand(
        "døren tak", now=NOW, expecting="redirect_option", offered=offered
    )
    assert (answer.intents, answer.slots.choice) == ((), 2)
    answer = understander.understand("RR361920561SE", now=NOW, expecting="tracking_id")
    assert answer.intents == ()
    assert answer.slots.tracking_ids[0].normalized == "RR361920561SE"


def test_a_tracking_id_alone_means_track_it(understander: Understander) -> None:
    assert _names(understander, "RR361920561SE") == ["track"]


def test_a_status_question_with_a_tracking_id_is_track(understander: Understander) -> None:
    assert _names(understander, "er RR361920561SE i tolden?") == ["track"]


def test_out_of_scope_questions_are_unknown(understander: Understander) -> None:
    assert _names(understander, "what is the capital of france") == ["unknown"]


def test_typos_are_tolerated(understander: Understander) -> None:
    assert _names(understander, "min pakke er forsinkt") == ["complaint"]
    assert _names(understander, "hvonår kommer min pakke") == ["track"]
    assert _names(understander, "pakken er odelagt") == ["complaint"]
