"""Settings of the handoff service, read once from the environment in ``__main__`` and passed down.

Tests build them with :meth:`HandoffSettings.from_env` on a plain dict and never touch ``os.environ``.
A missing or malformed value stops start-up with a sentence naming the variable.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from starlette.datastructures import Secret

from handoff.core.channels import resolve_channels
from handoff.core.errors import SettingsError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET_FILE = ROOT / "var" / "handoff.secret"
T = TypeVar("T")


def kept_secret(path: Path) -> str:
    """The secret kept in ``path``, made (random, mode 0600) if the file does not exist yet.

    Raises:
        SettingsError: the file is empty, unreadable, or readable by others than its owner.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made before (or by another process starting at the same moment)
    except OSError as exc:
        raise SettingsError(f"HANDOFF_SECRET_FILE: cannot create {path} ({exc.strerror}).") from None
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
    try:
        if path.stat().st_mode & 0o077:
            raise SettingsError(f"HANDOFF_SECRET_FILE: {path} can be read by others; `chmod 600 {path}`.")
        secret = path.read_text().strip()
    except OSError as exc:
        raise SettingsError(f"HANDOFF_SECRET_FILE: cannot read {path} ({exc.strerror}).") from None
    if not secret:
        raise SettingsError(f"HANDOFF_SECRET_FILE: {path} is empty; delete it to make a new secret.")
    return secret


@dataclass(frozen=True)
class HandoffSettings:
    """Everything the service needs to know. The README's table lists each variable.

    Attributes:
        database_url: where tickets and transcripts are kept (``DATABASE_URL``): SQLite file by default,
            ``postgresql://...`` in production.
        redis_url: ``REDIS_URL``: live state, queues and relay in Redis (several instances); None keeps them
            in process (the embedded profile: one instance).
        rasa_url / rasa_token: the Rasa server and its HTTP API token (used to write hand-backs into the
            tracker).
        secret: signs customer tokens (``HANDOFF_SECRET``). Required with ``REDIS_URL`` (every instance must
            sign alike); in the embedded profile, if unset, the one kept in ``HANDOFF_SECRET_FILE``
            (``var/handoff.secret``, made on first start, mode 0600), so a restart keeps customers' links.
        widget_secret: verifies the shop's signature of a customer's ``external_id``
            (``HANDOFF_WIDGET_SECRET``); without it every widget customer is anonymous.
        accept_timeout: seconds an agent has to answer an assigned conversation before it goes back to the
            queue.
        abandon_after: seconds a queued customer may stay disconnected before the conversation is abandoned.
        agent_grace: seconds an agent whose console sockets are all gone (no socket open and none pinging:
            a console pings every 25 s) keeps their conversations; then they are away and their conversations
            go back to the queue.
        widget_origins: sites allowed to embed the widget (CORS on the customer API; ``*`` by default, safe
            because customers authenticate with their conversation token, never a cookie).
        conversations_per_minute / messages_per_minute: what one client address may start and say a minute
            (docs/security.md, "Abuse limits"); client_ip_header: the header a trusted proxy puts the client's
            address in (None: the connection's own address).
        customer_token_ttl: seconds a customer's token opens their conversation.
        retention_days: transcripts and customers older than this are deleted (docs/security.md).
        alerts_config / alert_interval: the alert rules (``HANDOFF_ALERTS``) and how often they are evaluated;
            alert_webhook_secret signs webhooks; smtp_*: the SMTP server alert e-mail goes through
            (docs/alerts.md).
        feedback_quiet: seconds after which a conversation the bot handled alone, gone quiet, is asked for a
            rating (docs/feedback.md).
        feedback_intents: the customer's intents that end a conversation with the bot (thanks, goodbye) and ask
            for a rating; empty: only silence does (and the bot's tracker is not read after each turn).
        metrics_token: ``HANDOFF_METRICS_TOKEN``: the bearer token ``GET /metrics`` asks for; None serves the
            metrics to loopback clients only (docs/operations-metrics.md).
        insights_encoder: the ONNX export of the sentence encoder the topics are found with (docs/insights.md).
        insights_min_similarity: how cosine-similar a new hand-off's words must be to a topic mapped to a
            category for routing to take that category (and a topic to last week's to count as the same).
        insights_topics: at most this many topics a period.
        insights_hour: the hour (UTC) of the sweeper's daily topics run; None (``off``): the sweeper never runs
            them, ``python -m handoff topics`` does (from cron, or the demo history at the end of its month).
        inbox: whether the NLU inbox notices the messages the bot was unsure about (the bot's tracker is read
            after each of its turns); the workbench still shows what was kept (docs/training.md).
        inbox_file: the Rasa NLU file the trainer-confirmed examples are written to (the only file written).
        inbox_domain: the bot's domain (a folder of ``*.yml`` or one file): the intents a trainer labels with.
        inbox_min_confidence / inbox_margin: a top intent under this confidence is a fallback; top two closer
            than the margin are ambiguous (the action server's ``ACTIONS_NLU_MIN_*`` by default).
        inbox_similarity: cosine similarity of two messages' sentence vectors from which they are grouped.
        models_registry: the model registry's folder (versions, their metadata and gate reports, the live pointer;
            bot/registry.py, docs/training.md "Versions"); models_python: the Rasa environment's Python, which
            runs the retraining and promotions as subprocesses (the service imports neither Rasa nor the bot);
            models_servers: ``HANDOFF_MODELS_SERVERS``: every Rasa server a promotion replaces the model on, one
            at a time (comma-separated; empty: ``rasa_url``, the one server of the embedded profile);
            models_tolerance: the regression gate's largest allowed drop of an intent's F1.
        knowledge_days: the knowledge workbench's window: the days of the ticket log its gaps and each
            article's use are read from.
        knowledge_stale_days: an article not updated for this many days is listed as stale (as is one whose
            ``review_by`` date has passed).
        channels: ``HANDOFF_CHANNELS``: the customer channels run besides the widget (``email``, ``xmpp``,
            ``telegram``); an unknown name stops start-up (docs/channels.md).
        mail_host / mail_port: where the e-mail channel's SMTP listener listens (loopback by default; port 0:
            none); mail_address: the address (or ``@domain``) it accepts mail for, replies' From and the domain of
            their Message-IDs; mail_max_bytes: the largest message accepted; mail_attachment_bytes: the largest
            attachment kept (larger ones are named, not kept); mail_attachments: the folder they are kept in;
            article_url: a knowledge article's public address (``{article_id}``), the link under a bot answer.
            imap_*: an existing mailbox the e-mail channel polls every ``imap_interval`` seconds (none without
            ``imap_host``); ``imap_security``: tls (IMAPS), starttls or none.
        mail_trust_auth_results: the authserv-id of the MTA in front of the listener whose
            ``Authentication-Results`` (SPF, DKIM, DMARC) the e-mail channel believes; set, mail from a linked
            address is the customer's only when that MTA vouched for its From domain (docs/channels.md).
        link_code_ttl: seconds a link code (an IM account's, an e-mail address's) stays valid;
            link_codes_per_hour: codes one customer may ask for an hour; link_attempts_per_hour: codes one
            customer (e-mail) or one IM account may try an hour.
        xmpp_jid / xmpp_password: the XMPP account the service signs in as (the ``xmpp`` channel: required with
            it); xmpp_server: ``host:port`` of its server when DNS does not say (none: the JID's domain's SRV
            records, as any XMPP client); xmpp_tls: ``required`` (default), or ``optional`` (a server on
            loopback without a certificate, as ``make run``'s).
        telegram_token: the bot's token from BotFather (the ``telegram`` channel: required with it; never logged);
            telegram_secret: the webhook's secret token (1-256 of ``A-Z a-z 0-9 _ -``: required with it), which
            Telegram sends in ``X-Telegram-Bot-Api-Secret-Token``; telegram_api: the Bot API's address;
            telegram_webhook_url: the public HTTPS address of ``/channels/telegram/webhook`` (set: the service
            registers it with ``setWebhook`` at start-up; none: registered by hand).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = f"sqlite:///{ROOT / 'var' / 'handoff.sqlite3'}"
    redis_url: str | None = None
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: Secret = field(default_factory=lambda: Secret(""))
    rasa_timeout: float = 30.0
    secret: Secret = field(default_factory=lambda: Secret(secrets.token_urlsafe(32)))
    widget_secret: Secret | None = None
    routing_config: Path = ROOT / "handoff" / "routing.yml"
    targets_config: Path = ROOT / "handoff" / "targets.yml"
    automation_config: Path = ROOT / "handoff" / "automation.yml"
    scorecard_config: Path = ROOT / "handoff" / "scorecard.yml"
    accept_timeout: float = 60.0
    abandon_after: float = 120.0
    agent_grace: float = 60.0
    sweep_interval: float = 1.0
    queue_refresh: float = 5.0
    default_handle_time: float = 300.0
    max_message_chars: int = 2000
    session_ttl: float = 12 * 3600.0
    cookie_secure: bool = False
    suggestions: bool = True
    key_prefix: str = "handoff:"
    widget_origins: tuple[str, ...] = ("*",)
    log_level: str = "INFO"
    conversations_per_minute: int = 10
    messages_per_minute: int = 60
    client_ip_header: str | None = None
    max_customer_sockets: int = 5
    max_agent_sockets: int = 10
    typing_interval: float = 1.0
    max_body_bytes: int = 64 * 1024
    max_frame_bytes: int = 64 * 1024
    max_connections: int = 20_000
    keepalive_timeout: float = 5.0
    header_timeout: float = 10.0
    ended_ttl: float = 7 * 86400.0
    idle_ttl: float = 86400.0
    customer_token_ttl: float = 30 * 86400.0
    retention_days: int = 730
    alerts_config: Path = ROOT / "handoff" / "alerts.yml"
    alert_interval: float = 15.0
    alert_webhook_secret: Secret | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: Secret | None = None
    smtp_from: str = "handoff@localhost"
    smtp_starttls: bool = False
    feedback_quiet: float = 300.0
    feedback_intents: tuple[str, ...] = ("goodbye", "thank")
    metrics_token: Secret | None = None
    insights_encoder: Path = ROOT / "models" / "encoder"
    insights_min_similarity: float = 0.7
    insights_topics: int = 20
    insights_hour: int | None = 3
    inbox: bool = True
    inbox_file: Path = ROOT / "data" / "nlu" / "inbox.yml"
    inbox_domain: Path = ROOT / "bot" / "domain"
    inbox_min_confidence: float = 0.5
    inbox_margin: float = 0.1
    inbox_similarity: float = 0.75
    models_registry: Path = ROOT / "models" / "registry"
    models_python: Path = ROOT / ".venv" / "rasa" / "bin" / "python"
    models_servers: tuple[str, ...] = ()
    models_tolerance: float = 0.02
    knowledge_days: int = 90
    knowledge_stale_days: int = 365
    channels: tuple[str, ...] = ("web",)
    mail_host: str = "127.0.0.1"
    mail_port: int = 2525
    mail_address: str = "support@localhost"
    mail_max_bytes: int = 10 * 1024 * 1024
    mail_attachment_bytes: int = 5 * 1024 * 1024
    mail_attachments: Path = ROOT / "var" / "mail"
    article_url: str = "https://help.example.com/articles/{article_id}"
    imap_host: str | None = None
    imap_port: int = 993
    imap_user: str | None = None
    imap_password: Secret | None = None
    imap_security: str = "tls"
    imap_mailbox: str = "INBOX"
    imap_interval: float = 60.0
    mail_trust_auth_results: str = ""
    link_code_ttl: float = 900.0
    link_codes_per_hour: int = 5
    link_attempts_per_hour: int = 10
    xmpp_jid: str | None = None
    xmpp_password: Secret | None = None
    xmpp_server: tuple[str, int] | None = None
    xmpp_tls: str = "required"
    telegram_token: Secret | None = None
    telegram_secret: Secret | None = None
    telegram_api: str = "https://api.telegram.org"
    telegram_webhook_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HandoffSettings:
        """Build settings from ``HANDOFF_*``, ``DATABASE_URL``, ``REDIS_URL``, ``RASA_URL``, ``RASA_TOKEN``."""
        env = os.environ if environ is None else environ
        d = cls()

        def get(key: str, default: T, parse: Callable[[str], T]) -> T:
            raw = env.get(key, "").strip()
            if not raw:
                return default
            try:
                return parse(raw)
            except ValueError as exc:
                raise SettingsError(f"{key}={raw!r} is not valid: {exc}") from None

        def positive(raw: str) -> float:
            value = float(raw)
            if value <= 0:
                raise ValueError("it must be a positive number")
            return value

        def boolean(raw: str) -> bool:
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError("use true or false")

        def level(raw: str) -> str:
            if raw.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
                raise ValueError("use DEBUG, INFO, WARNING or ERROR")
            return raw.upper()

        def port(raw: str) -> int:
            value = int(raw)
            if not 0 <= value < 65536:
                raise ValueError("a port is between 0 and 65535")
            return value

        redis_url = get("REDIS_URL", None, str)
        secret = get("HANDOFF_SECRET", None, Secret)
        if secret is None and redis_url:
            raise SettingsError("HANDOFF_SECRET is not set, but REDIS_URL is: every instance on one Redis signs "
                                "customers' conversation tokens with it, and without it each would make its own, "
                                "so a customer's token would fail on the others. Set the same random value "
                                "(e.g. `openssl rand -hex 32`) for every instance.")
        if secret is None:
            secret = Secret(kept_secret(get("HANDOFF_SECRET_FILE", DEFAULT_SECRET_FILE, Path)))
        def count(raw: str) -> int:
            value = int(raw)
            if value <= 0:
                raise ValueError("it must be a positive whole number")
            return value

        def similarity(raw: str) -> float:
            value = float(raw)
            if not 0 < value <= 1:
                raise ValueError("a cosine similarity between 0 (excluded) and 1")
            return value

        def share(raw: str) -> float:
            value = float(raw)
            if not 0 <= value <= 1:
                raise ValueError("a number between 0 and 1")
            return value

        def topic_count(raw: str) -> int:
            value = int(raw)
            if value < 2:
                raise ValueError("at least 2 topics")
            return value

        def hour(raw: str) -> int | None:
            if raw.lower() == "off":
                return None
            value = int(raw)
            if not 0 <= value < 24:
                raise ValueError("an hour is between 0 and 23")
            return value

        def channels(raw: str) -> tuple[str, ...]:
            names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
            resolve_channels(names)  # an unknown name stops start-up, naming the valid ones
            return names

        def urls(raw: str) -> tuple[str, ...]:
            found = tuple(u.strip().rstrip("/") for u in raw.split(",") if u.strip())
            if not all(u.startswith(("http://", "https://")) for u in found):
                raise ValueError("comma-separated http:// or https:// URLs")
            return found

        def security(raw: str) -> str:
            if raw.lower() not in ("tls", "starttls", "none"):
                raise ValueError("use tls, starttls or none")
            return raw.lower()

        def host_port(raw: str) -> tuple[str, int]:
            host, _, number = raw.rpartition(":")
            if not host or not number.isdigit() or not 0 < int(number) < 65536:
                raise ValueError("use host:port")
            return host.strip("[]"), int(number)

        def jid(raw: str) -> str:
            if "@" not in raw or raw.startswith("@") or "/" in raw.split("@", 1)[0]:
                raise ValueError("use a bare JID: user@domain")
            return raw

        def tls(raw: str) -> str:
            if raw.lower() not in ("required", "optional"):
                raise ValueError("use required or optional")
            return raw.lower()

        def telegram_token(raw: str) -> Secret:
            if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", raw):
                raise ValueError("use the token BotFather gave: <digits>:<letters>")
            return Secret(raw)

        def telegram_secret(raw: str) -> Secret:
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", raw):
                raise ValueError("use 1 to 256 of A-Z, a-z, 0-9, _ and - (Telegram's secret_token)")
            return Secret(raw)

        def web_url(raw: str) -> str:
            if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", raw):
                raise ValueError("use an http(s):// URL")
            return raw.rstrip("/")

        def https_url(raw: str) -> str:
            if not raw.startswith("https://"):
                raise ValueError("Telegram calls webhooks over HTTPS only")
            return web_url(raw)

        def article_url(raw: str) -> str:
            if "{article_id}" not in raw:
                raise ValueError("it must contain {article_id}")
            return raw

        # the settings whose variable is HANDOFF_ and the field's name in capitals, with how each is read
        parsers: dict[str, Callable[[str], object]] = {
            "conversations_per_minute": count, "messages_per_minute": count, "client_ip_header": str,
            "max_customer_sockets": count, "max_agent_sockets": count, "typing_interval": positive,
            "max_body_bytes": count, "max_frame_bytes": count, "max_connections": count,
            "keepalive_timeout": positive, "header_timeout": positive, "ended_ttl": positive, "idle_ttl": positive,
            "customer_token_ttl": positive, "retention_days": count, "feedback_quiet": positive,
            "alert_interval": positive, "alert_webhook_secret": Secret, "smtp_host": str, "smtp_port": port,
            "smtp_user": str, "smtp_password": Secret, "smtp_from": str, "smtp_starttls": boolean,
            "insights_encoder": Path, "insights_min_similarity": similarity, "insights_topics": topic_count,
            "insights_hour": hour, "inbox": boolean, "inbox_file": Path, "inbox_domain": Path,
            "inbox_min_confidence": share, "inbox_margin": share, "inbox_similarity": similarity,
            "models_registry": Path, "models_python": Path, "models_servers": urls, "models_tolerance": share,
            "knowledge_days": count, "knowledge_stale_days": count,
            "channels": channels, "mail_host": str, "mail_port": port, "mail_address": str,
            "mail_max_bytes": count, "mail_attachment_bytes": count, "mail_attachments": Path,
            "article_url": article_url, "imap_host": str, "imap_port": port, "imap_user": str,
            "imap_password": Secret, "imap_security": security, "imap_mailbox": str, "imap_interval": positive,
            "mail_trust_auth_results": str, "link_code_ttl": positive, "link_codes_per_hour": count,
            "link_attempts_per_hour": count,
            "xmpp_jid": jid, "xmpp_password": Secret, "xmpp_server": host_port, "xmpp_tls": tls,
            "telegram_token": telegram_token, "telegram_secret": telegram_secret, "telegram_api": web_url,
            "telegram_webhook_url": https_url}
        newer: dict[str, Any] = {name: get(f"HANDOFF_{name.upper()}", getattr(d, name), parse)
                                 for name, parse in parsers.items()}
        if "xmpp" in newer["channels"] and not (newer["xmpp_jid"] and newer["xmpp_password"]):
            raise SettingsError("HANDOFF_CHANNELS has xmpp, but HANDOFF_XMPP_JID or HANDOFF_XMPP_PASSWORD is not "
                                "set: the service signs in to XMPP as that account (docs/channels.md).")
        if "telegram" in newer["channels"] and not (newer["telegram_token"] and newer["telegram_secret"]):
            raise SettingsError("HANDOFF_CHANNELS has telegram, but HANDOFF_TELEGRAM_TOKEN or HANDOFF_TELEGRAM_SECRET "
                                "is not set: the bot's token and the webhook's secret token (docs/channels.md).")
        routing = get("HANDOFF_ROUTING", d.routing_config, Path)
        if not routing.is_file():
            raise SettingsError(f"HANDOFF_ROUTING: no routing configuration at {routing}.")
        return cls(
            host=get("HANDOFF_HOST", d.host, str),
            port=get("HANDOFF_PORT", d.port, port),
            database_url=get("DATABASE_URL", d.database_url, str),
            redis_url=redis_url,
            rasa_url=get("RASA_URL", d.rasa_url, lambda raw: raw.rstrip("/")),
            rasa_token=get("RASA_TOKEN", d.rasa_token, Secret),
            rasa_timeout=get("HANDOFF_RASA_TIMEOUT", d.rasa_timeout, positive),
            secret=secret,
            widget_secret=get("HANDOFF_WIDGET_SECRET", None, Secret),
            metrics_token=get("HANDOFF_METRICS_TOKEN", None, Secret),
            routing_config=routing,
            targets_config=get("HANDOFF_TARGETS", d.targets_config, Path),
            alerts_config=get("HANDOFF_ALERTS", d.alerts_config, Path),
            automation_config=get("HANDOFF_AUTOMATION", d.automation_config, Path),
            scorecard_config=get("HANDOFF_SCORECARD", d.scorecard_config, Path),
            accept_timeout=get("HANDOFF_ACCEPT_TIMEOUT", d.accept_timeout, positive),
            abandon_after=get("HANDOFF_ABANDON_AFTER", d.abandon_after, positive),
            agent_grace=get("HANDOFF_AGENT_GRACE", d.agent_grace, positive),
            sweep_interval=get("HANDOFF_SWEEP_INTERVAL", d.sweep_interval, positive),
            queue_refresh=get("HANDOFF_QUEUE_REFRESH", d.queue_refresh, positive),
            default_handle_time=get("HANDOFF_DEFAULT_HANDLE_TIME", d.default_handle_time, positive),
            max_message_chars=get("HANDOFF_MAX_MESSAGE_CHARS", d.max_message_chars, lambda raw: int(positive(raw))),
            session_ttl=get("HANDOFF_SESSION_TTL", d.session_ttl, positive),
            cookie_secure=get("HANDOFF_COOKIE_SECURE", d.cookie_secure, boolean),
            suggestions=get("HANDOFF_SUGGESTIONS", d.suggestions, boolean),
            key_prefix=get("HANDOFF_KEY_PREFIX", d.key_prefix, str),
            log_level=get("HANDOFF_LOG_LEVEL", d.log_level, level),
            widget_origins=get("HANDOFF_WIDGET_ORIGINS", d.widget_origins,
                               lambda raw: tuple(o.strip() for o in raw.split(",") if o.strip())),
            feedback_intents=tuple(i.strip() for i in env.get("HANDOFF_FEEDBACK_INTENTS", ",".join(
                d.feedback_intents)).split(",") if i.strip()),
            **newer,
        )
