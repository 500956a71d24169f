"""Slots: dates relative to a fixed clock, choices, postcodes per country, email and phone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from assistant.understanding import Understander

CET = timezone(timedelta(hours=1))
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=CET)  # a Monday

FRIDAY = datetime(2026, 11, 27, 16, 0, tzinfo=CET)
MONTH_END = datetime(2026, 11, 30, 10, 0, tzinfo=CET)


def _dates(
    understander: Understander, text: str, now: datetime = NOW, **kwargs: object
) -> list[str]:
    result = understander.understand(text, now=now, **kwargs)  # type: ignore[arg-type]
    return [d.isoformat() for d in result.slots.dates]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kan den komme i morgen", "2026-11-24"),
        ("imorgon", "2026-11-24"),
        ("huomenna", "2026-11-24"),
        ("tomorrow please", "2026-11-24"),
        ("i overmorgen", "2026-11-25"),
        ("i övermorgon", "2026-11-25"),
        ("ylihuomenna", "2026-11-25"),
        ("the day after tomorrow", "2026-11-25"),
        ("på fredag", "2026-11-27"),
        ("nästa måndag", "2026-11-30"),
        ("neste mandag", "2026-11-30"),
        ("ensi maanantaina", "2026-11-30"),
        ("maanantaina", "2026-11-30"),
        ("next monday", "2026-11-30"),
        ("mandag", "2026-11-30"),
        ("den 28.", "2026-11-28"),
        ("den 28:e", "2026-11-28"),
        ("the 28th", "2026-11-28"),
        ("28/11", "2026-11-28"),
        ("28.11.", "2026-11-28"),
        ("28 november", "2026-11-28"),
        ("28. marraskuuta", "2026-11-28"),
        ("den 3.", "2026-12-03"),
        ("i fredags", "2026-11-20"),
        ("last friday", "2026-11-20"),
        ("i dag", "2026-11-23"),
    ],
)
def test_relative_and_absolute_dates(understander: Understander, text: str, expected: str) -> None:
    assert _dates(understander, text) == [expected]


def test_dates_across_a_weekend(understander: Understander) -> None:
    assert _dates(understander, "mandag", now=FRIDAY) == ["2026-11-30"]
    assert _dates(understander, "i overmorgen", now=FRIDAY) == ["2026-11-29"]
    assert _dates(understander, "fredag", now=FRIDAY) == ["2026-12-04"]


def test_dates_across_a_month_and_a_year_end(understander: Understander) -> None:
    assert _dates(understander, "i morgen", now=MONTH_END) == ["2026-12-01"]
    assert _dates(understander, "torsdag", now=MONTH_END) == ["2026-12-03"]
    assert _dates(understander, "den 2.", now=MONTH_END) == ["2026-12-02"]
    new_year = datetime(2026, 12, 30, 12, 0, tzinfo=CET)
    assert _dates(understander, "2/1", now=new_year) == ["2027-01-02"]


def test_tomorrow_is_counted_in_the_customers_time_zone(understander: Understander) -> None:
    late_utc = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # already the 24th in Helsinki
    assert _dates(understander, "huomenna", now=late_utc, country="FI") == ["2026-11-25"]
    assert _dates(understander, "tomorrow", now=late_utc) == ["2026-11-24"]


def test_habitual_days_and_quantities_are_not_dates(understander: Understander) -> None:
    assert _dates(understander, "leverer i om lørdagen") == []
    assert _dates(understander, "levererar ni på lördagar") == []
    assert _dates(understander, "pakken vejer 2.5 kg") == []


OPTIONS = [
    "Netto Nørrebrogade, Skolevej 13, 2200 København N",
    "Pakkeboks ved Føtex Fælledvej, 2200 København N",
    "Stil den ved døren",
]
DAYS = ["Tirsdag 24. november", "Onsdag 25. november", "Fredag 27. november"]


@pytest.mark.parametrize(
    ("text", "offered", "choice"),
    [
        ("2", OPTIONS, 1),
        ("nummer 3", OPTIONS, 2),
        ("nummer to", OPTIONS, 1),
        ("den første", OPTIONS, 0),
        ("the second one", OPTIONS, 1),
        ("toinen", OPTIONS, 1),
        ("den sidste", OPTIONS, 2),
        ("the Netto one", OPTIONS, 0),
        ("netto", OPTIONS, 0),
        ("føtex tak", OPTIONS, 1),
        ("the door", OPTIONS, 2),
        ("ovelle", OPTIONS, 2),
        ("tirsdag", DAYS, 0),
        ("friday works", DAYS, 2),
        ("i overmorgen", DAYS, 1),
        ("7", OPTIONS, None),
        ("københavn", OPTIONS, None),
    ],
)
def test_choices_by_number_ordinal_and_name(
    understander: Understander, text: str, offered: list[str], choice: int | None
) -> None:
    result = understander.understand(text, now=NOW, offered=offered, expecting="redirect_option")
    assert result.slots.choice == choice


def test_a_bare_number_is_a_choice_only_when_options_were_asked_for(
    understander: Understander,
) -> None:
    assert understander.understand("2", now=NOW, expecting="redirect_option").slots.choice == 1
    assert understander.understand("2", now=NOW).slots.choice is None


@pytest.mark.parametrize(
    ("text", "country", "postcodes"),
    [
        ("postnummer 8000", "DK", ("8000",)),
        ("DK-2200 københavn", "DK", ("2200",)),
        ("411 19 göteborg", "SE", ("41119",)),
        ("SE-41119", "SE", ("41119",)),
        ("0150 oslo", "NO", ("0150",)),
        ("00100 helsinki", "FI", ("00100",)),
        ("8000", "FI", ()),
        ("hvor er nærmeste pakkeshop ved 2200", None, ("2200",)),
        ("48000 eller 8000", None, ("48000", "8000")),
    ],
)
def test_postcodes_per_country(
    understander: Understander, text: str, country: str | None, postcodes: tuple[str, ...]
) -> None:
    assert understander.understand(text, now=NOW, country=country).slots.postcodes == postcodes


@pytest.mark.parametrize(
    "text",
    [
        "ring til 20 12 34 56",
        "mit nummer er 31123456",
        "status på 00333875004743957558",
        "RR361920561SE",
        "det kostede 2495 kr",
        "leveret 28.11.2026",
    ],
)
def test_phone_tracking_id_price_and_date_digits_are_not_postcodes(
    understander: Understander, text: str
) -> None:
    assert understander.understand(text, now=NOW, country="DK").slots.postcodes == ()


@pytest.mark.parametrize(
    ("text", "country", "phone"),
    [
        ("ring mig på 20 12 34 56", "DK", "+4520123456"),
        ("+45 31 12 34 56", None, "+4531123456"),
        ("070-123 45 67", "SE", "+46701234567"),
        ("912 34 567", "NO", "+4791234567"),
        ("040 1234567", "FI", "+358401234567"),
        ("8000 aarhus, tlf 20123456", "DK", "+4520123456"),
    ],
)
def test_phone_numbers_in_e164(
    understander: Understander, text: str, country: str | None, phone: str
) -> None:
    assert understander.understand(text, now=NOW, country=country).slots.phone == phone


def test_email_and_phone_together(understander: Understander) -> None:
    result = understander.understand(
        "min mail er mette.h@gmail.com og mit nummer er 31123456",
        now=NOW,
        country="DK",
        expecting="contact",
    )
    assert (result.slots.email, result.slots.phone, result.intents) == (
        "mette.h@gmail.com",
        "+4531123456",
        (),
    )


def test_every_tracking_id_is_kept_valid_or_not(understander: Understander) -> None:
    result = understander.understand("RR361920561SE og RR361920562SE", now=NOW)
    assert [(m.normalized, m.valid) for m in result.slots.tracking_ids] == [
        ("RR361920561SE", True),
        ("RR361920562SE", False),
    ]


def test_another_carriers_id_is_reported_as_foreign(understander: Understander) -> None:
    result = understander.understand("where is 1Z999AA10123456784", now=NOW)
    (match,) = result.slots.tracking_ids
    assert (match.kind, match.carrier, match.valid) == ("foreign", "UPS", False)
    assert [i.name for i in result.intents] == ["track"]


def test_dates_are_absolute_date_objects(understander: Understander) -> None:
    result = understander.understand("i morgen", now=NOW + timedelta(days=1))
    assert result.slots.dates == (date(2026, 11, 25),)
