"""The NLU inbox (docs/training.md): the customer messages the bot was unsure about, for trainers to label.

What lands in it, one row per customer message (:meth:`InboxBook.note`; several reasons add up):

- ``fallback`` / ``ambiguous``: after each bot turn the tracker's latest parse (``intent_ranking``) is read once
  (:meth:`TrainingInbox.after_turn`; the feedback part's ending intents reuse it) and judged by
  :func:`handoff.core.inbox.uncertain` (``HANDOFF_INBOX_MIN_CONFIDENCE``, ``HANDOFF_INBOX_MARGIN``);
- ``handed_off``: the message the bot handed off on, when its reasons were about understanding
  (:data:`handoff.core.inbox.NLU_HANDOFF_REASONS`);
- ``not_helpful``: the customer's question a knowledge answer voted "not helpful" replied to;
- ``agent_category``: an agent set the ticket's category to another than the bot's (a hint the trainer sees).

Each row keeps the model's top intents and scores. The workbench reads the open rows grouped by near-duplicate
(:func:`handoff.core.inbox.group`) over the local sentence encoder's vectors (``HANDOFF_INSIGHTS_ENCODER``, the
one the topics use), or by the normalised text when the encoder is missing (the answer says which). A trainer
labels items with an intent (of the domain, or new), marks them out of scope, dismisses or reopens them; after
each decision the confirmed examples are written to ``HANDOFF_INBOX_FILE`` in Rasa's YAML format
(:func:`handoff.core.inbox.render`), minus those the other NLU files hold already. The policy's
``read_inbox`` and ``label_inbox``: trainers, supervisors and admins.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from handoff.core import inbox as rules
from handoff.core.errors import BadRequest, HandoffError, UnknownConversation, UpstreamUnavailable
from handoff.core.inbox import CONFIRMED, Decision, Reason, Status
from handoff.core.model import MAX_ROW_ID, ConversationRecord
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.policy import Action
from handoff.service.ports import (
    Bot,
    Clock,
    InboxView,
    MessageView,
    SentenceEncoder,
    TicketLog,
    TicketView,
    TrainingData,
)
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)

PAGE = 2000  # open items the workbench groups at once (the oldest first)
CACHE = 20_000  # sentence vectors kept in memory, by item id
DECISION_STATUS = {Decision.LABEL: Status.LABELLED, Decision.OUT_OF_SCOPE: Status.OUT_OF_SCOPE,
                   Decision.DISMISS: Status.DISMISSED, Decision.REOPEN: Status.NEW}


class Grouper:
    """Texts grouped by near-duplicate (:func:`handoff.core.inbox.group`) over the sentence encoder's vectors,
    cached by id (the NLU inbox's items, the knowledge workbench's questions), or by their normalised text when
    the encoder is missing (``grouping``: ``encoder`` or ``text``)."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self._encoder = encoder
        self._vectors: dict[int, npt.NDArray[np.float32]] = {}

    async def group(self, texts: Sequence[tuple[int, str]], threshold: float) -> tuple[list[list[int]], str]:
        """Indexes of ``texts`` (``(id, text)``), in groups of near-duplicates, and how they were grouped."""
        vectors, grouping = await self._encode(texts)
        return rules.group([rules.key(text) for _, text in texts], vectors, threshold), grouping

    async def _encode(self, texts: Sequence[tuple[int, str]]) -> tuple[npt.NDArray[np.float32] | None, str]:
        """The texts' sentence vectors (cached by id) and ``encoder``, or None and ``text`` without an encoder."""
        if not texts:
            return None, "encoder"
        missing = [(i, text) for i, text in texts if i not in self._vectors]
        if missing:
            try:
                encoded = await asyncio.to_thread(self._encoder.encode, [text for _, text in missing])
            except UpstreamUnavailable as exc:
                logger.warning("near-duplicates grouped by normalised text: %s", exc)
                return None, "text"
            if len(self._vectors) + len(missing) > CACHE:
                self._vectors.clear()
            self._vectors.update({i: vector for (i, _), vector in zip(missing, encoded, strict=True)})
        return np.asarray([self._vectors[i] for i, _ in texts], dtype=np.float32), "encoder"


class TrainingInbox:
    """Notices uncertain messages; pages, groups and decides them for trainers; writes the training data."""

    def __init__(self, settings: HandoffSettings, log: TicketLog, bot: Bot, training: TrainingData,
                 encoder: SentenceEncoder, clock: Clock) -> None:
        self._settings = settings
        self._log = log
        self._bot = bot
        self._training = training
        self._clock = clock
        self._thresholds = rules.Thresholds(settings.inbox_min_confidence, settings.inbox_margin)
        self._grouper = Grouper(encoder)
        self._writing = asyncio.Lock()

    # ---- noticing ----------------------------------------------------------------------------------------

    async def after_turn(self, record: ConversationRecord, message: MessageView,
                         request: dict[str, Any] | None) -> dict[str, Any] | None:
        """The bot answered ``message`` (``request``: the hand-off it asked for, if it did): read what its NLU made
        of it, keep the message if it was unsure, and return the parse (None: the inbox is off, or the tracker
        was not read). Never fails the turn."""
        if not self._settings.inbox:
            return None
        try:
            parses = await self._bot.parses(record.conversation_id, latest=True)
        except UpstreamUnavailable:
            parses = []
        parse = parses[0] if parses else None
        said = parse.get("text") if parse else None
        mine = parse is not None and (not isinstance(said, str) or said.strip() == message.text.strip())
        reasons = rules.uncertain(parse, self._thresholds) if mine else []
        intents = rules.ranking(parse) if mine else []
        if request is not None:
            codes = [r.get("code") for r in request.get("reasons") or [] if isinstance(r, dict)]
            if rules.handoff_reasons(str(c) for c in codes):
                reasons.append(Reason.HANDED_OFF)
                intents = intents or rules.ranking({"intent_ranking": request.get("intents")})
        if reasons:
            await self._quietly(self._log.inbox.note(message.id, reasons, intents, self._clock()), record)
        return parse

    async def not_helpful(self, conversation_id: str, answer_id: int) -> None:
        """The customer voted the knowledge answer ``answer_id`` not helpful: the question it answered (their
        last message before it) goes to the inbox."""
        if not self._settings.inbox:
            return
        asked = [m for m in await self._log.conversations.messages(conversation_id)
                 if m.sender == "customer" and m.id < answer_id]
        if not asked:
            return
        question = asked[-1]
        intents: list[dict[str, Any]] = []
        if await self._log.inbox.of_message(question.id) is None:
            intents = await self._intents_of(conversation_id, question.text)
        await self._log.inbox.note(question.id, [Reason.NOT_HELPFUL], intents, self._clock())

    async def recategorised(self, ticket: TicketView, category: str, agent_id: str) -> None:
        """An agent set ``ticket``'s category to ``category`` (not the bot's): the message the bot handed off on
        goes to the inbox with the agent's category as a hint."""
        if not self._settings.inbox:
            return
        said = [m for m in await self._log.conversations.messages(ticket.conversation_id)
                if m.sender == "customer" and m.created_at <= ticket.created_at]
        if not said:
            return
        request = ticket.request if isinstance(ticket.request, dict) else {}
        intents = rules.ranking({"intent_ranking": request.get("intents")})
        hint = {"category": category, "bot_category": ticket.category, "agent_id": agent_id}
        await self._log.inbox.note(said[-1].id, [Reason.AGENT_CATEGORY], intents, self._clock(), hint=hint)
        logger.info("conversation %s: category %s set by agent %s; its message is in the NLU inbox",
                    ticket.conversation_id, category, agent_id)

    async def _intents_of(self, conversation_id: str, text: str) -> list[dict[str, Any]]:
        """The model's ranking of the newest customer message with this text, from the tracker ([] if none)."""
        try:
            parses = await self._bot.parses(conversation_id)
        except UpstreamUnavailable:
            return []
        for parse in reversed(parses):
            if str(parse.get("text", "")).strip() == text.strip():
                return rules.ranking(parse)
        return []

    @staticmethod
    async def _quietly(noting: Any, record: ConversationRecord) -> None:
        """Keeping a message for the trainers never fails the bot's turn."""
        try:
            await noting
        except HandoffError as exc:  # the ticket log is unreachable: degraded, not a bug
            logger.warning("conversation %s: the NLU inbox missed a message (%s)", record.conversation_id, exc)
        except Exception:
            logger.exception("conversation %s: keeping a message in the NLU inbox failed", record.conversation_id)

    # ---- the workbench -----------------------------------------------------------------------------------

    async def page(self, principal: Principal, status: str = Status.NEW.value) -> dict[str, Any]:
        """The items in ``status`` (the oldest :data:`PAGE`), grouped by near-duplicate, largest group first:
        each group's items, the model's intents averaged over them, the reasons counted, the agents' hints."""
        policy.check(principal.role, Action.READ_INBOX)
        try:
            wanted = Status(status)
        except ValueError:
            raise BadRequest("The status is new, labelled, out_of_scope or dismissed.") from None
        items = await self._log.inbox.items([wanted.value], PAGE)
        found, grouping = await self._grouper.group([(i.id, i.text) for i in items], self._settings.inbox_similarity)
        groups = [self._group([items[i] for i in members]) for members in found]
        groups.sort(key=lambda g: (-int(g["size"]), int(g["id"])))
        counts = await self._log.inbox.counts()
        return {"status": wanted.value, "grouping": grouping, "counts": {s.value: counts.get(s.value, 0)
                                                                       for s in Status},
                "groups": groups}

    @staticmethod
    def _group(members: Sequence[InboxView]) -> dict[str, Any]:
        scores: dict[str, list[float]] = {}
        for item in members:
            for entry in item.intents:
                scores.setdefault(entry["name"], []).append(float(entry["confidence"]))
        averaged = sorted(((round(sum(s) / len(members), 4), name, len(s)) for name, s in scores.items()),
                          key=lambda e: (-e[0], e[1]))
        intents = [{"name": name, "confidence": confidence, "seen": seen} for confidence, name, seen in averaged]
        reasons = Counter(r for item in members for r in item.reasons)
        hints = sorted({str(item.hint["category"]) for item in members if item.hint and item.hint.get("category")})
        return {"id": members[0].id, "size": len(members), "text": members[0].text,
                "intents": intents[:rules.TOP], "reasons": dict(sorted(reasons.items())), "hints": hints,
                "items": [_shown(item) for item in members]}

    async def intents(self, principal: Principal) -> dict[str, Any]:
        """The intents to label with: the domain's, and the new ones trainers made (``in_domain`` False), each
        with how many inbox items carry it."""
        policy.check(principal.role, Action.READ_INBOX)
        domain = set(await self._training.domain_intents()) - rules.IGNORED_INTENTS
        used = await self._log.inbox.intents_used()
        return {"intents": [{"name": name, "in_domain": name in domain, "labelled": used.get(name, 0)}
                            for name in sorted(domain | set(used))]}

    async def decide(self, principal: Principal, item_ids: Sequence[Any], decision: str,
                     intent: str | None = None) -> dict[str, Any]:
        """Apply a trainer's decision to the items (``label`` with ``intent``, ``out_of_scope``, ``dismiss``,
        ``reopen``), then write the training data.

        Raises:
            BadRequest: no or too many items, an unknown decision, a label without a valid intent.
            UnknownConversation: an item that does not exist.
        """
        policy.check(principal.role, Action.LABEL_INBOX)
        ids = _ids(item_ids)
        try:
            chosen = Decision(decision)
        except ValueError:
            raise BadRequest("The decision is label, out_of_scope, dismiss or reopen.") from None
        label: str | None = None
        if chosen is Decision.LABEL:
            try:
                label = rules.check_intent(intent)
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        elif chosen is Decision.OUT_OF_SCOPE:
            label = rules.OUT_OF_SCOPE
        found = {item.id for item in await self._log.inbox.by_ids(ids)}
        if missing := [i for i in ids if i not in found]:
            raise UnknownConversation(f"There is no inbox item {missing[0]}.")
        decided_by = None if chosen is Decision.REOPEN else principal.agent_id
        changed = await self._log.inbox.decide(ids, DECISION_STATUS[chosen].value, label, decided_by,
                                               self._clock())
        written = await self.write()
        domain = set(await self._training.domain_intents())
        logger.info("NLU inbox: %d items %s%s by %s", changed, chosen.value, f" as {label}" if label else "",
                    principal.agent_id)
        return {"decided": changed, "decision": chosen.value, "intent": label,
                "new_intent": label is not None and label not in domain, **written}

    # ---- the training data -------------------------------------------------------------------------------

    async def write(self) -> dict[str, Any]:
        """Write the confirmed examples to ``HANDOFF_INBOX_FILE`` (when there are any, or the file exists):
        each text once (the latest decision wins), without those another NLU file holds under the same intent;
        one held under another intent there is a conflict, left out and reported (a reviewed edit of that file
        settles it)."""
        async with self._writing:
            latest: dict[str, tuple[str, str]] = {}
            for intent, text in await self._log.inbox.confirmed([s.value for s in CONFIRMED]):
                shown = rules.example(text)
                if shown:
                    latest[shown.casefold()] = (intent, shown)
            elsewhere: dict[str, str] = {}
            for intent, examples in (await self._training.examples()).items():
                for text in examples:
                    elsewhere.setdefault(text.casefold(), intent)
            kept: dict[str, list[str]] = {}
            conflicts = []
            for folded, (intent, text) in sorted(latest.items()):
                other = elsewhere.get(folded)
                if other is None:
                    kept.setdefault(intent, []).append(text)
                elif other != intent:
                    conflicts.append({"text": text, "intent": intent, "elsewhere": other})
            path = self._training.inbox_file
            changed = False
            if kept or await self._training.read() is not None:
                changed = await self._training.write(rules.render(kept))
            return {"file": {"path": str(path), "written": changed,
                             "examples": sum(len(v) for v in kept.values())}, "conflicts": conflicts}


def _ids(item_ids: Sequence[Any]) -> list[int]:
    if not isinstance(item_ids, list | tuple) or not 0 < len(item_ids) <= 1000:
        raise BadRequest("Name from 1 to 1000 inbox items.")
    ids = []
    for value in item_ids:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ROW_ID:
            raise BadRequest("An inbox item is named by its id, a positive whole number.")
        if value not in ids:
            ids.append(value)
    return ids


def _shown(item: InboxView) -> dict[str, Any]:
    """What a trainer sees of an item: the message and the model's view of it, nothing of the conversation."""
    shown = item.to_json()
    for hidden in ("conversation_id", "message_id"):
        shown.pop(hidden)
    if shown["hint"]:
        shown["hint"] = {"category": shown["hint"].get("category"), "bot_category": shown["hint"].get("bot_category")}
    return shown
