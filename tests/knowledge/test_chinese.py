"""A knowledge base in Chinese: the multilingual model, Chinese words in the lexical parts, the CLI.

The articles in fixtures/zh/ were written for these tests (nine help-centre articles of a shop). The
questions below are none of the articles' own titles or questions: paraphrases a customer might type.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.answerability import paraphrases
from knowledge.embed import SentenceTransformerEmbedder, make_embedder, query_embedder
from knowledge.encoder import USE_MODEL, UseEmbedder, load_encoder, missing_files, write_use_export
from knowledge.ingest import load_sources
from knowledge.language import cjk_bigrams, join_units, units
from knowledge.search import KnowledgeBase, open_for_queries
from knowledge.settings import KnowledgeSettings
from knowledge.tagging import suggest_tags
from tests.conftest import ROOT, TIMEOUT

FIXTURES = Path(__file__).parent / "fixtures" / "zh"
QUESTIONS = {
    "寄到新疆要多少运费？": "shipping-costs",
    "满多少钱包邮": "shipping-costs",
    "衣服不合适想退掉": "returns-window",
    "杯子碎了": "damaged-item",
    "密码忘了登不上去": "password-reset",
    "把我的账号删掉": "delete-account",
    "支持支付宝吗": "payment-methods",
    "我要报销需要发票": "invoice",
    "顺丰几天能到": "delivery-time",
    "订单还没发货能取消吗": "cancel-order",
}


@pytest.fixture(scope="module")
def use() -> UseEmbedder:
    return UseEmbedder()


@pytest.fixture(scope="module")
def kb(use: UseEmbedder) -> KnowledgeBase:
    base = KnowledgeBase(use)
    base.sync(load_sources(FIXTURES))
    return base


def test_chinese_questions_find_the_article_that_answers_them(kb: KnowledgeBase) -> None:
    ranked = {q: [h.article_id for h in kb.search(q, k=3)] for q in QUESTIONS}
    top1 = [q for q, ids in ranked.items() if ids[0] == QUESTIONS[q]]
    assert all(QUESTIONS[q] in ids for q, ids in ranked.items()), ranked
    assert len(top1) == len(QUESTIONS), ranked


def test_the_english_model_is_why_a_chinese_knowledge_base_needs_the_multilingual_one(
        embedder: SentenceTransformerEmbedder) -> None:
    english = KnowledgeBase(embedder)
    english.sync(load_sources(FIXTURES))
    top1 = sum(english.search(q, k=1)[0].article_id == article for q, article in QUESTIONS.items())
    assert top1 == 2  # of 10 (the multilingual model: 10); docs/architecture.md cites it


def test_the_multilingual_model_answers_across_languages(kb: KnowledgeBase) -> None:
    assert kb.search("how much is shipping?")[0].article_id == "shipping-costs"
    assert kb.search("I forgot my password")[0].article_id == "password-reset"


def test_a_chinese_knowledge_base_calibrates_its_answer_or_abstain_rule(kb: KnowledgeBase) -> None:
    calibrated = kb.calibrate(0.5)
    assert calibrated is not None  # nine articles: enough to leave each out in turn
    answered = kb.verdict([h.score for h in kb.search("支持支付宝吗")], 0.55)
    assert answered.rule == "calibrated" and answered.answer


def test_untagged_chinese_articles_get_chinese_tags(kb: KnowledgeBase) -> None:
    invoice = kb.store.get("invoice").article
    assert invoice.tags and all(len(tag) == 2 for tag in invoice.tags)
    assert "发票" in invoice.tags


def test_words_of_a_text_without_spaces_are_its_characters() -> None:
    assert units("我的订单 order 123 在哪？") == ["我", "的", "订", "单", "order", "123", "在", "哪", "？"]
    assert join_units(units("我的订单 order 123 在哪？")) == "我的订单order 123在哪？"
    assert units("where is my order") == ["where", "is", "my", "order"]
    assert cjk_bigrams("我的订单在哪") == ["订单"]  # pairs with a function character (我 的 在) left out


def test_paraphrases_of_a_chinese_question_drop_characters_not_the_whole_question() -> None:
    variants = paraphrases("我的订单什么时候发货？", random.Random(0))
    assert len(variants) == 2
    for variant in variants:
        assert variant and variant != "我的订单什么时候发货？" and " " not in variant
        assert len(variant) >= len("我的订单什么时候发货？") // 2


def test_suggested_tags_of_chinese_texts_are_character_pairs() -> None:
    tags = suggest_tags(["如何退货？商品收到后七天内可以申请退货退款。", "运费多少？满九十九元免运费。",
                         "怎样修改密码？在账户设置里修改密码。"])
    assert tags[0][0] == "退货" and tags[1][0] == "运费" and "密码" in tags[2]


def test_the_export_of_the_multilingual_model_names_it_and_serves_queries(tmp_path: Path, kb: KnowledgeBase) -> None:
    folder = tmp_path / "encoder_zh"
    write_use_export(folder)
    assert missing_files(folder) == []
    assert isinstance(load_encoder(folder), UseEmbedder)
    assert isinstance(make_embedder("use-multilingual"), UseEmbedder)
    assert isinstance(query_embedder("use-multilingual", tmp_path / "none"), UseEmbedder)
    kb.save(tmp_path / "index")
    settings = dataclasses.replace(KnowledgeSettings(), model=USE_MODEL, index_dir=tmp_path / "index",
                                   encoder_dir=folder)
    served = open_for_queries(settings)
    assert isinstance(served.embedder, UseEmbedder)
    assert served.search("支持支付宝吗")[0].article_id == "payment-methods"


def test_the_cli_builds_and_searches_a_chinese_knowledge_base(tmp_path: Path) -> None:
    env = {**os.environ, "KB_MODEL": "use-multilingual", "KB_INDEX_DIR": str(tmp_path / "index"),
           "KB_SOURCES": str(FIXTURES), "PYTHONPATH": str(ROOT)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "knowledge", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=TIMEOUT)

    built = cli("build")
    assert built.returncode == 0, built.stderr
    assert "9 added" in built.stdout and "answerability: calibrated" in built.stdout
    hits = json.loads(cli("search", "把我的账号删掉", "--json").stdout)
    assert hits[0]["article_id"] == "delete-account"
