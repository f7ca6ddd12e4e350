"""An inbound e-mail, parsed: who wrote, what they wrote (without the quoted thread), what it answers, and its
attachments.

The standard library's :mod:`email` with ``policy.default`` decodes headers (RFC 2047 words) and bodies
(base64, quoted-printable, any charset Python knows; an unknown one is read as Latin-1 rather than refused).
The text is the ``text/plain`` part where there is one, else the ``text/html`` part made text: tags dropped,
scripts, styles and the head skipped, entities decoded, block elements as line breaks. No HTML is kept, so none
can reach the console. What a reply quotes is cut: the common separators ("On ... wrote:", Outlook's
"-----Original Message-----" and its "From:" block, Gmail's and Apple Mail's ``>`` lines at the end).
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# The lines where a quoted earlier message begins, as mail clients write them
QUOTE_HEADERS = (
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.IGNORECASE | re.DOTALL),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^\s*Am\b.{0,300}\bschrieb\b.{0,100}:\s*$", re.IGNORECASE | re.DOTALL),  # the same, German
    re.compile(r"^\s*Le\b.{0,300}\ba écrit\s*:\s*$", re.IGNORECASE | re.DOTALL),  # French
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),  # Outlook (older)
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's rule above its "From:" block
    re.compile(r"^\s*-{2,}\s*Forwarded message\s*-{2,}\s*$", re.IGNORECASE),
)
OUTLOOK_FROM = re.compile(r"^\s*\*?From:\*?\s.+$", re.IGNORECASE)
OUTLOOK_NEXT = re.compile(r"^\s*\*?(Sent|Date|To|Subject|Cc):\*?\s", re.IGNORECASE)
SIGNATURE = re.compile(r"^-- ?$")
BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol",
          "pre", "hr"}
SKIPPED = {"script", "style", "head", "title"}


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str  # "<...>" as the sender wrote it (made from the content when missing)
    address: str  # the From address, lower-cased
    name: str | None
    subject: str
    text: str  # the new words: the quoted thread and the signature cut
    thread: tuple[str, ...]  # References then In-Reply-To, oldest first
    attachments: tuple[Attachment, ...]
    auto_reply: bool  # an out-of-office or a bounce: stored, never answered
    from_address: str = ""  # the From address, lower-cased (``address`` is Reply-To's when there is one)
    authentication_results: tuple[str, ...] = ()  # the Authentication-Results headers, as received (RFC 8601)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self._skip += 1
        elif tag == "blockquote" or (tag == "div" and any(k == "class" and v and "gmail_quote" in v
                                                          for k, v in attrs)):
            self._quote += 1
            self.out.append("\n")
        elif tag in BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._quote = max(0, self._quote - 1)
            self.out.append("\n")
        elif tag in BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip and not self._quote:
            self.out.append(data)


def html_to_text(html: str) -> str:
    """Text of an HTML body: no markup, no script or style, quoted blocks (``<blockquote>``, Gmail's quote
    ``div``) left out, whitespace folded and block elements as line breaks."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in "".join(parser.out).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_quoted(text: str) -> str:
    """The new words of a reply: everything from the first quote header (or the signature separator) on is
    cut, and so are the ``>`` lines."""
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if SIGNATURE.match(line):
            break
        if any(p.match(line) for p in QUOTE_HEADERS) or _wrote_soon(lines, index):
            break
        if OUTLOOK_FROM.match(line) and any(OUTLOOK_NEXT.match(n) for n in lines[index + 1:index + 4]):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _wrote_soon(lines: list[str], index: int) -> bool:
    """ "On <date>, <name> <address>" wrapped by the client before "wrote:" (within three lines)."""
    return lines[index].lstrip().startswith("On ") and any(
        line.rstrip().lower().endswith("wrote:") for line in lines[index:index + 3])


def _decoded(part: EmailMessage) -> str:
    try:
        return str(part.get_content())
    except (LookupError, UnicodeDecodeError):  # an unknown or wrong charset: keep the bytes readable
        payload = part.get_payload(decode=True)
        return payload.decode("latin-1") if isinstance(payload, bytes) else ""


def _ids(value: str | None) -> list[str]:
    return MESSAGE_ID.findall(value or "")


def parse_mail(raw: bytes, *, fallback_id: str) -> ParsedMail:
    """The mail in ``raw`` (as received, headers and body). ``fallback_id``: its Message-ID when it has none
    (the caller makes one of a digest of ``raw``, so a re-delivery is still the same message)."""
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    name, address = parseaddr(str(message.get("Reply-To") or message.get("From") or ""))
    if not name:
        name = parseaddr(str(message.get("From") or ""))[0]
    ids = _ids(str(message.get("Message-ID") or ""))
    thread = [*_ids(str(message.get("References") or "")), *_ids(str(message.get("In-Reply-To") or ""))]
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    if plain is not None:
        text = strip_quoted(_decoded(plain))  # type: ignore[arg-type]
    elif html is not None:
        text = strip_quoted(html_to_text(_decoded(html)))  # type: ignore[arg-type]
    else:
        text = ""
    attachments = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and not part.is_multipart():
            attachments.append(Attachment(part.get_filename() or "attachment", part.get_content_type(), data))
    auto = str(message.get("Auto-Submitted") or "no").lower() != "no" or bool(message.get("X-Autoreply")) or (
        str(message.get("Content-Type") or "").lower().startswith("multipart/report")) or (
        str(message.get("Precedence") or "").lower() in ("bulk", "junk", "list"))
    return ParsedMail(message_id=ids[0] if ids else fallback_id, address=address.strip().lower(),
                      name=name.strip() or None, subject=str(message.get("Subject") or "").strip(), text=text,
                      thread=tuple(dict.fromkeys(thread)), attachments=tuple(attachments), auto_reply=auto,
                      from_address=parseaddr(str(message.get("From") or ""))[1].strip().lower(),
                      authentication_results=tuple(str(v) for v in message.get_all("Authentication-Results") or ()))


def recipients(raw_to: list[str]) -> list[str]:
    """The addresses of To/Cc header values."""
    return [address.lower() for _, address in getaddresses(raw_to) if address]
