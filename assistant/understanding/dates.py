"""Dates in customer messages, in five languages, as absolute dates relative to "today".

Rules (documented because customers and tests rely on them):
- a weekday on its own or with "på/on/next/næste/nästa/neste/ensi" is its first occurrence
  *after* today ("fredag" on a Friday is next week's Friday);
- "i fredags"/"i måndags" (Danish/Swedish) and "last/sidste/förra/forrige/viime <weekday>" are
  the latest occurrence *before* today;
- "i dag", "i morgen", "i overmorgen", "i går" and their spellings (imorgon, huomenna,
  ylihuomenna, tomorrow, day after tomorrow, ...);
- numeric day/month ("28/11", "28.11.", "28.11.2026"): the year that puts it nearest to today;
- "den 28.", "28:e", "the 28th": that day in this month if it is still to come, else next month;
- "28 november", "28. november", "november 28(th)", "28. marraskuuta".
Habitual forms ("om lørdagen", "på lördagar", "lauantaisin", "on saturdays") are not dates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from assistant.understanding.patterns import load_yaml

__all__ = ["FoundDate", "find_dates"]


@dataclass(frozen=True, slots=True)
class FoundDate:
    value: date
    start: int
    end: int


@dataclass(frozen=True)
class _Lexicon:
    weekdays: dict[str, int]
    past_weekdays: dict[str, int]
    months: dict[str, int]
    relative: dict[str, int]
    next_words: frozenset[str]
    last_words: frozenset[str]
    pattern: re.Pattern[str]


_UNITS = r"(?:kg|g|cm|mm|m|kr|dkk|sek|nok|eur|€|%|l|liter|km)(?!\w)"


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


@cache
def _lexicon() -> _Lexicon:
    data = load_yaml("dates.yaml")
    weekdays = {w: int(n) for n, words in data["weekdays"].items() for w in words}
    past = {w: int(n) for n, words in data["past_weekdays"].items() for w in words}
    months = {w: int(n) for n, words in data["months"].items() for w in words}
    relative = {w: int(n) for n, words in data["relative"].items() for w in words}
    next_words = frozenset(data["next"])
    last_words = frozenset(data["last"])
    day = r"(?:[12]\d|3[01]|0?[1-9])"
    month_names = _alternation(list(months))
    pattern = re.compile(
        rf"""
        (?P<rel>(?<!\w)(?:{_alternation(list(relative))})(?!\w))
      | (?:(?P<mod>(?<!\w)(?:{_alternation(list(next_words | last_words))})\s+))?
        (?P<wd>(?<!\w)(?:{_alternation(list(weekdays) + list(past))})(?!\w))
      | (?<![\w./-])(?P<nd>{day})\s*[/.]\s*(?P<nm>1[0-2]|0?[1-9])
        (?:(?P<ndot>\.)(?!\d)|[/.](?P<ny>(?:20)?\d\d)(?!\d)|(?![\d.,/]))(?!\s*{_UNITS})
      | (?<![\w./-])(?P<dd>{day})(?:\.|:e|st|nd|rd|th)?\s*(?:of\s+)?(?P<dm>{month_names})(?!\w)
      | (?<!\w)(?P<mm>{month_names})\s+(?P<md>{day})(?:st|nd|rd|th)?(?![\w])
      | (?:(?<!\w)(?:den|the|on\s+the)\s+)(?P<od>{day})(?:\.|:e|st|nd|rd|th)(?!\w|\.\d)
        (?!\s*(?:{month_names})(?!\w))
      | (?<![\w./-])(?P<sd>{day})(?::e|st|nd|rd|th)(?!\w)
        """,
        re.IGNORECASE | re.VERBOSE,
    )
    return _Lexicon(weekdays, past, months, relative, next_words, last_words, pattern)


def _safe(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _nearest_year(today: date, month: int, day: int) -> date | None:
    candidates = [
        d for y in (today.year - 1, today.year, today.year + 1) if (d := _safe(y, month, day))
    ]
    return min(candidates, key=lambda d: abs((d - today).days)) if candidates else None


def _day_of_month(today: date, day: int) -> date | None:
    if day >= today.day:
        return _safe(today.year, today.month, day)
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return _safe(year, month, day)


def _weekday(today: date, weekday: int, *, past: bool) -> date:
    if past:
        return today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def find_dates(text: str, today: date) -> list[FoundDate]:
    """Every date expression in `text`, in order, resolved against `today`."""
    lex = _lexicon()
    found: list[FoundDate] = []
    for m in lex.pattern.finditer(text):
        value: date | None = None
        groups = m.groupdict()
        if groups["rel"]:
            value = today + timedelta(days=lex.relative[_norm(groups["rel"])])
        elif groups["wd"]:
            word = groups["wd"].lower()
            modifier = (groups["mod"] or "").strip().lower()
            if word in lex.past_weekdays:
                value = _weekday(today, lex.past_weekdays[word], past=True)
            else:
                value = _weekday(today, lex.weekdays[word], past=modifier in lex.last_words)
        elif groups["nd"]:
            day, month = int(groups["nd"]), int(groups["nm"])
            if groups["ny"]:
                year = int(groups["ny"])
                value = _safe(year + 2000 if year < 100 else year, month, day)
            else:
                value = _nearest_year(today, month, day)
        elif groups["dm"] or groups["mm"]:
            month = lex.months[(groups["dm"] or groups["mm"]).lower()]
            value = _nearest_year(today, month, int(groups["dd"] or groups["md"]))
        elif groups["od"] or groups["sd"]:
            value = _day_of_month(today, int(groups["od"] or groups["sd"]))
        if value is not None:
            found.append(FoundDate(value, m.start(), m.end()))
    return found


def _norm(phrase: str) -> str:
    return " ".join(phrase.lower().split())
