"""Retrieval evaluation: does the knowledge base answer, answer right, or abstain?

Input: articles as JSON lines ``{id, question, answer}`` (any format
:mod:`knowledge.ingest` reads works) and queries as JSON lines ``{query, id}``,
where ``id`` names the article that answers the query or is ``null`` when no
article does, in which case the right behaviour is to not answer (and hand off).

Reported: ``recall_at_1``, ``recall_at_5`` and ``mrr`` over answerable queries;
by the knowledge base's answer-or-abstain rule (``rule``: ``calibrated``, fitted on
the articles alone by :meth:`~knowledge.search.KnowledgeBase.calibrate`, or the
cosine ``threshold`` when one is given), ``answered_correct`` (answerable queries
answered with the right article), ``answer_precision`` (right answers over all
answers given) and ``abstain_recall`` (unanswerable queries left unanswered); the
same three by the cosine ``min_score`` (``cosine``), and over a range of cosine
thresholds (``curve``) and of answerability thresholds (``calibrated_curve``).
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
# fine-grained: the answerability score's useful range is narrow; tables show every fifth point (shown())
ANSWERABILITY_THRESHOLDS = [round(t, 2) for t in np.arange(0.01, 1.0, 0.01)]


@dataclass
class RetrievalReport:
    n_articles: int
    n_queries: int
    n_answerable: int
    rule: str
    threshold: float
    recall_at_1: float
    recall_at_5: float
    mrr: float
    answered_correct: float
    answer_precision: float
    abstain_recall: float
    min_score: float
    floor: float | None = None
    cosine: dict[str, float] = field(default_factory=dict)
    curve: list[dict[str, float]] = field(default_factory=list)
    calibrated_curve: list[dict[str, float]] = field(default_factory=list)
    calibration: dict[str, float | int] = field(default_factory=dict)

    def table(self) -> str:
        rule = (f"calibrated answerability >= {self.threshold:.3f}, cosine >= {self.floor:.3f}"
                if self.rule == "calibrated"
                else f"cosine >= {self.threshold}")
        rows = [("articles", self.n_articles), ("queries (answerable)", f"{self.n_queries} ({self.n_answerable})"),
                ("recall@1", f"{self.recall_at_1:.3f}"), ("recall@5", f"{self.recall_at_5:.3f}"),
                ("MRR", f"{self.mrr:.3f}"), ("rule", rule),
                ("answered correct", f"{self.answered_correct:.3f}"),
                ("answer precision", f"{self.answer_precision:.3f}"),
                ("abstain recall", f"{self.abstain_recall:.3f}")]
        if self.rule == "calibrated":
            rows.append((f"cosine >= {self.min_score} instead",
                         f"answered correct {self.cosine['answered_correct']:.3f}, "
                         f"answer precision {self.cosine['answer_precision']:.3f}, "
                         f"abstain recall {self.cosine['abstain_recall']:.3f}"))
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        for title, curve in (("cosine threshold", self.curve),
                             ("answerability threshold", shown(self.calibrated_curve))):
            if not curve:
                continue
            lines += ["", f"{title:>23}  answered_correct  answer_precision  abstain_recall"]
            lines += [f"{p['threshold']:>23.2f}  {p['answered_correct']:>16.3f}  {p['answer_precision']:>16.3f}  "
                      f"{p['abstain_recall']:>14.3f}" for p in curve]
        return "\n".join(lines)


def shown(curve: list[dict[str, float]]) -> list[dict[str, float]]:
    """The points of a curve at multiples of 0.05, for a table."""
    return [p for p in curve if round(p["threshold"] * 100) % 5 == 0]


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


def evaluate(kb: KnowledgeBase, queries: list[tuple[str, str | None]], min_score: float,
             threshold: float | None = None) -> RetrievalReport:
    """Score ``queries`` against ``kb``: by its answer-or-abstain rule (:meth:`KnowledgeBase.verdict`, calibrated
    if ``kb`` is), or by the cosine ``threshold`` when one is given."""
    vectors = kb.embedder.encode([q for q, _ in queries], progress=len(queries) > 200)
    ranked: list[tuple[list[str], list[float]]] = []
    for vector in tqdm(vectors, desc="searching", disable=len(queries) < 200):
        hits = kb.search_vector(vector, k=5)
        ranked.append(([h.article_id for h in hits], [h.score for h in hits]))
    targets = [target for _, target in queries]
    answerable = [(ids, target) for (ids, _), target in zip(ranked, targets, strict=True) if target]
    n_ans = max(len(answerable), 1)
    tops = [scores[0] if scores else 0.0 for _, scores in ranked]
    model = None if threshold is not None else kb.answerability
    # under the calibrated rule, a question whose best article is below the floor is never answered
    values = [model.score(scores) if scores and scores[0] >= model.floor else 0.0
              for _, scores in ranked] if model else tops

    def at(t: float, by: list[float]) -> dict[str, float]:
        answered = [(ids, target) for (ids, _), target, v in zip(ranked, targets, by, strict=True) if ids and v >= t]
        correct = sum(1 for ids, target in answered if target and ids[0] == target)
        nulls = [v for v, target in zip(by, targets, strict=True) if target is None]
        return {"threshold": t, "answered_correct": correct / n_ans,
                "answer_precision": correct / len(answered) if answered else 1.0,
                "abstain_recall": sum(1 for v in nulls if v < t) / len(nulls) if nulls else 1.0}

    rule_threshold = model.threshold if model else min_score if threshold is None else threshold
    point = at(rule_threshold, values)
    return RetrievalReport(
        n_articles=len(kb.store), n_queries=len(queries), n_answerable=len(answerable),
        rule="calibrated" if model else "threshold", threshold=round(rule_threshold, 4),
        recall_at_1=sum(1 for ids, t in answerable if ids[:1] == [t]) / n_ans,
        recall_at_5=sum(1 for ids, t in answerable if t in ids[:5]) / n_ans,
        mrr=sum(1 / (ids.index(t) + 1) for ids, t in answerable if t in ids) / n_ans,
        answered_correct=point["answered_correct"], answer_precision=point["answer_precision"],
        abstain_recall=point["abstain_recall"], min_score=min_score,
        floor=round(model.floor, 4) if model else None, cosine=at(min_score, tops),
        curve=[at(t, tops) for t in THRESHOLDS],
        calibrated_curve=[at(t, values) for t in ANSWERABILITY_THRESHOLDS] if model else [],
        calibration=dict(model.training) if model else {})


def evaluate_files(articles: Path, queries: Path, out: Path, embedder: Embedder,
                   settings: KnowledgeSettings, threshold: float | None = None) -> RetrievalReport:
    """Build a throw-away knowledge base from ``articles``, score ``queries``, write JSON to ``out``."""
    kb = KnowledgeBase(embedder, settings.index_kind, settings.hnsw_threshold)
    kb.sync(load_sources(articles), progress=True)
    if threshold is None:
        kb.calibrate(settings.abstain_target)  # on the articles alone: the queries are never seen
    report = evaluate(kb, load_queries(queries), settings.min_score, threshold)
    out.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"articles": str(articles), "queries": str(queries), "model": embedder.name,
                            **asdict(report)}
    out.write_text(json.dumps(data, indent=2) + "\n")
    return report


__all__ = ["RetrievalReport", "evaluate", "evaluate_files", "load_queries", "shown"]
