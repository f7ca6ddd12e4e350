"""Build the service on the adapters the settings name: the one place the service meets them.

Embedded profile (no ``REDIS_URL``): live state in process, tickets in SQLite. Production: Redis and
PostgreSQL. The Rasa client, the knowledge suggestions and the knowledge workbench's library (one live index
between them) are the same in both, and so are the e-mail channel's SMTP listener (``HANDOFF_CHANNELS=email``)
and the IM channels' transports (``xmpp``: an XMPP client session, held by one instance at a time; ``telegram``:
a Bot API client, its updates by webhook on every instance), started when serving.
"""

from __future__ import annotations

import time

from handoff.adapters.knowledge import Library, Suggestions
from handoff.adapters.mail.imap import ImapMailbox, ImapPoller
from handoff.adapters.mail.listener import MailListener
from handoff.adapters.rasa import RasaClient
from handoff.adapters.store import RedisStore, open_store
from handoff.adapters.telegram import TelegramTransport
from handoff.adapters.tickets import TicketLog
from handoff.adapters.xmpp import XmppTransport
from handoff.core.errors import SettingsError
from handoff.core.model import State
from handoff.core.routing import build_business_hours, build_queue_order, build_router, load_routing_config
from handoff.service.facade import HandoffService
from handoff.service.ports import ImTransport
from handoff.settings import HandoffSettings


def live_ttls(settings: HandoffSettings) -> dict[State, float]:
    """How long a conversation's live record idles in each state before the store forgets it: ended ones after
    ``HANDOFF_ENDED_TTL``, the bot's after ``HANDOFF_IDLE_TTL``; queued and assigned ones never (the ticket log
    keeps every conversation's history either way)."""
    ended = {state: settings.ended_ttl for state in (State.RESOLVED, State.ABANDONED, State.OFFLINE)}
    return {**ended, State.BOT: settings.idle_ttl}


def im_transports(settings: HandoffSettings) -> dict[str, ImTransport]:
    """The transport of each IM channel ``HANDOFF_CHANNELS`` names."""
    transports: dict[str, ImTransport] = {}
    if "xmpp" in settings.channels:
        if not settings.xmpp_jid or settings.xmpp_password is None:
            raise SettingsError("HANDOFF_CHANNELS has xmpp, but HANDOFF_XMPP_JID or HANDOFF_XMPP_PASSWORD is not set.")
        transports["xmpp"] = XmppTransport(settings.xmpp_jid, str(settings.xmpp_password), settings.xmpp_server,
                                           settings.xmpp_tls)
    if "telegram" in settings.channels:
        if settings.telegram_token is None or settings.telegram_secret is None:
            raise SettingsError("HANDOFF_CHANNELS has telegram, but HANDOFF_TELEGRAM_TOKEN or HANDOFF_TELEGRAM_SECRET "
                                "is not set.")
        transports["telegram"] = TelegramTransport(str(settings.telegram_token), settings.telegram_api,
                                                   webhook_url=settings.telegram_webhook_url,
                                                   secret=str(settings.telegram_secret))
    return transports


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
        router=build_router(config), hours=build_business_hours(config), queue_order=order,
        im_transports=im_transports(settings))
    await service.start(sweeper=serving, recover=serving, channels=serving)
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
