"""Load knowledge sources into :class:`~knowledge.documents.Article` objects.

Three formats, chosen by file extension:

- ``.md``: Markdown with YAML front matter (``id``, ``title``, ``category``,
  ``tags``, ``updated``, optional ``questions`` and ``review_by``, the date a
  trainer should look at it again); the body follows.
- ``.csv``: one article a row, columns ``id``, ``title`` or ``question``,
  ``body`` or ``answer``, optional ``category``, ``tags`` (``;``-separated),
  ``updated``.
- ``.jsonl``: one JSON object a line with the same keys as the CSV columns;
  ``tags`` and ``questions`` may be lists.

A malformed source raises :class:`~knowledge.errors.SourceError` naming the file
and the line; loading never silently drops an article.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from knowledge.documents import Article, ArticleId
from knowledge.errors import SourceError

SUFFIXES = (".md", ".csv", ".jsonl")


def load_sources(path: Path) -> list[Article]:
    """Load every article under ``path`` (a file or a folder, searched recursively).

    Raises:
        SourceError: a file is malformed, or two articles share an id.
    """
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES)
    if not path.exists():
        raise SourceError(f"Knowledge source {path} does not exist.")
    articles: dict[str, Article] = {}
    for file in files:
        for article in load_file(file):
            if article.id in articles:
                raise SourceError(
                    f"Article id {article.id!r} is used twice: {articles[article.id].source} and {file}."
                )
            articles[article.id] = article
    return list(articles.values())


def load_file(path: Path) -> list[Article]:
    """Load the articles of one file, by its extension."""
    if path.suffix == ".md":
        return [load_markdown(path)]
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return list(_records(csv.DictReader(handle), path, first_line=2))
    if path.suffix == ".jsonl":
        return list(_records(_json_lines(path), path, first_line=1))
    raise SourceError(f"{path}: unsupported knowledge source type (use {', '.join(SUFFIXES)}).")


def load_markdown(path: Path) -> Article:
    """Parse one Markdown article with front matter."""
    try:
        post = frontmatter.load(str(path))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: front matter is not valid YAML ({exc}).") from exc
    meta: dict[str, Any] = dict(post.metadata)
    if "id" not in meta:
        meta["id"] = path.stem
    return _article(meta, post.content, path, line=1)


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SourceError(f"{path}:{number}: not valid JSON ({exc.msg}).") from exc
            if not isinstance(record, dict):
                raise SourceError(f"{path}:{number}: each line must be a JSON object.")
            yield record


def _records(rows: Iterable[Mapping[str, Any]], path: Path, first_line: int) -> Iterator[Article]:
    for number, row in enumerate(rows, start=first_line):
        body = row.get("body") or row.get("answer") or ""
        yield _article(dict(row), str(body), path, line=number)


def _article(meta: dict[str, Any], body: str, path: Path, line: int) -> Article:
    where = f"{path}:{line}"
    article_id = meta.get("id", meta.get("faq_id"))
    if article_id is None or str(article_id).strip() == "":
        raise SourceError(f"{where}: the article has no id.")
    title = str(meta.get("title") or meta.get("question") or "").strip()
    if not title:
        raise SourceError(f"{where}: article {article_id!r} has no title or question.")
    if not body.strip():
        raise SourceError(f"{where}: article {article_id!r} has an empty body.")
    questions = _string_list(meta.get("questions"), where, "questions")
    if meta.get("question") and str(meta["question"]).strip() not in questions:
        questions = (str(meta["question"]).strip(), *questions)
    return Article(
        id=ArticleId(str(article_id).strip()),
        title=title,
        body=body.strip(),
        category=str(meta.get("category") or "").strip(),
        tags=_string_list(meta.get("tags"), where, "tags"),
        questions=questions,
        updated=str(meta.get("updated") or ""),
        source=str(path),
        review_by=str(meta.get("review_by") or ""),
    )


def _string_list(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.replace(",", ";").split(";") if part.strip())
    if isinstance(value, list):
        return tuple(str(item).strip() for item in value if str(item).strip())
    raise SourceError(f"{where}: {key} must be a list or a ';'-separated string.")
