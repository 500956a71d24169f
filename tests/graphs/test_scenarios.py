"""Whole conversations in Danish, Swedish and English, snapshotted as transcripts.

Each test plays a conversation through the real graph (understanding, flows, tools, the
simulator) and asserts the end state: what the carrier now holds and where the graph paused.
"""

from __future__ import annotations

import pytest

from tests.graphs.conftest import Chat

HOME_DK = "RR361920561SE"  # home delivery to 8000 Aarhus C, label only, redirect allowed
DELIVERED_SE = "RR905677345SE"  # delivered 21 Nov to 75320 Uppsala, worth 6990 SEK
IN_TRANSIT_DK = "RR301061494SE"  # locker parcel to 6700, in transit, promised 24 Nov
OUT_FOR_DELIVERY = "RR149592584DK"
FORBIDS = "RR367521973FI"  # sender forbids redirects
STALLED_NO = "RR703455124NO"  # no scan since 14 Nov

TRACK = {
    "da": [f"hej hvor er min pakke {HOME_DK}"],
    "sv": [f"hej var är mitt paket {HOME_DK}"],
    "en": [f"hi where is my parcel {HOME_DK}"],
}


@pytest.mark.parametrize("language", ["da", "sv", "en"])
def test_track_parcel(chat: Chat, language: str) -> None:
    chat.start(language)
    result = chat.say(TRACK[language][0])
    assert (result.flow, result.flow_status) == ("track_parcel", "completed")
    assert result.language == language
    assert [a["tool"] for a in result.actions] == ["get_shipment_status", "predict_eta"]
    assert HOME_DK in result.messages[0]["text"]
    chat.snapshot(f"track_{language}")


@pytest.mark.parametrize("language", ["da", "sv", "en"])
def test_track_asks_for_the_id_when_missing(chat: Chat, language: str) -> None:
    chat.start(language)
    ask = {"da": "hvor er min pakke", "sv": "var är mitt paket", "en": "where is my parcel"}[
        language
    ]
    result = chat.say(ask)
    assert (result.flow, result.awaiting) == ("track_parcel", "tracking_id")
    result = chat.say(HOME_DK.lower())
    assert result.flow_status == "completed"
    chat.snapshot(f"track_asks_id_{language}")


REDIRECT = {
    "da": [f"kan {HOME_DK} blive stillet ved døren", "8000", "ja"],
    "sv": [f"kan ni lämna {HOME_DK} vid dörren", "8000", "ja"],
    "en": [f"can {HOME_DK} be left at my door", "8000", "yes"],
}


@pytest.mark.parametrize("language", ["da", "sv", "en"])
def test_redirect_to_the_door_after_verification_and_confirmation(
    chat: Chat, language: str
) -> None:
    chat.start(language)
    first, postcode, yes = REDIRECT[language]
    assert chat.say(first).awaiting == "postcode"
    confirm = chat.say(postcode)
    assert confirm.awaiting == "confirmation"
    assert confirm.paused_at == "confirm"
    assert chat.store.latest_redirect(HOME_DK) is None, "nothing changes before the yes"
    done = chat.say(yes)
    assert (done.flow, done.flow_status) == ("redirect_delivery", "completed")
    redirect = chat.store.latest_redirect(HOME_DK)
    assert redirect is not None and redirect.option.option_id == "door"
    again = chat.say(yes)
    assert again.flow is None
    assert len([r for r in chat.store._redirects if r.tracking_id == HOME_DK]) == 1, (
        "a double yes redirects once"
    )
    chat.snapshot(f"redirect_door_{language}")


CORRECTION = {
    "da": [
        f"jeg vil gerne ændre leveringen af {HOME_DK}",
        "8200",
        "nej 8000 ikke 8200",
        "nummer 1",
        "ja",
    ],
    "sv": [
        f"jag vill ändra leveransen av {HOME_DK}",
        "8200",
        "nej 8000 inte 8200",
        "nummer 1",
        "ja",
    ],
    "en": [
        f"i want to change the delivery of {HOME_DK}",
        "8200",
        "no 8000 not 8200",
        "number 1",
        "yes",
    ],
}


@pytest.mark.parametrize("language", ["da", "sv", "en"])
def test_redirect_with_a_corrected_postcode(chat: Chat, language: str) -> None:
    chat.start(language)
    turns = CORRECTION[language]
    assert chat.say(turns[0]).awaiting == "postcode"
    wrong = chat.say(turns[1])
    assert wrong.actions[0]["result"]["reason"] == "postcode_mismatch"
    assert wrong.awaiting == "postcode"
    fixed = chat.say(turns[2])
    assert fixed.awaiting == "redirect_option"
    assert chat.say(turns[3]).awaiting == "confirmation"
    done = chat.say(turns[4])
    assert done.flow_status == "completed"
    redirect = chat.store.latest_redirect(HOME_DK)
    assert redirect is not None and redirect.option.kind.value == "service_point"
    chat.snapshot(f"redirect_correction_{language}")


@pytest.mark.parametrize(
    ("language", "text", "reason"),
    [
        ("da", f"kan {OUT_FOR_DELIVERY} sendes til en pakkeshop", "out_for_delivery"),
        ("sv", f"kan {FORBIDS} skickas till ett ombud", "sender_forbids_redirect"),
        ("en", f"please send {DELIVERED_SE} to a parcel locker instead", "already_delivered"),
    ],
)
def test_redirect_refused_with_the_reason(
    chat: Chat, language: str, text: str, reason: str
) -> None:
    chat.start(language)
    result = chat.say(text)
    assert (result.flow, result.flow_status) == ("redirect_delivery", "refused")
    assert result.actions[0]["result"]["redirect_refusal"] == reason
    chat.snapshot(f"redirect_refused_{reason}_{language}")


COMPLAINT = {
    "da": [
        f"min pakke {DELIVERED_SE} kom i stykker",
        "skålen indeni var knust",
        "elin@example.com",
        "ja",
    ],
    "sv": [
        f"mitt paket {DELIVERED_SE} kom trasigt",
        "skålen i paketet var krossad",
        "elin@example.com",
        "ja",
    ],
    "en": [
        f"my parcel {DELIVERED_SE} arrived damaged",
        "the bowl inside was smashed",
        "elin@example.com",
        "yes",
    ],
}


@pytest.mark.parametrize("language", ["da", "sv", "en"])
def test_complaint_creates_one_case_after_confirmation(chat: Chat, language: str) -> None:
    chat.start(language)
    first, description, email, yes = COMPLAINT[language]
    assert chat.say(first).awaiting == "description"
    assert chat.say(description).awaiting == "contact"
    confirm = chat.say(email)
    assert confirm.awaiting == "confirmation"
    assert chat.store.list_cases() == []
    done = chat.say(yes)
    assert (done.flow, done.flow_status) == ("complaint", "completed")
    cases = chat.store.list_cases()
    assert len(cases) == 1
    assert cases[0].category.value == "damaged"
    assert cases[0].contact_email == "elin@example.com"
    assert cases[0].case_id in done.messages[0]["text"]
    chat.snapshot(f"complaint_damaged_{language}")


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("da", f"min pakke {IN_TRANSIT_DK} er blevet væk"),
        ("sv", f"mitt paket {IN_TRANSIT_DK} har försvunnit"),
        ("en", f"my parcel {IN_TRANSIT_DK} is lost"),
    ],
)
def test_complaint_not_eligible_yet_says_why_and_when(chat: Chat, language: str, text: str) -> None:
    chat.start(language)
    result = chat.say(text)
    assert (result.flow, result.flow_status) == ("complaint", "refused")
    assert chat.store.list_cases() == []
    chat.snapshot(f"complaint_not_yet_{language}")


CANCEL = {
    "da": [f"jeg vil ændre leveringen af {HOME_DK}", "glem det"],
    "sv": [f"jag vill ändra leveransen av {HOME_DK}", "glöm det"],
    "en": [f"i want to change the delivery of {HOME_DK}", "never mind, cancel"],
}


@pytest.mark.parametrize("language", ["da", "sv", "en"])
def test_cancel_mid_flow_changes_nothing(chat: Chat, language: str) -> None:
    chat.start(language)
    first, cancel = CANCEL[language]
    assert chat.say(first).awaiting == "postcode"
    result = chat.say(cancel)
    assert (result.flow, result.flow_status, result.awaiting) == (
        "redirect_delivery",
        "cancelled",
        None,
    )
    assert chat.store.latest_redirect(HOME_DK) is None
    chat.snapshot(f"cancel_{language}")


SIDE_QUESTION = {
    "da": [f"jeg vil ændre leveringen af {HOME_DK}", "hvornår har I åbent?", "8000"],
    "sv": [f"jag vill ändra leveransen av {HOME_DK}", "när har ni öppet?", "8000"],
    "en": [f"i want to change the delivery of {HOME_DK}", "when are you open?", "8000"],
}


@pytest.mark.parametrize("language", ["da", "sv", "en"])
def test_side_question_is_answered_and_the_flow_comes_back(chat: Chat, language: str) -> None:
    chat.start(language)
    first, question, postcode = SIDE_QUESTION[language]
    chat.say(first)
    side = chat.say(question)
    assert side.citations and side.citations[0]["article_id"] == "contact-customer-service"
    assert (side.flow, side.flow_status, side.awaiting) == (
        "redirect_delivery",
        "active",
        "postcode",
    )
    assert chat.say(postcode).awaiting == "redirect_option"
    chat.snapshot(f"side_question_{language}")


MULTI = {
    "da": f"hvor er {HOME_DK} og kan den stilles ved døren",
    "sv": f"var är {HOME_DK} och kan det lämnas vid dörren",
    "en": f"where is {HOME_DK} and can it go to my door?",
}


@pytest.mark.parametrize("language", ["da", "sv", "en"])
def test_two_things_in_one_message(chat: Chat, language: str) -> None:
    chat.start(language)
    result = chat.say(MULTI[language])
    tools = [a["tool"] for a in result.actions]
    assert tools[:2] == ["get_shipment_status", "predict_eta"]
    assert (result.flow, result.awaiting) == ("redirect_delivery", "postcode")
    assert chat.say("8000").awaiting == "confirmation", "the door was already chosen"
    chat.snapshot(f"multi_intent_{language}")


REASK = {
    "da": ["hvor er min pakke", "det ved jeg ikke", "aner det ikke", "ingen anelse"],
    "sv": ["var är mitt paket", "vet inte", "ingen aning", "har inget nummer"],
    "en": ["where is my parcel", "dunno", "no idea", "i don't have it"],
}


@pytest.mark.parametrize("language", ["da", "sv", "en"])
def test_two_failed_answers_offer_a_person_and_a_third_hands_over(
    chat: Chat, language: str
) -> None:
    chat.start(language)
    results = [chat.say(text) for text in REASK[language]]
    assert all(r.awaiting == "tracking_id" for r in results[:3])
    assert results[2].messages[-1]["text"] == chat.engine.context.catalogue.render(
        "offer_human", language
    )
    assert results[2].handoff is not None and results[2].handoff["status"] == "offered"
    assert results[3].handoff is not None and results[3].handoff["reason"] == "repeated_failure"
    assert results[3].flow_status == "cancelled"
    chat.snapshot(f"reask_offer_human_{language}")


@pytest.mark.parametrize(
    ("language", "text"),
    [("da", "ja"), ("sv", "ja tack"), ("en", "yes")],
)
def test_yes_when_nothing_was_asked(chat: Chat, language: str, text: str) -> None:
    chat.start(language)
    result = chat.say(text)
    assert result.flow is None and result.actions == []
    assert result.language == language


@pytest.mark.parametrize("text", ["", "   ", "😀😀😀", "x" * 10_000])
def test_odd_messages_keep_the_conversation_valid(chat: Chat, text: str) -> None:
    chat.start("da")
    result = chat.say(text)
    assert result.messages
    assert result.language == "da"
    assert chat.say(f"hvor er {HOME_DK}").flow_status == "completed"


def test_another_carriers_id_is_explained(chat: Chat) -> None:
    chat.start("en")
    result = chat.say("where is 1Z999AA10123456784")
    assert "UPS" in result.messages[0]["text"]
    assert result.awaiting == "tracking_id"


def test_typo_in_a_tracking_id_gets_a_suggestion(chat: Chat) -> None:
    chat.start("en")
    swapped = "RR903677345SE"  # 5 and 3 swapped in RR905677345SE? not a valid id
    result = chat.say(f"where is {swapped}")
    assert result.awaiting == "tracking_id"
    assert result.actions == [] or not result.actions[0]["ok"]


def test_two_parcels_tracked_in_one_message(chat: Chat) -> None:
    chat.start("da")
    result = chat.say(f"hvor er {HOME_DK} og {DELIVERED_SE}")
    statuses = [
        a["result"]["tracking_id"] for a in result.actions if a["tool"] == "get_shipment_status"
    ]
    assert statuses == [HOME_DK, DELIVERED_SE]
    assert result.flow_status == "completed"
    chat.snapshot("track_two_parcels_da")


def test_which_parcel_is_asked_when_a_change_names_two(chat: Chat) -> None:
    chat.start("en")
    result = chat.say(f"i want to change the delivery of {HOME_DK} or {DELIVERED_SE}")
    assert (result.flow, result.awaiting) == ("redirect_delivery", "tracking_id")
    assert result.quick_replies == [HOME_DK, DELIVERED_SE]
    chosen = chat.say("the first one")
    assert chosen.awaiting == "postcode"
    chat.snapshot("which_parcel_en")
