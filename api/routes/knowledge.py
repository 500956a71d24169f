"""Content owners' routes (admin key): the articles, reindex jobs, rollback."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import AdminKey, ClientLimit, ContainerDep, JsonBody
from api.jobs import Job, JobRegistry
from api.problems import body_problems, problem_responses
from api.schemas import (
    Article,
    ArticleList,
    JobAccepted,
    JobProgress,
    JobPublic,
    ReindexCreate,
    RollbackPublic,
    TopicCoverage,
)
from knowledge.readers import read_content

__all__ = ["list_articles", "router"]

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"], dependencies=[ClientLimit])

LANGUAGES = ("da", "sv", "nb", "fi", "en")


def list_articles(content_dir: Path) -> ArticleList:
    """Every readable article, and per topic which of the five languages it lacks."""
    read = read_content(content_dir)
    articles: list[Article] = []
    languages: defaultdict[str, set[str]] = defaultdict(set)
    for article in read.articles:
        if article.updated is not None:
            updated = article.updated.isoformat()
        else:
            mtime = (content_dir / article.source_path).stat().st_mtime
            updated = datetime.fromtimestamp(mtime, UTC).isoformat(timespec="seconds")
        articles.append(
            Article(
                article_id=article.id,
                language=article.language,
                title=article.title,
                updated=updated,
                path=article.source_path,
            )
        )
        languages[article.id].add(article.language)
    topics = [
        TopicCoverage(
            article_id=topic,
            languages=sorted(present),
            missing=[lang for lang in LANGUAGES if lang not in present],
        )
        for topic, present in sorted(languages.items())
    ]
    articles.sort(key=lambda a: (a.article_id, a.language))
    skipped = [{"path": s.path, "reason": s.reason} for s in read.skipped]
    return ArticleList(articles=articles, topics=topics, skipped=skipped)


def _jobs(request: Request) -> JobRegistry:
    jobs: JobRegistry = request.app.state.jobs
    return jobs


def _public(job: Job) -> JobPublic:
    return JobPublic(
        job_id=job.job_id,
        status=job.status,
        full=job.full,
        check_only=job.check_only,
        progress=JobProgress(done=job.done, total=job.total, stage=job.stage),
        report=job.report,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@router.get(
    "/articles",
    summary="The help-centre articles and missing translations",
    responses=problem_responses(401, 403, 429),
)
async def get_articles(container: ContainerDep, _: AdminKey) -> ArticleList:
    """Every article (id, language, title, updated, path) and, per topic, the languages missing."""
    return await run_in_threadpool(list_articles, container.settings.resolved_knowledge_dir)


@router.post(
    "/reindex",
    status_code=202,
    summary="Start a reindex job",
    dependencies=[JsonBody],
    responses=problem_responses(*body_problems(), 401, 403, 409, 429),
)
async def post_reindex(
    request: Request,
    _: AdminKey,
    body: Annotated[ReindexCreate | None, Body()] = None,
) -> JobAccepted:
    """Index the help centre into a new version in the background; poll the job for progress.

    A version is switched to only when its checks pass; readers never see a half-built index.
    409 when a reindex is already running.
    """
    options = body or ReindexCreate()
    job = _jobs(request).start(full=options.full, check_only=options.check_only)
    return JobAccepted(job_id=job.job_id)


@router.get(
    "/jobs/{job_id}",
    summary="A reindex job's status and report",
    responses=problem_responses(401, 403, 404, 429),
)
async def get_job(request: Request, job_id: str, _: AdminKey) -> JobPublic:
    """queued, running (with progress: stage, done, total), succeeded or failed (with the report)."""
    return _public(_jobs(request).get(job_id))


@router.post(
    "/rollback",
    summary="Switch back to the previous knowledge version",
    responses=problem_responses(401, 403, 409, 429),
)
async def post_rollback(container: ContainerDep, _: AdminKey) -> RollbackPublic:
    """The version that was live before the last switch becomes live again (409 when none)."""
    live, previous = await run_in_threadpool(container.reindexer.rollback)
    return RollbackPublic(live=live, previous=previous)
