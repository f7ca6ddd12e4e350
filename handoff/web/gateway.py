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

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect

from handoff.core.errors import BadRequest, HandoffError, NotAllowed, RateLimited, UnknownConversation
from handoff.core.model import MAX_CLIENT_ID, ConversationRecord, State
from handoff.drain import Drain
from handoff.service import HandoffService
from handoff.service.auth import SIGNED_OUT, Principal
from handoff.service.ports import Subscription
from handoff.web.guards import client_address

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED, CLOSE_UNKNOWN, CLOSE_ERROR, CLOSE_TRY_AGAIN = 4401, 4404, 1011, 1013
CLOSE_FORBIDDEN = 4403  # the agent socket streams the queue: a role that may not see it (a trainer) gets none
CLOSE_TOO_MANY = 4429
Frame = dict[str, Any]
MAX_MESSAGE_ID = 2**31 - 1  # message ids are 32-bit integers in PostgreSQL
# what sending on a socket raises once it is closed (by the client, or by the server for a frame over the limit)
SOCKET_GONE = (WebSocketDisconnect, RuntimeError, OSError)
OUTBOX_LIMIT = 1000  # frames a client may fall behind before its socket is closed


def parse(raw: str | None) -> Frame:
    """A client's frame, checked for what every frame needs; raises ``BadRequest`` with a sentence saying what
    is wrong (``raw`` is None for a binary frame)."""
    if raw is None:
        raise BadRequest("Frames are JSON text; binary frames are not accepted.")
    try:
        frame = json.loads(raw)
    except ValueError:
        raise BadRequest("That frame is not JSON.") from None
    except RecursionError:  # a few thousand nested brackets fit in one frame
        raise BadRequest("That frame is nested too deeply.") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise BadRequest('A frame is a JSON object with a "type".')
    client_id = frame.get("client_id")
    if client_id is not None and (not isinstance(client_id, str) or len(client_id) > MAX_CLIENT_ID):
        raise BadRequest(f"client_id must be a string of at most {MAX_CLIENT_ID} characters.")
    return frame


class SocketCount:
    """The sockets open on this instance per conversation (customers) and per agent, for the caps
    ``HANDOFF_MAX_CUSTOMER_SOCKETS`` and ``HANDOFF_MAX_AGENT_SOCKETS``. Per instance: behind a load balancer
    that spreads one client's sockets over n instances the cap is n times as high, a bound all the same."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}

    def enter(self, key: str, cap: int) -> bool:
        """Count one more socket for ``key``, or return False (counting nothing) if it has ``cap`` already."""
        if self._open.get(key, 0) >= cap:
            return False
        self._open[key] = self._open.get(key, 0) + 1
        return True

    def leave(self, key: str) -> None:
        left = self._open.pop(key, 1) - 1
        if left > 0:
            self._open[key] = left

    def by_kind(self) -> dict[str, int]:
        """The sockets open now by kind (``customer``, ``agent``: the keys' prefix), for the metrics."""
        kinds: dict[str, int] = {}
        for key, count in self._open.items():
            kind = key.split(":", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + count
        return kinds


def socket_count(connection: HTTPConnection) -> SocketCount:
    """The application's :class:`SocketCount` (one per application, made on first use)."""
    state = connection.app.state
    if not hasattr(state, "sockets"):
        state.sockets = SocketCount()
    count: SocketCount = state.sockets
    return count


class Connection:
    """One socket: an outbox of frames (a :class:`~handoff.drain.Drain`, sending only once ``serve`` runs,
    after the hello) and the bus subscriptions feeding it.

    An idle socket costs only what the ASGI server keeps for it plus this object: the outbox and the bus
    deliveries hold a task only while frames wait, so ten thousand idle customers hold no task but their
    socket's own.
    """

    def __init__(self, websocket: WebSocket, on_state: Callable[[str | None], None] | None = None) -> None:
        self.websocket = websocket
        self.outbox: Drain[Frame] = Drain(self._send, OUTBOX_LIMIT, "socket writer", running=False)
        self.state: str | None = None  # the conversation's state as last told to this client
        self._on_state = on_state
        self._subscriptions: list[Subscription] = []
        self._failure: BaseException | None = None  # what stopped the outbox; ``serve`` raises it

    def told(self, state: str | None) -> None:
        """The client now knows the conversation is in ``state``."""
        self.state = state
        if self._on_state is not None:
            self._on_state(state)

    async def deliver(self, frame: Frame) -> None:
        if frame.get("type") == "state":
            self.told(frame.get("state"))
        if not self.outbox.put(frame) and not self.outbox.stopped:
            # a client that does not read: drop it, it catches up by id later
            logger.warning("a client is not reading its socket; closing it")
            await self.websocket.close(CLOSE_ERROR)

    async def _send(self, frame: Frame) -> None:
        """Send one frame; a failure is kept for :meth:`serve` (which ends quietly if the socket is gone)."""
        try:
            await self.websocket.send_json(frame)
        except Exception as exc:  # the socket is gone or broken: the reader finds out and ``serve`` raises it
            self._failure = exc
            self.outbox.pause()

    def keep(self, subscriptions: list[Subscription]) -> None:
        """The bus subscriptions feeding this socket (closed with it)."""
        self._subscriptions.extend(subscriptions)

    async def serve(self, handle: Callable[[Frame], Awaitable[None]]) -> None:
        self.outbox.start()  # with the frames published while the hello was being prepared
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                frame: Frame = {}
                try:
                    frame = parse(message.get("text"))
                    await handle(frame)
                except HandoffError as exc:
                    error = {"type": "error", "code": exc.code, "detail": str(exc), "client_id": frame.get("client_id")}
                    if isinstance(exc, RateLimited):
                        error["retry_after"] = int(exc.retry_after)
                    await self.deliver(error)
                if self._failure is not None:
                    if isinstance(self._failure, SOCKET_GONE):  # closed under us (a client that left, a frame
                        break  # over the size limit): a disconnect like any other, not a failure of ours
                    raise self._failure
        except WebSocketDisconnect:
            pass
        finally:
            await self.outbox.stop()
            await self.release()

    async def release(self) -> None:
        """Close the connection's bus subscriptions."""
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            await subscription.close()


def resume_after(raw: str | None) -> int:
    """The ``after`` query parameter: the last message id the client has, 0 when absent or malformed."""
    try:
        return min(max(int(raw or 0), 0), MAX_MESSAGE_ID)
    except ValueError:
        return 0


async def customer_socket(websocket: WebSocket, service: HandoffService) -> None:
    params = websocket.query_params
    await websocket.accept()
    customers = service.customers
    try:
        record = await customers.get(params.get("conversation_id", ""))
        await customers.check_token(record.conversation_id, params.get("token"))
    except UnknownConversation:
        await websocket.close(CLOSE_UNKNOWN, "unknown conversation")
        return
    except NotAllowed:
        await websocket.close(CLOSE_UNAUTHORIZED, "bad token")
        return
    conversation_id = record.conversation_id
    sockets, key = socket_count(websocket), f"customer:{conversation_id}"
    if not sockets.enter(key, service.settings.max_customer_sockets):
        await websocket.close(CLOSE_TOO_MANY, "too many connections to this conversation")
        return
    try:
        await _serve_customer(websocket, service, record, resume_after(params.get("after")))
    finally:
        sockets.leave(key)


async def _serve_customer(websocket: WebSocket, service: HandoffService, record: ConversationRecord,
                          after: int) -> None:
    customers = service.customers
    conversation_id = record.conversation_id
    client = client_address(websocket, service.settings)
    refresher: asyncio.Task[None] | None = None

    def on_state(state: str | None) -> None:
        nonlocal refresher
        if state == State.QUEUED.value and refresher is None:
            refresher = asyncio.create_task(refresh_while_queued())

    async def refresh_while_queued() -> None:
        """The queue position and wait, every ``HANDOFF_QUEUE_REFRESH`` seconds while the customer waits."""
        nonlocal refresher
        try:
            while connection.state == State.QUEUED.value:
                await asyncio.sleep(service.settings.queue_refresh)
                with contextlib.suppress(HandoffError):  # the store is down: try again next time
                    current = await customers.still_here(conversation_id)
                    if current.state is State.QUEUED and connection.state == State.QUEUED.value:
                        await connection.deliver(await customers.state_frame(current))
        finally:
            refresher = None

    async def on_frame(frame: Frame) -> None:
        if frame.get("type") == "revoked":  # the conversation's tokens were revoked, or its data deleted
            with contextlib.suppress(Exception):
                await websocket.close(CLOSE_UNAUTHORIZED, "this conversation's link was revoked")
            return
        await connection.deliver(frame)

    async def handle(frame: Frame) -> None:
        kind = frame["type"]
        if kind == "message":
            said = await customers.says(conversation_id, frame.get("text"), frame.get("client_id"), client)
            await connection.deliver({"type": "ack", "client_id": frame.get("client_id"), "id": said.message.id})
            await customers.bot_turn(said)
        elif kind == "typing":
            await customers.typing(conversation_id)
        elif kind == "ping":
            await connection.deliver({"type": "pong"})
        else:
            raise BadRequest(f"Unknown frame type {kind!r}.")

    connection = Connection(websocket, on_state)
    try:
        try:
            connection.keep(await customers.watch(conversation_id, on_frame))
            messages = await customers.history(conversation_id, after)
            await websocket.send_json({"type": "hello", "conversation_id": conversation_id,
                                       "state": record.state.value, "messages": [m.to_json() for m in messages],
                                       "queue": await customers.queue_status(record),
                                       "feedback": await service.feedback.state(conversation_id)})
            connection.told(record.state.value)
            await customers.presence(conversation_id, connected=True, seen=record)
        except HandoffError as exc:  # the store is down: the widget retries, and catches up by message id
            logger.warning("conversation %s: customer socket refused (%s)", conversation_id, exc)
            await websocket.close(CLOSE_TRY_AGAIN, "temporarily unavailable")
            return
        try:
            await connection.serve(handle)
        except Exception:
            logger.exception("conversation %s: customer socket failed", conversation_id)
            with contextlib.suppress(Exception):
                await websocket.close(CLOSE_ERROR)
        finally:
            with contextlib.suppress(HandoffError):
                await customers.presence(conversation_id, connected=False)
    finally:  # also when the client left during the hello: nothing of the socket may outlive it
        if refresher is not None:
            refresher.cancel()
        await connection.release()


async def agent_socket(websocket: WebSocket, service: HandoffService, principal: Principal | None,
                       token: str | None = None) -> None:
    """The console's socket, for as long as its session lasts: each frame the agent sends is checked against the
    session first, and a ``signed_out`` event for it (sign-out, deactivation, a new role, a password reset;
    from any instance) closes the socket with 4401."""
    await websocket.accept()
    if principal is None:
        await websocket.close(CLOSE_UNAUTHORIZED, "sign in first")
        return
    sockets, key = socket_count(websocket), f"agent:{principal.agent_id}"
    if not sockets.enter(key, service.settings.max_agent_sockets):
        await websocket.close(CLOSE_TOO_MANY, "too many connections for this agent")
        return
    try:
        await _serve_agent(websocket, service, principal, token)
    finally:
        sockets.leave(key)


async def _serve_agent(websocket: WebSocket, service: HandoffService, principal: Principal,
                       token: str | None) -> None:
    desk = service.desk

    async def still_signed_in() -> Principal:
        try:
            return await service.accounts.principal(token)
        except NotAllowed:
            with contextlib.suppress(Exception):
                await websocket.close(CLOSE_UNAUTHORIZED, "signed out")
            raise WebSocketDisconnect(CLOSE_UNAUTHORIZED) from None

    async def handle(frame: Frame) -> None:
        agent = await still_signed_in()
        kind, conversation_id = frame["type"], str(frame.get("conversation_id") or "")
        if kind == "message":
            message, _ = await desk.says(agent, conversation_id, frame.get("text"), frame.get("client_id"))
            await connection.deliver({"type": "ack", "client_id": frame.get("client_id"), "id": message.id,
                                      "conversation_id": conversation_id})
        elif kind == "typing":
            await desk.typing(agent, conversation_id)
        elif kind == "ping":
            await desk.seen(principal)
            await connection.deliver({"type": "pong"})
        elif kind == "watch":  # a supervisor watches one conversation at a time, read-only (docs/supervisors.md)
            watching, subscriptions = await service.supervision.watch(agent, conversation_id, connection.deliver)
            await unwatch()
            watched.extend(subscriptions)
            await connection.deliver(watching)
        elif kind == "unwatch":
            await unwatch()
            await connection.deliver({"type": "unwatched"})
        else:
            raise BadRequest(f"Unknown frame type {kind!r}.")

    watched: list[Subscription] = []  # the bus subscriptions of the conversation a supervisor watches

    async def unwatch() -> None:
        subscriptions = list(watched)
        watched.clear()
        for subscription in subscriptions:
            await subscription.close()

    async def deliver(frame: Frame) -> None:
        if frame.get("type") != SIGNED_OUT:
            await connection.deliver(frame)
        elif frame.get("session") in (None, principal.session):  # this session, or all of the agent's
            logger.info("agent %s: session ended, socket closed", principal.agent_id)
            with contextlib.suppress(Exception):
                await websocket.close(CLOSE_UNAUTHORIZED, "signed out")

    connection = Connection(websocket)
    try:
        try:
            connection.keep(await desk.watch(principal, deliver))
            await websocket.send_json(await desk.hello(principal))
            await desk.seen(principal)
        except NotAllowed as exc:
            logger.info("agent %s: socket refused (%s)", principal.agent_id, exc)
            await websocket.close(CLOSE_FORBIDDEN, "not for this role")
            return
        except HandoffError as exc:
            logger.warning("agent %s: socket refused (%s)", principal.agent_id, exc)
            await websocket.close(CLOSE_TRY_AGAIN, "temporarily unavailable")
            return
        try:
            await connection.serve(handle)
        except Exception:
            logger.exception("agent %s: socket failed", principal.agent_id)
            with contextlib.suppress(Exception):
                await websocket.close(CLOSE_ERROR)
    finally:  # also when the agent left during the hello
        await unwatch()
        await connection.release()
        with contextlib.suppress(HandoffError):  # their grace starts now
            await desk.seen(principal)
