"""Team training (docs/training.md, "Team training"): weak spots, practice on masked past conversations, reviews,
progress.

- Weak spots (:meth:`Practice.weak_spots`): the ticket log's facts of a period (``log.practice.facts``) weighed by
  :func:`handoff.core.practice.weak_spots`; an agent sees their own, supervisors and admins everybody's.
- Scenarios (:meth:`Practice.build`): tickets closed ``resolved`` by an agent in a period, rated 4 or 5 by the
  customer, or unrated (never rated low) and QA-scored :data:`GOOD_QA` or more; each becomes its customer's
  turns with the resolving agent's replies (:func:`~handoff.core.practice.turns_of`), masked with the customer's
  profile (:func:`~handoff.core.practice.mask`) *before* anything is stored, each turn with the knowledge
  article best for the customer's words (``Knowledge.for_text``) and the reply's key terms. An agent starting a
  session with none to practise on builds them from the last :data:`BUILD_DAYS` days.
- Sessions (:meth:`start`, :meth:`reply`): the customer's turns one at a time; after each reply the page gets the
  real reply, the article and the reply's score (:func:`~handoff.core.practice.score_reply`: the sentence
  encoder's cosines, or the words' when it is missing, and the key terms covered); after the last, the total.
  Practice reads only the ticket log's history: it never touches a live conversation, the queue or presence.
- Reviews (:meth:`review`): a supervisor scores a finished session 0-100 with a comment, and may comment each
  reply; the agent reads it with their session.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from handoff.core import practice as core
from handoff.core.errors import BadRequest, Conflict, NotAllowed, UnknownConversation, UpstreamUnavailable
from handoff.core.model import MAX_ROW_ID, storable
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.policy import Action, Scope
from handoff.service.ports import Clock, Knowledge, ScenarioView, SentenceEncoder, SessionView, TicketLog
from handoff.service.quality import period

logger = logging.getLogger(__name__)

GOOD_RATING = 4
GOOD_QA = 80.0
BUILD_DAYS = 30
WEAK_SPOT_DAYS = 30
MAX_TURNS = 8
MAX_BUILD = 200
MAX_REPLY = 5000
MAX_COMMENT = 5000
ARTICLE_CHARS = 1500


class Practice:
    """Weak spots, scenarios, sessions, reviews and progress (see the module)."""

    def __init__(self, log: TicketLog, knowledge: Knowledge, encoder: SentenceEncoder, clock: Clock) -> None:
        self._log, self._knowledge, self._encoder, self._clock = log, knowledge, encoder, clock

    # ---- who ------------------------------------------------------------------------------------------------

    @staticmethod
    def _whose(principal: Principal, agent_id: str | None) -> str | None:
        """The agent whose practice the caller may read: ``agent_id`` (None: everybody's), or their own when
        their scope is ``own`` (another agent's is refused)."""
        if not storable(agent_id):
            raise BadRequest("A filter cannot contain a NUL character.")
        if policy.scope(principal.role, Action.READ_PRACTICE) is Scope.OWN:
            policy.check(principal.role, Action.READ_PRACTICE, agent_id in (None, "", principal.agent_id))
            return principal.agent_id
        policy.check(principal.role, Action.READ_PRACTICE)
        return agent_id or None

    async def _session(self, session_id: int) -> SessionView:
        found = await self._log.practice.session(session_id) if 0 < session_id <= MAX_ROW_ID else None
        if found is None:
            raise UnknownConversation("There is no such practice session.")
        return found

    async def _names(self) -> dict[str, str]:
        return {a.agent_id: a.name for a in await self._log.people.list_agents()}

    def _period(self, since: str | None, until: str | None, days: int) -> tuple[datetime, datetime]:
        """``[since, until)`` as QA reads them, ``days`` before ``until`` when ``since`` is not given."""
        start, end = period(since, until, self._clock())
        try:
            return (end - timedelta(days=days) if since is None else start), end
        except OverflowError:
            raise BadRequest("until is too early.") from None

    # ---- weak spots -----------------------------------------------------------------------------------------

    async def weak_spots(self, principal: Principal, *, agent_id: str | None = None, since: str | None = None,
                         until: str | None = None) -> dict[str, Any]:
        """Per agent and category the agent's figures against the rest of the team's, with the weak spots (the
        last :data:`WEAK_SPOT_DAYS` days by default)."""
        agent = self._whose(principal, agent_id)
        start, end = self._period(since, until, WEAK_SPOT_DAYS)
        spells, ratings, marks = await self._log.practice.facts(start, end)
        names = await self._names()
        rows = [{**row, "agent_name": names.get(row["agent_id"])}
                for row in core.weak_spots(spells, ratings, marks) if agent is None or row["agent_id"] == agent]
        return {"since": start.isoformat(), "until": end.isoformat(), "rule": core.rule(), "rows": rows}

    # ---- scenarios ------------------------------------------------------------------------------------------

    async def build(self, principal: Principal, *, since: str | None = None,
                    until: str | None = None) -> dict[str, Any]:
        """Make scenarios of the period's well-handled conversations (the last :data:`BUILD_DAYS` days by
        default); how many were looked at and added."""
        policy.check(principal.role, Action.REVIEW_PRACTICE)
        start, end = self._period(since, until, BUILD_DAYS)
        considered, added = await self._build(start, end)
        return {"since": start.isoformat(), "until": end.isoformat(), "considered": considered, "added": added,
                "scenarios": len(await self._log.practice.scenarios())}

    async def _build(self, start: datetime, end: datetime) -> tuple[int, int]:
        handled = await self._log.qa.handled(start, end)
        best_qa: dict[int, float] = {}
        for review in await self._log.qa.reviews(since=start, until=end, limit=5000):
            if review.total is not None:
                best_qa[review.ticket_id] = max(review.total, best_qa.get(review.ticket_id, 0.0))
        have = await self._log.practice.scenario_conversations()
        considered = added = 0
        for ticket in handled:
            if ticket.resolution != "resolved" or ticket.conversation_id in have or added >= MAX_BUILD:
                continue
            rating, qa = ticket.lowest_rating, best_qa.get(ticket.ticket_id)
            reason = ("rated" if rating is not None and rating >= GOOD_RATING
                      else "qa" if rating is None and qa is not None and qa >= GOOD_QA else None)
            if reason is None:
                continue
            considered += 1
            turns = await self._turns(ticket.conversation_id, ticket.agent_id)
            if turns:
                await self._log.practice.add_scenario(ticket.conversation_id, ticket.ticket_id,
                                                      category=ticket.category, source_agent_id=ticket.agent_id,
                                                      reason=reason, turns=turns, now=self._clock())
                added += 1
        logger.info("practice scenarios: %d added of %d well-handled conversations", added, considered)
        return considered, added

    async def _turns(self, conversation_id: str, agent_id: str) -> list[dict[str, Any]]:
        """The conversation's turns with ``agent_id``'s replies, masked, each with its article and key terms."""
        conversation = await self._log.conversations.conversation(conversation_id)
        if conversation is None or conversation.erased:
            return []
        customer = await self._log.people.get_customer(conversation.customer_id)
        profile = (customer.name, customer.email, customer.external_id) if customer else ()
        messages = await self._log.conversations.messages(conversation_id)
        turns = []
        for said, answered in core.turns_of([(m.sender, m.agent_id, m.text) for m in messages], agent_id)[:MAX_TURNS]:
            words, reply = core.mask(said, profile), core.mask(answered, profile)
            hits = await self._knowledge.for_text(words, k=1)
            article = ({"article_id": hits[0]["article_id"], "title": hits[0]["title"],
                        "text": hits[0]["text"][:ARTICLE_CHARS], "score": hits[0]["score"]} if hits else None)
            turns.append({"customer": words, "reply": reply, "article": article,
                          "terms": core.key_terms(reply, article["text"] if article else "")})
        return turns

    async def _pick(self, agent_id: str, category: str | None) -> ScenarioView | None:
        """The scenario to practise: of ``category`` when given, else preferably of the agent's weak categories;
        never of the agent's own conversations; the least practised by them, then the newest."""
        scenarios = [s for s in await self._log.practice.scenarios() if s.source_agent_id != agent_id]
        if category:
            wanted = None if category == core.NO_CATEGORY else category
            scenarios = [s for s in scenarios if s.category == wanted]
            weak: set[str | None] = set()
        else:
            end = datetime.fromtimestamp(self._clock(), UTC)
            spells, ratings, marks = await self._log.practice.facts(end - timedelta(days=WEAK_SPOT_DAYS), end)
            weak = {None if r["category"] == core.NO_CATEGORY else r["category"]
                    for r in core.weak_spots(spells, ratings, marks) if r["agent_id"] == agent_id and r["flags"]}
        done: dict[int | None, int] = defaultdict(int)
        for session in await self._log.practice.sessions(agent_id=agent_id):
            done[session.scenario_id] += 1
        ranked = sorted(scenarios, key=lambda s: (s.category not in weak, done[s.id], -s.id))
        return ranked[0] if ranked else None

    # ---- sessions -------------------------------------------------------------------------------------------

    async def start(self, principal: Principal, category: str | None = None) -> dict[str, Any]:
        """A new practice session of the caller's (see :meth:`_pick`); scenarios are built first when there are
        none to practise on."""
        policy.check(principal.role, Action.PRACTICE)
        if category is not None and (len(category) > 64 or not storable(category)):
            raise BadRequest("A category is at most 64 characters.")
        scenario = await self._pick(principal.agent_id, category)
        if scenario is None:
            end = datetime.fromtimestamp(self._clock(), UTC)
            await self._build(end - timedelta(days=BUILD_DAYS), end)
            scenario = await self._pick(principal.agent_id, category)
        if scenario is None:
            raise Conflict("There is no conversation to practise on yet: practice scenarios are made of "
                           "conversations colleagues resolved that were rated well or scored well in QA.")
        session_id = await self._log.practice.start_session(principal.agent_id, scenario, self._clock())
        return await self.session(principal, session_id)

    async def session(self, principal: Principal, session_id: int) -> dict[str, Any]:
        """A session as its page shows it: the turns so far (the customer's words; once answered, the agent's
        reply with its score, the real reply and the article), the current turn's customer words only."""
        found = await self._session(session_id)
        policy.check(principal.role, Action.READ_PRACTICE, found.agent_id == principal.agent_id)
        scenario = await self._log.practice.scenario(found.scenario_id) if found.scenario_id else None
        return self._view(found, scenario)

    @staticmethod
    def _view(found: SessionView, scenario: ScenarioView | None) -> dict[str, Any]:
        replies = {r["turn"]: r for r in found.replies}
        turns = []
        for index in range(min(found.turn + 1, found.turns)):
            turn = scenario.turns[index] if scenario is not None else None
            entry: dict[str, Any] = {"turn": index, "customer": turn["customer"] if turn else None}
            if index in replies:
                reply = replies[index]
                entry.update(mine=reply["text"], score=reply["score"], details=reply["details"],
                             review_comment=reply["review_comment"],
                             actual=turn["reply"] if turn else None, article=turn["article"] if turn else None)
            turns.append(entry)
        return {**found.to_json(), "scenario_deleted": scenario is None, "turns_shown": turns,
                "replies": len(replies)}

    async def reply(self, principal: Principal, session_id: int, text: str) -> dict[str, Any]:
        """The caller's reply to the current turn of their open session: scored, stored; the session moves on."""
        policy.check(principal.role, Action.PRACTICE)
        found = await self._session(session_id)
        policy.check(principal.role, Action.PRACTICE, found.agent_id == principal.agent_id)
        text = text.strip()
        if not text or len(text) > MAX_REPLY or not storable(text):
            raise BadRequest(f"A reply is 1 to {MAX_REPLY} characters, without NUL characters.")
        if found.status != "open":
            raise Conflict("This practice session is finished.")
        scenario = await self._log.practice.scenario(found.scenario_id) if found.scenario_id else None
        if scenario is None:
            raise Conflict("This practice session's conversation was deleted: start another.")
        turn = scenario.turns[found.turn]
        details = await self.score(text, turn)
        if not await self._log.practice.add_reply(session_id, found.turn, text, details["score"], details,
                                                  now=self._clock()):
            raise Conflict("This turn was answered already (in another tab?): reload the session.")
        return await self.session(principal, session_id)

    async def score(self, text: str, turn: dict[str, Any]) -> dict[str, Any]:
        """A reply's score against ``turn``'s real reply and article (:func:`~handoff.core.practice.score_reply`),
        with the measure used: ``encoder`` (the sentence encoder's cosines) or ``words`` (without it)."""
        article = turn["article"]["text"] if turn.get("article") else None
        texts = [text, turn["reply"], *([article] if article else [])]
        try:
            vectors = await asyncio.to_thread(self._encoder.encode, texts)
            cosines = [float(np.dot(vectors[0], v)) for v in vectors[1:]]
            method = "encoder"
        except UpstreamUnavailable as exc:
            logger.warning("practice scores by words: %s", exc)
            cosines = [core.word_similarity(text, other) for other in texts[1:]]
            method = "words"
        result = core.score_reply(text, turn.get("terms", []), cosines[0], cosines[1] if article else None)
        return {**result, "method": method}

    async def sessions(self, principal: Principal, *, agent_id: str | None = None,
                       to_review: bool = False) -> list[dict[str, Any]]:
        """Sessions, the newest first (an agent: their own); ``to_review``: finished and not reviewed yet."""
        agent = self._whose(principal, agent_id)
        found = await self._log.practice.sessions(agent_id=agent, status="finished" if to_review else None,
                                                  reviewed=False if to_review else None)
        return [s.to_json() for s in found]

    async def review(self, principal: Principal, session_id: int, score: float, comment: str = "",
                     replies: Sequence[tuple[int, str]] = ()) -> dict[str, Any]:
        """A supervisor's review of a finished session: a score 0-100, a comment, and comments on replies by turn
        (replacing an earlier review)."""
        policy.check(principal.role, Action.REVIEW_PRACTICE)
        found = await self._session(session_id)
        if found.agent_id == principal.agent_id:
            raise NotAllowed("You cannot review a practice session of your own.")
        texts = [comment, *(text for _, text in replies)]
        if not 0 <= score <= 100:
            raise BadRequest("A review's score is 0 to 100.")
        if any(len(t) > MAX_COMMENT for t in texts) or not storable(*texts):
            raise BadRequest(f"A comment is at most {MAX_COMMENT} characters, without NUL characters.")
        if any(not 0 <= turn < found.turns for turn, _ in replies):
            raise BadRequest(f"This session's turns are 0 to {found.turns - 1}.")
        if found.status != "finished":
            raise Conflict("Only a finished practice session can be reviewed.")
        await self._log.practice.review(session_id, principal.agent_id, round(score, 1), comment.strip(),
                                        {turn: text.strip() for turn, text in replies if text.strip()},
                                        self._clock())
        return await self.session(principal, session_id)

    # ---- progress -------------------------------------------------------------------------------------------

    async def progress(self, principal: Principal, *, agent_id: str | None = None) -> dict[str, Any]:
        """Each agent's finished sessions over time (automatic total, review score) and their means per category
        (an agent: their own)."""
        agent = self._whose(principal, agent_id)
        found = await self._log.practice.sessions(agent_id=agent, status="finished", limit=5000)
        by_agent: dict[str, list[SessionView]] = defaultdict(list)
        for session in sorted(found, key=lambda s: (s.finished_at or s.started_at, s.id)):
            by_agent[session.agent_id].append(session)
        agents = []
        for agent_key, sessions in sorted(by_agent.items(), key=lambda kv: kv[1][0].agent_name or kv[0]):
            categories: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"auto": [], "reviewed": []})
            for s in sessions:
                key = s.category or core.NO_CATEGORY
                if s.total is not None:
                    categories[key]["auto"].append(s.total)
                if s.review_score is not None:
                    categories[key]["reviewed"].append(s.review_score)
            agents.append({
                "agent_id": agent_key, "agent_name": sessions[0].agent_name, "sessions": len(sessions),
                "points": [{"session_id": s.id, "at": (s.finished_at or s.started_at).isoformat(),
                            "category": s.category or core.NO_CATEGORY, "total": s.total,
                            "review_score": s.review_score} for s in sessions],
                "categories": [{"category": key, "sessions": len(values["auto"]), "auto": _mean(values["auto"]),
                                "reviewed": _mean(values["reviewed"])} for key, values in sorted(categories.items())]})
        return {"agents": agents}


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None
