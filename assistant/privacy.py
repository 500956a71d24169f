"""Find and mask personal data in free text, before it reaches a log line or a handoff summary.

What is found, and the mask that replaces it (the scheme is a contract: `[<kind>]`):

| kind          | mask            | what                                                              |
|---------------|-----------------|-------------------------------------------------------------------|
| `national_id` | `[national_id]` | Danish CPR, Swedish personnummer / samordningsnummer, Norwegian   |
|               |                 | fødselsnummer / D-nummer, Finnish henkilötunnus                   |
| `phone`       | `[phone]`       | numbers the `phonenumbers` library finds valid: with `+`/`00`     |
|               |                 | for any country; written nationally for DK, NO (eight digits) and |
|               |                 | SE, FI (with the trunk prefix 0)                                  |
| `email`       | `[email]`       | e-mail addresses                                                  |
| `card`        | `[card]`        | payment card numbers: 13-19 digits, spaces or dashes, Luhn        |
| `iban`        | `[iban]`        | IBANs of every registry country: length table and ISO 13616 mod-97 |

Every number is checked before it is masked (dates, check digits, Luhn, mod-97, phone number
plans), so postcodes, amounts, dates and order numbers that fail the checks stay readable.
Valid tracking ids (UPU S10, GS1 SSCC; `assistant.tracking_ids`) are never masked even when their
digits would pass another check: an 18-digit SSCC can pass Luhn, and the agent needs the id.

Choices worth knowing:
- Danish CPR numbers have not all satisfied modulus 11 since 2007 (the CPR office ran out of
  numbers for some dates), so a ten-digit `DDMMYY-SSSS` with a real date is masked whether or not
  it passes modulus 11. The price is that a ten-digit order number starting with a valid date is
  masked too; in a log or summary that costs little, while a leaked CPR number costs a lot.
- Names and street addresses are not pattern-shaped and are not found here: code that holds them
  as structured fields (the carrier's recipient) must leave those fields out, not rely on this.
- When two readings overlap, the stronger one wins: a tracking id, then an e-mail address, an
  IBAN, a card, a national id with a check digit or a separator, a phone number, and last a bare
  ten-digit CPR without modulus 11 (a Swedish mobile like 0701234567 is also a valid CPR date).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal, TypeVar, cast

import phonenumbers

from assistant.tracking_ids import find_tracking_ids, is_valid_tracking_id

__all__ = [
    "KINDS",
    "Finding",
    "Kind",
    "Redactor",
    "find_personal_data",
    "iban_is_valid",
    "luhn_is_valid",
    "redact",
    "redact_data",
]

T = TypeVar("T")
Kind = Literal["national_id", "phone", "email", "card", "iban"]
KINDS: tuple[Kind, ...] = ("national_id", "phone", "email", "card", "iban")


@dataclass(frozen=True)
class Finding:
    """A piece of `text[start:end]` that is personal data of `kind`.

    `scheme` says which rule recognised it: `dk_cpr`, `se_personnummer`, `se_samordningsnummer`,
    `no_fodselsnummer`, `no_d_nummer`, `fi_hetu`, the phone's region (`DK`, or `intl`), the
    IBAN's country, `luhn` for cards, `address` for e-mail.
    """

    kind: Kind
    start: int
    end: int
    text: str
    scheme: str

    @property
    def mask(self) -> str:
        return f"[{self.kind}]"


# Priorities for overlapping readings; lower wins.
_P_EMAIL, _P_IBAN, _P_CARD, _P_ID, _P_PHONE, _P_WEAK_ID = range(6)

_B = r"(?<![\w+])"  # no letter, digit or `+` right before
_E = r"(?![\w])"  # no letter or digit right after (`(?!\w)` also excludes `_`)

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")

_IBAN = re.compile(rf"{_B}([A-Za-z]{{2}}\d{{2}}(?: ?[A-Za-z0-9]){{11,32}})")
_IBAN_START = re.compile(rf"{_B}[A-Za-z]{{2}}\d{{2}}")

_CARD = re.compile(rf"{_B}([1-9](?:[ -]?\d){{12,18}}){_E}")

# Ten digits with an optional separator: Danish CPR and Swedish short personnummer.
_TEN = re.compile(rf"{_B}(\d{{6}})([-+ ]?)(\d{{4}}){_E}")
# Swedish personnummer with the century: YYYYMMDD-NNNC.
_SE_LONG = re.compile(rf"{_B}((?:18|19|20)\d{{6}})(-?)(\d{{4}}){_E}")
# Norwegian fødselsnummer: DDMMYY IIIKK, eleven digits.
_NO = re.compile(rf"{_B}(\d{{6}}) ?(\d{{5}}){_E}")
# Finnish henkilötunnus: DDMMYY, century sign, three digits, check character.
_FI = re.compile(
    rf"{_B}(\d{{6}})([-+ABCDEFYXWVU])(\d{{3}})([0-9ABCDEFHJKLMNPRSTUVWXY]){_E}", re.IGNORECASE
)

# Phone candidates: an optional `+`/`00`, then 7-17 digits in groups separated by a space, dash,
# slash or parentheses. Dots are left out on purpose: they make dates and amounts.
_PHONE = re.compile(rf"{_B}((?:\+|\(\+?)?\d(?:(?:[ \-/]|\) ?| ?\()?\d){{5,17}}){_E}")
_DATE_SHAPE = re.compile(
    r"^(?:\d{4}[-/]\d{1,2}[-/]\d{1,2}|\d{1,2}[-/]\d{1,2}[-/]\d{2,4}|\d{1,2}/\d{1,2}|"
    r"\d{1,2}-\d{1,2})$"
)
_PHONE_REGIONS = ("DK", "SE", "NO", "FI")
_DIGIT_RUN = re.compile(r"\d+")

_FI_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_FI_CENTURY = {"+": 1800, "-": 1900, "Y": 1900, "X": 1900, "W": 1900, "V": 1900, "U": 1900}
_FI_CENTURY.update(dict.fromkeys("ABCDEF", 2000))
_CPR_WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
_NO_K1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_NO_K2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

# IBAN lengths from the SWIFT IBAN registry (release 2024), all countries.
_IBAN_LENGTHS: Mapping[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def luhn_is_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by payment cards and Swedish personnummer."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_is_valid(iban: str) -> bool:
    """ISO 13616: a registry country, its exact length, and the mod-97 check equal to 1."""
    iban = iban.replace(" ", "").upper()
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum() or not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _cpr_year(yy: int, seventh: int) -> int:
    # The CPR office's century rule: the first digit of the sequence number picks the century.
    if seventh <= 3:
        return 1900 + yy
    if seventh in (4, 9):
        return 2000 + yy if yy <= 36 else 1900 + yy
    return 2000 + yy if yy <= 57 else 1800 + yy


def _cpr(digits: str) -> tuple[bool, bool]:
    """(a real CPR date, passes modulus 11) for ten digits DDMMYYSSSS."""
    day, month, yy = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    if not _real_date(_cpr_year(yy, int(digits[6])), month, day):
        return False, False
    mod11 = sum(int(d) * w for d, w in zip(digits, _CPR_WEIGHTS, strict=True)) % 11 == 0
    return True, mod11


def _se_short(digits: str) -> str | None:
    """The scheme of a valid ten-digit Swedish number YYMMDDNNNC, else None."""
    if not luhn_is_valid(digits):
        return None
    yy, month, day = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    scheme = "se_personnummer"
    if day > 60:
        day, scheme = day - 60, "se_samordningsnummer"
    if any(_real_date(century + yy, month, day) for century in (1900, 2000)):
        return scheme
    return None


def _se_long(digits: str) -> str | None:
    """The scheme of a valid twelve-digit Swedish number YYYYMMDDNNNC, else None."""
    if not luhn_is_valid(digits[2:]):
        return None
    year, month, day = int(digits[0:4]), int(digits[4:6]), int(digits[6:8])
    scheme = "se_personnummer"
    if day > 60:
        day, scheme = day - 60, "se_samordningsnummer"
    return scheme if _real_date(year, month, day) else None


def _no_year(yy: int, individual: int) -> int | None:
    if individual <= 499:
        return 1900 + yy
    if individual <= 749 and yy >= 54:
        return 1800 + yy
    if yy <= 39:
        return 2000 + yy
    if individual >= 900:
        return 1900 + yy
    return None


def _no(digits: str) -> str | None:
    """The scheme of a valid Norwegian fødselsnummer or D-nummer (eleven digits), else None."""
    k1 = 11 - sum(int(d) * w for d, w in zip(digits[:9], _NO_K1, strict=True)) % 11
    k2 = 11 - sum(int(d) * w for d, w in zip(digits[:10], _NO_K2, strict=True)) % 11
    if (k1 % 11, k2 % 11) != (int(digits[9]), int(digits[10])) or 10 in (k1, k2):
        return None
    day, month, yy = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    scheme = "no_fodselsnummer"
    if day > 40:
        day, scheme = day - 40, "no_d_nummer"
    if month > 40:  # H-nummer (health service auxiliary numbers)
        month -= 40
    year = _no_year(yy, int(digits[6:9]))
    return scheme if year is not None and _real_date(year, month, day) else None


def _fi(head: str, sign: str, serial: str, check: str) -> bool:
    sign, check = sign.upper(), check.upper()
    day, month, yy = int(head[0:2]), int(head[2:4]), int(head[4:6])
    if not _real_date(_FI_CENTURY[sign] + yy, month, day) or int(serial) < 2:
        return False
    return _FI_CHECK[int(head + serial) % 31] == check


Window = tuple[int, int]


def _windows(text: str) -> tuple[list[Window], list[Window]]:
    """Stretches of `text` around its numbers, where every detector but e-mail looks.

    Scanning 2,000 characters once per pattern costs far more than scanning them once for digits:
    each pattern then runs only inside these windows. Digit runs less than 13 characters apart
    (an IBAN's letter groups, a phone number's separators) share a window, and every window is
    widened to whole words and a leading `+` or `(`, so the patterns' boundary checks see the
    real neighbours. Also returns the unbroken digit runs that are valid SSCCs: those are
    protected even where a number right before them hides them from `find_tracking_ids`.
    """
    runs = [m.span() for m in _DIGIT_RUN.finditer(text)]
    if not runs:
        return [], []
    ssccs = [
        (s, e)
        for s, e in runs
        if e - s in (18, 20)
        and is_valid_tracking_id(text[s:e] if e - s == 20 else "00" + text[s:e])
    ]
    merged: list[list[int]] = [list(runs[0])]
    for s, e in runs[1:]:
        if s - merged[-1][1] <= 12:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    windows: list[Window] = []
    n = len(text)
    for s, e in merged:
        # Four more characters each side take in the letters of a spaced-out tracking id
        # ("RR 361 920 561 SE"), so that it is recognised, and protected, inside the window.
        s, e = max(0, s - 4), min(n, e + 4)
        while s > 0 and (text[s - 1].isalnum() or text[s - 1] == "_"):
            s -= 1
        while s > 0 and text[s - 1] in "+(":
            s -= 1
        while e < n and (text[e].isalnum() or text[e] == "_"):
            e += 1
        if windows and s <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(e, windows[-1][1]))
        else:
            windows.append((s, e))
    return windows, ssccs


def _scan(pattern: re.Pattern[str], text: str, windows: list[Window]) -> Iterator[re.Match[str]]:
    for s, e in windows:
        yield from pattern.finditer(text, s, e)


def _national_ids(text: str, windows: list[Window]) -> Iterator[tuple[int, Finding]]:
    for m in _scan(_FI, text, windows):
        if _fi(*m.groups()):
            yield _P_ID, Finding("national_id", *m.span(), m.group(0), "fi_hetu")
    for m in _scan(_SE_LONG, text, windows):
        scheme = _se_long(m.group(1) + m.group(3))
        if scheme:
            yield _P_ID, Finding("national_id", *m.span(), m.group(0), scheme)
    for m in _scan(_NO, text, windows):
        scheme = _no(m.group(1) + m.group(2))
        if scheme:
            yield _P_ID, Finding("national_id", *m.span(), m.group(0), scheme)
    for m in _scan(_TEN, text, windows):
        digits, separated = m.group(1) + m.group(3), bool(m.group(2))
        se = _se_short(digits) if m.group(2) in ("", "-", "+") else None
        real_date, mod11 = _cpr(digits) if m.group(2) != "+" else (False, False)
        if se:
            yield _P_ID, Finding("national_id", *m.span(), m.group(0), se)
        elif real_date:
            strong = mod11 or separated
            priority = _P_ID if strong else _P_WEAK_ID
            yield priority, Finding("national_id", *m.span(), m.group(0), "dk_cpr")


def _emails(text: str) -> Iterator[tuple[int, Finding]]:
    at = text.find("@")
    n = len(text)
    while at != -1:
        s, e = at, at
        while s > 0 and not text[s - 1].isspace():
            s -= 1
        while e < n and not text[e].isspace():
            e += 1
        for m in _EMAIL.finditer(text, s, e):
            yield _P_EMAIL, Finding("email", *m.span(), m.group(0), "address")
        at = text.find("@", e)


def _ibans(text: str, windows: list[Window]) -> Iterator[tuple[int, Finding]]:
    # Only the start has to lie in a window: a letter group can carry an IBAN past its end.
    starts = [m.start() for m in _scan(_IBAN_START, text, windows)]
    for m in filter(None, (_IBAN.match(text, start) for start in starts)):
        country = m.group(1)[:2].upper()
        length = _IBAN_LENGTHS.get(country)
        if length is None:
            continue
        # The pattern runs on greedily (into a following word); cut it at the country's length.
        count, end = 0, m.start(1)
        for i in range(m.start(1), m.end(1)):
            if text[i] != " ":
                count += 1
                if count == length:
                    end = i + 1
                    break
        if count != length or (end < len(text) and text[end].isalnum()):
            continue
        candidate = text[m.start(1) : end]
        if iban_is_valid(candidate):
            yield _P_IBAN, Finding("iban", m.start(1), end, candidate, country)


def _group_windows(
    text: str, start: int, end: int, min_digits: int, max_digits: int, trim: bool = False
) -> Iterator[tuple[int, int, str]]:
    """Runs of whole digit groups inside text[start:end], longest first.

    With `trim`, also the runs that leave out up to two groups at either end, but only where the
    groups left out are set off differently from the groups kept: "tlf 22345678 8000 Aarhus"
    holds a phone number, while "4571 1234 5678 9012" (a card failing Luhn) or an IBAN's digits
    hold no phone number in their first eight digits.
    """
    groups = [m.span() for m in _DIGIT_RUN.finditer(text, start, end)]
    n = len(groups)
    seps = [text[groups[k][1] : groups[k + 1][0]] for k in range(n - 1)]
    spans = [(i, j) for i in range(min(3, n)) for j in range(n, max(i, n - 3), -1)]
    spans.sort(key=lambda w: (w[0] - w[1], w[0]))
    for i, j in spans:
        if (i, j) != (0, n):
            if not trim:
                continue
            inner, cut = set(seps[i : j - 1]), set(seps[:i] + seps[j - 1 :])
            if inner & cut:
                continue
        s, e = groups[i][0], groups[j - 1][1]
        # A `+` or `(` right before the first group belongs to the number.
        while s > start and text[s - 1] in "+(":
            s -= 1
        digits = "".join(text[a:b] for a, b in groups[i:j])
        if min_digits <= len(digits) <= max_digits:
            yield s, e, digits


def _cards(text: str, windows: list[Window]) -> Iterator[tuple[int, Finding]]:
    for m in _scan(_CARD, text, windows):
        for s, e, digits in _group_windows(text, m.start(1), m.end(1), 13, 19, trim=True):
            if digits[0] != "0" and luhn_is_valid(digits):
                yield _P_CARD, Finding("card", s, e, text[s:e], "luhn")
                break


def _phone_regions(candidate: str, digits: str) -> Iterable[str | None]:
    if candidate.startswith(("+", "(+")):
        return (None,)
    if digits.startswith("00"):
        return ("DK",)  # 00 is the international prefix in all four countries
    # Swedish and Finnish numbers written nationally start with the trunk prefix 0; without it
    # phonenumbers would also accept them bare, and every eight-digit order number would match.
    if digits.startswith("0"):
        return ("SE", "FI")
    return ("DK", "NO") if len(digits) == 8 else ()


def _phone_region(candidate: str, digits: str) -> str | None:
    for region in _phone_regions(candidate, digits):
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            if region is None or (region == "DK" and digits.startswith("00")):
                return "intl"
            return phonenumbers.region_code_for_number(number) or region
    return None


def _free(start: int, end: int, taken: bytearray) -> bool:
    return 1 not in taken[start:end]


def _spares(finding: Finding, protected: list[Window]) -> bool:
    """False when `finding` cuts into a tracking id; one that wholly contains it (an IBAN whose
    digits happen to form a valid SSCC, an e-mail address built on an id) still counts."""
    return all(
        finding.end <= s
        or finding.start >= e
        or (finding.start <= s and finding.end >= e and finding.end - finding.start > e - s)
        for s, e in protected
    )


def _take(start: int, end: int, taken: bytearray) -> None:
    taken[start:end] = b"\x01" * (end - start)


def _phones(text: str, windows: list[Window], taken: bytearray) -> Iterator[Finding]:
    """Phone numbers; parts of the text already `taken` by a stronger reading are not parsed."""
    for m in _scan(_PHONE, text, windows):
        for s, e, digits in _group_windows(text, m.start(1), m.end(1), 7, 17, trim=True):
            candidate = text[s:e]
            if not _free(s, e, taken) or _DATE_SHAPE.match(candidate):
                continue
            region = _phone_region(candidate, digits)
            if region:
                yield Finding("phone", s, e, candidate, region)
                break


class Redactor:
    """Finds personal data of the chosen kinds and masks it.

    Args:
        keep: kinds to leave unmasked (say `{"email"}` where the customer's own contact address
            is the point of the text). Everything else in `KINDS` is masked.
    """

    def __init__(self, keep: Iterable[Kind] = ()) -> None:
        keep = frozenset(keep)
        unknown = keep - set(KINDS)
        if unknown:
            raise ValueError(f"unknown kinds to keep: {sorted(unknown)}; known: {list(KINDS)}")
        self._kinds = frozenset(KINDS) - keep

    def find(self, text: str) -> list[Finding]:
        """Every piece of personal data in `text`, in order, without overlaps."""
        windows, ssccs = _windows(text)
        candidates: list[tuple[int, Finding]] = []
        if "email" in self._kinds and "@" in text:
            candidates.extend(_emails(text))
        if not windows and not candidates:
            return []
        if "iban" in self._kinds:
            candidates.extend(_ibans(text, windows))
        if "card" in self._kinds:
            candidates.extend(_cards(text, windows))
        if "national_id" in self._kinds:
            candidates.extend(_national_ids(text, windows))
        protected = [
            (s + m.start, s + m.end)
            for s, e in windows
            for m in find_tracking_ids(text[s:e])
            if m.valid
        ] + ssccs
        # One byte per character: 1 where a stronger reading (or a tracking id) holds the text.
        taken = bytearray(len(text))
        # Stronger readings first; among equals the longer, then the earlier.
        candidates.sort(key=lambda pf: (pf[0], pf[1].start - pf[1].end, pf[1].start))
        chosen: list[Finding] = []
        for priority, finding in candidates:
            if (
                priority < _P_PHONE
                and _free(finding.start, finding.end, taken)
                and _spares(finding, protected)
            ):
                _take(finding.start, finding.end, taken)
                chosen.append(finding)
        for s, e in protected:
            if _free(s, e, taken):
                _take(s, e, taken)
        if "phone" in self._kinds:
            for finding in _phones(text, windows, taken):
                if _free(finding.start, finding.end, taken):
                    _take(finding.start, finding.end, taken)
                    chosen.append(finding)
        for priority, finding in candidates:
            if priority > _P_PHONE and _free(finding.start, finding.end, taken):
                _take(finding.start, finding.end, taken)
                chosen.append(finding)
        return sorted(chosen, key=lambda f: f.start)

    def redact(self, text: str) -> str:
        """`text` with every finding replaced by its mask, e.g. `ring [phone]`."""
        findings = self.find(text)
        if not findings:
            return text
        parts: list[str] = []
        last = 0
        for f in findings:
            parts.append(text[last : f.start])
            parts.append(f.mask)
            last = f.end
        parts.append(text[last:])
        return "".join(parts)


_DEFAULT = Redactor()


def find_personal_data(text: str) -> list[Finding]:
    """Every piece of personal data in `text` (all kinds), in order, without overlaps."""
    return _DEFAULT.find(text)


def redact(text: str) -> str:
    """`text` with personal data masked as `[national_id]`, `[phone]`, `[email]`, `[card]`, `[iban]`."""
    return _DEFAULT.redact(text)


def redact_data(value: T) -> T:
    """`value` with every string inside it (dicts, lists, tuples, nested) redacted; keys are kept."""
    if isinstance(value, str):
        return cast("T", redact(value))
    if isinstance(value, Mapping):
        return cast("T", {k: redact_data(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return cast("T", type(value)(redact_data(v) for v in value))
    return value
