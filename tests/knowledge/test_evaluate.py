from __future__ import annotations

import json
from pathlib import Path

from knowledge.embed import SentenceTransformerEmbedder
from knowledge.evaluate import evaluate_files
from knowledge.settings import KnowledgeSettings


def test_retrieval_report_counts_right_answers_and_abstentions(tmp_path: Path,
                                                                 embedder: SentenceTransformerEmbedder) -> None:
    articles = tmp_path / "articles.jsonl"
    articles.write_text("\n".join(json.dumps(a) for a in [
        {"id": "a1", "question": "How long does shipping take?", "answer": "Standard shipping takes 3-5 days."},
        {"id": "a2", "question": "How do I reset my password?", "answer": "Use the Forgot password link."},
        {"id": "a3", "question": "Can I return an item?", "answer": "Yes, within 30 days."},
    ]) + "\n")
    queries = tmp_path / "queries.jsonl"
    queries.write_text("\n".join(json.dumps(q) for q in [
        {"query": "when will my parcel arrive", "id": "a1"},
        {"query": "I forgot my password", "id": "a2"},
        {"query": "send an item back", "id": "a3"},
        {"query": "what is the weather in Oslo", "id": None},
    ]) + "\n")
    out = tmp_path / "report.json"
    report = evaluate_files(articles, queries, out, embedder, KnowledgeSettings(), threshold=0.5)
    assert (report.recall_at_1, report.recall_at_5, report.mrr) == (1.0, 1.0, 1.0)
    assert report.abstain_recall == 1.0
    assert report.answer_precision == 1.0
    saved = json.loads(out.read_text())
    assert saved["n_queries"] == 4 and saved["n_answerable"] == 3 and len(saved["curve"]) == 12
    assert "recall@1" in report.table()


def test_retrieval_report_is_by_the_calibrated_rule_fitted_on_the_articles_alone(
        tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    from tests.knowledge.test_answerability import HELP_CENTRE

    articles = tmp_path / "articles.jsonl"
    articles.write_text("\n".join(json.dumps({"id": key, "question": title, "answer": body, "questions": list(qs)})
                                  for key, (title, body, qs) in HELP_CENTRE.items() if key != "gift-cards") + "\n")
    queries = tmp_path / "queries.jsonl"
    queries.write_text("\n".join(json.dumps(q) for q in [
        {"query": "what does delivery cost", "id": "shipping-costs"},
        {"query": "I forgot my password", "id": "password-reset"},
        {"query": "do gift vouchers have an expiry date?", "id": None},
        {"query": "what is the weather in Oslo", "id": None},
    ]) + "\n")
    out = tmp_path / "report.json"
    report = evaluate_files(articles, queries, out, embedder, KnowledgeSettings())
    assert report.rule == "calibrated" and report.floor is not None
    assert (report.answered_correct, report.answer_precision, report.abstain_recall) == (1.0, 1.0, 1.0)
    assert report.cosine["threshold"] == KnowledgeSettings().min_score
    saved = json.loads(out.read_text())
    assert saved["calibration"]["sources"] == 36 and len(saved["calibrated_curve"]) == 99
    assert "answerability threshold" in report.table()
