"""The message catalogue: every reply the assistant writes, in five languages.

No reply text lives in graph code: nodes name a key and pass facts, already taken from tool
results; this module picks the language's phrasing and formats dates, times and amounts for the
customer's locale and time zone (Babel's CLDR data).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from babel.dates import format_date, format_time
from babel.numbers import format_currency

from assistant.domain import COUNTRY_TIMEZONE

__all__ = ["LANGUAGES", "LANGUAGE_NAMES", "LOCALES", "Catalogue", "Formatter"]

LANGUAGES = ("da", "sv", "nb", "fi", "en")
LANGUAGE_NAMES = {
    "da": "Danish",
    "sv": "Swedish",
    "nb": "Norwegian Bokmål",
    "fi": "Finnish",
    "en": "English",
}
LOCALES = {"da": "da_DK", "sv": "sv_SE", "nb": "nb_NO", "fi": "fi_FI", "en": "en_GB"}
_FOLDER = Path(__file__).resolve().parent / "catalogue"
_PLACEHOLDER = re.compile(r"{(\w+)}")


class Catalogue:
    """Replies by key and language, loaded once from `assistant/catalogue/<lang>.yaml`."""

    def __init__(self, folder: Path = _FOLDER) -> None:
        self._entries: dict[str, dict[str, str | list[str]]] = {}
        for language in LANGUAGES:
            raw = yaml.safe_load((folder / f"{language}.yaml").read_text(encoding="utf-8"))
            self._entries[language] = raw

    def keys(self, language: str = "en") -> list[str]:
        return list(self._entries[language])

    def placeholders(self, key: str, language: str) -> set[str]:
        value = self._entries[language][key]
        text = value if isinstance(value, str) else " ".join(value)
        return set(_PLACEHOLDER.findall(text))

    def has(self, key: str) -> bool:
        return key in self._entries["en"]

    def render(self, key: str, language: str, variant: int = 0, **values: Any) -> str:
        """The reply `key` in `language`, alternative `variant`, with `values` filled in.

        A missing placeholder is a programming error and raises `KeyError`.
        """
        entry = self._entries.get(language, self._entries["en"]).get(key)
        if entry is None:
            raise KeyError(f"no reply {key!r} in the catalogue")
        template = entry if isinstance(entry, str) else entry[variant % len(entry)]
        return string.Formatter().vformat(template, (), _Strict(values))


class _Strict(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        raise KeyError(f"reply needs a value for {{{key}}}")


class Formatter:
    """Dates, times and amounts as the customer reads them, in their language and time zone."""

    def __init__(self, language: str, country: str | None = None) -> None:
        self.language = language
        self.locale = LOCALES.get(language, "en_GB")
        self.zone = ZoneInfo(COUNTRY_TIMEZONE.get(country or "", _default_zone(language)))

    def day(self, value: date | str) -> str:
        """'Tuesday 24 November' / 'tirsdag den 24. november' / 'tiistai 24. marraskuuta'."""
        day = date.fromisoformat(value) if isinstance(value, str) else value
        pattern = {
            "da": "EEEE 'den' d. MMMM",
            "nb": "EEEE d. MMMM",
            "sv": "EEEE 'den' d MMMM",
            "fi": "cccc d. MMMM",
            "en": "EEEE d MMMM",
        }
        return format_date(day, pattern[self.language], locale=self.locale)

    def moment(self, value: datetime | str) -> str:
        """A past event's time, local: '20 November at 14:05'."""
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        local = moment.astimezone(self.zone)
        day = format_date(
            local.date(),
            {"fi": "d. MMMM", "da": "d. MMMM", "nb": "d. MMMM"}.get(self.language, "d MMMM"),
            locale=self.locale,
        )
        at = {"da": "kl.", "nb": "kl.", "sv": "kl.", "fi": "klo", "en": "at"}[self.language]
        return f"{day} {at} {format_time(local.time(), 'HH:mm', locale=self.locale)}"

    def clock(self, value: datetime | str) -> str:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return format_time(moment.astimezone(self.zone).time(), "HH:mm", locale=self.locale)

    def money(self, amount: float, currency: str) -> str:
        return format_currency(amount, currency, locale=self.locale)

    def values(self, raw: Mapping[str, Any]) -> dict[str, str]:
        return {k: str(v) for k, v in raw.items()}


def _default_zone(language: str) -> str:
    return {
        "da": "Europe/Copenhagen",
        "sv": "Europe/Stockholm",
        "nb": "Europe/Oslo",
        "fi": "Europe/Helsinki",
    }.get(language, "Europe/Copenhagen")


@cache
def default_catalogue() -> Catalogue:
    return Catalogue()
