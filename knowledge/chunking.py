"""Split articles into the pieces that are embedded.

Why several pieces per article: customers phrase questions the way the
``questions`` list does, while answers to detailed questions sit in a section of
the body. Each piece is searched; an article scores as its best piece.
Passages carry the article title and their heading, so a section such as
"## Details" is never embedded without its subject.
"""

from __future__ import annotations

import re

from knowledge.documents import Article, Chunk

MAX_PASSAGE_CHARS = 700
_HEADING = re.compile(r"^#{1,6}\s+(.*)$")


def chunk_article(article: Article, max_chars: int = MAX_PASSAGE_CHARS) -> list[Chunk]:
    """Return the title, question and passage chunks of ``article``, in that order."""
    chunks = [Chunk(article.id, "title", article.title)]
    chunks += [Chunk(article.id, "question", q) for q in article.questions if q != article.title]
    for heading, text in _sections(article.body):
        for passage in _pack(text, max_chars):
            prefix = f"{article.title}. {heading}. " if heading else f"{article.title}. "
            chunks.append(Chunk(article.id, "passage", prefix + passage, heading))
    return chunks


def _sections(body: str) -> list[tuple[str, str]]:
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in body.splitlines():
        match = _HEADING.match(line.strip())
        if match:
            sections.append((match.group(1).strip(), []))
        else:
            sections[-1][1].append(line)
    return [(heading, "\n".join(lines).strip()) for heading, lines in sections if "".join(lines).strip()]


def _pack(text: str, max_chars: int) -> list[str]:
    """Group paragraphs into passages of at most ``max_chars`` (a longer paragraph stays whole)."""
    passages: list[str] = []
    current = ""
    for paragraph in (p.strip() for p in text.split("\n\n")):
        if not paragraph:
            continue
        paragraph = " ".join(paragraph.split())
        if current and len(current) + len(paragraph) + 1 > max_chars:
            passages.append(current)
            current = paragraph
        else:
            current = f"{current} {paragraph}".strip()
    if current:
        passages.append(current)
    return passages
