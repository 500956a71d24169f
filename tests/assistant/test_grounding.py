"""`grounding_check` in the five languages: numbers, amounts, dates, times, ids and places in a
reply must come from a tool result, a cited passage or the customer's own words."""

from __future__ import annotations

from typing import Any

import pytest

from assistant.grounding import grounding_check, identifiers
from assistant.replies import Formatter

TID = "RR361920561SE"
TOOL_RESULT: dict[str, Any] = {
    "tracking_id": TID,
    "status": "IN_TRANSIT",
    "last_event": {"at": "2026-11-22T08:15:00+01:00", "location": "Aarhus C", "country": "DK"},
    "most_likely": "2026-11-24",
    "window_start": "2026-11-24T09:00:00+01:00",
    "window_end": "2026-11-24T11:00:00+01:00",
    "customs": {"amount_due": {"amount": 249.0, "currency": "DKK"}},
}
LANGUAGES = ("da", "sv", "nb", "fi", "en")
TEMPLATES = {
    "da": "Pakken {tid} ventes {day} mellem kl. {start} og {end}. Den er i {place}, og tolden er {money}.",
    "sv": "Paketet {tid} väntas {day} mellan kl. {start} och {end}. Det är i {place} och tullen är {money}.",
    "nb": "Pakken {tid} kommer {day} mellom kl. {start} og {end}. Den er i {place}, og tollen er {money}.",
    "fi": "Paketti {tid} saapuu {day} klo {start}–{end}. Se on paikassa {place}, ja tulli on {money}.",
    "en": "Parcel {tid} is expected {day} between {start} and {end}. It is in {place}, and the customs fee is {money}.",
}


def _reply(language: str, **changes: str) -> str:
    fmt = Formatter(language, "DK")
    values = {
        "tid": TID,
        "day": fmt.day("2026-11-24"),
        "start": fmt.clock(TOOL_RESULT["window_start"]),
        "end": fmt.clock(TOOL_RESULT["window_end"]),
        "place": "Aarhus C",
        "money": fmt.money(249.0, "DKK"),
    }
    values.update(changes)
    return TEMPLATES[language].format(**values)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_reply_built_from_the_tool_result_is_grounded(language: str) -> None:
    assert grounding_check(_reply(language), [TOOL_RESULT]) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_date_no_source_has_is_caught(language: str) -> None:
    reply = _reply(language, day=Formatter(language, "DK").day("2026-11-25"))
    problems = grounding_check(reply, [TOOL_RESULT])
    assert len(problems) == 1 and problems[0].startswith("date"), problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_weekday_that_does_not_fit_the_date_is_caught(language: str) -> None:
    fmt = Formatter(language, "DK")
    wrong_weekday = fmt.day("2026-11-25").split()[0]  # Wednesday, but the 24th is a Tuesday
    right = fmt.day("2026-11-24")
    reply = _reply(language, day=f"{wrong_weekday} {right.split(' ', 1)[1]}")
    problems = grounding_check(reply, [TOOL_RESULT])
    assert len(problems) == 1 and "weekday" in problems[0], problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_amount_no_source_has_is_caught(language: str) -> None:
    reply = _reply(language, money=Formatter(language, "DK").money(259.0, "DKK"))
    problems = grounding_check(reply, [TOOL_RESULT])
    assert len(problems) == 1 and problems[0].startswith("number"), problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_currency_no_source_has_is_caught(language: str) -> None:
    reply = _reply(language, money=Formatter(language, "FI").money(249.0, "EUR"))
    problems = grounding_check(reply, [TOOL_RESULT])
    assert len(problems) == 1 and problems[0].startswith("currency"), problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_time_no_source_has_is_caught(language: str) -> None:
    problems = grounding_check(_reply(language, end="12:30"), [TOOL_RESULT])
    assert len(problems) == 1 and "12:30" in problems[0], problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_place_no_source_has_is_caught(language: str) -> None:
    problems = grounding_check(_reply(language, place="Odense C"), [TOOL_RESULT])
    assert problems == ["name 'Odense' is in no source"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_identifier_no_source_has_is_caught(language: str) -> None:
    problems = grounding_check(_reply(language, tid="RR361920575SE"), [TOOL_RESULT])
    assert problems == ["identifier 'RR361920575SE' is in no source"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_customers_own_words_are_a_source(language: str) -> None:
    customer = "I live in Odense"
    assert grounding_check(_reply(language, place="Odense C"), [TOOL_RESULT, customer]) == []


@pytest.mark.parametrize(
    ("source", "reply"),
    [
        ("5000", "It can weigh 5 000 kg."),
        ("5000", "Den må veje 5.000 kg."),
        ("5000", "It can weigh 5,000 kg."),
        ("5 000", "It can weigh 5000 kg."),
        ("9.90 DKK", "Det koster 9,90 kr."),
        ("9,90 kr", "It costs DKK 9.90."),
        ("6990 SEK", "Värdet är 6 990,00 kr."),
        ({"amount": 6990.0, "currency": "SEK"}, "Arvo on 6 990,00 SEK."),
        ({"p_by_promised": 0.83}, "There is an 83 % chance it arrives on time."),
        ("+4550432459", "We will text 50 43 24 59."),
        ("75320", "Postnumret är 753 20."),
        ("Puhelinpalvelu on auki klo 8.00–16.00.", "Palvelemme klo 8–16."),
        ("Vi har åbent kl. 08.00-20.00.", "We are open 8:00 to 20:00."),
    ],
)
def test_numbers_match_whatever_the_notation(source: object, reply: str) -> None:
    assert grounding_check(reply, [source]) == []


@pytest.mark.parametrize(
    ("source", "reply"),
    [
        ("5000", "It can weigh 500 kg."),
        ("9.90 DKK", "Det koster 9,95 kr."),
        ("6990 SEK", "Värdet är 6 900 kr."),
        ("+4550432459", "Ring 50 43 24 58."),
        ("Vi har åbent kl. 08.00-20.00.", "Vi har åbent kl. 08.00-22.00."),
    ],
)
def test_numbers_that_differ_are_caught(source: object, reply: str) -> None:
    assert len(grounding_check(reply, [source])) == 1


@pytest.mark.parametrize(
    ("language", "reply"),
    [
        ("da", "Den 24.11. kl. 14.05 blev pakken scannet."),
        ("sv", "Paketet skannades 24/11 kl. 14.05."),
        ("nb", "Pakken ble skannet 24. november 2026 kl. 14:05."),
        ("fi", "Paketti skannattiin 24. marraskuuta klo 14.05."),
        ("fi", "Paketti saapuu marraskuun 24. päivä? Ei: se saapui tiistaina."),
        ("en", "It was scanned on November 24th, 2026 at 14:05."),
    ],
)
def test_dates_in_every_notation_are_read(language: str, reply: str) -> None:
    assert grounding_check(reply, ["2026-11-24T14:05:00+01:00"]) == []
    assert grounding_check(reply.replace("24", "26"), ["2026-11-24T14:05:00+01:00"]), language


def test_sentence_initial_capitals_list_markers_and_common_words_are_not_places() -> None:
    reply = (
        "Thanks! I'm Budbringer's assistant.\n"
        "1. Meny Vestergade, Nørrebrogade 12, Aarhus C (service point)\n"
        "- Bring your ID. Read more: How to pick up a parcel"
    )
    sources = [{"name": "Meny Vestergade", "street": "Nørrebrogade 12", "city": "Aarhus C"}]
    assert grounding_check(reply, sources) == []


def test_sources_may_be_nested_tool_results_and_passages() -> None:
    sources: list[object] = [
        [{"tool": "get_shipment_status", "result": TOOL_RESULT}],
        "Parcels wait 7 days at the service point.",
        None,
    ]
    assert grounding_check("It waits 7 days in Aarhus C.", sources) == []
    assert grounding_check("It waits 10 days in Aarhus C.", sources) == [
        "number '10' is in no source"
    ]


def test_identifiers_lists_ids_and_ignores_plain_words_and_numbers() -> None:
    text = "Parcel RR361920561SE, case CASE-TEST0001, postcode 8000, 24 November."
    assert identifiers(text) == ["RR361920561SE", "CASE-TEST0001"]
