"""The web pages the API serves: chat page and widget, help articles, content-owner page, agent console.

Everything is plain HTML, CSS and JavaScript from `api/static/` (no build step, no CDN: the
pages must work on an offline machine). The one server-side rendering is the help article at
`/help/<lang>/<article-id>`: the Markdown file from the help-centre content folder, its front
matter stripped, rendered with markdown-it with raw HTML escaped, so an article can never
inject markup into the page.

Paths are never built from what the caller typed: the language must be one of the five and
the article id must match `[a-z0-9-]+`, else the answer is a 404 problem.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response
from markdown_it import MarkdownIt

from api.problems import problem_response
from assistant.settings import Settings, get_settings
from knowledge.readers import Article, read_content, read_file

__all__ = ["LANGUAGES", "STATIC_DIR", "render_article", "router"]

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
LANGUAGES: Final = ("da", "sv", "nb", "fi", "en")
_ARTICLE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")

# Only these files are served, each with its media type: nothing else in the folder leaks.
_ASSETS: Final = {
    "widget.js": "text/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
    "pages.css": "text/css; charset=utf-8",
    "keyed.js": "text/javascript; charset=utf-8",
    "admin.js": "text/javascript; charset=utf-8",
    "agent.js": "text/javascript; charset=utf-8",
}
_PAGES: Final = {"/": "index.html", "/admin": "admin.html", "/agent": "agent.html"}

# The pages load scripts and styles from this origin only; the widget's API calls go to the
# same origin on these pages (a host page embedding widget.js sets its own policy).
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

_LANGUAGE_NAMES: Final = {
    "da": "Dansk",
    "sv": "Svenska",
    "nb": "Norsk (bokmål)",
    "fi": "Suomi",
    "en": "English",
}

# The few words of the help pages, per language.
_WORDS: Final[dict[str, dict[str, str]]] = {
    "da": {
        "centre": "Budbringer hjælpecenter",
        "all": "Alle hjælpeartikler",
        "other": "Artiklen findes også på",
        "updated": "Opdateret",
        "chat": "Skriv med os",
        "articles": "Hjælpeartikler",
    },
    "sv": {
        "centre": "Budbringer hjälpcenter",
        "all": "Alla hjälpartiklar",
        "other": "Artikeln finns också på",
        "updated": "Uppdaterad",
        "chat": "Chatta med oss",
        "articles": "Hjälpartiklar",
    },
    "nb": {
        "centre": "Budbringer hjelpesenter",
        "all": "Alle hjelpeartikler",
        "other": "Artikkelen finnes også på",
        "updated": "Oppdatert",
        "chat": "Chat med oss",
        "articles": "Hjelpeartikler",
    },
    "fi": {
        "centre": "Budbringer ohjekeskus",
        "all": "Kaikki ohjeartikkelit",
        "other": "Artikkeli on saatavilla myös kielillä",
        "updated": "Päivitetty",
        "chat": "Keskustele kanssamme",
        "articles": "Ohjeartikkelit",
    },
    "en": {
        "centre": "Budbringer help centre",
        "all": "All help articles",
        "other": "This article is also in",
        "updated": "Updated",
        "chat": "Chat with us",
        "articles": "Help articles",
    },
}

# CommonMark with raw HTML off: `<script>` in an article is shown as text, never run.
# markdown-it's link validation also drops javascript:, vbscript: and data: links.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def _settings(request: Request) -> Settings:
    settings: Settings | None = getattr(request.app.state, "settings", None)
    return settings or get_settings()


def _not_found(request: Request, detail: str) -> Response:
    return problem_response(404, "not_found", detail, request.url.path)


def _page(name: str) -> FileResponse:
    return FileResponse(
        STATIC_DIR / name, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS
    )


@router.get("/")
async def chat_page() -> FileResponse:
    """The customer chat, full page."""
    return _page(_PAGES["/"])


@router.get("/admin")
async def admin_page() -> FileResponse:
    """The content owners' page: articles, reindex, rollback."""
    return _page(_PAGES["/admin"])


@router.get("/agent")
async def agent_page() -> FileResponse:
    """The agent console: handoff queue, transcript, claim, reply, resolve, cases."""
    return _page(_PAGES["/agent"])


@router.get("/widget.js")
async def widget_script() -> FileResponse:
    """The embeddable chat widget (see the comment at the top of the file for how to embed it)."""
    return _asset("widget.js")


@router.get("/static/{name}")
async def static_asset(request: Request, name: str) -> Response:
    if name not in _ASSETS:
        return _not_found(request, f"no asset {name!r}")
    return _asset(name)


def _asset(name: str) -> FileResponse:
    # Cross-origin pages embed the widget: its script and style may be loaded from anywhere.
    return FileResponse(
        STATIC_DIR / name,
        media_type=_ASSETS[name],
        headers={
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Access-Control-Allow-Origin": "*",
        },
    )


def _article_path(root: Path, language: str, article_id: str) -> Path | None:
    """The Markdown file of an article, or None when the names are not ones we serve."""
    if language not in LANGUAGES or not _ARTICLE_ID.fullmatch(article_id):
        return None
    return root / language / f"{article_id}.md"


def _read_article(root: Path, language: str, article_id: str) -> Article | None:
    path = _article_path(root, language, article_id)
    if path is None or not path.is_file():
        return None
    try:
        article = read_file(path, root)
    except (ValueError, OSError) as exc:
        log.warning("help article %s/%s cannot be shown: %s", language, article_id, exc)
        return None
    return article


def render_article(root: Path, language: str, article_id: str) -> str | None:
    """The help page of one article as HTML, or None when there is no such article."""
    article = _read_article(root, language, article_id)
    if article is None:
        return None
    words = _WORDS[language]
    others = [
        other
        for other in LANGUAGES
        if other != language and _read_article(root, other, article_id) is not None
    ]
    switcher = ""
    if others:
        links = "".join(
            f'<li><a href="/help/{o}/{article_id}" hreflang="{o}" lang="{o}">'
            f"{html.escape(_LANGUAGE_NAMES[o])}</a></li>"
            for o in others
        )
        switcher = (
            f'<nav class="bb-langs" aria-label="{html.escape(words["other"])}">'
            f"<p>{html.escape(words['other'])}:</p><ul>{links}</ul></nav>"
        )
    updated = ""
    if article.updated is not None:
        updated = (
            f'<p class="bb-updated">{html.escape(words["updated"])} '
            f'<time datetime="{article.updated.isoformat()}">{article.updated.isoformat()}'
            "</time></p>"
        )
    body = _MARKDOWN.render(article.body)
    main = (
        f'<article data-article-id="{article_id}">'
        f"<h1>{html.escape(article.title)}</h1>{updated}{body}</article>{switcher}"
    )
    return _document(language, article.title, words, main)


def render_index(root: Path, language: str) -> str | None:
    """The list of a language's help articles, or None for an unknown language."""
    if language not in LANGUAGES:
        return None
    words = _WORDS[language]
    folder = root / language
    articles = (
        sorted(
            (a for a in read_content(folder).articles if _ARTICLE_ID.fullmatch(a.id)),
            key=lambda a: a.title.casefold(),
        )
        if folder.is_dir()
        else []
    )
    items = "".join(
        f'<li><a href="/help/{language}/{a.id}">{html.escape(a.title)}</a></li>' for a in articles
    )
    others = "".join(
        f'<li><a href="/help/{o}" hreflang="{o}" lang="{o}">{html.escape(_LANGUAGE_NAMES[o])}</a></li>'
        for o in LANGUAGES
        if o != language
    )
    main = (
        f'<h1>{html.escape(words["articles"])}</h1><ul class="bb-articles">{items}</ul>'
        f'<nav class="bb-langs" aria-label="{html.escape(_LANGUAGE_NAMES[language])}">'
        f"<ul>{others}</ul></nav>"
    )
    return _document(language, words["articles"], words, main, back=False)


def _document(
    language: str, title: str, words: dict[str, str], main: str, *, back: bool = True
) -> str:
    back_link = (
        f'<a class="bb-back" href="/help/{language}">← {html.escape(words["all"])}</a>'
        if back
        else f'<a class="bb-back" href="/">← {html.escape(words["chat"])}</a>'
    )
    return (
        "<!doctype html>"
        f'<html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · {html.escape(words['centre'])}</title>"
        '<link rel="stylesheet" href="/static/pages.css"></head>'
        f'<body class="bb-help"><header class="bb-site"><p class="bb-brand">'
        f"{html.escape(words['centre'])}</p>{back_link}</header>"
        f'<main id="main">{main}</main></body></html>'
    )


@router.get("/help/{language}/{article_id}")
async def help_article(request: Request, language: str, article_id: str) -> Response:
    """One help-centre article, rendered from its Markdown file."""
    root = _settings(request).resolved_knowledge_dir
    page = await run_in_threadpool(render_article, root, language, article_id)
    if page is None:
        return _not_found(request, f"no help article {article_id!r} in language {language!r}")
    return HTMLResponse(page, headers=_PAGE_HEADERS)


@router.get("/help/{language}")
async def help_index(request: Request, language: str) -> Response:
    """Every help-centre article of one language."""
    page = await run_in_threadpool(
        render_index, _settings(request).resolved_knowledge_dir, language
    )
    if page is None:
        return _not_found(request, f"no help centre in language {language!r}")
    return HTMLResponse(page, headers=_PAGE_HEADERS)
