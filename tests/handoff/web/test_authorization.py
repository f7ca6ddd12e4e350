"""Who may call what, as one table: every route of the application x every kind of caller x whose object it is
-> the status the caller gets.

Callers: ``nobody`` (no credentials), ``customer`` (the token of their own conversation), and an ``agent``
(grace), a ``trainer`` (tess: no conversation is theirs, so their ``own`` and ``other`` are one of grace's),
a ``supervisor`` (ada) and an ``admin``, each signed in. Targets: ``-`` (no object), ``own`` (the
caller's: the conversation assigned to them, its ticket, their account; the customer's conversation),
``other`` (another agent's: linus's, one conversation per caller so that one caller's action does not change
another's answer), ``queued`` (a conversation waiting for anybody). An attachment's 404 is a caller let through
to a file this service never kept (the e-mail channel's own tests download real ones). Telegram's webhook takes no
session: only its secret token header (which no caller here has) lets a request in (tests/handoff/web/
test_telegram_webhook.py sends it). Socket rows give the close code of a refused
socket, or 200 for a hello, an ``ack`` or a frame served; an ``error`` frame counts as its HTTP status. The rule
behind the table is :mod:`handoff.service.policy`; docs/security.md shows it.

A route added to the application without rows here fails :func:`test_every_route_has_rows`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Route, WebSocketRoute

from handoff.adapters.telegram import TelegramTransport
from handoff.service import HandoffService, policy
from handoff.service.auth import Principal, widget_signature
from handoff.settings import HandoffSettings, Secret
from handoff.web.app import create_app
from tests.conftest import ROOT
from tests.handoff.conftest import OpenService
from tests.handoff.library import library_copy
from tests.handoff.qa_history import rated
from tests.handoff.web.sockets import connect
from tests.handoff.world import PASSWORD, Agent, Customer, FakeClock

CALLERS = ("nobody", "customer", "agent", "trainer", "supervisor", "admin")
TABLE = """
method     path                                                  target  nobody customer agent trainer supervisor admin
GET        /                                                     -       200    200      200   200     200        200
GET        /widget.js                                            -       200    200      200   200     200        200
GET        /console                                              -       200    200      200   200     200        200
GET        /static/{name}                                        -       200    200      200   200     200        200
GET        /health                                               -       200    200      200   200     200        200
GET        /openapi.json                                         -       200    200      200   200     200        200
GET        /docs                                                 -       200    200      200   200     200        200
GET        /docs/oauth2-redirect                                 -       200    200      200   200     200        200
GET        /redoc                                                -       200    200      200   200     200        200
GET        /metrics                                              -       200    200      200   200     200        200
POST       /api/conversations                                    -       201    201      201   201     201        201
GET        /api/conversations/{conversation_id}/messages         own     401    200      401   401     401        401
GET        /api/conversations/{conversation_id}/messages         other   401    401      401   401     401        401
POST       /api/conversations/{conversation_id}/messages         own     401    200      401   401     401        401
POST       /api/conversations/{conversation_id}/messages         other   401    401      401   401     401        401
WS         /ws/customer                                          own     4401   200      4401  4401    4401       4401
WS         /ws/customer                                          other   4401   4401     4401  4401    4401       4401
POST       /api/auth/login                                       -       200    200      200   200     200        200
POST       /api/auth/logout                                      -       204    204      204   204     204        204
GET        /api/me                                               -       401    401      200   200     200        200
PUT        /api/me/presence                                      -       401    401      200   200     200        200
GET        /api/queue                                            -       401    401      200   403     200        200
GET        /api/agent/conversations                              -       401    401      200   200     200        200
GET        /api/agent/conversations/{conversation_id}            own     401    401      200   403     200        200
GET        /api/agent/conversations/{conversation_id}            other   401    401      403   403     200        200
GET        /api/agent/conversations/{conversation_id}            queued  401    401      403   403     200        200
GET        /api/agent/conversations/{conversation_id}/suggestions own     401    401      200   403     200        200
GET        /api/agent/conversations/{conversation_id}/suggestions other   401    401      403   403     200        200
GET        /api/agent/conversations/{conversation_id}/suggestions queued  401    401      403   403     200        200
GET        /api/agent/conversations/{conversation_id}/attachments/{folder}/{name} own     401    401      404   403     404        404
GET        /api/agent/conversations/{conversation_id}/attachments/{folder}/{name} other   401    401      403   403     404        404
GET        /api/agent/conversations/{conversation_id}/attachments/{folder}/{name} queued  401    401      403   403     404        404
POST       /api/agent/conversations/{conversation_id}/accept     own     401    401      200   403     200        200
POST       /api/agent/conversations/{conversation_id}/accept     other   401    401      409   403     409        409
POST       /api/agent/conversations/{conversation_id}/messages   own     401    401      200   403     200        200
POST       /api/agent/conversations/{conversation_id}/messages   other   401    401      403   403     200        200
POST       /api/agent/conversations/{conversation_id}/messages   queued  401    401      409   409     409        409
POST       /api/agent/conversations/{conversation_id}/notes      own     401    401      201   403     201        201
POST       /api/agent/conversations/{conversation_id}/notes      other   401    401      403   403     201        201
POST       /api/agent/conversations/{conversation_id}/notes      queued  401    401      403   403     201        201
POST       /api/agent/conversations/{conversation_id}/transfer   own     401    401      200   403     200        200
POST       /api/agent/conversations/{conversation_id}/transfer   other   401    401      403   403     200        200
POST       /api/agent/conversations/{conversation_id}/handback   own     401    401      200   403     200        200
POST       /api/agent/conversations/{conversation_id}/handback   other   401    401      403   403     200        200
POST       /api/agent/conversations/{conversation_id}/resolve    own     401    401      200   403     200        200
POST       /api/agent/conversations/{conversation_id}/resolve    other   401    401      403   403     200        200
GET        /api/agents                                           -       401    401      200   403     200        200
GET        /api/canned-responses                                 -       401    401      200   403     200        200
GET        /api/tickets                                          -       401    401      200   403     200        200
GET        /api/tickets/{ticket_id}                              own     401    401      200   403     200        200
GET        /api/tickets/{ticket_id}                              other   401    401      403   403     200        200
GET        /api/tickets/{ticket_id}                              queued  401    401      403   403     200        200
PATCH      /api/tickets/{ticket_id}                              own     401    401      200   403     200        200
PATCH      /api/tickets/{ticket_id}                              other   401    401      403   403     200        200
GET        /api/admin/agents                                     -       401    401      403   403     403        200
POST       /api/admin/agents                                     -       401    401      403   403     403        201
PATCH      /api/admin/agents/{agent_id}                          own     401    401      403   403     403        200
PATCH      /api/admin/agents/{agent_id}                          other   401    401      403   403     403        200
POST       /api/admin/agents/{agent_id}/password                 own     401    401      403   403     403        204
POST       /api/admin/agents/{agent_id}/password                 other   401    401      403   403     403        204
POST       /api/admin/customers/export                           -       401    401      403   403     403        200
POST       /api/admin/customers/delete                           -       401    401      403   403     403        200
POST       /api/admin/conversations/{conversation_id}/revoke-token own     401    401      403   403     403        204
POST       /api/admin/conversations/{conversation_id}/revoke-token other   401    401      403   403     403        204
POST       /api/admin/retention                                  -       401    401      403   403     403        200
GET        /api/alerts                                           -       401    401      403   403     200        200
GET        /api/alerts/rules                                     -       401    401      403   403     200        200
GET        /api/automation/rules                                 -       401    401      403   403     200        200
GET        /api/automation/events                                -       401    401      403   403     200        200
GET        /api/reports/summary                                  -       401    401      403   403     200        200
GET        /api/reports/timeseries                               -       401    401      403   403     200        200
GET        /api/reports/today                                    -       401    401      403   403     200        200
GET        /api/reports/export.csv                               -       401    401      403   403     200        200
GET        /api/capacity/forecast                                -       401    401      403   403     200        200
GET        /api/capacity/plan                                    -       401    401      403   403     200        200
POST       /api/capacity/what-if                                 -       401    401      403   403     200        200
POST       /api/capacity/simulate                                -       401    401      403   403     200        200
GET        /api/qa/scorecard                                     -       401    401      200   403     200        200
GET        /api/qa/sample                                        -       401    401      403   403     200        200
GET        /api/qa/tickets/{ticket_id}                           own     401    401      403   403     200        200
GET        /api/qa/tickets/{ticket_id}                           other   401    401      403   403     200        200
PUT        /api/qa/tickets/{ticket_id}/review                    own     401    401      403   403     403        403
PUT        /api/qa/tickets/{ticket_id}/review                    other   401    401      403   403     200        200
GET        /api/qa/reviews                                       -       401    401      200   403     200        200
GET        /api/qa/scores                                        -       401    401      200   403     200        200
GET        /api/followups                                        -       401    401      403   403     200        200
GET        /api/followups/{follow_up_id}                         own     401    401      403   403     200        200
GET        /api/followups/{follow_up_id}                         other   401    401      403   403     200        200
POST       /api/followups/{follow_up_id}/assign                  own     401    401      403   403     200        200
POST       /api/followups/{follow_up_id}/assign                  other   401    401      403   403     200        200
POST       /api/followups/{follow_up_id}/notes                   own     401    401      403   403     201        201
POST       /api/followups/{follow_up_id}/notes                   other   401    401      403   403     201        201
POST       /api/followups/{follow_up_id}/close                   own     401    401      403   403     200        200
POST       /api/followups/{follow_up_id}/close                   other   401    401      403   403     200        200
POST       /api/followups/{follow_up_id}/reopen                  own     401    401      403   403     409        409
POST       /api/followups/{follow_up_id}/reopen                  other   401    401      403   403     409        409
GET        /api/insights/conversations/{conversation_id}/sentiment own     401    401      200   403     200        200
GET        /api/insights/conversations/{conversation_id}/sentiment other   401    401      403   403     200        200
GET        /api/insights/conversations/{conversation_id}/sentiment queued  401    401      403   403     200        200
GET        /api/insights/topics                                  -       401    401      403   403     200        200
POST       /api/insights/topics/refresh                          -       401    401      403   403     200        200
WS         /ws/agent                                             -       4401   4401     200   4403    200        200
WS:message /ws/agent                                             own     4401   4401     200   4403    200        200
WS:message /ws/agent                                             other   4401   4401     403   4403    200        200
WS:typing  /ws/agent                                             own     4401   4401     200   4403    200        200
WS:typing  /ws/agent                                             other   4401   4401     403   4403    200        200
GET        /api/board                                            -       401    401      403   403     200        200
POST       /api/board/conversations/{conversation_id}/whisper    own     401    401      403   403     201        201
POST       /api/board/conversations/{conversation_id}/whisper    other   401    401      403   403     201        201
POST       /api/board/conversations/{conversation_id}/whisper    queued  401    401      403   403     409        409
POST       /api/board/conversations/{conversation_id}/reassign   own     401    401      403   403     409        409
POST       /api/board/conversations/{conversation_id}/reassign   other   401    401      403   403     409        409
POST       /api/board/conversations/{conversation_id}/escalate   own     401    401      403   403     200        200
POST       /api/board/conversations/{conversation_id}/escalate   other   401    401      403   403     200        200
POST       /api/board/conversations/{conversation_id}/escalate   queued  401    401      403   403     200        200
WS:watch   /ws/agent                                             own     4401   4401     403   4403    200        200
WS:watch   /ws/agent                                             other   4401   4401     403   4403    200        200
GET        /api/conversations/{conversation_id}/feedback         own     401    200      401   401     401        401
GET        /api/conversations/{conversation_id}/feedback         other   401    401      401   401     401        401
POST       /api/conversations/{conversation_id}/rating           own     401    409      401   401     401        401
POST       /api/conversations/{conversation_id}/rating           other   401    401      401   401     401        401
POST       /api/conversations/{conversation_id}/votes            own     401    400      401   401     401        401
POST       /api/conversations/{conversation_id}/votes            other   401    401      401   401     401        401
GET        /api/agent/conversations/{conversation_id}/feedback   own     401    401      403   403     200        200
GET        /api/agent/conversations/{conversation_id}/feedback   other   401    401      403   403     200        200
GET        /api/inbox                                            -       401    401      403   200     200        200
GET        /api/inbox/intents                                    -       401    401      403   200     200        200
POST       /api/inbox/decisions                                  -       401    401      403   200     200        200
GET        /api/models                                           -       401    401      403   200     200        200
GET        /api/models/{version}/report                          own     401    401      403   200     200        200
GET        /api/models/{version}/report                          other   401    401      403   200     200        200
POST       /api/models/retrain                                   -       401    401      403   202     409        409
POST       /api/models/{version}/promote                         own     401    401      403   400     400        400
POST       /api/models/{version}/promote                         other   401    401      403   400     400        400
POST       /api/models/rollback                                  -       401    401      403   400     400        400
GET        /api/models/trials                                    -       401    401      403   200     200        200
GET        /api/models/trials/current                            -       401    401      403   400     400        400
GET        /api/models/trials/{trial_id}                         own     401    401      403   200     200        200
GET        /api/models/trials/{trial_id}                         other   401    401      403   200     200        200
POST       /api/models/trial                                     -       401    401      403   400     400        400
DELETE     /api/models/trial                                     -       401    401      403   400     400        400
GET        /api/conversations/{conversation_id}/identities       own     401    200      401   401     401        401
GET        /api/conversations/{conversation_id}/identities       other   401    401      401   401     401        401
POST       /api/conversations/{conversation_id}/identities/email own     401    409      401   401     401        401
POST       /api/conversations/{conversation_id}/identities/email other   401    401      401   401     401        401
POST       /api/conversations/{conversation_id}/identities/email/confirm own     401    400      401   401     401        401
POST       /api/conversations/{conversation_id}/identities/email/confirm other   401    401      401   401     401        401
POST       /api/conversations/{conversation_id}/identities/link-code own     401    201      401   401     401        401
POST       /api/conversations/{conversation_id}/identities/link-code other   401    401      401   401     401        401
POST       /api/conversations/{conversation_id}/identities/unlink own     401    204      401   401     401        401
POST       /api/conversations/{conversation_id}/identities/unlink other   401    401      401   401     401        401
POST       /api/admin/customers/identities/unlink                -       401    401      403   403     403        204
POST       /channels/telegram/webhook                            -       401    401      401   401     401        401
GET        /api/practice/weak-spots                              -       401    401      200   403     200        200
GET        /api/practice/progress                                -       401    401      200   403     200        200
GET        /api/practice/sessions                                -       401    401      200   403     200        200
POST       /api/practice/sessions                                -       401    401      201   403     201        201
GET        /api/practice/sessions/{session_id}                   own     401    401      200   403     200        200
GET        /api/practice/sessions/{session_id}                   other   401    401      403   403     200        200
POST       /api/practice/sessions/{session_id}/replies           own     401    401      200   403     200        200
POST       /api/practice/sessions/{session_id}/replies           other   401    401      403   403     403        403
PUT        /api/practice/sessions/{session_id}/review            own     401    401      403   403     403        403
PUT        /api/practice/sessions/{session_id}/review            other   401    401      403   403     200        200
POST       /api/practice/scenarios                               -       401    401      403   403     200        200
GET        /api/knowledge/gaps                                   -       401    401      403   200     200        200
POST       /api/knowledge/gaps/dismiss                           -       401    401      403   200     200        200
GET        /api/knowledge/articles                               -       401    401      403   200     200        200
GET        /api/knowledge/articles/{article_id}                  own     401    401      403   200     200        200
GET        /api/knowledge/articles/{article_id}                  other   401    401      403   200     200        200
POST       /api/knowledge/articles                               -       401    401      403   201     201        201
PUT        /api/knowledge/articles/{article_id}                  own     401    401      403   200     200        200
PUT        /api/knowledge/articles/{article_id}                  other   401    401      403   200     200        200
DELETE     /api/knowledge/articles/{article_id}                  own     401    401      403   200     200        200
DELETE     /api/knowledge/articles/{article_id}                  other   401    401      403   200     200        200
POST       /api/knowledge/merges                                 -       401    401      403   200     200        200
"""


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    target: str
    expected: dict[str, int]

    @property
    def id(self) -> str:
        return f"{self.method} {self.path} {self.target}"


def rows() -> list[Row]:
    lines = [line.split() for line in TABLE.strip().splitlines()[1:]]
    return [Row(m, p, t, dict(zip(CALLERS, map(int, codes), strict=True))) for m, p, t, *codes in lines]


BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/models/{version}/promote"): {"force": False},
    ("POST", "/api/models/trial"): {"version": "20261201-120000-abcdef12", "share": 0.2},  # 400: its gate failed
    ("POST", "/api/conversations"): {},
    ("POST", "/api/conversations/{conversation_id}/messages"): {"text": "hello"},
    ("POST", "/api/auth/login"): {"username": "grace", "password": PASSWORD},
    ("PUT", "/api/me/presence"): {"presence": "away"},
    ("POST", "/api/agent/conversations/{conversation_id}/messages"): {"text": "Hello from the desk"},
    ("POST", "/api/agent/conversations/{conversation_id}/notes"): {"text": "a note"},
    ("POST", "/api/agent/conversations/{conversation_id}/transfer"): {"tier": 2},
    ("PATCH", "/api/tickets/{ticket_id}"): {"tags": ["checked"]},
    ("POST", "/api/admin/agents"): {"name": "New Colleague", "password": "a-long-password"},
    ("PATCH", "/api/admin/agents/{agent_id}"): {"capacity": 3},
    ("POST", "/api/admin/agents/{agent_id}/password"): {"password": "another-long-password"},
    ("POST", "/api/admin/customers/export"): {"email": "jo@example.com"},
    ("POST", "/api/admin/customers/delete"): {"email": "jo@example.com"},
    ("POST", "/api/board/conversations/{conversation_id}/whisper"): {"text": "a whisper"},
    ("POST", "/api/conversations/{conversation_id}/rating"): {"score": 5},  # 409 for its customer: not asked yet
    ("POST", "/api/conversations/{conversation_id}/votes"): {"message_id": 1, "helpful": True},  # 400: no answer
    ("PUT", "/api/qa/tickets/{ticket_id}/review"): {"scores": [
        {"criterion": key, "score": 1} for key in ("greeting", "accuracy", "tone", "resolution", "notes",
                                                    "data_protection")], "notes": "checked"},
    ("POST", "/api/followups/{follow_up_id}/assign"): {"agent_id": None},
    ("POST", "/api/followups/{follow_up_id}/notes"): {"text": "a note"},
    ("POST", "/api/followups/{follow_up_id}/close"): {},
    ("POST", "/api/capacity/what-if"): {"days": 1, "agents": [{"id": "new", "shift": []}]},
    ("POST", "/api/capacity/simulate"): {"since": "2026-11-25", "until": "2026-11-26", "seeds": 1},
    # the customer is signed in by the shop, with two identities; this service has no e-mail channel (409)
    ("POST", "/api/conversations/{conversation_id}/identities/email"): {"address": "jo@example.org"},
    ("POST", "/api/conversations/{conversation_id}/identities/email/confirm"): {"address": "jo@example.org",
                                                                                 "code": "ABCDEFGH"},  # 400: wrong
    ("POST", "/api/conversations/{conversation_id}/identities/unlink"): {"channel": "telegram", "address": "4242"},
    ("POST", "/channels/telegram/webhook"): {"update_id": 1, "message": {
        "message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "hello"}},
    ("POST", "/api/practice/sessions"): {},
    ("POST", "/api/practice/sessions/{session_id}/replies"): {"text": "Within 30 days, for a full refund."},
    ("PUT", "/api/practice/sessions/{session_id}/review"): {"score": 70, "comment": "Good."},
    ("POST", "/api/practice/scenarios"): {},
    ("POST", "/api/knowledge/articles"): {"category": "orders", "title": "Gift wrap colours",
                                          "body": "Red, green or gold."},
    ("PUT", "/api/knowledge/articles/{article_id}"): {"category": "orders", "title": "An edited article",
                                                      "body": "Edited by the authorization test."},
}
# the knowledge workbench's articles (a copy of data/knowledge) belong to nobody, so "own" and "other" are two
# articles the policy treats alike; each caller edits, retires or merges articles of their own, so that one's
# retirement does not change another's answer
ARTICLES = {"own": {"trainer": "orders-combine", "supervisor": "orders-gift-wrapping", "admin": "orders-order-number"},
            "other": {"trainer": "returns-exchanges", "supervisor": "returns-refund-timing",
                      "admin": "returns-sale-items"}}
MERGES = {"trainer": ("accounts-password-reset", "accounts-password-reset-old"),
          "supervisor": ("shipping-delivered-not-received", "shipping-delivered-not-received-old"),
          "admin": ("orders-status", "orders-confirmation-email")}
FRAME_STATUS = {"not_authenticated": 401, "not_allowed": 403, "unknown_conversation": 404, "state_conflict": 409,
                "bad_request": 400}


# the model registry of the world: the version built by make, live since (so nothing to roll back to), and a
# candidate whose gate failed (so that a promotion, refused by the gate without a force, changes nothing whoever
# asks)
BUILT, MODEL_VERSION = "20261130-120000-abcdef12", "20261201-120000-abcdef12"
TRIAL = "trial-20261201-130000"  # an A/B trial of an earlier candidate, ended: its results are readable


def model_registry(root: Path) -> Path:
    for version, passed in ((BUILT, None), (MODEL_VERSION, False)):
        (root / version).mkdir(parents=True)
        (root / version / "metadata.json").write_text(json.dumps({
            "version": version, "model_id": version, "data_hash": "abcdef12" * 8, "trained_by": "tess",
            "trained_at": f"{version[:4]}-{version[4:6]}-{version[6:8]}T12:00:00Z", "parent": None, "metrics": {},
            "gate": None if passed is None else {"passed": passed}}))
    (root / MODEL_VERSION / "report.json").write_text(json.dumps({"version": MODEL_VERSION, "passed": False}))
    (root / "trials.json").write_text(json.dumps([{
        "id": TRIAL, "version": MODEL_VERSION, "live": BUILT, "share": 0.2, "started_at": "2026-12-01T13:00:00Z",
        "started_by": "tess", "ended_at": "2026-12-02T13:00:00Z", "ended_by": "tess", "outcome": "ended"}]))
    (root / "live.json").write_text(json.dumps({"version": BUILT, "history": [
        {"version": BUILT, "at": "2026-11-30T12:00:00Z", "by": "make", "action": "build"}]}))
    return root


@dataclass
class World:
    """Linus (an agent) has three conversations, grace, ada and the admin one each; one waits in the queue; a
    customer talks to the bot. Everybody is away, so nothing moves unless a caller moves it."""

    app: FastAPI
    client: httpx.AsyncClient
    tokens: dict[str, str | None]
    accounts: dict[str, str]
    own: dict[str, str]
    other: dict[str, str]
    queued: str
    tickets: dict[str, int]
    follow_ups: dict[int, int]  # ticket -> the follow-up item of a low rating of it
    inbox_item: int  # a message the bot was unsure about, in the NLU inbox
    customer_id: str  # the signed-in customer's, whose xmpp identity the admin unlinks
    sessions: dict[str, int]  # each agent's practice session (open); linus's is finished
    question: int  # its message id (a customer question the knowledge workbench may dismiss)

    def ids(self, caller: str, target: str) -> dict[str, Any]:
        conversation = {"own": self.own.get(caller, self.own["agent"]), "queued": self.queued}.get(
            target, self.other.get(caller, self.other["agent"]))
        ticket = self.tickets.get(conversation, self.tickets[self.own["agent"]])
        account = self.accounts.get(caller, self.accounts["linus"]) if target == "own" else self.accounts["linus"]
        session = self.sessions.get(caller, self.sessions["agent"]) if target == "own" else self.sessions["linus"]
        return {"conversation_id": conversation, "ticket_id": ticket, "agent_id": account, "name": "console.js",
                "follow_up_id": self.follow_ups[ticket], "version": MODEL_VERSION, "trial_id": TRIAL, "session_id": session,
                "article_id": ARTICLES.get(target, ARTICLES["own"]).get(caller, "orders-cancel")}


async def escalated(service: HandoffService) -> Customer:
    customer = await Customer.start(service, name="Jo", email="jo@example.com")
    await customer.say("a person please")
    return customer


async def practice_sessions(service: HandoffService, principals: dict[str, Principal],
                            conversations: list[str]) -> dict[str, int]:
    """Two one-turn practice scenarios (of conversations Linus and Grace resolved, as far as the table cares) and a
    session of each agent's on them; Linus's finished."""
    for conversation_id, source in zip(conversations, ("linus", "agent"), strict=True):
        await service._log.practice.add_scenario(
            conversation_id, 1, category="returns", source_agent_id=principals[source].agent_id, reason="rated",
            turns=[{"customer": "Can I return it?", "reply": "Yes, within 30 days.", "article": None,
                    "terms": ["30"]}], now=0)
    sessions = {caller: (await service.practice.start(principal))["id"] for caller, principal in principals.items()}
    # Linus's is finished: his reply written as the part writes it (scoring would load the encoder in every row)
    await service._log.practice.add_reply(sessions["linus"], 0, "Yes, within a month.", 50.0, {"why": []}, now=0)
    return sessions


@pytest.fixture
def profile() -> str:
    return "embedded"  # who may do what does not depend on where the live state is kept


@pytest.fixture
async def world(open_service: OpenService, clock: FakeClock, tmp_path: Path) -> AsyncIterator[World]:
    token = "1:never-used"  # the Telegram channel runs (its webhook is a route like any other); nothing is sent
    service = await open_service(models_registry=model_registry(tmp_path / "models"), widget_secret=Secret("shop"),
                                 library=library_copy(tmp_path),
                                 channels=("web", "telegram"), telegram_token=Secret(token),
                                 telegram_secret=Secret("the-webhook-secret"),
                                 im_transports={"telegram": TelegramTransport(token, "http://127.0.0.1:9")})

    async def opener(settings: HandoffSettings) -> HandoffService:
        return service

    app = create_app(service.settings, opener)
    tokens: dict[str, str | None] = {"nobody": None}
    accounts, own, other, tickets, principals = {}, {}, {}, {}, {}
    linus = await Agent.sign_in(service, "linus")
    principals["linus"] = linus.principal
    theirs = [await escalated(service) for _ in ("agent", "supervisor", "admin")]
    await linus.presence("away")
    accounts["linus"] = linus.id
    for caller, username in (("agent", "grace"), ("supervisor", "ada"), ("admin", "admin")):
        agent = await Agent.sign_in(service, username)
        customer = await escalated(service)
        await agent.presence("away")
        tokens[caller], accounts[caller], own[caller] = agent.token, agent.id, customer.conversation_id
        principals[caller] = agent.principal
        other[caller] = theirs.pop().conversation_id
        if caller == "agent":  # the trainer's targets (no conversation is theirs): one of grace's, untouched
            await agent.presence("online")
            own["trainer"] = other["trainer"] = (await escalated(service)).conversation_id
            await agent.presence("away")
    queued = await escalated(service)
    expires, claims = int(clock()) + 3600, "telegram:4242 xmpp:jo@im.example"
    mine = await Customer.start(service, external_id="shop-1002", expires=expires, identities=claims,
                                signature=widget_signature("shop", "shop-1002", expires, claims))
    await mine.say("hello")
    tokens["customer"], own["customer"] = service.customers.token(mine.conversation_id), mine.conversation_id
    tokens["trainer"], tess = await service.accounts.sign_in("tess", PASSWORD)  # no agent socket: no queue
    accounts["trainer"] = tess.agent_id
    unsure = await Customer.start(service)
    await unsure.say("zqx flurb")  # the bot falls back: the NLU inbox keeps it
    [inbox_item] = [i["id"] for g in (await service.inbox.page(tess))["groups"] for i in g["items"]]
    question = (await service.customers.history(unsure.conversation_id))[0].id
    for conversation_id in [*own.values(), *other.values(), queued.conversation_id]:
        record = await service.customers.get(conversation_id)
        if record.ticket_id is not None:
            tickets[conversation_id] = record.ticket_id
    assert (await queued.record()).state.value == "queued"
    follow_ups = {ticket: await rated(service._log, ticket, 1, "no", at=0) or 0 for ticket in tickets.values()}
    sessions = await practice_sessions(service, principals, [own["agent"], queued.conversation_id])
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as client:
        yield World(app, client, tokens, accounts, own, other, queued.conversation_id, tickets, follow_ups,
                    inbox_item, (await mine.record()).customer_id, sessions, question)


async def socket_outcome(world: World, row: Row, caller: str) -> int:
    ids, token = world.ids(caller, row.target), world.tokens[caller]
    params = {"conversation_id": ids["conversation_id"]} if row.path == "/ws/customer" else {}
    if token:
        params["token"] = token
    async with connect(world.app, row.path, params) as socket:
        try:
            await socket.until("hello")
        except Exception:
            return await socket.closed()
        if row.method == "WS":
            return 200
        kind = row.method.split(":")[1]
        await socket.send({"type": kind, "conversation_id": ids["conversation_id"], "text": "Hello",
                           "client_id": uuid.uuid4().hex})
        await socket.send({"type": "ping"})
        while True:
            frame = await socket.receive()
            if frame["type"] == "error":
                return FRAME_STATUS[frame["code"]]
            if frame["type"] in ("ack", "pong"):
                return 200


async def outcome(world: World, row: Row, caller: str) -> int:
    if row.method.startswith("WS"):
        return await socket_outcome(world, row, caller)
    ids, token = world.ids(caller, row.target), world.tokens[caller]
    body = BODIES.get((row.method, row.path))
    if row.path == "/api/admin/agents" and body is not None:
        body = {**body, "username": f"new-{caller}"}
    if row.path.endswith("/reassign"):  # everybody is away: a supervisor may, but nobody can take it (409)
        body = {"agent_id": world.accounts["linus"]}
    if row.path == "/api/inbox/decisions":  # the same decision again and again: each caller sees its own answer
        body = {"item_ids": [world.inbox_item], "decision": "dismiss"}
    if row.path == "/api/admin/customers/identities/unlink":
        body = {"customer_id": world.customer_id, "channel": "xmpp", "address": "jo@im.example"}
    if row.path == "/api/knowledge/gaps/dismiss":  # dismissing again changes nothing: each caller is answered
        body = {"message_ids": [world.question]}
    if row.path == "/api/knowledge/articles" and body is not None:
        body = {**body, "id": f"gift-wrap-{caller}"}
    if row.path == "/api/knowledge/merges":
        keep, retire = MERGES.get(caller, MERGES["trainer"])
        body = {"keep": keep, "retire": retire}
    if row.path.endswith("/escalate"):  # each caller to a tier the (shared) queued conversation is not in yet
        body = {"tier": 3 if caller == "admin" else 2}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    path = row.path.format(**ids, folder="f0")  # an attachment: one this service never kept
    response = await world.client.request(row.method, path, json=body, headers=headers)
    return response.status_code


@pytest.mark.parametrize("row", rows(), ids=lambda row: row.id)
async def test_authorization_table(world: World, row: Row) -> None:
    """Every caller in turn (in the table's order), each on their own objects."""
    got = {caller: await outcome(world, row, caller) for caller in CALLERS}
    assert got == row.expected


def routes(within: Sequence[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """``(method, path)`` of every route, ``WS`` for sockets, through included routers (FastAPI keeps them as
    routes of their own)."""
    found = set()
    for route in within:
        if (router := getattr(route, "original_router", None)) is not None:
            found |= routes(router.routes, prefix + getattr(route.include_context, "prefix", ""))
        elif isinstance(route, APIWebSocketRoute | WebSocketRoute):
            found.add(("WS", prefix + route.path))
        elif isinstance(route, APIRoute | Route):
            found |= {(method, prefix + route.path) for method in (route.methods or set()) - {"HEAD"}}
        else:
            raise AssertionError(f"a route of a kind the table does not know: {route!r}")
    return found


def test_every_route_has_rows() -> None:
    """The table covers every route of the application, and names no route it does not have."""
    in_table = {(row.method, row.path) for row in rows() if ":" not in row.method}
    assert routes(create_app(HandoffSettings()).routes) == in_table


def test_the_table_tries_every_target_an_object_route_has() -> None:
    for row in rows():
        takes_object = row.path == "/ws/customer" or ":" in row.method or (
            "{" in row.path and row.path != "/static/{name}")
        assert (row.target != "-") == takes_object, row.id
    pairs = {(row.method, row.path) for row in rows() if row.target == "own"}
    assert pairs == {(row.method, row.path) for row in rows() if row.target == "other"}


def test_the_security_doc_shows_the_policy_as_it_is() -> None:
    """docs/security.md's table is the policy's: regenerate it with ``policy.markdown_table()`` when it changes."""
    assert policy.markdown_table() in (ROOT / "docs" / "security.md").read_text()
