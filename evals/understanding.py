"""Scoring of offline language understanding against `evals/datasets/utterances.jsonl`.

Each row is one customer message with what a careful reader takes from it (see the dataset's
fields in `EvalRow`). Scoring compares a `Predicted` per row; `predict` makes one with the
`Understander`. Definitions:

- **intent accuracy**: a row is right when the *set* of predicted intent names equals the gold
  set. No intent and `unknown` are the same answer (an empty set counts as `{"unknown"}`): a bare
  slot answer ("8000" when the postcode was asked for) has no intent of its own.
  `intent_sequence_accuracy` also demands the same order.
- **complaint category accuracy**: over rows whose gold has a `complaint`; right when a predicted
  complaint carries the same category (`None` when the message names none).
- **redirect kind accuracy**: the same for `redirect` and its `redirect_kind`.
- **language accuracy**: overall and on messages of at least three words (a word is a
  whitespace-separated token with a letter in it; tracking ids do not count).
- **slots**: micro precision/recall/F1 over (slot, value) pairs: each valid tracking id
  (normalised), postcode, date, and the choice, email and phone. Ids that fail their check digit
  are left out on both sides. `correction_of` is scored separately, on rows that name one.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from assistant.understanding import Lang, Understander, Understanding

__all__ = [
    "DATASET",
    "EvalRow",
    "Predicted",
    "from_understanding",
    "load_rows",
    "predict",
    "score",
    "slot_pairs",
    "word_count",
]

DATASET = Path(__file__).resolve().parent / "datasets" / "utterances.jsonl"
LANGUAGES = ("da", "sv", "nb", "fi", "en")

SlotPair = tuple[str, str]


@dataclass(frozen=True)
class EvalRow:
    """One labelled message.

    `conversation_language` is the language the conversation already had (None for a first
    message); `intents` holds dicts with `name` and, for complaints and redirects, `category` or
    `redirect_kind`.
    """

    id: str
    language: str
    text: str
    now: datetime
    intents: tuple[dict[str, Any], ...]
    slots: dict[str, Any]
    conversation_language: str | None = None
    expecting: str | None = None
    offered: tuple[str, ...] = ()
    country: str | None = None


@dataclass(frozen=True)
class Predicted:
    """What the system made of one row, in the dataset's terms."""

    language: str
    intents: tuple[tuple[str, str | None, str | None], ...]  # (name, category, redirect_kind)
    slots: dict[str, Any] = field(default_factory=dict)


def load_rows(path: Path = DATASET) -> list[EvalRow]:
    rows: list[EvalRow] = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            raw = json.loads(line)
            try:
                rows.append(
                    EvalRow(
                        id=raw["id"],
                        language=raw["language"],
                        text=raw["text"],
                        now=datetime.fromisoformat(raw["now"]),
                        intents=tuple(raw["intents"]),
                        slots=raw["slots"],
                        conversation_language=raw.get("conversation_language"),
                        expecting=raw.get("expecting"),
                        offered=tuple(raw.get("offered") or ()),
                        country=raw.get("country"),
                    )
                )
            except KeyError as exc:
                raise ValueError(f"{path}:{line_no}: missing field {exc}") from exc
    return rows


_WORD = re.compile(r"\S+")
_LETTER = re.compile(r"[^\W\d_]")


def word_count(text: str) -> int:
    """Whitespace-separated tokens with a letter, not counting tracking-id-like tokens."""
    count = 0
    for token in _WORD.findall(text):
        if _LETTER.search(token) and sum(c.isdigit() for c in token) < 4:
            count += 1
    return count


def slot_pairs(slots: dict[str, Any]) -> set[SlotPair]:
    pairs: set[SlotPair] = set()
    for name in ("tracking_ids", "postcodes", "dates"):
        for value in slots.get(name) or ():
            pairs.add((name, str(value)))
    for name in ("choice", "email", "phone"):
        value = slots.get(name)
        if value is not None:
            pairs.add((name, str(value)))
    return pairs


def _intent_names(intents: Iterable[str]) -> frozenset[str]:
    names = frozenset(intents)
    return names or frozenset({"unknown"})


def _gold_names(row: EvalRow) -> list[str]:
    return [str(i["name"]) for i in row.intents]


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _ratio(right: int, total: int) -> float | None:
    return round(right / total, 4) if total else None


def score(rows: Sequence[EvalRow], predictions: Sequence[Predicted]) -> dict[str, Any]:
    """Every figure of the module docstring, overall and per language, plus the errors."""
    if len(rows) != len(predictions):
        raise ValueError("one prediction per row")
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    confusion: Counter[tuple[str, str]] = Counter()
    language_confusion: Counter[tuple[str, str]] = Counter()
    slot_errors: Counter[str] = Counter()
    errors: list[dict[str, Any]] = []
    for row, pred in zip(rows, predictions, strict=True):
        groups = ("all", row.language)
        gold_names = _gold_names(row)
        pred_names = [name for name, _, _ in pred.intents]
        intent_ok = _intent_names(gold_names) == _intent_names(pred_names)
        sequence_ok = (gold_names or ["unknown"]) == (pred_names or ["unknown"])
        lang_ok = pred.language == row.language
        long_message = word_count(row.text) >= 3
        gold_pairs = slot_pairs(row.slots)
        pred_pairs = slot_pairs(pred.slots)
        tp, fp, fn = (
            len(gold_pairs & pred_pairs),
            len(pred_pairs - gold_pairs),
            len(gold_pairs - pred_pairs),
        )
        for pair in pred_pairs ^ gold_pairs:
            slot_errors[pair[0]] += 1
        for group in groups:
            t = totals[group]
            t["rows"] += 1
            t["intent_ok"] += intent_ok
            t["sequence_ok"] += sequence_ok
            t["lang_ok"] += lang_ok
            t["long"] += long_message
            t["long_lang_ok"] += long_message and lang_ok
            t["slot_tp"] += tp
            t["slot_fp"] += fp
            t["slot_fn"] += fn
            for gold in row.intents:
                name = gold["name"]
                if name not in ("complaint", "redirect"):
                    continue
                key = "category" if name == "complaint" else "redirect_kind"
                position = 1 if name == "complaint" else 2
                wanted = gold.get(key)
                got = [p[position] for p in pred.intents if p[0] == name]
                t[f"{name}_rows"] += 1
                t[f"{name}_ok"] += bool(got) and got[0] == wanted
            if "correction_of" in row.slots:
                t["correction_rows"] += 1
                t["correction_ok"] += pred.slots.get("correction_of") == row.slots["correction_of"]
        if not intent_ok:
            confusion[("+".join(gold_names) or "-", "+".join(pred_names) or "-")] += 1
        if not lang_ok:
            language_confusion[(row.language, pred.language)] += 1
        if not (intent_ok and lang_ok and not fp and not fn):
            errors.append(
                {
                    "id": row.id,
                    "text": row.text,
                    "gold": {"language": row.language, "intents": gold_names},
                    "predicted": {"language": pred.language, "intents": pred_names},
                    "slots_missing": sorted(gold_pairs - pred_pairs),
                    "slots_extra": sorted(pred_pairs - gold_pairs),
                }
            )

    def figures(t: Counter[str]) -> dict[str, Any]:
        return {
            "rows": t["rows"],
            "intent_accuracy": _ratio(t["intent_ok"], t["rows"]),
            "intent_sequence_accuracy": _ratio(t["sequence_ok"], t["rows"]),
            "complaint_category_accuracy": _ratio(t["complaint_ok"], t["complaint_rows"]),
            "redirect_kind_accuracy": _ratio(t["redirect_ok"], t["redirect_rows"]),
            "language_accuracy": _ratio(t["lang_ok"], t["rows"]),
            "language_accuracy_3plus_words": _ratio(t["long_lang_ok"], t["long"]),
            "rows_3plus_words": t["long"],
            "slots": _prf(t["slot_tp"], t["slot_fp"], t["slot_fn"]),
            "correction_of_accuracy": _ratio(t["correction_ok"], t["correction_rows"]),
        }

    report = figures(totals["all"])
    report["per_language"] = {lang: figures(totals[lang]) for lang in LANGUAGES if totals[lang]}
    report["intent_confusions"] = [
        {"gold": g, "predicted": p, "count": n} for (g, p), n in confusion.most_common(15)
    ]
    report["language_confusions"] = [
        {"gold": g, "predicted": p, "count": n} for (g, p), n in language_confusion.most_common()
    ]
    report["slot_errors_by_slot"] = dict(slot_errors.most_common())
    report["errors"] = errors
    return report


def from_understanding(understanding: Understanding) -> Predicted:
    """The dataset's view of an `Understanding`: valid ids only, dates as ISO strings."""
    slots = understanding.slots
    return Predicted(
        language=understanding.language,
        intents=tuple(
            (
                i.name,
                i.category.value if i.category is not None else None,
                i.redirect_kind,
            )
            for i in understanding.intents
            if i.name != "unknown"
        ),
        slots={
            "tracking_ids": [m.normalized for m in slots.tracking_ids if m.valid],
            "postcodes": list(slots.postcodes),
            "dates": [d.isoformat() for d in slots.dates],
            "choice": slots.choice,
            "email": slots.email,
            "phone": slots.phone,
            "correction_of": slots.correction_of,
        },
    )


def predict(understander: Understander, row: EvalRow) -> Predicted:
    return from_understanding(
        understander.understand(
            row.text,
            conversation_language=cast("Lang | None", row.conversation_language),
            country=row.country,
            now=row.now,
            offered=row.offered,
            expecting=row.expecting,
        )
    )
