"""Channels: how the service's outbound messages look on each way a customer reaches it.

One interface (:class:`Channel`), a table from short names to channels (:data:`CHANNELS`), and one resolver
(:func:`resolve_channels`), as routing strategies are (:mod:`handoff.core.routing`). Inbound, every channel's
adapter turns its provider's events into the conversations part's customer messages (``open``, ``says``,
``bot_turn``, as the widget's socket does), so every channel feeds the same state machine; outbound, a channel
renders a bot answer, an agent's reply, a system notice or a rating prompt (:class:`Outbound`) into what its
provider carries, within its limits: length, formatting, buttons as text where it has none, attachments and
citations as links.

- ``web``: the widget renders messages itself (buttons, images): nothing to translate, sent over its socket.
- ``email``: plain text, the sender named, buttons as a list of replies to type, citations and attachments
  as links, cut at :attr:`EmailChannel.max_chars` with a note. Its bot answers only when confident
  (:attr:`Channel.bot_answers_only_cited`): a knowledge answer with a citation; otherwise a person does.
- ``xmpp``: an instant-messaging channel (:data:`IM_CHANNELS`): plain text, an agent's words under their name,
  buttons as a numbered list the customer answers with the number or the title (:func:`chosen_button` maps the
  answer back), links spelled out. An IM channel whose provider shows buttons itself sets
  :attr:`ImChannel.native_buttons` and leaves them out of the text (:attr:`Rendered.buttons`).
- ``telegram``: an IM channel through a bot of the Bot API: plain text (no ``parse_mode``: nothing a customer or an
  agent writes is read as markup), at most 4096 characters as Telegram counts them (UTF-16 code units), an
  agent's words under their name, buttons as an inline keyboard (:func:`inline_keyboard`: each button's
  ``callback_data`` its title when that fits Telegram's 64 bytes, else its number), links spelled out.

Delivery of every channel with an outbox is retried with :func:`backoff`.

Everything here is pure: the adapters (:mod:`handoff.adapters.mail`, :mod:`handoff.adapters.xmpp`,
:mod:`handoff.adapters.telegram`) and the
service parts (:mod:`handoff.service.mail`, :mod:`handoff.service.im`) do the I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from handoff.core import texts
from handoff.core.errors import SettingsError


@dataclass(frozen=True, slots=True)
class Link:
    """A link the message carries: an attachment kept as a file, or the article a bot answer cites."""

    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message of the service to a customer: ``sender`` is ``bot``, ``agent`` or ``system``."""

    sender: str
    text: str
    agent_name: str | None = None
    buttons: tuple[str, ...] = ()  # what the customer may answer (the buttons' titles)
    links: tuple[Link, ...] = ()


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    cut: bool = False  # True: longer than the channel carries, cut with a note
    buttons: tuple[str, ...] = ()  # titles the provider shows as buttons itself (none: they are in the text)


def backoff(tries: int, first: float = 30.0, most: float = 3600.0) -> float:
    """Seconds before the next try of an outbox's message after ``tries`` failed ones: ``first``, doubling,
    at most ``most`` (e-mail: 30, 60, 120, ... an hour)."""
    return float(min(first * 2.0 ** max(tries - 1, 0), most))


class Channel(Protocol):
    """What each channel declares and how it renders the service's messages."""

    name: ClassVar[str]
    max_chars: ClassVar[int]
    bot_answers_only_cited: ClassVar[bool]  # True: an uncited bot answer goes to a person instead

    def render(self, message: Outbound) -> Rendered: ...


def outbound_of(sender: str, text: str, payload: Mapping[str, Any] | None, agent_name: str | None = None,
                article_url: str | None = None) -> Outbound:
    """A stored message (its text and payload, as the relay keeps them) as an :class:`Outbound`:
    buttons' titles, the citation as a link (``article_url``: a template with ``{article_id}``), and the
    payload's ``links`` (attachments)."""
    payload = payload or {}
    buttons = tuple(str(b.get("title") or b.get("payload") or "") for b in payload.get("buttons") or []
                    if isinstance(b, Mapping))
    links: list[Link] = []
    custom = payload.get("custom")
    citation = custom.get("citation") if isinstance(custom, Mapping) else None
    if isinstance(citation, Mapping) and citation.get("article_id"):
        url = (article_url or "{article_id}").format(article_id=citation["article_id"])
        links.append(Link(str(citation.get("title") or citation["article_id"]), url))
    for link in payload.get("links") or []:
        if isinstance(link, Mapping) and link.get("url"):
            links.append(Link(str(link.get("title") or link["url"]), str(link["url"])))
    return Outbound(sender, text, agent_name, tuple(b for b in buttons if b), tuple(links))


def cited(payload: Mapping[str, Any] | None) -> bool:
    """Whether a bot reply's payload carries a knowledge citation (the bot answered from an article)."""
    custom = (payload or {}).get("custom")
    return isinstance(custom, Mapping) and isinstance(custom.get("citation"), Mapping)


class WebChannel:
    """The widget: it shows buttons, images and links itself."""

    name: ClassVar[str] = "web"
    max_chars: ClassVar[int] = 4000
    bot_answers_only_cited: ClassVar[bool] = False

    def render(self, message: Outbound) -> Rendered:
        return Rendered(message.text)


def _cut(text: str, limit: int) -> Rendered:
    if len(text) <= limit:
        return Rendered(text)
    note = "\n\n[The message was shortened; the full text is kept in your conversation.]"
    return Rendered(text[:limit - len(note)].rstrip() + note, cut=True)


class EmailChannel:
    """Plain-text e-mail: who wrote, the words, buttons as replies to type, links spelled out."""

    name: ClassVar[str] = "email"
    max_chars: ClassVar[int] = 20000
    bot_answers_only_cited: ClassVar[bool] = True

    def render(self, message: Outbound) -> Rendered:
        parts = [message.text.strip()]
        if message.buttons:
            parts.append("You can answer this e-mail with one of:\n" + "\n".join(f"  - {b}" for b in message.buttons))
        if message.links:
            parts.append("\n".join(f"{link.title}: {link.url}" for link in message.links))
        signature = {"agent": message.agent_name or "Customer service", "bot": "Brightwood's assistant (automatic "
                     "answer; reply to reach a person)", "system": "Brightwood customer service"}.get(
                         message.sender, "Brightwood customer service")
        parts.append(f"-- \n{signature}")
        return _cut("\n\n".join(p for p in parts if p), self.max_chars)


class ImChannel(Protocol):
    """An instant-messaging channel: a :class:`Channel` whose provider may show buttons itself."""

    name: ClassVar[str]
    max_chars: ClassVar[int]
    bot_answers_only_cited: ClassVar[bool]
    native_buttons: ClassVar[bool]  # True: buttons go to the provider (Rendered.buttons), not into the text

    def render(self, message: Outbound) -> Rendered: ...


class XmppChannel:
    """XMPP chat: plain text (one message per message), an agent's words under their name, buttons as a
    numbered list to answer with the number or the title, links as URLs."""

    name: ClassVar[str] = "xmpp"
    max_chars: ClassVar[int] = 4000
    bot_answers_only_cited: ClassVar[bool] = False
    native_buttons: ClassVar[bool] = False

    def render(self, message: Outbound) -> Rendered:
        text = message.text.strip()
        if message.sender == "agent" and message.agent_name:
            text = f"{message.agent_name}: {text}"
        parts = [text]
        if message.buttons:
            parts.append("\n".join(f"{n}. {title}" for n, title in enumerate(message.buttons, 1))
                         + "\n(Answer with a number or the words.)")
        if message.links:
            parts.append("\n".join(f"{link.title}: {link.url}" if link.url else link.title for link in message.links))
        return _cut("\n\n".join(p for p in parts if p), self.max_chars)


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units (how Telegram counts a message's characters)."""
    return len(text.encode("utf-16-le")) // 2


def _cut_utf16(text: str, limit: int) -> Rendered:
    """:func:`_cut` with the length counted in UTF-16 code units (a character beyond the BMP counts two)."""
    if utf16_len(text) <= limit:
        return Rendered(text)
    note = "\n\n[The message was shortened; the full text is kept in your conversation.]"
    room, kept = limit - utf16_len(note), []
    for char in text:
        room -= utf16_len(char)
        if room < 0:
            break
        kept.append(char)
    return Rendered("".join(kept).rstrip() + note, cut=True)


def _signed(message: Outbound) -> str:
    """An IM message's words: an agent's under their name."""
    text = message.text.strip()
    return f"{message.agent_name}: {text}" if message.sender == "agent" and message.agent_name else text


def _link_lines(links: Sequence[Link]) -> str:
    return "\n".join(f"{link.title}: {link.url}" if link.url else link.title for link in links)


class TelegramChannel:
    """A Telegram bot: plain text (sent without ``parse_mode``), an agent's words under their name, buttons as the
    bot's inline keyboard (not in the text), links as ``title: URL``; cut at 4096 UTF-16 code units with a note."""

    name: ClassVar[str] = "telegram"
    max_chars: ClassVar[int] = 4096
    bot_answers_only_cited: ClassVar[bool] = False
    native_buttons: ClassVar[bool] = True

    def render(self, message: Outbound) -> Rendered:
        parts = [_signed(message), _link_lines(message.links)]
        rendered = _cut_utf16("\n\n".join(p for p in parts if p) or "…", self.max_chars)
        return Rendered(rendered.text, rendered.cut, message.buttons)


CALLBACK_DATA_BYTES = 64  # Telegram's limit of an inline button's callback_data
BUTTON_TEXT_CHARS = 64  # what a button's label keeps (Telegram shows a long one cut anyway)


def callback_data(number: int, title: str) -> str:
    """An inline button's ``callback_data``: its title when it fits 64 bytes of UTF-8 (so a press on an older
    message's button still says which one), else its number (1-based), matched against the latest message's
    buttons (:func:`chosen_button` takes either)."""
    plain = title == title.strip().rstrip(".").strip() and not title.isdigit()  # read back as itself
    return title if plain and 0 < len(title.encode()) <= CALLBACK_DATA_BYTES else str(number)


def inline_keyboard(titles: Sequence[str]) -> dict[str, Any] | None:
    """The ``reply_markup`` of a message with these buttons: an ``InlineKeyboardMarkup``, one button a row;
    None without buttons."""
    if not titles:
        return None
    rows = [[{"text": (title if len(title) <= BUTTON_TEXT_CHARS else title[:BUTTON_TEXT_CHARS - 1] + "…"),
              "callback_data": callback_data(number, title)}] for number, title in enumerate(titles, 1)]
    return {"inline_keyboard": rows}


def chosen_button(buttons: Sequence[Mapping[str, str]], text: str,
                  payload: str | None = None) -> Mapping[str, str] | None:
    """The button a customer's answer chose among the last message's ``buttons`` (``title``, ``payload``): the
    provider's button event (``payload``: a button's payload, title or number), else the text when it is a
    button's number (``1``, ``2.``) or title (any case); None when it chose none."""
    for answer in (payload, text):
        if answer is None:
            continue
        answer = answer.strip().rstrip(".").strip()
        if answer.isdigit() and 1 <= int(answer) <= len(buttons):
            return buttons[int(answer) - 1]
        for button in buttons:
            names = (button.get("title", "").casefold(), button.get("payload", "").casefold())
            if answer and answer.casefold() in names:
                return button
    return None


def rating_buttons(tag: str | None) -> list[dict[str, str]]:
    """The rating prompt's options on a channel with buttons: 1 to 5 (``payload``: the score), titled in the
    language ``tag`` (:data:`handoff.core.texts` ``feedback_options``)."""
    titles = texts.say(tag, "feedback_options").split("|")
    return [{"title": title, "payload": str(score)} for score, title in enumerate(titles, 1)]


def rating_of_reply(text: str) -> int | None:
    """The score an e-mail reply gives: its first line that is not quoted (``>``) nor empty, when that line is just
    a number from 1 to 5 (``4``, ``4.``); None otherwise (the reply is a message as any other)."""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(">"):
            continue
        answer = line.rstrip(".").strip()
        return int(answer) if answer.isdigit() and len(answer) == 1 and 1 <= int(answer) <= 5 else None
    return None


@dataclass(frozen=True, slots=True)
class InboundIm:
    """One event of an IM provider: a customer's message (or button press) to the service.

    ``address``: who wrote, as the channel names them (a bare JID, a chat id): the customer's unverified identity
    and where the service's answers go. ``event_id``: the provider's id of the event, unique on the channel (a
    re-delivery carries the same one: it is taken in once). ``button_payload``: a button the provider's own
    buttons carried (its payload, title or number), None for typed text."""

    channel: str
    address: str
    event_id: str
    text: str
    display_name: str | None = None
    button_payload: str | None = None


Deliver = Callable[[InboundIm], Awaitable[object]]
"""What an IM transport calls with each event (:meth:`handoff.service.im.InstantMessaging.receive`); an exception
means the event was not taken in (a webhook answers an error so that its provider sends it again)."""


IM_CHANNELS: dict[str, type[ImChannel]] = {cls.name: cls for cls in (XmppChannel, TelegramChannel)}
"""The instant-messaging channels (:mod:`handoff.service.im` serves them all, one transport each)."""

CHANNELS: dict[str, type[Channel]] = {WebChannel.name: WebChannel, EmailChannel.name: EmailChannel, **IM_CHANNELS}
"""Short name (as ``HANDOFF_CHANNELS`` names it) -> channel class."""


@dataclass(frozen=True)
class ChannelTable:
    """The channels this service runs (``web`` always among them), by name."""

    channels: Mapping[str, Channel]

    @classmethod
    def of(cls, names: Iterable[str]) -> ChannelTable:
        return cls(resolve_channels(names))

    def get(self, name: str) -> Channel:
        """The channel of that name; one not run (an older conversation's) renders as the widget does."""
        return self.channels.get(name) or WebChannel()

    def only_cited(self, name: str) -> bool:
        return self.get(name).bot_answers_only_cited

    def __contains__(self, name: object) -> bool:
        return name in self.channels


def resolve_channels(names: Iterable[str]) -> dict[str, Channel]:
    """The channels ``names`` name, ``web`` always among them.

    Raises:
        SettingsError: a name is not a channel (the valid ones are named).
    """
    chosen: dict[str, Channel] = {"web": WebChannel()}
    for name in names:
        if name not in CHANNELS:
            valid = ", ".join(sorted(CHANNELS))
            raise SettingsError(f"HANDOFF_CHANNELS: no channel {name!r} (valid channels: {valid}).")
        chosen[name] = CHANNELS[name]()
    return chosen


@dataclass(frozen=True, slots=True)
class Thread:
    """The threading headers of a reply: In-Reply-To, the message answered; References, the thread."""

    in_reply_to: str | None
    references: tuple[str, ...] = field(default_factory=tuple)


def reply_thread(thread: Sequence[str], answered: str | None, limit: int = 20) -> Thread:
    """RFC 5322 3.6.4: In-Reply-To is the message answered, References the thread's ids oldest first, ending
    with it (the first and the latest ``limit`` - 1 when it is long, as mail clients trim it)."""
    ids = [i for i in dict.fromkeys(thread) if i and i != answered]
    if answered:
        ids.append(answered)
    if len(ids) > limit:
        ids = [ids[0], *ids[-(limit - 1):]]
    return Thread(answered, tuple(ids))
