"""Helpers shared by the knowledge tests (a uniquely named module, unlike `conftest`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "knowledge" / "content"

LOREM = {
    "en": (
        "You can return a parcel at any service point. Print the label from the shop and "
        "attach it to the box. Keep the receipt until the shop has refunded you. The return "
        "label is valid for thirty days, and the drop-off is free of charge for you."
    ),
    "da": (
        "Du kan sende en pakke retur i enhver pakkeshop. Print labelen fra butikken og sæt den "
        "på kassen. Gem kvitteringen, indtil butikken har refunderet dig. Returlabelen er gyldig "
        "i tredive dage, og indleveringen er gratis for dig."
    ),
}

WriteArticle = Callable[..., Path]


def article_md(article_id: str, language: str, title: str, body: str, tags: str = "[test]") -> str:
    return (
        f"---\nid: {article_id}\ntitle: {title}\nlanguage: {language}\ntags: {tags}\n"
        f"updated: 2026-10-01\n---\n{body}\n"
    )


def long_body(language: str, sections: int = 3) -> str:
    parts = [LOREM[language] * 2]
    for n in range(sections):
        parts.append(f"## Section {n + 1}\n{LOREM[language]} {LOREM[language]}")
    return "\n\n".join(parts)
