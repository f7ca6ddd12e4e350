"""Build the service on the adapters the settings name: the one place the service meets them.

Embedded profile (no ``REDIS_URL``): live state in process, tickets in SQLite. Production: Redis and
PostgreSQL. The Rasa client, the knowledge suggestions and the knowledge workbench's library (one live index
between them) are the same in both, and so is the e-mail channel's
SMTP listener (``HANDOFF_CHANNELS=email``), started when serving.
"""

from __future__ import annotations

import time

from handoff.adapters.knowledge import Library, Suggestions
from handoff.adapters.mail.imap import ImapMailbox, ImapPoller
from handoff.adapters.mail.listener import MailListener
from handoff.adapters.rasa import RasaClient
from handoff.adapters.store import RedisStore, open_store
from handoff.adapters.tickets import TicketLog
from handoff.core.errors import SettingsError
from handoff.core.model import State
from handoff.core.routing import build_business_hours, build_queue_order, build_router, load_routing_config
from handoff.service.facade import HandoffService
from handoff.settings import HandoffSettings


def live_ttls(settings: HandoffSettings) -> dict[State, float]:
    """How long a conversation's live record idles in each state before the store forgets it: ended ones after
    ``HANDOFF_ENDED_TTL``, the bot's after ``HANDOFF_IDLE_TTL``; queued and assigned ones never (the ticket log
    keeps every conversation's history either way)."""
    ended = {state: settings.ended_ttl for state in (State.RESOLVED, State.ABANDONED, State.OFFLINE)}
    return {**ended, State.BOT: settings.idle_ttl}


async def open_service(settings: HandoffSettings, *, serving: bool = True) -> HandoffService:
    """The service on its adapters, started: serving, the live store rebuilt from the ticket log, the bot's
    unanswered turns taken and the sweeper running; with ``serving`` False (the command line's one-off tasks)
    none of that. ``close()`` it at the end."""
    config = load_routing_config(settings.routing_config)
    order = build_queue_order(config)
    store = await open_store(settings.redis_url, settings.key_prefix, expire_after=live_ttls(settings))
    if isinstance(store, RedisStore):
        await store.adopt_earlier_keys(order.rank, time.time())
    log = await TicketLog.open(settings.database_url)
    library = Library()  # KB_SOURCES, KB_INDEX_DIR: the knowledge base's files, read on first use
    service = HandoffService(
        settings, store=store, log=log,
        bot=RasaClient(settings.rasa_url, str(settings.rasa_token), settings.rasa_timeout),
        knowledge=Suggestions(settings.suggestions, library=library), library=library,
        router=build_router(config), hours=build_business_hours(config), queue_order=order)
    await service.start(sweeper=serving, recover=serving)
    if serving and service.mail is not None and settings.mail_port:
        listener = MailListener(service.mail.receive, host=settings.mail_host, port=settings.mail_port,
                                address=settings.mail_address, max_bytes=settings.mail_max_bytes)
        try:
            await listener.start()
        except OSError as exc:
            await service.close()
            raise SettingsError(f"HANDOFF_MAIL_PORT: cannot listen on {settings.mail_host}:{settings.mail_port} "
                                f"({exc.strerror}).") from None
        service.on_close(listener.close)
    if serving and service.mail is not None and settings.imap_host:
        poller = ImapPoller(service.mail.receive, ImapMailbox(
            settings.imap_host, settings.imap_port, settings.imap_user or "",
            str(settings.imap_password) if settings.imap_password else "", settings.imap_mailbox,
            settings.imap_security), settings.imap_interval)
        await poller.start()
        service.on_close(poller.close)
    return service
