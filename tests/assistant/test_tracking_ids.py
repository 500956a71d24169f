"""Tracking ids: finding, normalising, check digits and typo suggestions."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.tracking_ids import (
    corrections_for,
    find_tracking_ids,
    is_valid_tracking_id,
    normalize_tracking_id,
    s10_check_digit,
    sscc_check_digit,
)

letters = st.text(alphabet=string.ascii_uppercase, min_size=2, max_size=2)
digits = st.text(alphabet=string.digits, min_size=1, max_size=1)


@st.composite
def s10_ids(draw: st.DrawFn) -> str:
    serial = draw(st.text(alphabet=string.digits, min_size=8, max_size=8))
    return f"{draw(letters)}{serial}{s10_check_digit(serial)}{draw(letters)}"


@st.composite
def sscc_ids(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet=string.digits, min_size=17, max_size=17))
    return f"00{body}{sscc_check_digit(body)}"


valid_ids = st.one_of(s10_ids(), sscc_ids())


@st.composite
def typed_by_a_customer(draw: st.DrawFn, tracking_id: str) -> str:
    """The id as people type it: digits grouped with spaces or dashes, maybe lower case.

    The letters of an S10 id stay together ("RR 361 920 561 SE"), as they are printed.
    """
    group = draw(st.sampled_from([0, 2, 3, 4]))
    sep = draw(st.sampled_from([" ", "-", ""]))
    head, body, tail = ("", tracking_id, "")
    if tracking_id[:2].isalpha():
        head, body, tail = tracking_id[:2], tracking_id[2:11], tracking_id[11:]
    if group:
        body = sep.join(body[i : i + group] for i in range(0, len(body), group))
    text = sep.join(part for part in (head, body, tail) if part)
    if draw(st.booleans()):
        text = text.lower()
    return text


SENTENCES = [
    "{id}",
    "hvor er min pakke {id}?",
    "var är mitt paket nr. {id} tack",
    "pakke #{id} er ikke kommet",
    "missä on lähetys {id}",
    "where is {id} and can it go to my door",
    "Sporing: {id}.",
]


@given(tracking_id=valid_ids, data=st.data(), sentence=st.sampled_from(SENTENCES))
@settings(max_examples=300, deadline=None)
def test_every_valid_id_is_found_and_normalised(
    tracking_id: str, data: st.DataObject, sentence: str
) -> None:
    typed = data.draw(typed_by_a_customer(tracking_id))
    matches = find_tracking_ids(sentence.format(id=typed))
    assert [m.normalized for m in matches] == [tracking_id]
    assert matches[0].valid


@given(tracking_id=sscc_ids(), position=st.integers(2, 19), replacement=digits)
@settings(max_examples=300)
def test_every_single_corrupted_sscc_digit_is_rejected(
    tracking_id: str, position: int, replacement: str
) -> None:
    if tracking_id[position] == replacement:
        return
    corrupted = tracking_id[:position] + replacement + tracking_id[position + 1 :]
    assert not is_valid_tracking_id(corrupted)
    assert tracking_id in corrections_for(corrupted)


def _s10_sum_remainder(tracking_id: str) -> int:
    weights = (8, 6, 4, 2, 3, 5, 9, 7)
    return sum(int(d) * w for d, w in zip(tracking_id[2:10], weights, strict=True)) % 11


@given(tracking_id=s10_ids(), position=st.integers(2, 10), replacement=digits)
@settings(max_examples=300)
def test_every_single_corrupted_s10_digit_is_rejected(
    tracking_id: str, position: int, replacement: str
) -> None:
    """Rejected except in the standard's one blind spot: check digit 5 serves remainders 0 and 6."""
    if tracking_id[position] == replacement:
        return
    corrupted = tracking_id[:position] + replacement + tracking_id[position + 1 :]
    blind_spot = (
        position < 10
        and tracking_id[10] == "5"
        and {_s10_sum_remainder(tracking_id), _s10_sum_remainder(corrupted)} == {0, 6}
    )
    assert is_valid_tracking_id(corrupted) == blind_spot
    if not blind_spot:
        assert tracking_id in corrections_for(corrupted)


def test_s10_blind_spot_exists_as_the_standard_defines_it() -> None:
    # Serial 00000000 sums to 0 -> 11 -> check 5; serial 00030000 sums to 6 -> 5 as well.
    assert s10_check_digit("00000000") == 5
    assert s10_check_digit("00030000") == 5


def test_known_ids_from_the_seed_are_valid() -> None:
    assert is_valid_tracking_id("RR361920561SE")
    assert is_valid_tracking_id("00742488237435897698")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rr 361 920 561 se", "RR361920561SE"),
        ("RR-361-920-561-SE", "RR361920561SE"),
        ("nr.RR361920561SE", "RR361920561SE"),
        ("00 7424 8823 7435 8976 98", "00742488237435897698"),
        ("(00) 742488237435897698", "00742488237435897698"),
        ("742488237435897698", "00742488237435897698"),
    ],
)
def test_formats_customers_type(text: str, expected: str) -> None:
    assert normalize_tracking_id(text) == expected


def test_several_ids_in_one_message_keep_their_order() -> None:
    text = "I have two: 00742488237435897698 and rr361920561se, plus RR361920561SE again"
    assert [m.normalized for m in find_tracking_ids(text)] == [
        "00742488237435897698",
        "RR361920561SE",
    ]
    assert normalize_tracking_id(text) is None  # two different ids: not one answer


def test_unique_transposition_is_suggested() -> None:
    # Swapping two neighbours of a valid SSCC: the original is among the corrections.
    valid = "00742488237435897698"
    swapped = valid[:5] + valid[6] + valid[5] + valid[7:]
    match = find_tracking_ids(swapped)[0]
    assert not match.valid
    assert valid in match.corrections


def test_suggestion_only_when_exactly_one_correction() -> None:
    match = find_tracking_ids("RR361920562SE")[0]
    assert not match.valid
    assert len(match.corrections) > 1
    assert match.suggestion is None
    # A wrong check digit whose only fix is the check digit itself is rare for S10; the
    # property suite checks the original is always among the corrections instead.


def test_other_carriers_ids_are_recognised_as_foreign() -> None:
    match = find_tracking_ids("my UPS number is 1Z999AA10123456784")[0]
    assert match.kind == "foreign"
    assert match.carrier == "UPS"
    assert not match.valid


@pytest.mark.parametrize(
    "text",
    [
        "ring mig på 12345678",
        "postnummer 8000",
        "",
        "😀😀😀",
        "order 2026-11-22",
        "RR36192056SE",
        "x" * 10_000,
    ],
)
def test_no_false_positives(text: str) -> None:
    assert [m for m in find_tracking_ids(text) if m.valid] == []


def test_check_digit_helpers_refuse_wrong_lengths() -> None:
    with pytest.raises(ValueError, match="eight digits"):
        s10_check_digit("123")
    with pytest.raises(ValueError, match="17 data digits"):
        sscc_check_digit("123")
