from __future__ import annotations

import asyncio
import base64
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.core.agent import Agent
from rasa.model_training import train_nlu
from rasa.shared.exceptions import RasaException

from bot.components.sentence_encoder import SentenceEncoderFeaturizer
from bot.components.sentiment import SentimentAnalyzer
from tests.bot.conftest import ENCODER, ROOT


def encoder_config(**overrides: Any) -> dict[str, Any]:
    return {**SentenceEncoderFeaturizer.get_default_config(), "encoder": str(ENCODER), **overrides}


def test_sentence_encoder_gives_unit_vectors_that_put_paraphrases_close() -> None:
    encoder = SentenceEncoderFeaturizer(encoder_config(), "encoder")
    vectors = encoder.encode(["where is my parcel", "my package has not arrived", "I love pizza"])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_sentence_encoder_without_its_files_says_how_to_build_them(tmp_path: Path) -> None:
    with pytest.raises(RasaException, match="export-encoder"):
        SentenceEncoderFeaturizer.validate_config(encoder_config(encoder=str(tmp_path)))


def test_sentence_encoder_matches_the_knowledge_base_embedding(tmp_path: Path) -> None:
    # the reference vector was computed by sentence-transformers in the 3.11 environment
    reference = ROOT / "tests" / "bot" / "reference_embedding.npy"
    vector = SentenceEncoderFeaturizer(encoder_config(), "encoder").encode(["where is my order 12345"])[0]
    np.testing.assert_allclose(vector, np.load(reference), atol=1e-4)


@pytest.mark.parametrize(("text", "label", "frustrated"), [
    ("Thanks, that was really helpful!", "positive", False),
    ("Where is my order?", "neutral", False),
    ("This is RIDICULOUS, I've asked three times and still no refund!!!", "negative", True),
    ("Worst service ever, you people are useless", "negative", True),
])
def test_sentiment_labels_and_frustration(text: str, label: str, frustrated: bool) -> None:
    result = SentimentAnalyzer({}).analyse(text)
    assert result["label"] == label
    assert (result["frustration"] >= 0.7) is frustrated


@pytest.fixture(scope="module")
def agent(nlu_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Agent:
    out = tmp_path_factory.mktemp("model")
    model = train_nlu(str(ROOT / "config.yml"), str(nlu_file), str(out), fixed_model_name="tiny")
    assert model, "training the NLU pipeline failed"
    yield Agent.load(model)
    shutil.rmtree(out, ignore_errors=True)


def parse(agent: Agent, text: str) -> dict[str, Any]:
    return asyncio.run(agent.parse_message(text))


def test_the_pipeline_classifies_extracts_order_numbers_and_scores_sentiment(agent: Agent) -> None:
    result = parse(agent, "hi, has order #4409812 shipped yet?")
    assert result["intent"]["name"] == "order_status"
    assert [(e["entity"], e["value"]) for e in result["entities"]] == [("order_number", "#4409812")]
    assert result["sentiment"]["label"] in ("neutral", "positive")
    ranking = [r["name"] for r in result["intent_ranking"]]
    assert ranking[0] == "order_status" and len(ranking) == 4
    assert sum(r["confidence"] for r in result["intent_ranking"]) == pytest.approx(1.0, abs=1e-3)


def test_the_pipeline_finds_emails_and_phone_numbers(agent: Agent) -> None:
    result = parse(agent, "email me at jo@example.com or call +44 20 7946 0958")
    assert {(e["entity"], e["value"]) for e in result["entities"]} == {
        ("email", "jo@example.com"), ("phone_number", "+44 20 7946 0958")}


def test_a_furious_message_becomes_a_complaint_with_the_ranking_kept(agent: Agent) -> None:
    result = parse(agent, "WHERE IS MY ORDER?? This is RIDICULOUS, the worst service ever, still nothing!!!")
    assert result["intent"]["name"] == "complaint"
    assert result["sentiment"]["escalate"] is True
    assert result["intent_ranking"][0]["name"] == "order_status"


def test_gibberish_falls_back_instead_of_guessing(agent: Agent) -> None:
    result = parse(agent, "zxqv plmok")
    assert result["intent"]["name"] == "nlu_fallback"


def test_the_parse_data_carries_the_sentence_embedding_for_the_action_server(agent: Agent) -> None:
    text = "how long does standard shipping take?"
    passed = parse(agent, text)["text_embedding"]
    encoder = SentenceEncoderFeaturizer(encoder_config(), "encoder")
    assert (passed["model"], passed["dimension"]) == ("all-MiniLM-L6-v2", 384)
    vector = np.frombuffer(base64.b64decode(passed["vector"]), dtype="<f4")
    np.testing.assert_array_equal(vector, encoder.encode([text])[0].astype(np.float32))
