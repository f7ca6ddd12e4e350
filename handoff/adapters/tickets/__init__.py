"""The ticket log (SQLAlchemy 2, async): durable conversations, messages, transitions, tickets, people."""

from handoff.adapters.tickets.database import normalize_database_url
from handoff.adapters.tickets.migrate import migrate
from handoff.adapters.tickets.repository import TicketLog
from handoff.adapters.tickets.views import (
    AgentAccount,
    AssignmentView,
    CannedView,
    ConversationView,
    CustomerView,
    MessageView,
    NoteView,
    TicketDetail,
    TicketView,
    TransitionNote,
    TransitionView,
)

__all__ = ["AgentAccount", "AssignmentView", "CannedView", "ConversationView", "CustomerView", "MessageView",
           "NoteView", "TicketDetail", "TicketLog", "TicketView", "TransitionNote", "TransitionView", "migrate",
           "normalize_database_url"]
