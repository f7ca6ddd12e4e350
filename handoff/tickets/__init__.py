"""The ticket log (SQLAlchemy 2, async): durable conversations, messages, transitions, tickets, people."""

from handoff.tickets.database import normalize_database_url
from handoff.tickets.migrate import migrate
from handoff.tickets.repository import TicketLog
from handoff.tickets.views import (
    AgentAccount,
    AssignmentView,
    CannedView,
    CustomerView,
    MessageView,
    NoteView,
    TicketDetail,
    TicketView,
    TransitionNote,
    TransitionView,
)

__all__ = ["AgentAccount", "AssignmentView", "CannedView", "CustomerView", "MessageView", "NoteView",
           "TicketDetail", "TicketLog", "TicketView", "TransitionNote", "TransitionView", "migrate",
           "normalize_database_url"]
