"""Grounding check for generated replies: no figure or place name the sources do not hold.

`grounding_check(reply, sources)` lists what in `reply` no source supports; an empty list means
grounded. Sources are the tool results, the cited passages and the customer's own words (strings,
or JSON-like dicts and lists whose values are read). Offline and deterministic, so evals reuse it.

What is checked, in the five languages (da, sv, nb, fi, en):
- numbers and amounts, whatever the notation: 5000 = 5 000 = 5.000, 9,90 = 9.90,
  6 990,00 kr = 6990.0 SEK; digit runs such as phone numbers; percentages against 0-1 ratios;
- currencies: "kr" is any of DKK/SEK/NOK, "€"/"euro" is EUR, codes are themselves;
- dates as `assistant.replies.Formatter` writes them ("tirsdag den 24. november",
  "tiistai 24. marraskuuta", "Tuesday 24 November", "24.11.", "2026-11-24"), with a weekday
  that must fit the date; weekday names on their own; times ("14:05", "kl. 8.00");
- identifiers (tracking ids, case ids): letters and digits mixed;
- place names, approximated as capitalised words that do not start a sentence and are not in a
  small per-language list of words written with a capital (I, Budbringer, ID, formal De/Ni).

Not checked: numbers written as words, relative days ("tomorrow"), claims without figures or
names ("your parcel was redirected"). Those are what the flow engine and the offline reply are for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from zoneinfo import ZoneInfo

from babel.dates import get_day_names, get_month_names

__all__ = ["CAPITALISED_WORDS", "grounding_check", "identifiers"]

_LOCALES = ("da_DK", "sv_SE", "nb_NO", "fi_FI", "en_GB")

# Words written with a capital in the middle of a sentence that are not places.
_COMMON = "budbringer ok id sms pin qr eu"


def _words(text: str) -> frozenset[str]:
    return frozenset(f"{text} {_COMMON}".split())


CAPITALISED_WORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "i i'm i've i'll i'd faq mr mrs ms dr app english danish swedish norwegian finnish"
    ),
    "da": _words("de dem deres mitid nemid"),
    "sv": _words("ni er ert era bankid"),
    "nb": _words("de dem deres bankid"),
    "fi": _words("te teitä teille teidän"),
}
_ALLOWED = frozenset(word for words in CAPITALISED_WORDS.values() for word in words)

_KR = frozenset({"DKK", "SEK", "NOK"})
_CURRENCY = re.compile(
    r"(?<!\w)(kr\.?|kroner|kronor|dkr|skr|nkr|dkk|sek|nok|eur|€|euro[a-z]*)(?![^\W\d_])",
    re.IGNORECASE,
)
_CODE_BEFORE_DIGIT = re.compile(r"(?i)(?<![A-Za-z])(dkk|sek|nok|eur|dkr|kr)(?=\d)")
_ISO_MOMENT = re.compile(
    r"(?<!\d)\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
# Tool results carry instants; replies show them in the recipient's zone (`Formatter`).
_ZONES = tuple(
    ZoneInfo(z)
    for z in ("Europe/Copenhagen", "Europe/Stockholm", "Europe/Oslo", "Europe/Helsinki", "UTC")
)
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_NUMERIC_DATE = re.compile(
    r"(?<![\d.,:])(\d{1,2})\.(\d{1,2})\.(\d{4})?(?!\d)|(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?(?![\d/])"
)
_FIGURE = re.compile(r"(?<![\w])\+?\d+(?:(?:[.,:']|[ \u00a0\u202f])\d+)*")
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})(?::\d{2})?$")
_ID = re.compile(r"(?<![\w-])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?![\w-])")
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_LIST_MARKER = re.compile(r"(?m)^\s*(?:\d{1,2}[.)]|[-*•])\s")
_OPENERS = "\"'“”‘’«»„([*-•–—"


@dataclass(frozen=True)
class _Calendar:
    months: dict[str, int]
    weekdays: dict[str, int]
    month_re: str  # a month name in any of the five languages, possibly inflected
    weekday_re: str


@cache
def _calendar() -> _Calendar:
    months: dict[str, int] = {}
    weekdays: dict[str, int] = {}
    for locale in _LOCALES:
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in get_month_names(width, context, locale).items():
                    key = name.rstrip(".").casefold()
                    if len(key) >= 3:
                        months.setdefault(key, number)
            # Abbreviated weekdays ("to", "ma") collide with ordinary words: wide names only.
            for number, name in get_day_names("wide", context, locale).items():
                weekdays.setdefault(name.casefold(), number)

    def alternation(names: Iterable[str]) -> str:
        return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))

    # Long names take inflections ("marraskuussa", "Mondays"); short ones ("des", "mai", "mar")
    # only as whole words, so "destination" or "mail" after a number is not a date.
    long_months = [n for n in months if len(n) >= 5]
    short_months = [n for n in months if len(n) < 5]
    month_re = (
        rf"(?:{alternation(long_months)})[a-zäöå]*|(?:{alternation(short_months)})\.?(?![a-zäöå])"
    )
    return _Calendar(months, weekdays, month_re, rf"(?:{alternation(weekdays)})[a-zäöå]*")


@cache
def _textual_dates() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    cal = _calendar()
    weekday = rf"(?:(?P<wd>{cal.weekday_re}),?\s+(?:den\s+)?)?"
    day_month = re.compile(
        rf"(?<!\w){weekday}(?P<d>\d{{1,2}})\.?\s+(?:de\s+)?(?P<m>{cal.month_re})"
        rf"(?:\s+(?P<y>\d{{4}}))?(?!\w)",
        re.IGNORECASE,
    )
    month_day = re.compile(
        rf"(?<!\w){weekday}(?P<m>{cal.month_re})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?"
        rf"(?:,?\s+(?P<y>\d{{4}}))?(?!\w)",
        re.IGNORECASE,
    )
    lone_weekday = re.compile(rf"(?<!\w)(?P<wd>{cal.weekday_re})(?!\w)", re.IGNORECASE)
    return day_month, month_day, lone_weekday


def _month(name: str) -> int | None:
    folded = name.casefold().rstrip(".")
    months = _calendar().months
    for key in sorted(months, key=len, reverse=True):
        if folded.startswith(key):
            return months[key]
    return None


def _weekday(name: str) -> int | None:
    folded = name.casefold()
    weekdays = _calendar().weekdays
    for key in sorted(weekdays, key=len, reverse=True):
        if folded.startswith(key):
            return weekdays[key]
    return None


@dataclass(frozen=True)
class _Date:
    span: tuple[int, int]
    shown: str
    month: int
    day: int
    year: int | None = None
    weekday: int | None = None


def _dates(text: str) -> list[_Date]:
    """Every date in `text`, at most one per stretch of characters."""
    found: list[_Date] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, m: int | None, d: int, y: int | None, wd: int | None) -> None:
        if m is None or not 1 <= m <= 12 or not 1 <= d <= 31:
            return
        if any(start < e and end > s for s, e in taken):
            return
        taken.append((start, end))
        found.append(_Date((start, end), text[start:end], m, d, y, wd))

    for iso in _ISO_DATE.finditer(text):
        add(*iso.span(), int(iso[2]), int(iso[3]), int(iso[1]), None)
    day_month, month_day, _ = _textual_dates()
    for pattern in (day_month, month_day):
        for match in pattern.finditer(text):
            wd = _weekday(match["wd"]) if match["wd"] else None
            year = int(match["y"]) if match["y"] else None
            add(*match.span(), _month(match["m"]), int(match["d"]), year, wd)
    for match in _NUMERIC_DATE.finditer(text):
        d, m, y = (match[1], match[2], match[3]) if match[1] else (match[4], match[5], match[6])
        year = int(y) if y and len(y) == 4 else None
        add(*match.span(), int(m), int(d), year, None)
    return found


def _mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _numbers(token: str) -> set[Decimal]:
    """The values a written number can mean: 5.000 is 5000 or 5; 6 990,00 is 6990."""
    body = token.lstrip("+")
    parts = re.split(r"([.,' \u00a0\u202f])", body)
    groups, seps = parts[0::2], parts[1::2]
    values: set[Decimal] = set()

    def number(text: str) -> None:
        try:
            values.add(Decimal(text))
        except InvalidOperation:
            return

    if not seps:
        number(body)
        return values
    if all(len(g) == 3 for g in groups[1:]) and len(set(seps)) == 1:
        number("".join(groups))
    last = seps[-1]
    if last in ".," and all(len(g) == 3 for g in groups[1:-1]) and last not in seps[:-1]:
        number("".join(groups[:-1]) + "." + groups[-1])
    return values


@dataclass(frozen=True)
class _Figure:
    shown: str
    time: str | None
    numbers: frozenset[Decimal]
    digits: str


def _figures(text: str) -> list[_Figure]:
    figures = []
    for match in _FIGURE.finditer(text):
        token = match.group(0).strip()
        time = None
        clock = _TIME.match(token)
        if clock and int(clock[1]) < 24 and int(clock[2]) < 60:
            time = f"{int(clock[1]):02d}:{clock[2]}"
        numbers = frozenset() if ":" in token else frozenset(_numbers(token))
        figures.append(_Figure(token, time, numbers, re.sub(r"\D", "", token)))
    return figures


def _currencies(mention: str) -> set[str]:
    folded = mention.casefold().rstrip(".")
    if folded in ("kr", "kroner", "kronor"):
        return set(_KR)
    if folded == "€" or folded.startswith("euro") or folded == "eur":
        return {"EUR"}
    return {{"dkr": "DKK", "skr": "SEK", "nkr": "NOK"}.get(folded, folded.upper())}


def _ids(text: str) -> list[re.Match[str]]:
    return [
        m
        for m in _ID.finditer(text)
        if len(m[0]) >= 6
        and sum(c.isdigit() for c in m[0]) >= 2
        and sum(c.isalpha() for c in m[0]) >= 2
    ]


def identifiers(text: str) -> list[str]:
    """Tracking ids, case ids and the like in `text`: tokens mixing letters and digits."""
    return [m[0] for m in _ids(_prepare(text))]


def _flatten(sources: Iterable[object]) -> Iterator[str]:
    for source in sources:
        if source is None:
            continue
        if isinstance(source, str):
            yield source
        elif isinstance(source, Mapping):
            yield from _flatten(source.values())
        elif isinstance(source, list | tuple | set | frozenset):
            yield from _flatten(source)
        else:
            yield str(source)


def _prepare(text: str) -> str:
    return _CODE_BEFORE_DIGIT.sub(r"\1 ", text)


@dataclass
class _Known:
    """Everything the sources state, normalised."""

    numbers: set[Decimal] = field(default_factory=set)
    times: set[str] = field(default_factory=set)
    digits: set[str] = field(default_factory=set)
    dates: set[tuple[int, int]] = field(default_factory=set)
    full_dates: set[date] = field(default_factory=set)
    weekdays: set[int] = field(default_factory=set)
    currencies: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, sources: Iterable[object]) -> _Known:
        known = cls()
        for raw in _flatten(sources):
            text = _prepare(raw)
            for found in _dates(text):
                known.dates.add((found.month, found.day))
                if found.year is not None:
                    try:
                        day = date(found.year, found.month, found.day)
                    except ValueError:
                        continue
                    known.full_dates.add(day)
                    known.weekdays.add(day.weekday())
                if found.weekday is not None:
                    known.weekdays.add(found.weekday)
            for match in _textual_dates()[2].finditer(text):
                if (weekday := _weekday(match["wd"])) is not None:
                    known.weekdays.add(weekday)
            for moment in _ISO_MOMENT.finditer(text):
                known.add_moment(moment[0])
            for figure in _figures(text):
                known.numbers |= figure.numbers
                known.numbers |= {n * 100 for n in figure.numbers if 0 < n <= 1}
                known.digits.add(figure.digits)
                if figure.time:
                    known.times.add(figure.time)
                    if figure.time.endswith(":00"):
                        known.numbers.add(Decimal(int(figure.time[:2])))
            for match in _CURRENCY.finditer(text):
                known.currencies |= _currencies(match[0])
            known.ids |= {m[0].casefold() for m in _ids(text)}
            known.words |= {w.casefold() for w in _WORD.findall(text)}
        return known

    def add_moment(self, iso: str) -> None:
        """An ISO instant: its local date and time as written, and in each Nordic zone."""
        try:
            moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        except ValueError:
            return
        local = [moment] if moment.tzinfo is None else [moment.astimezone(z) for z in _ZONES]
        if moment.minute == 0:
            self.numbers.add(Decimal(moment.hour))  # "kl. 9" for 09:00 as written
        for shown in [moment, *local]:
            self.times.add(f"{shown.hour:02d}:{shown.minute:02d}")
            self.dates.add((shown.month, shown.day))
            self.full_dates.add(shown.date())
            self.weekdays.add(shown.weekday())

    def has_digits(self, digits: str) -> bool:
        if len(digits) >= 6:
            return any(digits in d for d in self.digits)
        return digits in self.digits


def _sentence_initial(text: str, start: int) -> bool:
    i = start
    while i > 0 and (text[i - 1].isspace() or text[i - 1] in _OPENERS):
        if text[i - 1] == "\n":
            return True
        i -= 1
    return i == 0 or text[i - 1] in ".!?:;…"


def grounding_check(reply: str, sources: Iterable[object]) -> list[str]:
    """What in `reply` no source supports (numbers, amounts, dates, times, ids, places)."""
    known = _Known.of(sources)
    text = _prepare(reply)
    problems: list[str] = []

    ids = _ids(text)
    for match in ids:
        if match[0].casefold() not in known.ids:
            problems.append(f"identifier {match[0]!r} is in no source")
    text = _mask(text, [m.span() for m in ids])

    dates = _dates(text)
    for found in dates:
        if (found.month, found.day) not in known.dates:
            clock = _TIME.match(found.shown.strip().rstrip("."))
            if clock and f"{int(clock[1]):02d}:{clock[2]}" in known.times:
                continue  # "klo 14.05." ends a sentence with a time, not 14 May
            problems.append(f"date {found.shown!r} is in no source")
            continue
        candidates = {d for d in known.full_dates if (d.month, d.day) == (found.month, found.day)}
        if found.year is not None and candidates and found.year not in {d.year for d in candidates}:
            problems.append(f"year of {found.shown!r} is in no source")
        if (
            found.weekday is not None
            and candidates
            and found.weekday not in {d.weekday() for d in candidates}
        ):
            problems.append(f"weekday of {found.shown!r} does not fit the date")
    text = _mask(text, [d.span for d in dates])

    weekday_spans = []
    for match in _textual_dates()[2].finditer(text):
        weekday_spans.append(match.span())
        weekday = _weekday(match["wd"])
        if weekday is not None and weekday not in known.weekdays:
            problems.append(f"weekday {match[0]!r} is in no source")
    text = _mask(text, weekday_spans)

    currencies = list(_CURRENCY.finditer(text))
    for match in currencies:
        if not _currencies(match[0]) & known.currencies:
            problems.append(f"currency {match[0]!r} is in no source")
    text = _mask(text, [m.span() for m in currencies])

    markers = [m.span() for m in _LIST_MARKER.finditer(text)]
    for figure in _figures(_mask(text, markers)):
        if figure.time and figure.time in known.times:
            continue
        if figure.numbers & known.numbers:
            continue
        if len(figure.digits) >= 6 and known.has_digits(figure.digits):
            continue
        if not figure.numbers and not figure.time and known.has_digits(figure.digits):
            continue
        kind = "time" if figure.time and not figure.numbers else "number"
        problems.append(f"{kind} {figure.shown!r} is in no source")

    months = _calendar().months
    for match in _WORD.finditer(text):
        word = match[0]
        if not word[0].isupper() or _sentence_initial(text, match.start()):
            continue
        folded = re.sub(r"['’]s$", "", word.casefold())  # Budbringer's
        if folded in _ALLOWED or folded.rstrip(".") in months or folded in known.words:
            continue
        parts = re.split(r"['’\-]", folded)
        if len(parts) > 1 and all(p in known.words or p in _ALLOWED for p in parts):
            continue
        problems.append(f"name {word!r} is in no source")
    return problems
