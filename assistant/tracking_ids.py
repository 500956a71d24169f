"""Find, normalise and check tracking ids in free text.

Two formats (DESIGN §3):
- UPU S10: two letters, an eight-digit serial, a mod-11 check digit, a two-letter country
  (`RR361920561SE`). Weights 8 6 4 2 3 5 9 7; check = 11 - sum mod 11, with 10 -> 0 and 11 -> 5.
  That last rule means S10 cannot catch every single-digit error: a change that moves the sum
  between remainders 0 and 6 keeps check digit 5 (a blind spot of the standard, tested as such).
- GS1 SSCC with its application identifier: `00` + 17 digits + a mod-10 check digit (20 digits).
  Customers often leave out the `00`; an 18-digit number that passes the SSCC check is accepted.

Customers type ids with spaces, dashes, dots, lower case, after "nr." or "#", inside a sentence,
several at a time. `find_tracking_ids` returns every candidate with its verdict; for one that
fails its check digit, `corrections` lists the valid ids one typo away (a single changed digit or
two swapped neighbours) and `suggestion` names the correction when exactly one exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "TrackingIdMatch",
    "corrections_for",
    "find_tracking_ids",
    "is_valid_tracking_id",
    "normalize_tracking_id",
    "s10_check_digit",
    "sscc_check_digit",
    "validate_tracking_id",
]

Kind = Literal["s10", "sscc", "foreign"]

_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_SEP = r"[\s\-.]?"
_S10_TEXT = re.compile(
    rf"(?<![A-Za-z0-9])([A-Za-z]{{2}}){_SEP}((?:\d{_SEP}){{8}}\d){_SEP}([A-Za-z]{{2}})(?![A-Za-z0-9])"
)
_DIGITS_TEXT = re.compile(r"(?<![0-9A-Za-z])(?:\(00\)\s?)?(\d(?:[\s\-.]?\d){9,21})(?![0-9])")
_FOREIGN = (
    ("UPS", re.compile(r"\b1Z[0-9A-Z]{16}\b", re.IGNORECASE)),
    ("DHL", re.compile(r"\bJJD\d{10,20}\b", re.IGNORECASE)),
)
_S10_SHAPE = re.compile(r"^[A-Z]{2}\d{9}[A-Z]{2}$")
_SSCC_SHAPE = re.compile(r"^00\d{18}$")


def s10_check_digit(serial: str) -> int:
    """The UPU S10 check digit of an eight-digit serial number."""
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError("an S10 serial has exactly eight digits")
    remainder = sum(int(d) * w for d, w in zip(serial, _S10_WEIGHTS, strict=True)) % 11
    check = 11 - remainder
    return {10: 0, 11: 5}.get(check, check)


def sscc_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of the 17 data digits of an SSCC."""
    if len(body) != 17 or not body.isdigit():
        raise ValueError("an SSCC has 17 data digits before its check digit")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def validate_tracking_id(tracking_id: str) -> str | None:
    """None when `tracking_id` is a valid, normalised id; otherwise what is wrong with it."""
    if _S10_SHAPE.match(tracking_id):
        if int(tracking_id[10]) != s10_check_digit(tracking_id[2:10]):
            return f"{tracking_id}: S10 check digit does not match"
        return None
    if _SSCC_SHAPE.match(tracking_id):
        if int(tracking_id[19]) != sscc_check_digit(tracking_id[2:19]):
            return f"{tracking_id}: SSCC check digit does not match"
        return None
    return f"{tracking_id!r} is neither an S10 id (AA123456789SE) nor an SSCC (00 + 18 digits)"


def is_valid_tracking_id(tracking_id: str) -> bool:
    return validate_tracking_id(tracking_id) is None


def normalize_tracking_id(text: str) -> str | None:
    """The one id in `text`, normalised, if it holds exactly one valid id; else None."""
    valid = [m.normalized for m in find_tracking_ids(text) if m.valid]
    return valid[0] if len(set(valid)) == 1 else None


@dataclass(frozen=True)
class TrackingIdMatch:
    """A tracking-id-shaped piece of text and what we make of it."""

    raw: str
    normalized: str
    kind: Kind
    valid: bool
    start: int
    end: int
    corrections: tuple[str, ...] = field(default=())
    carrier: str | None = None  # for `foreign`: whose id it looks like

    @property
    def suggestion(self) -> str | None:
        """The correction, when exactly one single typo turns this into a valid id."""
        return self.corrections[0] if len(self.corrections) == 1 else None


def _typo_variants(digits: str) -> set[str]:
    variants: set[str] = set()
    for i, ch in enumerate(digits):
        for d in "0123456789":
            if d != ch:
                variants.add(digits[:i] + d + digits[i + 1 :])
    for i in range(len(digits) - 1):
        if digits[i] != digits[i + 1]:
            variants.add(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])
    return variants


def corrections_for(tracking_id: str) -> tuple[str, ...]:
    """Valid ids one typo (single digit or adjacent transposition) away, sorted."""
    if _S10_SHAPE.match(tracking_id):
        head, digits, tail = tracking_id[:2], tracking_id[2:11], tracking_id[11:]
        candidates = {head + v + tail for v in _typo_variants(digits)}
    elif _SSCC_SHAPE.match(tracking_id):
        candidates = {"00" + v for v in _typo_variants(tracking_id[2:])}
    else:
        return ()
    return tuple(sorted(c for c in candidates if is_valid_tracking_id(c)))


def _match(raw: str, normalized: str, kind: Kind, start: int, end: int) -> TrackingIdMatch:
    valid = is_valid_tracking_id(normalized)
    return TrackingIdMatch(
        raw=raw,
        normalized=normalized,
        kind=kind,
        valid=valid,
        start=start,
        end=end,
        corrections=() if valid else corrections_for(normalized),
    )


def find_tracking_ids(text: str) -> list[TrackingIdMatch]:
    """Every tracking-id-shaped piece of `text`, in order of appearance, without duplicates."""
    found: list[TrackingIdMatch] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for carrier, pattern in _FOREIGN:
        for m in pattern.finditer(text):
            taken.append(m.span())
            found.append(
                TrackingIdMatch(
                    m.group(0), m.group(0).upper(), "foreign", False, *m.span(), carrier=carrier
                )
            )
    for m in _S10_TEXT.finditer(text):
        if not free(*m.span()):
            continue
        normalized = (m.group(1) + re.sub(r"\D", "", m.group(2)) + m.group(3)).upper()
        taken.append(m.span())
        found.append(_match(m.group(0), normalized, "s10", *m.span()))
    for m in _DIGITS_TEXT.finditer(text):
        if not free(*m.span()):
            continue
        digits = re.sub(r"\D", "", m.group(1))
        if m.group(0).startswith("(00)"):
            digits = "00" + digits
        if len(digits) == 18 and is_valid_tracking_id("00" + digits):
            digits = "00" + digits
        if len(digits) != 20 or not digits.startswith("00"):
            continue
        taken.append(m.span())
        found.append(_match(m.group(0), digits, "sscc", *m.span()))

    found.sort(key=lambda match: match.start)
    unique: list[TrackingIdMatch] = []
    seen: set[str] = set()
    for match in found:
        if match.normalized not in seen:
            seen.add(match.normalized)
            unique.append(match)
    return unique
