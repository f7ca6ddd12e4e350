"""The knowledge section of docs/evaluation.md, written from a real report (scripts/evaluate_all.py)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from knowledge.embed import SentenceTransformerEmbedder
from knowledge.evaluate import evaluate_files
from knowledge.settings import KnowledgeSettings
from scripts import evaluate_all
from tests.knowledge.test_answerability import HELP_CENTRE


def test_evaluate_all_writes_the_knowledge_section_and_chart_from_a_calibrated_report(
        tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    articles = tmp_path / "articles.jsonl"
    articles.write_text("\n".join(json.dumps({"id": key, "question": title, "answer": body, "questions": list(qs)})
                                  for key, (title, body, qs) in HELP_CENTRE.items()) + "\n")
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"query": "is postage free?", "id": "shipping-costs"}) + "\n"
                       + json.dumps({"query": "what is the weather in Oslo", "id": None}) + "\n")
    report = asdict(evaluate_files(articles, queries, tmp_path / "r.json", embedder, KnowledgeSettings()))
    doc = tmp_path / "docs" / "evaluation.md"
    doc.parent.mkdir()
    doc.write_text("# Evaluation\n\nkept\n\n## Knowledge retrieval (COVID FAQ)\n\nthe section of an earlier run\n\n## Commands\n\nkept too\n")
    monkeypatch.setattr(evaluate_all, "ROOT", tmp_path)
    monkeypatch.setattr(evaluate_all, "IMG", tmp_path)

    evaluate_all.rewrite_kb_section(report)
    assert evaluate_all.kb_chart(report).stat().st_size > 0
    text = doc.read_text()
    assert text.startswith("# Evaluation\n\nkept\n\n## Knowledge retrieval") and text.endswith("## Commands\n\nkept too\n")
    assert "an earlier run" not in text and "| calibrated (answerability >= " in text
    assert "| | | | | | cosine >= 0.55 (the rule before) |" in text
    assert "| calibrated answerability threshold |" in text and "| cosine threshold |" in text
    assert evaluate_all.KB_COMMAND in text
