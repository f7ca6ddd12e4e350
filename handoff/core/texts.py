"""What the service itself says to customers, in one place (the bot's words live in its domain)."""

from __future__ import annotations

from datetime import datetime

QUEUED = "I'm passing you to one of our team. You are number {position} in line; it should take {wait}."
QUEUED_UNKNOWN_WAIT = ("I'm passing you to one of our team. You are number {position} in line; nobody is free "
                       "right now, so please stay here and we will answer as soon as someone is.")
ASSIGNED = "{agent} has joined the conversation."
TRANSFERRED = "I'm passing you to another colleague who can help better; please stay here."
REQUEUED = "Sorry for the wait: I'm finding another colleague for you."
AGENT_GONE = "{agent} lost their connection. I'm finding another colleague for you; please stay here."
HANDED_BACK = "You're chatting with the assistant again. {agent} left the conversation."
RESOLVED = "{agent} marked this conversation as resolved. If you need anything else, just write here."
OFFLINE = ("Our team is offline right now. We have logged your request as ticket #{ticket} and will get back to "
           "you {contact} when we open ({opening}).")
OFFLINE_CONTACT_EMAIL = "by e-mail at {email}"
OFFLINE_CONTACT_HERE = "here"
BOT_DOWN = "Our assistant is not answering right now, so I'm passing you to a person. Your message is saved."
NO_REASON = "The assistant handed the conversation over without saying why."
UNCITED = ("The customer wrote by e-mail, where the assistant answers only from a knowledge article, and it had "
           "none: its draft (not sent) is in the conversation.")
EMAIL_QUEUED = ("Thank you for your e-mail. We have logged it as ticket #{ticket}; one of our team will answer you "
                "by e-mail. Reply to this message to add anything.")


def offline(ticket: int, email: str | None, opening: datetime) -> str:
    """The promise made out of hours: the ticket, how we will answer, and when."""
    contact = OFFLINE_CONTACT_EMAIL.format(email=email) if email else OFFLINE_CONTACT_HERE
    return OFFLINE.format(ticket=ticket, contact=contact, opening=opening.strftime("%A %H:%M %Z"))


def wait_phrase(seconds: float) -> str:
    """'under a minute', 'about 4 minutes', 'about 1 hour'."""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"about {hours} hour{'s' if hours != 1 else ''}"


def queued(position: int, wait_seconds: float | None) -> str:
    if wait_seconds is None:
        return QUEUED_UNKNOWN_WAIT.format(position=position)
    return QUEUED.format(position=position, wait=wait_phrase(wait_seconds))
FEEDBACK_ASK = "How did we do? Please rate this conversation from 1 (very poor) to 5 (excellent)."
