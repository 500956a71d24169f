"""Readers: Markdown with front matter, HTML, plain text, and every kind of bad file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from knowledge_testkit import WriteArticle, article_md

from knowledge.readers import MAX_FILE_BYTES, read_content


def _reasons(content_dir: Path) -> dict[str, str]:
    return {s.path: s.reason for s in read_content(content_dir).skipped}


def test_markdown_front_matter_becomes_an_article(
    write_article: WriteArticle, content_dir: Path
) -> None:
    write_article("returns", "en", title="How do I return a parcel?")
    result = read_content(content_dir)
    assert result.skipped == []
    (article,) = result.articles
    assert (article.id, article.language, article.title) == (
        "returns",
        "en",
        "How do I return a parcel?",
    )
    assert article.tags == ("test",)
    assert article.updated == date(2026, 10, 1)
    assert article.source_path == "en/returns.md"


def test_bad_files_are_reported_and_valid_ones_still_read(
    write_article: WriteArticle, content_dir: Path
) -> None:
    write_article("returns", "en")
    (content_dir / "en" / "no-front-matter.md").write_text("# Just a heading\nSome text.\n")
    (content_dir / "en" / "klingon.md").write_text(article_md("klingon", "tlh", "Qapla", "Text"))
    (content_dir / "da").mkdir()
    (content_dir / "da" / "broken.md").write_bytes(
        article_md("broken", "da", "Pakke", "Æble").encode("utf-8").replace("Æ".encode(), b"\xc6")
    )
    (content_dir / "en" / "empty.md").write_text("")
    (content_dir / "en" / "huge.md").write_text(
        article_md("huge", "en", "Huge", "word " * (MAX_FILE_BYTES // 4))
    )
    (content_dir / "en" / "copy.md").write_text(article_md("returns", "en", "Again", "Dup text"))
    (content_dir / "en" / "notes.docx").write_bytes(b"PK\x03\x04")

    result = read_content(content_dir)
    reasons = {s.path: s.reason for s in result.skipped}
    assert [a.key for a in result.articles] == ["en/returns"]
    assert "no front matter" in reasons["en/no-front-matter.md"]
    assert "unknown language 'tlh'" in reasons["en/klingon.md"]
    assert "not valid UTF-8" in reasons["da/broken.md"]
    assert reasons["en/empty.md"] == "file is empty"
    assert "limit is 1 MB" in reasons["en/huge.md"]
    assert (
        "duplicate id 'returns' in language en (already in en/returns.md)" in reasons["en/copy.md"]
    )
    assert "unsupported file type .docx" in reasons["en/notes.docx"]


def test_same_id_in_two_languages_is_not_a_duplicate(
    write_article: WriteArticle, content_dir: Path
) -> None:
    write_article("returns", "en")
    write_article("returns", "da")
    assert sorted(a.key for a in read_content(content_dir).articles) == ["da/returns", "en/returns"]


def test_html_title_id_and_language(content_dir: Path) -> None:
    (content_dir / "sv").mkdir()
    (content_dir / "sv" / "Öppettider Kundtjänst.html").write_text(
        "<html lang='sv'><head><title>Öppettider</title><style>p{}</style></head><body>"
        "<h1>Ignored heading</h1><p>Vi har öppet <b>varje dag</b>.</p>"
        "<h2>Telefon</h2><ul><li>Vardagar 08:00-20:00</li></ul><script>x()</script></body></html>",
        encoding="utf-8",
    )
    (content_dir / "misc").mkdir()
    (content_dir / "misc" / "faq.html").write_text(
        "<html lang='nb-NO'><body><h1>Ofte stilte spørsmål</h1><p>Svar her.</p></body></html>",
        encoding="utf-8",
    )
    articles = {a.key: a for a in read_content(content_dir).articles}
    swedish = articles["sv/oppettider-kundtjanst"]
    assert swedish.title == "Öppettider"
    assert "Vi har öppet varje dag." in swedish.body
    assert "## Telefon" in swedish.body and "- Vardagar 08:00-20:00" in swedish.body
    assert "x()" not in swedish.body and "p{}" not in swedish.body
    norwegian = articles["nb/faq"]
    assert norwegian.title == "Ofte stilte spørsmål"


def test_plain_text_title_from_first_line_and_language_from_folder(content_dir: Path) -> None:
    (content_dir / "fi").mkdir()
    (content_dir / "fi" / "aukioloajat.txt").write_text("Aukioloajat\n\nOlemme auki joka päivä.\n")
    (content_dir / "no-language.txt").write_text("Title\nBody\n")
    result = read_content(content_dir)
    (article,) = result.articles
    assert (article.id, article.language, article.title) == ("aukioloajat", "fi", "Aukioloajat")
    assert article.body == "Olemme auki joka päivä."
    assert "unknown language" in _reasons(content_dir)["no-language.txt"]


def test_content_hash_changes_with_content_only(
    write_article: WriteArticle, content_dir: Path
) -> None:
    write_article("returns", "en", body="First body text.")
    first = read_content(content_dir).articles[0].content_hash
    assert read_content(content_dir).articles[0].content_hash == first
    write_article("returns", "en", body="Second body text.")
    assert read_content(content_dir).articles[0].content_hash != first
