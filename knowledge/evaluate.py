"""Retrieval evaluation: does the knowledge base answer, answer right, or abstain?

Input: articles as JSON lines ``{id, question, answer}`` (any format
:mod:`knowledge.ingest` reads works) and queries as JSON lines ``{query, id}``,
where ``id`` names the article that answers the query or is ``null`` when no
article does, in which case the right behaviour is to not answer (and hand off).

Reported: ``recall_at_1``, ``recall_at_5`` and ``mrr`` over answerable queries;
at the answer threshold, ``answered_correct`` (answerable queries answered with
the right article), ``answer_precision`` (right answers over all answers given)
and ``abstain_recall`` (unanswerable queries left unanswered); and the same three
over a range of thresholds, to choose one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from knowledge.embed import Embedder
from knowledge.errors import SourceError
from knowledge.ingest import load_sources
from knowledge.search import KnowledgeBase
from knowledge.settings import KnowledgeSettings

THRESHOLDS = [round(t, 2) for t in np.arange(0.30, 0.86, 0.05)]


@dataclass
class RetrievalReport:
    n_articles: int
    n_queries: int
    n_answerable: int
    threshold: float
    recall_at_1: float
    recall_at_5: float
    mrr: float
    answered_correct: float
    answer_precision: float
    abstain_recall: float
    curve: list[dict[str, float]] = field(default_factory=list)

    def table(self) -> str:
        rows = [("articles", self.n_articles), ("queries (answerable)", f"{self.n_queries} ({self.n_answerable})"),
                ("recall@1", f"{self.recall_at_1:.3f}"), ("recall@5", f"{self.recall_at_5:.3f}"),
                ("MRR", f"{self.mrr:.3f}"), ("threshold", self.threshold),
                ("answered correct", f"{self.answered_correct:.3f}"),
                ("answer precision", f"{self.answer_precision:.3f}"),
                ("abstain recall", f"{self.abstain_recall:.3f}")]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        lines.append("")
        lines.append("threshold  answered_correct  answer_precision  abstain_recall")
        for point in self.curve:
            lines.append(f"{point['threshold']:>9.2f}  {point['answered_correct']:>16.3f}  "
                         f"{point['answer_precision']:>16.3f}  {point['abstain_recall']:>14.3f}")
        return "\n".join(lines)


def load_queries(path: Path) -> list[tuple[str, str | None]]:
    queries = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                target = row.get("id", row.get("faq_id"))
                queries.append((str(row["query"]), None if target is None else str(target)))
            except (json.JSONDecodeError, KeyError, AttributeError) as exc:
                raise SourceError(f"{path}:{number}: expected an object with 'query' and 'id' ({exc}).") from exc
    return queries


def evaluate(kb: KnowledgeBase, queries: list[tuple[str, str | None]], threshold: float) -> RetrievalReport:
    vectors = kb.embedder.encode([q for q, _ in queries], progress=len(queries) > 200)
    ranked: list[tuple[list[str], float]] = []
    for vector in tqdm(vectors, desc="searching", disable=len(queries) < 200):
        hits = kb.search_vector(vector, k=5)
        ranked.append(([h.article_id for h in hits], hits[0].score if hits else 0.0))
    answerable = [(ids, top, target) for (ids, top), (_, target) in zip(ranked, queries, strict=True) if target]
    n_ans = max(len(answerable), 1)

    def at(t: float) -> dict[str, float]:
        answered = [(ids, target) for (ids, top), (_, target) in zip(ranked, queries, strict=True) if top >= t]
        correct = sum(1 for ids, target in answered if target and ids[0] == target)
        nulls = [top for (_, top), (_, target) in zip(ranked, queries, strict=True) if target is None]
        return {"threshold": t, "answered_correct": correct / n_ans,
                "answer_precision": correct / len(answered) if answered else 1.0,
                "abstain_recall": sum(1 for top in nulls if top < t) / len(nulls) if nulls else 1.0}

    point = at(threshold)
    return RetrievalReport(
        n_articles=len(kb.store), n_queries=len(queries), n_answerable=len(answerable), threshold=threshold,
        recall_at_1=sum(1 for ids, _, t in answerable if ids[:1] == [t]) / n_ans,
        recall_at_5=sum(1 for ids, _, t in answerable if t in ids[:5]) / n_ans,
        mrr=sum(1 / (ids.index(t) + 1) for ids, _, t in answerable if t in ids) / n_ans,
        answered_correct=point["answered_correct"], answer_precision=point["answer_precision"],
        abstain_recall=point["abstain_recall"], curve=[at(t) for t in THRESHOLDS])


def evaluate_files(articles: Path, queries: Path, out: Path, embedder: Embedder,
                   settings: KnowledgeSettings, threshold: float | None = None) -> RetrievalReport:
    """Build a throw-away knowledge base from ``articles``, score ``queries``, write JSON to ``out``."""
    kb = KnowledgeBase(embedder, settings.index_kind, settings.hnsw_threshold)
    kb.sync(load_sources(articles), progress=True)
    report = evaluate(kb, load_queries(queries), settings.min_score if threshold is None else threshold)
    out.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"articles": str(articles), "queries": str(queries), "model": embedder.name,
                            **asdict(report)}
    out.write_text(json.dumps(data, indent=2) + "\n")
    return report


__all__ = ["RetrievalReport", "evaluate", "evaluate_files", "load_queries"]
