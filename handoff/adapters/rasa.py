"""The handoff service's bot: a client of the Rasa server's REST channel and tracker API.

Calls go one way (handoff -> Rasa) and only over HTTP; nothing of Rasa is imported. Implements the
service's :class:`~handoff.service.ports.Bot` port.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from handoff.core.errors import UpstreamUnavailable

logger = logging.getLogger(__name__)

UNAVAILABLE = "The assistant is not answering right now."
CANDIDATE_CHANNEL = "candidate"  # bot/candidate.py: the A/B trial's candidate model, same body and replies as rest
HANDBACK_INTENT = "human_handoff_turn"  # what the hand-back calls the customer's words the bot never classified


class RasaClient:
    """Talks to one Rasa server (or a load balancer in front of several)."""

    def __init__(self, url: str, token: str, timeout: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        """``transport``: where requests go instead of the network (an in-process server, in tests)."""
        self._url = url.rstrip("/")
        self._token = token
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, conversation_id: str, text: str,
                   metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Say ``text`` to the bot as the customer; return the bot's replies (Rasa REST channel format). With
        ``model_arm`` ``candidate`` in ``metadata`` (an A/B trial's candidate arm: handoff/service/trials.py), to
        the servers' candidate channel (``bot/candidate.py``), which answers with the trial's candidate model.

        Raises:
            UpstreamUnavailable: Rasa did not answer, or answered with an error.
        """
        body = {"sender": conversation_id, "message": text, "metadata": metadata or {}}
        channel = CANDIDATE_CHANNEL if (metadata or {}).get("model_arm") == "candidate" else "rest"
        try:
            response = await self._http.post(f"{self._url}/webhooks/{channel}/webhook", json=body)
            response.raise_for_status()
            replies = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("conversation %s: Rasa did not answer (%s)", conversation_id, type(exc).__name__)
            raise UpstreamUnavailable(UNAVAILABLE) from exc
        if not isinstance(replies, list):
            raise UpstreamUnavailable(UNAVAILABLE)
        return [reply for reply in replies if isinstance(reply, dict)]

    async def hand_back(self, conversation_id: str, transcript: Sequence[tuple[str, str, float]],
                        agent_name: str) -> None:
        """Write the human part of the conversation into the tracker (:func:`handback_events`).

        Raises:
            UpstreamUnavailable: Rasa did not take it.
        """
        await self.append_events(conversation_id, handback_events(transcript, agent_name))

    async def intents(self, conversation_id: str, latest: bool = False) -> list[str]:
        """The intents of the customer's messages in the tracker (``GET /conversations/{id}/tracker``): with
        ``latest``, only the newest message's (the tracker without its events: a few KB); otherwise every user
        event's, in the order first seen, without the hand-back's ``human_handoff_turn``.

        Raises:
            UpstreamUnavailable: Rasa did not answer.
        """
        names: list[str] = []
        for parse in await self.parses(conversation_id, latest):
            name = intent_name(parse)
            if name and (latest or (name != HANDBACK_INTENT and name not in names)):
                names.append(name)
        return names

    async def parses(self, conversation_id: str, latest: bool = False) -> list[dict[str, Any]]:
        """What the NLU made of the customer's messages (``parse_data``: ``text``, ``intent``,
        ``intent_ranking``), oldest first, from the tracker (``GET /conversations/{id}/tracker``); with
        ``latest``, only the newest message's (the tracker without its events: a few KB).

        Raises:
            UpstreamUnavailable: Rasa did not answer.
        """
        url = f"{self._url}/conversations/{quote(conversation_id, safe='')}/tracker"
        try:
            response = await self._http.get(url, params={"token": self._token,
                                                         "include_events": "NONE" if latest else "ALL"})
            response.raise_for_status()
            tracker = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("conversation %s: Rasa did not give its tracker (%s)", conversation_id, type(exc).__name__)
            raise UpstreamUnavailable(UNAVAILABLE) from exc
        if not isinstance(tracker, dict):
            raise UpstreamUnavailable(UNAVAILABLE)
        if latest:
            parse = tracker.get("latest_message")
            return [parse] if isinstance(parse, dict) and intent_name(parse) else []
        return [event["parse_data"] for event in tracker.get("events") or []
                if isinstance(event, dict) and event.get("event") == "user" and isinstance(event.get("parse_data"),
                                                                                          dict)]

    async def append_events(self, conversation_id: str, events: Sequence[dict[str, Any]]) -> None:
        """Append events to the conversation's tracker (``POST /conversations/{id}/tracker/events``).

        Raises:
            UpstreamUnavailable: Rasa did not take them.
        """
        url = f"{self._url}/conversations/{quote(conversation_id, safe='')}/tracker/events"
        try:
            response = await self._http.post(url, params={"token": self._token, "include_events": "NONE"},
                                             json=list(events))
            response.raise_for_status()
        except httpx.HTTPError as exc:
            logger.warning("conversation %s: Rasa refused the hand-back events (%s)", conversation_id, exc)
            raise UpstreamUnavailable(UNAVAILABLE) from exc


def intent_name(parse: Any) -> str | None:
    """The intent's name in a message's parse data (``{"intent": {"name": ...}}``), or None."""
    intent = parse.get("intent") if isinstance(parse, dict) else None
    name = intent.get("name") if isinstance(intent, dict) else None
    return name if isinstance(name, str) and name else None


def handback_events(transcript: Sequence[tuple[str, str, float]], agent_name: str) -> list[dict[str, Any]]:
    """Tracker events for the human part of a conversation, so the bot resumes with the context.

    Customer words become ``user`` events with the intent ``human_handoff_turn`` (they were never classified:
    the bot was not listening), agent words become ``bot`` events marked with the agent's name, and the
    ``handoff_requested`` slot is reset so the bot answers again.

    Args:
        transcript: ``(sender, text, timestamp)`` of each message since the hand-off, oldest first; sender is
            ``customer`` or ``agent`` (system messages are left out).
        agent_name: who spoke for the company.
    """
    events: list[dict[str, Any]] = []
    for sender, text, timestamp in transcript:
        if sender == "customer":
            events.append({"event": "user", "text": text, "timestamp": timestamp,
                           "parse_data": {"text": text, "intent": {"name": HANDBACK_INTENT, "confidence": 1.0},
                                          "entities": []},
                           "input_channel": "handoff"})
            events.append({"event": "action", "name": "action_listen", "timestamp": timestamp})
        elif sender == "agent":
            events.append({"event": "bot", "text": text, "timestamp": timestamp,
                           "metadata": {"agent": agent_name}})
    events.append({"event": "slot", "name": "handoff_requested", "value": False})
    return events
