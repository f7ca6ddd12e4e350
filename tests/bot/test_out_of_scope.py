"""The out-of-scope detector (bot/components/out_of_scope.py) on synthetic embeddings and in the pipeline."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.core.agent import Agent
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.model_training import train_nlu
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.out_of_scope import OUTPUT_KEY, OutOfScopeDetector
from tests.bot.conftest import ROOT

DIM = 32


def clusters(rng: np.random.Generator, n_intents: int, per_intent: int, noise: float = 0.35) -> tuple[
        np.ndarray, list[np.ndarray]]:
    """Intent centres (unit vectors) and ``per_intent`` unit vectors scattered around each."""
    centres = rng.normal(size=(n_intents, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    groups = []
    for centre in centres:
        points = centre + noise * rng.normal(size=(per_intent, DIM)) / np.sqrt(DIM) * 3
        groups.append(points / np.linalg.norm(points, axis=1, keepdims=True))
    return centres, groups


def message(vector: np.ndarray, intent: str | None = None, ranking: list[str] | None = None) -> Message:
    data: dict[str, Any] = {"text": "x"}
    if intent:
        data["intent"] = intent
    msg = Message(data=data)
    msg.add_features(Features(vector.reshape(1, -1).astype(np.float32), "sentence", "text", "encoder"))
    if ranking:
        msg.set("intent", {"name": ranking[0], "confidence": 0.9})
        msg.set("intent_ranking", [{"name": name, "confidence": 0.9 / (i + 1)} for i, name in enumerate(ranking)])
    return msg


@pytest.fixture()
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def trained(storage: LocalModelStorage, groups: list[np.ndarray], **config: Any) -> OutOfScopeDetector:
    context = ExecutionContext(GraphSchema({}), "test")
    detector = OutOfScopeDetector.create({**OutOfScopeDetector.get_default_config(), **config}, storage,
                                         Resource("oos"), context)
    examples = [message(v, f"intent_{c}") for c, group in enumerate(groups) for v in group]
    detector.train(TrainingData(examples))
    return detector


@pytest.mark.parametrize("per_intent", [10, 150])
def test_the_threshold_keeps_the_target_share_of_new_in_scope_messages_whatever_the_data_size(
        storage: LocalModelStorage, per_intent: int) -> None:
    rng = np.random.default_rng(per_intent)
    centres, groups = clusters(rng, 20, per_intent)
    detector = trained(storage, groups, retention=0.95)
    _, fresh = clusters(np.random.default_rng(999), 20, 50)
    # same centres, new messages: the fresh messages come from the training distribution
    fresh = []
    for centre in centres:
        points = centre + 0.35 * rng.normal(size=(50, DIM)) / np.sqrt(DIM) * 3
        fresh.append(points / np.linalg.norm(points, axis=1, keepdims=True))
    scores = [detector.score(v, f"intent_{c}") for c, group in enumerate(fresh) for v in group]
    kept = np.mean([s is not None and s <= detector.threshold for s in scores])
    assert 0.88 <= kept <= 1.0
    # a message far from every intent is out of scope
    far = rng.normal(size=DIM)
    far /= np.linalg.norm(far)
    assert detector.score(far, "intent_0") > detector.threshold


def test_a_message_far_from_its_intent_becomes_nlu_fallback_and_carries_its_score(
        storage: LocalModelStorage) -> None:
    rng = np.random.default_rng(1)
    centres, groups = clusters(rng, 5, 30)
    detector = trained(storage, groups)
    near = message(groups[2][0] + 0.01 * rng.normal(size=DIM), ranking=["intent_2", "intent_1"])
    far_vector = -centres[2]
    far = message(far_vector, ranking=["intent_2", "intent_1"])
    labelled = message(far_vector, ranking=["out_of_scope", "intent_2"])
    detector.process([near, far, labelled])
    assert near.get("intent")["name"] == "intent_2"
    assert far.get("intent")["name"] == "nlu_fallback"
    assert [r["name"] for r in far.get("intent_ranking")][:2] == ["nlu_fallback", "intent_2"]
    assert labelled.get("intent")["name"] == "out_of_scope"  # already a hand-off: left alone
    assert far.get(OUTPUT_KEY)["intent"] == "intent_2"
    assert far.get(OUTPUT_KEY)["score"] > far.get(OUTPUT_KEY)["threshold"] >= near.get(OUTPUT_KEY)["score"]


def test_out_of_scope_examples_are_not_references_and_the_model_is_persisted(storage: LocalModelStorage) -> None:
    rng = np.random.default_rng(2)
    _, groups = clusters(rng, 3, 12)
    context = ExecutionContext(GraphSchema({}), "test")
    detector = OutOfScopeDetector.create(OutOfScopeDetector.get_default_config(), storage, Resource("oos"), context)
    examples = [message(v, f"intent_{c}") for c, group in enumerate(groups) for v in group]
    examples += [message(v, "out_of_scope") for v in groups[0][:3]]
    detector.train(TrainingData(examples))
    assert detector.intents == ["intent_0", "intent_1", "intent_2"]
    loaded = OutOfScopeDetector.load(OutOfScopeDetector.get_default_config(), storage, Resource("oos"), context)
    assert loaded.threshold == pytest.approx(detector.threshold)
    vector = groups[1][0]
    assert loaded.score(vector, "intent_1") == pytest.approx(detector.score(vector, "intent_1"))


@pytest.fixture(scope="module")
def agent(nlu_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    out = tmp_path_factory.mktemp("model")
    config = (ROOT / "config.yml").read_text()
    if "OutOfScopeDetector" not in config:
        config = config.replace("    ambiguity_threshold: 0.05\n",
                                "    ambiguity_threshold: 0.05\n  - name: bot.components.out_of_scope.OutOfScopeDetector\n")
    config_file = out / "config.yml"
    config_file.write_text(config)
    model = train_nlu(str(config_file), str(nlu_file), str(out), fixed_model_name="tiny-oos")
    assert model, "training the NLU pipeline failed"
    yield Agent.load(model)
    shutil.rmtree(out, ignore_errors=True)


def test_in_the_pipeline_known_questions_are_answered_and_off_topic_ones_handed_off(agent: Agent) -> None:
    answered = asyncio.run(agent.parse_message("has my order 12345 shipped yet?"))
    assert answered["intent"]["name"] == "order_status"
    assert answered[OUTPUT_KEY]["score"] <= answered[OUTPUT_KEY]["threshold"]
    off_topic = asyncio.run(agent.parse_message("which vaccine side effects are common in cats"))
    assert off_topic["intent"]["name"] in ("nlu_fallback", "out_of_scope")
    assert off_topic[OUTPUT_KEY]["score"] > answered[OUTPUT_KEY]["score"]
