"""Team training in the ticket log (docs/training.md, "Team training"): the facts weak spots are measured from,
practice scenarios, agents' sessions with their replies and reviews.

- Facts of a period: each agent's spells on tickets that ended in it (an accept timeout or a lost connection
  is no handling: only spells ended resolved, transferred, handed back or by automation count), with the
  ticket's category, how long and whether transferred; customers' ``csat`` ratings of the agent rated; each
  QA review's marks per criterion, as a percentage of the criterion's scale on the card it was scored with.
- Scenarios (``practice_scenarios``) hold masked text only: the service masks before it stores.
- Sessions (``practice_sessions``) and replies (``practice_replies``): an agent's answers and their scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, delete, select, update
from sqlalchemy.orm import aliased

from handoff.adapters.tickets.database import Repository, changed_rows, utc
from handoff.adapters.tickets.models import (
    Agent,
    Feedback,
    PracticeReply,
    PracticeScenario,
    PracticeSession,
    QaReview,
    QaScore,
    Ticket,
    TicketAssignment,
)
from handoff.adapters.tickets.views import iso
from handoff.core.practice import Mark, Rating, Spell

HANDLED = ("resolved", "transferred", "handed_back", "automation")
"""How a spell ended when the agent handled the conversation (else it was never theirs to handle)."""


@dataclass(frozen=True)
class ScenarioView:
    id: int
    conversation_id: str
    ticket_id: int
    category: str | None
    source_agent_id: str
    reason: str
    turns: tuple[dict[str, Any], ...]
    created_at: datetime


@dataclass(frozen=True)
class SessionView:
    """A session with its replies (``{turn, text, score, details, review_comment}``, in turn order)."""

    id: int
    agent_id: str
    agent_name: str | None
    scenario_id: int | None
    category: str | None
    turns: int
    turn: int
    status: str
    total: float | None
    review_score: float | None
    review_comment: str | None
    reviewer_id: str | None
    reviewer_name: str | None
    reviewed_at: datetime | None
    started_at: datetime
    finished_at: datetime | None
    replies: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        review = None if self.reviewed_at is None else {
            "score": self.review_score, "comment": self.review_comment or "", "reviewer_id": self.reviewer_id,
            "reviewer_name": self.reviewer_name, "reviewed_at": iso(self.reviewed_at)}
        return {"id": self.id, "agent_id": self.agent_id, "agent_name": self.agent_name,
                "scenario_id": self.scenario_id, "category": self.category, "turns": self.turns, "turn": self.turn,
                "status": self.status, "total": self.total, "review": review, "started_at": iso(self.started_at),
                "finished_at": iso(self.finished_at)}


def practice_deletions(conversations: Any) -> list[Executable]:
    """What erasing a customer or the retention sweep deletes of the training part for the conversations
    ``conversations`` selects: their scenarios (masked, yet their words); the sessions stay, detached, with the
    agents' own replies and scores."""
    scenarios = select(PracticeScenario.id).where(PracticeScenario.conversation_id.in_(conversations))
    return [update(PracticeSession).where(PracticeSession.scenario_id.in_(scenarios)).values(scenario_id=None),
            delete(PracticeScenario).where(PracticeScenario.conversation_id.in_(conversations))]


class PracticeBook(Repository):
    """Weak spots' facts, scenarios and sessions (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def facts(self, since: datetime | float,
                    until: datetime | float) -> tuple[list[Spell], list[Rating], list[Mark]]:
        """The spells, ratings and QA marks of ``[since, until)`` (see the module)."""
        start, end = utc(since), utc(until)
        spells = (select(TicketAssignment.agent_id, Ticket.category, TicketAssignment.assigned_at,
                         TicketAssignment.ended_at, TicketAssignment.end_cause)
                  .join(Ticket, Ticket.id == TicketAssignment.ticket_id)
                  .where(TicketAssignment.ended_at >= start, TicketAssignment.ended_at < end,
                         TicketAssignment.end_cause.in_(HANDLED)))
        ratings = (select(Feedback.agent_id, Feedback.category, Feedback.score)
                   .where(Feedback.kind == "csat", Feedback.agent_id.is_not(None), Feedback.created_at >= start,
                          Feedback.created_at < end))
        marks = (select(QaReview.agent_id, Ticket.category, QaReview.scorecard, QaScore.criterion, QaScore.score)
                 .join(QaScore, QaScore.review_id == QaReview.id).join(Ticket, Ticket.id == QaReview.ticket_id)
                 .where(QaReview.agent_id.is_not(None), QaScore.score.is_not(None), QaReview.updated_at >= start,
                        QaReview.updated_at < end))
        async with self._sessions() as session:
            spell_rows = (await session.execute(spells)).all()
            rating_rows = (await session.execute(ratings)).all()
            mark_rows = (await session.execute(marks)).all()
        found_marks = []
        for agent_id, category, card, criterion, score in mark_rows:
            scale = next((c for c in card.get("criteria", []) if c.get("key") == criterion), None)
            if scale is not None and scale["high"] > scale["low"]:
                found_marks.append(Mark(agent_id, category, criterion,
                                        100 * (score - scale["low"]) / (scale["high"] - scale["low"])))
        return ([Spell(agent_id, category, max(0.0, (ended - assigned).total_seconds()), cause == "transferred")
                 for agent_id, category, assigned, ended, cause in spell_rows if ended is not None],
                [Rating(agent_id, category, score) for agent_id, category, score in rating_rows if agent_id],
                found_marks)

    # ---- scenarios ----------------------------------------------------------------------------------------------

    async def scenario_conversations(self) -> set[str]:
        """The conversations made scenarios already."""
        async with self._sessions() as session:
            return set(await session.scalars(select(PracticeScenario.conversation_id)))

    async def add_scenario(self, conversation_id: str, ticket_id: int, *, category: str | None,
                           source_agent_id: str, reason: str, turns: Sequence[dict[str, Any]],
                           now: datetime | float) -> int:
        """Store a scenario (masked turns); its id."""
        async with self._sessions.begin() as session:
            row = PracticeScenario(conversation_id=conversation_id, ticket_id=ticket_id, category=category,
                                   source_agent_id=source_agent_id, reason=reason, turns=list(turns),
                                   created_at=utc(now))
            session.add(row)
            await session.flush()
            return row.id

    async def scenarios(self) -> list[ScenarioView]:
        """Every scenario, the newest first."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(PracticeScenario).order_by(PracticeScenario.id.desc()))).all()
        return [self._scenario(row) for row in rows]

    async def scenario(self, scenario_id: int) -> ScenarioView | None:
        async with self._sessions() as session:
            row = await session.get(PracticeScenario, scenario_id)
        return None if row is None else self._scenario(row)

    @staticmethod
    def _scenario(row: PracticeScenario) -> ScenarioView:
        return ScenarioView(id=row.id, conversation_id=row.conversation_id, ticket_id=row.ticket_id,
                            category=row.category, source_agent_id=row.source_agent_id, reason=row.reason,
                            turns=tuple(row.turns), created_at=row.created_at)

    # ---- sessions -----------------------------------------------------------------------------------------------

    async def start_session(self, agent_id: str, scenario: ScenarioView, now: datetime | float) -> int:
        async with self._sessions.begin() as session:
            row = PracticeSession(agent_id=agent_id, scenario_id=scenario.id, category=scenario.category,
                                  turns=len(scenario.turns), turn=0, status="open", started_at=utc(now))
            session.add(row)
            await session.flush()
            return row.id

    def _session_query(self) -> Any:
        practiser, reviewer = aliased(Agent), aliased(Agent)
        return (select(PracticeSession, practiser.name, reviewer.name)
                .outerjoin(practiser, practiser.id == PracticeSession.agent_id)
                .outerjoin(reviewer, reviewer.id == PracticeSession.reviewer_id))

    @staticmethod
    def _session(row: Any, replies: Sequence[PracticeReply] = ()) -> SessionView:
        item, name, reviewer_name = row
        return SessionView(
            id=item.id, agent_id=item.agent_id, agent_name=name, scenario_id=item.scenario_id,
            category=item.category, turns=item.turns, turn=item.turn, status=item.status, total=item.total,
            review_score=item.review_score, review_comment=item.review_comment, reviewer_id=item.reviewer_id,
            reviewer_name=reviewer_name, reviewed_at=item.reviewed_at, started_at=item.started_at,
            finished_at=item.finished_at,
            replies=tuple({"turn": r.turn, "text": r.text, "score": r.score, "details": dict(r.details),
                           "review_comment": r.review_comment or ""} for r in replies))

    async def session(self, session_id: int) -> SessionView | None:
        """One session with its replies, or None."""
        async with self._sessions() as session:
            row = (await session.execute(self._session_query().where(PracticeSession.id == session_id))).first()
            if row is None:
                return None
            replies = (await session.scalars(select(PracticeReply).where(PracticeReply.session_id == session_id)
                                             .order_by(PracticeReply.turn))).all()
        return self._session(row, replies)

    async def sessions(self, *, agent_id: str | None = None, status: str | None = None,
                       reviewed: bool | None = None, limit: int = 500) -> list[SessionView]:
        """Sessions matching every filter given, without their replies, the newest first."""
        query = self._session_query()
        if agent_id is not None:
            query = query.where(PracticeSession.agent_id == agent_id)
        if status is not None:
            query = query.where(PracticeSession.status == status)
        if reviewed is not None:
            query = query.where(PracticeSession.reviewed_at.is_not(None) if reviewed
                                else PracticeSession.reviewed_at.is_(None))
        query = query.order_by(PracticeSession.started_at.desc(), PracticeSession.id.desc()).limit(limit)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [self._session(row) for row in rows]

    async def add_reply(self, session_id: int, turn: int, text: str, score: float, details: dict[str, Any], *,
                        now: datetime | float) -> bool:
        """The reply to turn ``turn`` of an open session at that turn; the session moves on, and is finished (its
        total the mean of its replies' scores) after its last turn. Whether the session was at that turn."""
        moment = utc(now)
        async with self._sessions.begin() as session:
            row = await session.scalar(select(PracticeSession).where(PracticeSession.id == session_id)
                                       .with_for_update())
            if row is None or row.status != "open" or row.turn != turn:
                return False
            session.add(PracticeReply(session_id=session_id, turn=turn, text=text, score=score, details=details,
                                      created_at=moment))
            row.turn = turn + 1
            if row.turn >= row.turns:
                await session.flush()
                scores = (await session.scalars(select(PracticeReply.score)
                                                .where(PracticeReply.session_id == session_id))).all()
                row.status, row.finished_at = "finished", moment
                row.total = round(sum(scores) / len(scores), 1) if scores else None
            return True

    async def review(self, session_id: int, reviewer_id: str, score: float, comment: str,
                     reply_comments: dict[int, str], now: datetime | float) -> bool:
        """A supervisor's review of a finished session (replacing an earlier one); whether it was finished."""
        async with self._sessions.begin() as session:
            done = await changed_rows(session, update(PracticeSession).where(
                PracticeSession.id == session_id, PracticeSession.status == "finished").values(
                review_score=score, review_comment=comment, reviewer_id=reviewer_id, reviewed_at=utc(now)))
            if not done:
                return False
            await session.execute(update(PracticeReply).where(PracticeReply.session_id == session_id)
                                  .values(review_comment=None))
            for turn, text in reply_comments.items():
                await session.execute(update(PracticeReply).where(PracticeReply.session_id == session_id,
                                                                  PracticeReply.turn == turn)
                                      .values(review_comment=text))
            return True
