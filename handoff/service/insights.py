"""Text analytics for supervisors: each conversation's sentiment trend, and what sent customers to a person.

- Sentiment (:meth:`Insights.sentiment`): every customer message scored by the local lexicon
  (:class:`~handoff.service.ports.Sentiment`, VADER), and the trend (:mod:`handoff.core.sentiment`). The
  policy's ``read_sentiment``: supervisors and admins any conversation, an agent their own.
- Topics (:meth:`Insights.find_topics`, the job): the customers' words in the conversations handed to a
  person or rated low in a period (:meth:`AnalyticsBook.texts`), embedded by the local sentence encoder,
  clustered and labelled (:mod:`handoff.core.topics`), kept per period (a later run over the same period
  replaces the earlier). Run by ``python -m handoff topics``, by the sweeper once a day at
  ``HANDOFF_INSIGHTS_HOUR`` (UTC; never with ``off``) for the current week (and the week before, while it has
  none), and from the console (``POST /api/insights/topics/refresh``). The policy's ``read_insights``:
  supervisors and admins.
- Routing (:class:`TopicMap`): a topic whose tickets mostly have one category (:func:`handoff.core.topics.
  category_of`) stands for it; a new hand-off whose category the bot did not know gets the category of the
  mapped topic nearest its customer's words, when at least ``HANDOFF_INSIGHTS_MIN_SIMILARITY`` similar.

Encoding and clustering run in a worker thread: the event loop keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from handoff.core import sentiment as trends
from handoff.core import topics as topic_core
from handoff.core.errors import BadRequest
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.policy import Action
from handoff.service.ports import Clock, SentenceEncoder, Sentiment, Store, StoredTopic, TicketLog
from handoff.settings import HandoffSettings

if TYPE_CHECKING:
    from handoff.service.conversations import Conversations
    from handoff.service.desk import Desk

logger = logging.getLogger(__name__)

DAY = 86400.0
WEEK = timedelta(days=7)
LAST_MESSAGES = 6
"""The customer's last messages (before the hand-off) that stand for a conversation: its opening greeting
and small talk weigh less than what they said last."""
MAX_CHARS = 1000
MAPPING_TTL = 600.0
"""Seconds an instance keeps the mapped topics before reading them again (another instance may have run)."""
MIN_SHARE, MIN_TICKETS = 0.7, 10
"""A topic stands for a category when at least 70 % of its tickets with a category have it, and there are at
least 10 of those."""
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
Progress = Callable[[str], None]


def document(messages: Sequence[str], summary: str = "") -> str:
    """The text that stands for a conversation: its customer's last messages (or, without any, the bot's
    summary), at most :data:`MAX_CHARS` characters."""
    text = " ".join(m.strip() for m in messages[-LAST_MESSAGES:] if m.strip()) or summary.strip()
    return text[-MAX_CHARS:]


def week_of(moment: datetime) -> tuple[datetime, datetime]:
    """The ISO week (Monday 00:00 UTC to the next Monday) that holds ``moment``."""
    day = moment.astimezone(UTC).date()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=day.weekday())
    return start, start + WEEK


def parse_week(week: str) -> tuple[datetime, datetime]:
    """``2026-W49`` -> that ISO week's ``[Monday, next Monday)`` in UTC."""
    match = _WEEK.match(week.strip())
    if not match:
        raise BadRequest("The week is an ISO week such as 2026-W49.")
    try:
        start = datetime.fromisocalendar(int(match[1]), int(match[2]), 1).replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest(f"There is no week {week.strip()}.") from None
    return start, start + WEEK


def week_name(start: datetime) -> str:
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


class TopicMap:
    """Routing's use of the topics: the category of the mapped topic nearest a new hand-off's words."""

    def __init__(self, log: TicketLog, encoder: SentenceEncoder, min_similarity: float, clock: Clock) -> None:
        self._log = log
        self._encoder = encoder
        self._min_similarity = min_similarity
        self._clock = clock
        self._mapped: tuple[float, np.ndarray[Any, Any], list[str]] | None = None

    def forget(self) -> None:
        """Read the mapped topics again at the next hand-off (a run just replaced them)."""
        self._mapped = None

    async def _topics(self) -> tuple[np.ndarray[Any, Any], list[str]]:
        now = self._clock()
        if self._mapped is None or now - self._mapped[0] >= MAPPING_TTL:
            run = await self._log.analytics.latest_run()
            mapped = [t for t in run.topics if t.category] if run else []
            centroids = np.asarray([t.centroid for t in mapped], dtype=np.float32)
            self._mapped = (now, centroids, [str(t.category) for t in mapped])
        return self._mapped[1], self._mapped[2]

    async def category(self, conversation_id: str, summary: str) -> str | None:
        """The category of the mapped topic nearest what the customer wrote (or the summary), if close enough;
        None without mapped topics (then nothing is encoded) or when none is."""
        centroids, categories = await self._topics()
        if not categories:
            return None
        messages = [m.text for m in await self._log.conversations.messages(conversation_id)
                    if m.sender == "customer"]
        text = document(messages, summary)
        if not text:
            return None
        vector = (await asyncio.to_thread(self._encoder.encode, [text]))[0]
        found = topic_core.nearest_topic(vector, centroids, self._min_similarity)
        if found is None:
            return None
        logger.info("conversation %s: category %s from its topic", conversation_id, categories[found])
        return categories[found]


class Insights:
    """The sentiment trend, the topics job, and the topics of a week."""

    def __init__(self, settings: HandoffSettings, store: Store, log: TicketLog, customers: Conversations,
                 desk: Desk, sentiment: Sentiment, encoder: SentenceEncoder, topic_map: TopicMap,
                 clock: Clock) -> None:
        self._settings = settings
        self._store = store
        self._log = log
        self._customers = customers
        self._desk = desk
        self._sentiment = sentiment
        self._encoder = encoder
        self._map = topic_map
        self._clock = clock
        self._next_run = self._next_hour(clock())
        self._job: asyncio.Task[None] | None = None
        self._running = asyncio.Lock()

    # ---- sentiment -------------------------------------------------------------------------------------

    async def sentiment(self, principal: Principal, conversation_id: str) -> dict[str, Any]:
        """Each customer message's score and label, and the conversation's trend."""
        record = await self._customers.get(conversation_id)
        await self._desk.authorize(principal, Action.READ_SENTIMENT, record)
        said = await self._log.analytics.customer_messages(record.conversation_id)
        scores = [self._sentiment.score(text) for _, text, _ in said]
        messages = [{"id": message_id, "at": at.isoformat(), "score": round(score, 3),
                     "label": trends.label(score)} for (message_id, _, at), score in zip(said, scores, strict=True)]
        return {"conversation_id": record.conversation_id, "messages": messages, **trends.trend(scores)}

    # ---- topics ----------------------------------------------------------------------------------------

    def _week(self, week: str | None) -> tuple[datetime, datetime]:
        return parse_week(week) if week else week_of(datetime.fromtimestamp(self._clock(), UTC))

    async def topics(self, principal: Principal, week: str | None = None) -> dict[str, Any]:
        """The topics of ``week`` (ISO, ``2026-W49``; this week by default), each with its count, its share
        of the week's texts, the count the week before (its topic nearest in meaning, when one is at least as
        similar as routing asks), its low ratings and its category."""
        policy.check(principal.role, Action.READ_INSIGHTS)
        start, end = self._week(week)
        run = await self._log.analytics.run(start, end)
        before = await self._log.analytics.run(start - WEEK, start)
        result: dict[str, Any] = {"week": week_name(start), "since": start.isoformat(), "until": end.isoformat(),
                                  "previous_week": week_name(start - WEEK), "run_at": None, "texts": 0, "topics": []}
        if run is None:
            return result
        earlier = before.topics if before else []
        centroids = np.asarray([t.centroid for t in earlier], dtype=np.float32)
        shown = []
        for topic in run.topics:
            match = topic_core.nearest_topic(np.asarray(topic.centroid, np.float32), centroids,
                                         self._settings.insights_min_similarity) if earlier else None
            shown.append({**topic.to_json(), "share": round(topic.size / run.texts, 3) if run.texts else 0.0,
                          "low_rated_share": round(topic.low_rated / topic.size, 3) if topic.size else 0.0,
                          "previous_size": earlier[match].size if match is not None else (0 if before else None)})
        return {**result, "run_at": run.created_at.isoformat(), "texts": run.texts, "topics": shown}

    async def refresh(self, principal: Principal, week: str | None = None) -> dict[str, Any]:
        """Find the topics of ``week`` (this week by default) now, and return them as :meth:`topics` does."""
        policy.check(principal.role, Action.READ_INSIGHTS)
        start, end = self._week(week)
        await self.find_topics(start, end)
        return await self.topics(principal, week_name(start))

    async def find_topics(self, since: datetime, until: datetime,
                          progress: Progress | None = None) -> dict[str, Any]:
        """The job: cluster what customers said in ``[since, until)`` and keep the topics (one run at a time
        in this process)."""
        say = progress or (lambda line: None)
        async with self._running:
            said = await self._log.analytics.texts(since, until)
            kept = [(s, document(s.messages, s.summary)) for s in said]
            kept = [(s, text) for s, text in kept if text]
            say(f"{len(kept)} conversations handed off or rated low between {since.isoformat()} and "
                f"{until.isoformat()}")
            found: list[StoredTopic] = []
            if kept:
                texts = [text for _, text in kept]
                say(f"embedding {len(texts)} texts with the local sentence encoder")
                vectors = await asyncio.to_thread(self._encoder.encode, texts)
                say("clustering (k by silhouette) and labelling (c-TF-IDF)")
                clusters = await asyncio.to_thread(topic_core.find_topics, texts, vectors,
                                                   self._settings.insights_topics)
                found = [self._stored(rank, topic, kept) for rank, topic in enumerate(clusters, 1)]
            await self._log.analytics.save_run(since, until, len(kept), found, self._clock())
            self._map.forget()
            mapped = sum(1 for t in found if t.category)
            say(f"{len(found)} topics kept ({mapped} mapped to a category)")
            logger.info("topics of %s..%s: %d texts, %d topics, %d mapped to a category", since.date(), until.date(),
                        len(kept), len(found), mapped)
            return {"since": since.isoformat(), "until": until.isoformat(), "texts": len(kept),
                    "topics": [t.to_json() for t in found]}

    @staticmethod
    def _stored(rank: int, topic: topic_core.Topic, kept: Sequence[tuple[Any, str]]) -> StoredTopic:
        members = [kept[i][0] for i in topic.members]
        match = topic_core.category_of([m.category if m.handed_off else None for m in members],
                                       MIN_SHARE, MIN_TICKETS)
        return StoredTopic(
            rank=rank, label=topic.label, keywords=list(topic.keywords), size=len(members),
            handed_off=sum(m.handed_off for m in members), low_rated=sum(m.low_rated for m in members),
            category=match.category, category_share=match.share, category_tickets=match.tickets,
            centroid=[round(float(x), 6) for x in topic.centroid],
            examples=[{"conversation_id": kept[i][0].conversation_id, "text": kept[i][1]} for i in topic.examples])

    # ---- the daily run ---------------------------------------------------------------------------------

    def _next_hour(self, now: float) -> float:
        """The next ``HANDOFF_INSIGHTS_HOUR`` o'clock (UTC) after ``now``; never (infinity) when it is off."""
        if self._settings.insights_hour is None:
            return math.inf
        moment = datetime.fromtimestamp(now, UTC)
        at = moment.replace(hour=self._settings.insights_hour, minute=0, second=0, microsecond=0)
        return (at if at > moment else at + timedelta(days=1)).timestamp()

    async def run_if_due(self) -> None:
        """The sweeper's daily run: once a day at ``HANDOFF_INSIGHTS_HOUR`` (never when it is off), by one
        instance (a claim in the live store), in the background; this week's topics, and last week's while it has
        none."""
        now = self._clock()
        if now < self._next_run or (self._job is not None and not self._job.done()):
            return
        self._next_run = self._next_hour(now)
        if not await self._store.claim(f"insights:topics:{int(now // DAY)}", DAY):
            return
        self._job = asyncio.create_task(self._daily(datetime.fromtimestamp(now, UTC)))

    async def _daily(self, now: datetime) -> None:
        try:
            start, end = week_of(now)
            if await self._log.analytics.run(start - WEEK, start) is None:
                await self.find_topics(start - WEEK, start)
            await self.find_topics(start, end)
        except Exception:
            logger.exception("the daily topics run failed; it runs again tomorrow")

    async def close(self) -> None:
        """Stop a daily run under way (before the ticket log closes)."""
        if self._job is not None and not self._job.done():
            self._job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._job
