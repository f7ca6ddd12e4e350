"""Who may do what: one table of actions by role, the only place the service decides authorization.

Every part that reads or changes something for a signed-in person asks :func:`check` (or :func:`scope`, to
filter a list) before it does; the REST API and the agent socket reach the service only through those parts,
so one rule holds for every front door. Pure: no I/O, nothing but the table and the caller's role. Whether
the object is the caller's own is for the caller to find out (it may need the ticket log); the table says
what follows from it.

Scopes:

- ``all``: any object;
- ``own``: the caller's own only. A conversation is an agent's own while it is assigned to them, and while
  its ticket is one they have worked on (so they can still read it and leave a note after a transfer); a
  ticket is their own if they are or were assigned to it. For a list, ``own`` keeps the caller's own;
- ``none``: refused, whatever the object.

An admin may do everything a supervisor may: they manage accounts, so they could give themselves any role
anyway; a narrower admin would only be a pretence of separation.

A trainer curates the bot's training data (the NLU inbox, docs/training.md) and is no agent: they see the
customers' words the bot was unsure about, one message at a time, and nothing else of a conversation (no
transcript, customer, ticket or queue), take no conversation and never join the routing (going online is the
``take`` rule). Supervisors and admins may use the inbox too: in a small team the supervisor trains the bot.
A trainer has no part in the team's practice either (``practice``, ``read_practice``): its scenarios are
customers' conversations (masked) and its figures are agents' performance, neither of which their work needs.
The knowledge workbench (gaps, articles) is the trainer's too, with the same scopes; a gap shows the customers'
questions and the agents' replies to them, not the conversations.

``docs/security.md`` ("Authorization") carries :func:`markdown_table`, and a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from handoff.core.errors import NotAllowed
from handoff.core.model import Role


class Action(StrEnum):
    """What a signed-in person may ask of the service."""

    SELF = "self"
    QUEUE = "queue"
    TEAM = "team"
    CANNED = "canned"
    TAKE = "take"
    READ_CONVERSATION = "read_conversation"
    WORK_CONVERSATION = "work_conversation"
    NOTE = "note"
    LIST_TICKETS = "list_tickets"
    READ_TICKET = "read_ticket"
    EDIT_TICKET = "edit_ticket"
    MANAGE_ACCOUNTS = "manage_accounts"
    MANAGE_CUSTOMER_DATA = "manage_customer_data"
    SUPERVISE = "supervise"
    READ_ALERTS = "read_alerts"
    READ_FEEDBACK = "read_feedback"
    READ_AUTOMATION = "read_automation"
    READ_REPORTS = "read_reports"
    QA_REVIEW = "qa_review"
    QA_SCORES = "qa_scores"
    FOLLOW_UPS = "follow_ups"
    READ_SENTIMENT = "read_sentiment"
    READ_INSIGHTS = "read_insights"
    READ_CAPACITY = "read_capacity"
    READ_INBOX = "read_inbox"
    LABEL_INBOX = "label_inbox"
    READ_MODELS = "read_models"
    TRAIN_MODELS = "train_models"
    PROMOTE_MODELS = "promote_models"
    UNLINK_IDENTITY = "unlink_identity"
    PRACTICE = "practice"
    READ_PRACTICE = "read_practice"
    REVIEW_PRACTICE = "review_practice"
    READ_KNOWLEDGE = "read_knowledge"
    EDIT_KNOWLEDGE = "edit_knowledge"


class Scope(StrEnum):
    ALL = "all"
    OWN = "own"
    NONE = "none"


@dataclass(frozen=True)
class Rule:
    """One row of the table.

    Attributes:
        what: the endpoints and socket frames the action covers (for the documentation's table).
        scopes: the scope of each role.
        refusal: the sentence a refused caller gets.
    """

    what: str
    scopes: Mapping[Role, Scope]
    refusal: str


def _rule(what: str, agent: Scope, supervisor: Scope, admin: Scope, refusal: str, *,
          trainer: Scope = Scope.NONE) -> Rule:
    """A row; a trainer is refused unless the row says otherwise (they are no agent: deny by default)."""
    return Rule(what, MappingProxyType({Role.AGENT: agent, Role.TRAINER: trainer, Role.SUPERVISOR: supervisor,
                                        Role.ADMIN: admin}), refusal)


ALL, OWN, NONE = Scope.ALL, Scope.OWN, Scope.NONE
RULES: Mapping[Action, Rule] = MappingProxyType({
    Action.SELF: _rule("`GET /api/me`, `PUT /api/me/presence` (online needs `take`), `POST /api/auth/logout`, "
                       "`GET /api/agent/conversations` (their own), the agent socket and its `ping` (the socket "
                       "streams the queue: it needs `queue` too, else it closes with 4403)",
                       ALL, ALL, ALL, "You may not do that.", trainer=ALL),
    Action.QUEUE: _rule("`GET /api/queue`, the queue in the socket's `hello` and its `queue_entry` / `queue_exit` "
                        "frames: one summary per waiting conversation, no transcript", ALL, ALL, ALL,
                        "You may not see the queue."),
    Action.TEAM: _rule("`GET /api/agents`: names, roles, tiers, presence and load, for transfers", ALL, ALL, ALL,
                       "You may not see the team."),
    Action.CANNED: _rule("`GET /api/canned-responses`", ALL, ALL, ALL, "You may not see the canned responses."),
    Action.TAKE: _rule("`POST /api/agent/conversations/{id}/accept`: take a queued conversation; going online "
                       "(`PUT /api/me/presence`, and signing in, which sets online only those who may): being "
                       "routed conversations", ALL, ALL, ALL, "You may not take conversations."),
    Action.READ_CONVERSATION: _rule("`GET /api/agent/conversations/{id}` (transcript, customer, past tickets), "
                                    "`GET .../suggestions`", OWN, ALL, ALL,
                                    "This conversation is not one of yours."),
    Action.WORK_CONVERSATION: _rule("`POST .../messages`, `.../transfer`, `.../handback`, `.../resolve`; the "
                                    "socket's `message` and `typing` frames", OWN, ALL, ALL,
                                    "This conversation is assigned to another agent."),
    Action.NOTE: _rule("`POST /api/agent/conversations/{id}/notes`", OWN, ALL, ALL,
                       "This conversation is not one of yours."),
    Action.LIST_TICKETS: _rule("`GET /api/tickets` (an agent's list holds their own tickets only)", OWN, ALL, ALL,
                               "You may not list tickets."),
    Action.READ_TICKET: _rule("`GET /api/tickets/{id}` (transcript, notes, history)", OWN, ALL, ALL,
                              "This ticket is not one of yours."),
    Action.EDIT_TICKET: _rule("`PATCH /api/tickets/{id}` (tags, priority, an out-of-hours callback made)", OWN,
                              ALL, ALL,
                              "This ticket is not one of yours."),
    Action.MANAGE_ACCOUNTS: _rule("`/api/admin/agents...`: list, create, change, deactivate accounts, reset "
                                  "passwords", NONE, NONE, ALL, "Only an admin manages accounts."),
    Action.MANAGE_CUSTOMER_DATA: _rule("`/api/admin/customers/export`, `.../delete`, "
                                       "`/api/admin/conversations/{id}/revoke-token`, `/api/admin/retention`: a "
                                       "customer's data exported or deleted, a link revoked, retention run now",
                                       NONE, NONE, ALL, "Only an admin manages customers' data."),
    Action.SUPERVISE: _rule("`GET /api/board`; `POST /api/board/conversations/{id}/whisper`, `.../reassign`, "
                            "`.../escalate`; the socket's `watch` / `unwatch` frames: the live board, watching "
                            "any conversation read-only, a whisper to its agent, reassigning it, escalating it to a "
                            "tier", NONE, ALL, ALL, "Only a supervisor sees the board and acts on it."),
    Action.READ_ALERTS: _rule("`GET /api/alerts`, `GET /api/alerts/rules`: active alerts, their history and the "
                              "rules", NONE, ALL, ALL, "Only supervisors see the alerts."),
    Action.READ_FEEDBACK: _rule("`GET /api/agent/conversations/{id}/feedback`: the customer's ratings and votes "
                                "with their follow-ups", NONE, ALL, ALL,
                                "Only supervisors read customers' feedback."),
    Action.READ_AUTOMATION: _rule("`GET /api/automation/rules`, `GET /api/automation/events`: the automation rules "
                                  "and what they did", NONE, ALL, ALL,
                                  "Only supervisors and admins see the automation rules."),
    Action.READ_REPORTS: _rule("`GET /api/reports/summary`, `.../timeseries`, `.../today`, `.../export.csv`: the "
                               "QA metrics of a period, today's KPIs against the targets", NONE, ALL, ALL,
                               "Only supervisors and admins see the reports."),
    Action.QA_REVIEW: _rule("`GET /api/qa/sample`, `GET /api/qa/tickets/{id}`, `PUT /api/qa/tickets/{id}/review`: "
                            "draw a review sample, read a conversation with its reviews, score it (never one's own "
                            "conversation)", NONE, ALL, ALL, "Only supervisors review conversations."),
    Action.QA_SCORES: _rule("`GET /api/qa/scorecard`, `GET /api/qa/scores`, `GET /api/qa/reviews`: the scorecard, "
                            "the scores per agent and the reviews (an agent's: their own)", OWN, ALL, ALL,
                            "You may see your own reviews only."),
    Action.FOLLOW_UPS: _rule("`/api/followups...`: list and read follow-up items with their feedback, assign, "
                             "note, close, reopen them", NONE, ALL, ALL, "Only supervisors handle follow-ups."),
    Action.READ_SENTIMENT: _rule("`GET /api/insights/conversations/{id}/sentiment`: each customer message's "
                                 "sentiment and the conversation's trend", OWN, ALL, ALL,
                                 "This conversation is not one of yours."),
    Action.READ_INSIGHTS: _rule("`GET /api/insights/topics`, `POST /api/insights/topics/refresh`: what sent "
                                "customers to a person, by week", NONE, ALL, ALL,
                                "Only supervisors and admins see the insights."),
    Action.READ_CAPACITY: _rule("`GET /api/capacity/forecast`, `GET /api/capacity/plan`, `POST /api/capacity/what-if`, "
                                "`POST /api/capacity/simulate`: the forecast against the contacts that came, the "
                                "staffing plan, a what-if on it and the routing simulator (nothing is written)",
                                NONE, ALL, ALL, "Only supervisors and admins see the capacity page."),
    Action.READ_INBOX: _rule("`GET /api/inbox`, `GET /api/inbox/intents`: the NLU inbox (customer messages the "
                             "bot was unsure about, with its top intents and scores, grouped) and the intents "
                             "to label them with", NONE, ALL, ALL, "Only trainers see the NLU inbox.",
                             trainer=ALL),
    Action.LABEL_INBOX: _rule("`POST /api/inbox/decisions`: label inbox messages with an intent (existing or "
                              "new), mark them out of scope, dismiss or reopen them; confirmed examples are "
                              "written to the Rasa training data", NONE, ALL, ALL,
                              "Only trainers label the NLU inbox.", trainer=ALL),
    Action.READ_MODELS: _rule("`GET /api/models`, `GET /api/models/{version}/report`, `GET /api/models/trials`, "
                              "`GET /api/models/trials/current`, `GET /api/models/trials/{trial_id}`: the bot's model "
                              "versions (who trained each, when, data hash, metrics, the gate's verdict), the live "
                              "one, the retraining in progress, a candidate's comparison with the live model, A/B "
                              "trials and their arms compared", NONE, ALL, ALL,
                              "Only trainers see the bot's models.", trainer=ALL),
    Action.TRAIN_MODELS: _rule("`POST /api/models/retrain`: train a candidate model from the current training data "
                               "and score it against the live one (the regression gate)", NONE, ALL, ALL,
                               "Only trainers retrain the bot.", trainer=ALL),
    Action.PROMOTE_MODELS: _rule("`POST /api/models/{version}/promote`, `POST /api/models/rollback`, "
                                 "`POST /api/models/trial`, `DELETE /api/models/trial`: put a version that passed "
                                 "the gate (or was live before) on every Rasa server, or start and end an A/B trial "
                                 "of one on a share of new conversations; only an admin forces one that failed it",
                                 NONE, ALL, ALL,
                                 "Only trainers promote models.", trainer=ALL),
    Action.UNLINK_IDENTITY: _rule("`POST /api/admin/customers/identities/unlink`: remove a customer's linked "
                                  "channel identity (an e-mail address, an IM account); everyone who may read a "
                                  "conversation sees its customer's links (`read_conversation`)", NONE, NONE, ALL,
                                  "Only an admin unlinks a customer's identities."),
    Action.PRACTICE: _rule("`POST /api/practice/sessions`, `POST /api/practice/sessions/{id}/replies`: start a "
                           "practice session on a masked past conversation and answer its turns (one's own "
                           "sessions only: nobody answers for another)", OWN, OWN, OWN,
                           "You may practise in your own sessions only."),
    Action.READ_PRACTICE: _rule("`GET /api/practice/weak-spots`, `GET /api/practice/progress`, "
                                "`GET /api/practice/sessions`, `GET /api/practice/sessions/{id}`: weak spots, "
                                "practice sessions with their scores and reviews, progress (an agent's: their own)",
                                OWN, ALL, ALL, "You may see your own practice only."),
    Action.REVIEW_PRACTICE: _rule("`PUT /api/practice/sessions/{id}/review`, `POST /api/practice/scenarios`: "
                                  "review a finished practice session (never one's own), make practice scenarios "
                                  "of resolved conversations", NONE, ALL, ALL,
                                  "Only supervisors review practice sessions."),
    Action.READ_KNOWLEDGE: _rule("`GET /api/knowledge/gaps`, `GET /api/knowledge/articles`, "
                                 "`GET /api/knowledge/articles/{article_id}`: the knowledge workbench: the questions "
                                 "the knowledge base failed (grouped, with the agents' replies), each article's use, "
                                 "staleness and near-duplicates, an article's source", NONE, ALL, ALL,
                                 "Only trainers see the knowledge workbench.", trainer=ALL),
    Action.EDIT_KNOWLEDGE: _rule("`POST /api/knowledge/articles`, `PUT /api/knowledge/articles/{article_id}`, "
                                 "`DELETE /api/knowledge/articles/{article_id}`, `POST /api/knowledge/merges`, "
                                 "`POST /api/knowledge/gaps/dismiss`: publish, edit, retire and merge knowledge "
                                 "articles (the running bot answers with them within seconds), dismiss gaps",
                                 NONE, ALL, ALL, "Only trainers edit the knowledge base.", trainer=ALL),
})


def scope(role: Role, action: Action) -> Scope:
    """How far ``role`` may do ``action``."""
    return RULES[action].scopes[Role(role)]


def allowed(role: Role, action: Action, own: bool | None = None) -> bool:
    """Whether ``role`` may do ``action`` on an object that is (``own=True``) or is not its own; ``own=None``:
    no particular object (a list, which the caller filters when the scope is ``own``)."""
    granted = scope(role, action)
    return granted is Scope.ALL or (granted is Scope.OWN and own is not False)


def check(role: Role, action: Action, own: bool | None = None) -> None:
    """Raise :class:`NotAllowed` (with the rule's sentence) unless :func:`allowed`."""
    if not allowed(role, action, own):
        raise NotAllowed(RULES[action].refusal)


def markdown_table() -> str:
    """The table as docs/security.md shows it."""
    roles = list(Role)
    lines = ["| action | what | " + " | ".join(role.value for role in roles) + " |",
             "|---|---|" + "---|" * len(roles)]
    for action, rule in RULES.items():
        lines.append(f"| `{action.value}` | {rule.what} | " + " | ".join(rule.scopes[r].value for r in roles) + " |")
    return "\n".join(lines)
