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


def test_a_full_rewrite_keeps_the_hand_measured_out_of_scope_section(tmp_path: Path) -> None:
    doc = ("# Evaluation\n\nold run\n\n## Answering vs handing off (BANKING77-OOS)\n\nold curve\n\n"
           "## Out-of-scope detection (OutOfScopeDetector)\n\nmeasured by paired trainings\n\n| a | b |\n\n"
           "## Knowledge retrieval (COVID FAQ)\n\nold kb\n\n## Commands\n")
    kept = evaluate_all.kept_section(doc)
    assert kept[0] == "## Out-of-scope detection (OutOfScopeDetector)" and "| a | b |" in kept
    assert not any("Knowledge retrieval" in line or "old curve" in line for line in kept)
    assert evaluate_all.kept_section("# Evaluation\n\n## Commands\n") == []


def test_the_chinese_section_is_added_before_the_knowledge_section_then_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def report(accuracy: float) -> dict[str, float]:
        return {"intent_accuracy": accuracy, "handoff_rate_in_scope": 0.03, "macro_f1": 0.9, "train_seconds": 4.0,
                "parse_ms_per_message": 8.0}

    results = {"xsid_zh_chinese": report(0.91), "xsid_zh_product": report(0.80), "xsid_en_product": report(0.92),
               "cv": {"folds": 5, "configs": {"config_zh.yml": {"mean_intent_accuracy": 0.903},
                                               "build/eval/zh_variants/no_encoder.yml": {"mean_intent_accuracy": 0.873}}}}
    doc = tmp_path / "docs" / "evaluation.md"
    doc.parent.mkdir()
    doc.write_text("# Evaluation\n\nkept\n\n## Knowledge retrieval (COVID FAQ)\n\nkb\n\n## Commands\n")
    monkeypatch.setattr(evaluate_all, "ROOT", tmp_path)

    evaluate_all.rewrite_zh_section(results)
    text = doc.read_text()
    assert text.index(evaluate_all.ZH_SECTION) < text.index("## Knowledge retrieval") and "\n\nkept\n\n" in text
    assert "| Chinese (xSID zh) | Chinese (`config_zh.yml`) | 91.0% |" in text
    assert "1.0 points below the English pipeline on the parallel English\n(target: within 2 points): reached" in text
    assert "| as committed | 90.3% |" in text and "| no sentence embedding" in text

    results["xsid_zh_chinese"] = report(0.85)
    evaluate_all.rewrite_zh_section(results)
    text = doc.read_text()
    assert text.count(evaluate_all.ZH_SECTION) == 1 and "91.0%" not in text and "not reached" in text
    assert text.endswith("## Knowledge retrieval (COVID FAQ)\n\nkb\n\n## Commands\n")


def test_the_variants_of_the_chinese_configuration_change_what_they_say(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluate_all, "OUT", tmp_path)
    paths = {p.stem: p.read_text() for p in evaluate_all.zh_variants()}
    assert "analyzer: char\n    min_ngram: 1\n    max_ngram: 3" in paths["char13"]
    assert "SentenceEncoderFeaturizer" not in paths["no_encoder"] and "OutOfScopeDetector" not in paths["no_encoder"]
