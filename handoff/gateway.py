"""The WebSocket gateway: customer and agent connections, frames in and out (docs/handoff-protocol.md).

Each connection subscribes to its channels on the store's bus, so a message stored by any instance reaches
every socket of the conversation on every instance. Malformed frames get an ``error`` frame and the
connection stays; a frame we fail on unexpectedly is logged and the connection closes with 1011.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from handoff.auth import Principal, check_customer_token
from handoff.core.model import State
from handoff.errors import BadRequest, HandoffError, NotAllowed, UnknownConversation
from handoff.service import HandoffService
from handoff.service.base import QUEUE_CHANNEL, agent_channel, conversation_channel

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED, CLOSE_UNKNOWN, CLOSE_ERROR, CLOSE_TRY_AGAIN = 4401, 4404, 1011, 1013
Frame = dict[str, Any]
MAX_MESSAGE_ID = 2**31 - 1  # message ids are 32-bit integers in PostgreSQL


def parse(raw: str) -> Frame:
    try:
        frame = json.loads(raw)
    except ValueError:
        raise BadRequest("That frame is not JSON.") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise BadRequest('A frame is a JSON object with a "type".')
    client_id = frame.get("client_id")
    if client_id is not None and (not isinstance(client_id, str) or len(client_id) > 100):
        raise BadRequest("client_id must be a string of at most 100 characters.")
    return frame


class Connection:
    """One socket: an outbox drained by a writer task, and the bus subscriptions feeding it."""

    def __init__(self, websocket: WebSocket, service: HandoffService) -> None:
        self.websocket = websocket
        self.service = service
        self.outbox: asyncio.Queue[Frame] = asyncio.Queue(maxsize=1000)
        self.state: str | None = None  # the conversation's state as last told to this client
        self._subscriptions: list[Any] = []

    async def deliver(self, frame: Frame) -> None:
        if frame.get("type") == "state":
            self.state = frame.get("state")
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:  # a client that does not read: drop it, it catches up by id on reconnect
            logger.warning("a client is not reading its socket; closing it")
            await self.websocket.close(CLOSE_ERROR)

    async def subscribe(self, *channels: str) -> None:
        for channel in channels:
            self._subscriptions.append(await self.service.store.subscribe(channel, self.deliver))

    async def writer(self, on_idle: Callable[[], Awaitable[None]] | None, idle: float) -> None:
        while True:
            try:
                frame = await asyncio.wait_for(self.outbox.get(), idle)
            except TimeoutError:
                if on_idle is not None:
                    await on_idle()
                continue
            await self.websocket.send_json(frame)

    async def serve(self, handle: Callable[[Frame], Awaitable[None]],
                    on_idle: Callable[[], Awaitable[None]] | None = None, idle: float = 30.0) -> None:
        writer = asyncio.create_task(self.writer(on_idle, idle))
        try:
            while True:
                raw = await self.websocket.receive_text()
                frame: Frame = {}
                try:
                    frame = parse(raw)
                    await handle(frame)
                except HandoffError as exc:
                    await self.deliver({"type": "error", "code": exc.code, "detail": str(exc),
                                        "client_id": frame.get("client_id")})
                if writer.done():
                    writer.result()
        except WebSocketDisconnect:
            pass
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            await self.release()

    async def release(self) -> None:
        """Close the connection's bus subscriptions."""
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            await subscription.close()


async def customer_socket(websocket: WebSocket, service: HandoffService) -> None:
    params = websocket.query_params
    await websocket.accept()
    try:
        record = await service.conversation(params.get("conversation_id", ""))
        check_customer_token(str(service.settings.secret), record.conversation_id, params.get("token"))
        after = min(max(int(params.get("after") or 0), 0), MAX_MESSAGE_ID)
    except UnknownConversation:
        await websocket.close(CLOSE_UNKNOWN, "unknown conversation")
        return
    except NotAllowed:
        await websocket.close(CLOSE_UNAUTHORIZED, "bad token")
        return
    except ValueError:
        after = 0
    conversation_id = record.conversation_id
    connection = Connection(websocket, service)
    try:
        await connection.subscribe(conversation_channel(conversation_id))
        messages = await service.log.messages(conversation_id, after_id=after)
        await websocket.send_json({"type": "hello", "conversation_id": conversation_id,
                                   "state": record.state.value, "messages": [m.to_json() for m in messages],
                                   "queue": await service.queue_status(record)})
        connection.state = record.state.value
        await service.customer_presence(conversation_id, connected=True)
    except HandoffError as exc:  # the store is down: the widget retries, and catches up by message id
        logger.warning("conversation %s: customer socket refused (%s)", conversation_id, exc)
        await connection.release()
        await websocket.close(CLOSE_TRY_AGAIN, "temporarily unavailable")
        return

    async def handle(frame: Frame) -> None:
        kind = frame["type"]
        if kind == "message":
            message, new = await service.customer_says(conversation_id, frame.get("text"), frame.get("client_id"))
            await connection.deliver({"type": "ack", "client_id": frame.get("client_id"), "id": message.id})
            if new:
                await service.after_customer_message(message)
        elif kind == "typing":
            current = await service.conversation(conversation_id)
            if current.state is State.ASSIGNED and current.agent_id:
                await service.store.publish(agent_channel(current.agent_id),
                                            {"type": "typing", "conversation_id": conversation_id})
        elif kind == "ping":
            await connection.deliver({"type": "pong"})
        else:
            raise BadRequest(f"Unknown frame type {kind!r}.")

    async def refresh_queue() -> None:
        if connection.state != State.QUEUED.value:  # idle sockets cost nothing while the bot or an agent has them
            return
        current = await service.conversation(conversation_id)
        if current.state is State.QUEUED:
            await connection.deliver(await service.state_frame(current))

    try:
        await connection.serve(handle, refresh_queue, service.settings.queue_refresh)
    except Exception:
        logger.exception("conversation %s: customer socket failed", conversation_id)
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_ERROR)
    finally:
        with contextlib.suppress(HandoffError):
            await service.customer_presence(conversation_id, connected=False)


async def agent_socket(websocket: WebSocket, service: HandoffService, principal: Principal | None) -> None:
    await websocket.accept()
    if principal is None:
        await websocket.close(CLOSE_UNAUTHORIZED, "sign in first")
        return
    connection = Connection(websocket, service)
    try:
        await connection.subscribe(agent_channel(principal.agent_id), QUEUE_CHANNEL)
        agent = await service.store.get_agent(principal.agent_id)
        await websocket.send_json({"type": "hello",
                                   "agent": {**principal.to_json(),
                                             "presence": agent.presence.value if agent else "offline"},
                                   "queue": await service.queue_summaries(),
                                   "conversations": await service.mine(principal)})
    except HandoffError as exc:
        logger.warning("agent %s: socket refused (%s)", principal.agent_id, exc)
        await connection.release()
        await websocket.close(CLOSE_TRY_AGAIN, "temporarily unavailable")
        return

    async def handle(frame: Frame) -> None:
        kind, conversation_id = frame["type"], str(frame.get("conversation_id") or "")
        if kind == "message":
            message, _ = await service.agent_says(principal, conversation_id, frame.get("text"),
                                                  frame.get("client_id"))
            await connection.deliver({"type": "ack", "client_id": frame.get("client_id"), "id": message.id,
                                      "conversation_id": conversation_id})
        elif kind == "typing":
            await service.agent_typing(principal, conversation_id)
        elif kind == "ping":
            await connection.deliver({"type": "pong"})
        else:
            raise BadRequest(f"Unknown frame type {kind!r}.")

    try:
        await connection.serve(handle)
    except Exception:
        logger.exception("agent %s: socket failed", principal.agent_id)
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_ERROR)
