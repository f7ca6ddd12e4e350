"""QA reviews and follow-up items in the ticket log: what the review sample is drawn from, the reviews with their
scores, and the handling of follow-ups (assignee, notes, closing).

- A *handled ticket* is a closed ticket (status ``resolved``: resolved by an agent or handed back to the bot)
  that an agent had, closed in the period; its agent is the last one assigned (a closed ticket has no
  assignee any more); its handle time runs from its first assignment to its closing (as
  in :mod:`~handoff.adapters.tickets.kpis`), and its lowest customer rating (``feedback`` of kind ``csat``)
  comes with it.
- A review (``qa_reviews``, one per reviewer and ticket) keeps its scores in ``qa_scores``, one row per
  criterion; saving again replaces both.
- Follow-up items (``follow_ups``) are opened by the feedback part; here they are listed, read with the verdict
  that opened them, assigned, annotated (``follow_up_notes``) and closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, delete, func, select, update
from sqlalchemy.orm import aliased

from handoff.adapters.tickets.database import Repository, changed_rows, utc
from handoff.adapters.tickets.models import (
    Agent,
    Feedback,
    FollowUp,
    FollowUpNote,
    QaReview,
    QaScore,
    Ticket,
    TicketAssignment,
)
from handoff.adapters.tickets.views import iso


@dataclass(frozen=True)
class HandledTicket:
    """A closed ticket an agent handled, as the sampler sees it."""

    ticket_id: int
    number: str
    conversation_id: str
    agent_id: str
    agent_name: str | None
    category: str | None
    summary: str
    resolution: str | None
    handle_seconds: float
    resolved_at: datetime
    lowest_rating: int | None
    reviewed: bool


@dataclass(frozen=True)
class ReviewView:
    """A stored review. ``scores``: ``{criterion, score, comment}`` in the card's order (``score`` None: N/A)."""

    id: int
    ticket_id: int
    ticket_number: str
    conversation_id: str
    agent_id: str | None
    agent_name: str | None
    reviewer_id: str
    reviewer_name: str | None
    scorecard: dict[str, Any]
    total: float | None
    critical_failed: tuple[str, ...]
    notes: str
    scores: tuple[dict[str, Any], ...]
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "ticket_id": self.ticket_id, "ticket_number": self.ticket_number,
                "conversation_id": self.conversation_id, "agent_id": self.agent_id, "agent_name": self.agent_name,
                "reviewer_id": self.reviewer_id, "reviewer_name": self.reviewer_name,
                "scorecard_version": self.scorecard.get("version"), "scorecard": self.scorecard,
                "total": self.total, "critical_failed": list(self.critical_failed), "notes": self.notes,
                "scores": list(self.scores), "created_at": iso(self.created_at), "updated_at": iso(self.updated_at)}


@dataclass(frozen=True)
class FollowUpView:
    """A follow-up item with the verdict that opened it; ``notes`` only in the detail (else empty)."""

    id: int
    status: str
    reason: str
    conversation_id: str
    ticket_id: int | None
    ticket_number: str | None
    assignee_id: str | None
    assignee_name: str | None
    note: str | None
    created_at: datetime
    closed_at: datetime | None
    feedback: dict[str, Any]
    notes: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "reason": self.reason, "conversation_id": self.conversation_id,
                "ticket_id": self.ticket_id, "ticket_number": self.ticket_number, "assignee_id": self.assignee_id,
                "assignee_name": self.assignee_name, "note": self.note, "created_at": iso(self.created_at),
                "closed_at": iso(self.closed_at), "feedback": self.feedback, "notes": list(self.notes)}


def qa_deletions(conversations: Any) -> list[Executable]:
    """What the retention sweep deletes of the QA part for the conversations selected by ``conversations``,
    children first."""
    reviews = select(QaReview.id).where(QaReview.conversation_id.in_(conversations))
    follow_ups = select(FollowUp.id).where(FollowUp.conversation_id.in_(conversations))
    return [delete(QaScore).where(QaScore.review_id.in_(reviews)),
            delete(QaReview).where(QaReview.conversation_id.in_(conversations)),
            delete(FollowUpNote).where(FollowUpNote.follow_up_id.in_(follow_ups))]


def qa_erasures(conversations: Any) -> list[Executable]:
    """What erasing a customer does to the QA part: reviewers' words about their conversations go (they may quote
    the customer), the scores stay."""
    reviews = select(QaReview.id).where(QaReview.conversation_id.in_(conversations))
    follow_ups = select(FollowUp.id).where(FollowUp.conversation_id.in_(conversations))
    return [update(QaScore).where(QaScore.review_id.in_(reviews)).values(comment=""),
            update(QaReview).where(QaReview.conversation_id.in_(conversations)).values(notes=""),
            update(FollowUp).where(FollowUp.conversation_id.in_(conversations)).values(note=None),
            delete(FollowUpNote).where(FollowUpNote.follow_up_id.in_(follow_ups))]


class QaBook(Repository):
    """QA reviews and follow-ups (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def handled(self, since: datetime | float, until: datetime | float) -> list[HandledTicket]:
        """The tickets closed in ``[since, until)`` that an agent handled (see the module), oldest first."""
        spells = (select(TicketAssignment.ticket_id, func.min(TicketAssignment.assigned_at).label("at"),
                         func.max(TicketAssignment.id).label("last"))
                  .group_by(TicketAssignment.ticket_id).subquery())
        last = aliased(TicketAssignment)
        lowest = (select(Feedback.ticket_id, func.min(Feedback.score).label("score"))
                  .where(Feedback.kind == "csat", Feedback.ticket_id.is_not(None))
                  .group_by(Feedback.ticket_id).subquery())
        reviewed = select(QaReview.id).where(QaReview.ticket_id == Ticket.id).exists()
        query = (select(Ticket, last.agent_id, Agent.name, spells.c.at, lowest.c.score, reviewed)
                 .join(spells, spells.c.ticket_id == Ticket.id)
                 .join(last, last.id == spells.c.last)
                 .outerjoin(Agent, Agent.id == last.agent_id)
                 .outerjoin(lowest, lowest.c.ticket_id == Ticket.id)
                 .where(Ticket.status == "resolved", Ticket.resolved_at >= utc(since), Ticket.resolved_at < utc(until))
                 .order_by(Ticket.resolved_at, Ticket.id))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [HandledTicket(
            ticket_id=t.id, number=t.number or "", conversation_id=t.conversation_id, agent_id=agent_id,
            agent_name=name, category=t.category, summary=t.summary, resolution=t.resolution,
            handle_seconds=max(0.0, (t.resolved_at - utc(assigned)).total_seconds()), resolved_at=t.resolved_at,
            lowest_rating=score, reviewed=bool(was_reviewed))
            for t, agent_id, name, assigned, score, was_reviewed in rows]

    async def last_agent(self, ticket_id: int) -> str | None:
        """The agent who had the ticket last (its assignee, or after closing the last one assigned), or None."""
        query = (select(TicketAssignment.agent_id).where(TicketAssignment.ticket_id == ticket_id)
                 .order_by(TicketAssignment.id.desc()).limit(1))
        async with self._sessions() as session:
            return await session.scalar(query)

    async def save_review(self, ticket_id: int, reviewer_id: str, *, agent_id: str | None, scorecard: dict[str, Any],
                          total: float | None, critical_failed: Sequence[str], notes: str,
                          scores: Sequence[tuple[str, int | None, str]], now: datetime | float) -> ReviewView:
        """Store the reviewer's review of the ticket, replacing theirs if they reviewed it already.

        Args:
            scores: ``(criterion, score or None for N/A, comment)`` for every criterion of ``scorecard``.
        """
        moment = utc(now)
        async with self._sessions.begin() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                raise ValueError(f"there is no ticket {ticket_id}")
            row = await session.scalar(select(QaReview).where(QaReview.ticket_id == ticket_id,
                                                              QaReview.reviewer_id == reviewer_id)
                                       .with_for_update())
            if row is None:
                row = QaReview(ticket_id=ticket_id, conversation_id=ticket.conversation_id, reviewer_id=reviewer_id,
                               created_at=moment)
                session.add(row)
            row.agent_id, row.scorecard, row.scorecard_version = agent_id, dict(scorecard), str(scorecard["version"])
            row.total, row.critical_failed, row.notes, row.updated_at = total, list(critical_failed), notes, moment
            await session.flush()
            await session.execute(delete(QaScore).where(QaScore.review_id == row.id))
            session.add_all(QaScore(review_id=row.id, criterion=criterion, score=score, comment=comment)
                            for criterion, score, comment in scores)
            review_id = row.id
        found = await self.reviews(review_id=review_id)
        return found[0]

    async def reviews(self, *, review_id: int | None = None, ticket_id: int | None = None,
                      agent_id: str | None = None, reviewer_id: str | None = None,
                      since: datetime | float | None = None, until: datetime | float | None = None,
                      limit: int = 1000) -> list[ReviewView]:
        """Reviews matching every filter given, the newest conversation first; ``since``/``until``: the
        ticket's closing (its creation while open) in ``[since, until)``."""
        reviewed, reviewer = aliased(Agent), aliased(Agent)
        when = func.coalesce(Ticket.resolved_at, Ticket.created_at)
        query = (select(QaReview, Ticket.number, reviewed.name, reviewer.name)
                 .join(Ticket, Ticket.id == QaReview.ticket_id)
                 .outerjoin(reviewed, reviewed.id == QaReview.agent_id)
                 .outerjoin(reviewer, reviewer.id == QaReview.reviewer_id))
        for column, value in ((QaReview.id, review_id), (QaReview.ticket_id, ticket_id),
                              (QaReview.agent_id, agent_id), (QaReview.reviewer_id, reviewer_id)):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(when >= utc(since))
        if until is not None:
            query = query.where(when < utc(until))
        query = query.order_by(when.desc(), QaReview.id.desc()).limit(limit)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
            ids = [row[0].id for row in rows]
            score_rows = (await session.scalars(select(QaScore).where(QaScore.review_id.in_(ids))
                                                .order_by(QaScore.id))).all() if ids else []
        scores: dict[int, list[dict[str, Any]]] = {}
        for score in score_rows:
            scores.setdefault(score.review_id, []).append(
                {"criterion": score.criterion, "score": score.score, "comment": score.comment})
        return [ReviewView(id=r.id, ticket_id=r.ticket_id, ticket_number=number or "",
                           conversation_id=r.conversation_id, agent_id=r.agent_id, agent_name=agent_name,
                           reviewer_id=r.reviewer_id, reviewer_name=reviewer_name, scorecard=dict(r.scorecard),
                           total=r.total, critical_failed=tuple(r.critical_failed), notes=r.notes,
                           scores=tuple(scores.get(r.id, ())), created_at=r.created_at, updated_at=r.updated_at)
                for r, number, agent_name, reviewer_name in rows]

    # ---- follow-ups --------------------------------------------------------------------------------------------

    def _follow_up_query(self) -> Any:
        assignee, rated = aliased(Agent), aliased(Agent)
        return (select(FollowUp, Ticket.number, assignee.name, Feedback, rated.name)
                .join(Feedback, Feedback.id == FollowUp.feedback_id)
                .outerjoin(Ticket, Ticket.id == FollowUp.ticket_id)
                .outerjoin(assignee, assignee.id == FollowUp.assignee_id)
                .outerjoin(rated, rated.id == Feedback.agent_id))

    @staticmethod
    def _follow_up_view(row: Any, notes: tuple[dict[str, Any], ...] = ()) -> FollowUpView:
        item, number, assignee_name, verdict, agent_name = row
        feedback = {"id": verdict.id, "kind": verdict.kind, "score": verdict.score, "comment": verdict.comment,
                    "path": verdict.path, "channel": verdict.channel, "category": verdict.category,
                    "agent_id": verdict.agent_id, "agent_name": agent_name, "article_id": verdict.article_id,
                    "message_id": verdict.message_id, "created_at": iso(verdict.created_at)}
        return FollowUpView(id=item.id, status=item.status, reason=item.reason, conversation_id=item.conversation_id,
                            ticket_id=item.ticket_id, ticket_number=number, assignee_id=item.assignee_id,
                            assignee_name=assignee_name, note=item.note, created_at=item.created_at,
                            closed_at=item.closed_at, feedback=feedback, notes=notes)

    async def follow_ups(self, *, status: str | None = None, assignee_id: str | None = None,
                         reason: str | None = None, unassigned: bool = False, limit: int = 50,
                         offset: int = 0) -> list[FollowUpView]:
        """Follow-up items matching every filter given (``unassigned``: nobody's), the open first, oldest first."""
        query = self._follow_up_query()
        if unassigned:
            query = query.where(FollowUp.assignee_id.is_(None))
        for column, value in ((FollowUp.status, status), (FollowUp.assignee_id, assignee_id),
                              (FollowUp.reason, reason)):
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(FollowUp.status.desc(), FollowUp.created_at, FollowUp.id).limit(limit).offset(offset)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [self._follow_up_view(row) for row in rows]

    async def follow_up(self, follow_up_id: int) -> FollowUpView | None:
        """One follow-up item with its notes (oldest first), or None."""
        async with self._sessions() as session:
            row = (await session.execute(self._follow_up_query().where(FollowUp.id == follow_up_id))).first()
            if row is None:
                return None
            notes = (await session.execute(
                select(FollowUpNote, Agent.name).join(Agent, Agent.id == FollowUpNote.author_id)
                .where(FollowUpNote.follow_up_id == follow_up_id).order_by(FollowUpNote.id))).all()
        return self._follow_up_view(row, tuple(
            {"id": note.id, "author_id": note.author_id, "author_name": name, "text": note.text,
             "created_at": iso(note.created_at)} for note, name in notes))

    async def assign_follow_up(self, follow_up_id: int, assignee_id: str | None) -> bool:
        """Give the item to ``assignee_id`` (None: nobody); whether there is such an item."""
        async with self._sessions.begin() as session:
            return bool(await changed_rows(session, update(FollowUp).where(FollowUp.id == follow_up_id)
                                           .values(assignee_id=assignee_id)))

    async def add_follow_up_note(self, follow_up_id: int, author_id: str, text: str, now: datetime | float) -> None:
        async with self._sessions.begin() as session:
            session.add(FollowUpNote(follow_up_id=follow_up_id, author_id=author_id, text=text, created_at=utc(now)))

    async def close_follow_up(self, follow_up_id: int, note: str | None, now: datetime | float) -> bool:
        """Mark an open item done (with the outcome in ``note``, if any); whether it was open."""
        async with self._sessions.begin() as session:
            return bool(await changed_rows(session, update(FollowUp).where(
                FollowUp.id == follow_up_id, FollowUp.status == "open").values(
                status="done", closed_at=utc(now), note=note)))

    async def reopen_follow_up(self, follow_up_id: int) -> bool:
        """Mark a done item open again; whether it was done."""
        async with self._sessions.begin() as session:
            return bool(await changed_rows(session, update(FollowUp).where(
                FollowUp.id == follow_up_id, FollowUp.status == "done").values(status="open", closed_at=None)))
