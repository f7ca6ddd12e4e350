"""REST endpoints of the knowledge workbench (docs/training.md, "Knowledge"): the questions the knowledge base
failed, grouped, with the agents' replies as a draft; the articles with their use, staleness and near-duplicates;
publishing, editing, merging and retiring articles, which the running bot answers with within seconds.

Reading needs the policy's ``read_knowledge``, changing ``edit_knowledge`` (trainers, supervisors, admins).
An article's body of 20,000 characters can pass the 64 KiB body limit once JSON-escaped: publishing documents 413.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from handoff.web.bodies import GapDismissal, KnowledgeArticle, KnowledgeMerge, NewKnowledgeArticle, errors
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["knowledge"], responses=errors(401, 403, 503))
ArticleId = Annotated[str, Path(max_length=80, description="the article's id (a slug)")]


@router.get("/api/knowledge/gaps")
async def gaps(agent: Agent, service: Service) -> dict[str, Any]:
    """The open knowledge gaps of the last ``HANDOFF_KNOWLEDGE_DAYS``, largest first: each with its customer
    questions, counts by reason (``no_answer``, ``not_helpful``, ``handed_off_after_answer``), the articles that
    failed, and a ``draft`` article whose body is the agents' replies."""
    return await service.knowledge.gaps(agent)


@router.post("/api/knowledge/gaps/dismiss", responses=errors(400, 404))
async def dismiss(body: GapDismissal, agent: Agent, service: Service) -> dict[str, Any]:
    """Dismiss gap questions (they leave the gaps)."""
    return await service.knowledge.dismiss(agent, body.message_ids)


@router.get("/api/knowledge/articles")
async def articles(agent: Agent, service: Service) -> dict[str, Any]:
    """Every article with its answers, votes, helpful rate, hand-offs right after its answers, dates, staleness
    and near-duplicates; the index's live ``generation``; the categories."""
    return await service.knowledge.articles(agent)


@router.get("/api/knowledge/articles/{article_id}", responses=errors(400, 404))
async def article(article_id: ArticleId, agent: Agent, service: Service) -> dict[str, Any]:
    """One article's source, for the editor."""
    return await service.knowledge.article(agent, article_id)


@router.post("/api/knowledge/articles", status_code=201, responses=errors(400, 409, 413))
async def create(body: NewKnowledgeArticle, agent: Agent, service: Service) -> dict[str, Any]:
    """Publish a new article: written to the sources, embedded, and the index's next ``generation`` published;
    the running bot answers with it within ``KB_RELOAD_INTERVAL`` seconds. ``version``: what its citations
    carry."""
    return await service.knowledge.publish(agent, body.model_dump(exclude={"gap_ids"}), new=True,
                                           gap_ids=body.gap_ids)


@router.put("/api/knowledge/articles/{article_id}", responses=errors(400, 404, 413))
async def edit(article_id: ArticleId, body: KnowledgeArticle, agent: Agent, service: Service) -> dict[str, Any]:
    """Publish a new version of an article (its category may change: the file moves)."""
    return await service.knowledge.publish(agent, {**body.model_dump(exclude={"gap_ids"}), "id": article_id},
                                           new=False, gap_ids=body.gap_ids)


@router.delete("/api/knowledge/articles/{article_id}", responses=errors(400, 404))
async def retire(article_id: ArticleId, agent: Agent, service: Service) -> dict[str, Any]:
    """Retire an article: its source is deleted and the next generation of the index has it no more."""
    return await service.knowledge.retire(agent, article_id)


@router.post("/api/knowledge/merges", responses=errors(400, 404))
async def merge(body: KnowledgeMerge, agent: Agent, service: Service) -> dict[str, Any]:
    """Merge two near-duplicates: ``keep`` takes ``retire``'s title and questions, ``retire`` is retired."""
    return await service.knowledge.merge(agent, body.keep, body.retire)
