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
    # which rule handed a message off: the detector for the far one; the classifier's out_of_scope for the labelled
    assert [m.get(OUTPUT_KEY)["fired"] for m in (near, far, labelled)] == [False, True, False]


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


# -- the combined score (signals: distance and the classifier's confidence) -----------------------

COMBINED = {"signals": ["distance", "confidence", "margin", "nearest"], "combine": "fisher"}


def ranked(vector: np.ndarray, confidences: dict[str, float]) -> Message:
    """A message as the classifier leaves it: ``confidences`` ranked, highest first."""
    msg = message(vector)
    ranking = sorted(({"name": n, "confidence": c} for n, c in confidences.items()), key=lambda r: -r["confidence"])
    msg.set("intent", dict(ranking[0]))
    msg.set("intent_ranking", ranking)
    return msg


@pytest.mark.parametrize("per_intent", [15, 120])
def test_the_combined_score_is_fitted_on_held_out_folds_and_its_threshold_keeps_the_retention_share(
        storage: LocalModelStorage, per_intent: int) -> None:
    rng = np.random.default_rng(10 + per_intent)
    _, groups = clusters(rng, 8, per_intent)
    detector = trained(storage, groups, retention=0.9, **COMBINED)
    n = 8 * per_intent
    for name in COMBINED["signals"]:
        sample = detector._arrays[f"held_out_{name}"]
        assert sample.shape == detector._arrays["held_out_distance"].shape
        assert 0 < sample.size <= n and np.isfinite(sample).all()
    # the held-out confidences are a refitted classifier's on examples it never saw: not all certain
    assert detector._arrays["held_out_confidence"].max() > 0.01
    # p-values: 1 for the smallest possible signal, 1 / (n + 1) above every held-out value
    sample = detector._arrays["held_out_distance"]
    assert detector.p_value("distance", np.array([-1.0]))[0] == pytest.approx(1.0)
    assert detector.p_value("distance", np.array([sample.max() + 1]))[0] == pytest.approx(1 / (sample.size + 1))
    # the threshold is the retention quantile of the held-out combined scores
    held = detector._combine({name: detector._arrays[f"held_out_{name}"] for name in COMBINED["signals"]})
    assert detector.threshold == pytest.approx(float(np.quantile(held, 0.9)))
    assert np.mean(held <= detector.threshold) == pytest.approx(0.9, abs=0.03)
    # min_p scores each example by its least typical signal: never below any one signal's -log p
    detector.config["combine"] = "min_p"
    worst = detector._combine({name: detector._arrays[f"held_out_{name}"] for name in COMBINED["signals"]})
    assert np.all(worst <= held + 1e-9)
    assert np.all(worst >= -np.log(detector.p_value("distance", sample)) - 1e-9)


def test_with_the_combined_score_a_far_message_is_handed_off_and_an_in_scope_paraphrase_kept(
        storage: LocalModelStorage) -> None:
    rng = np.random.default_rng(4)
    centres, groups = clusters(rng, 6, 40)
    detector = trained(storage, groups, **COMBINED)
    paraphrase_vector = centres[3] + 0.35 * rng.normal(size=DIM) / np.sqrt(DIM) * 3
    paraphrase = ranked(paraphrase_vector / np.linalg.norm(paraphrase_vector),
                        {"intent_3": 0.93, "intent_1": 0.04, "intent_0": 0.03})
    far_vector = rng.normal(size=DIM)
    far_vector -= sum((far_vector @ c) * c for c in centres)  # orthogonal to every intent
    far = ranked(far_vector / np.linalg.norm(far_vector), {"intent_3": 0.55, "intent_1": 0.25, "intent_0": 0.2})
    detector.process([paraphrase, far])
    assert paraphrase.get("intent")["name"] == "intent_3"
    assert far.get("intent")["name"] == "nlu_fallback"
    output = far.get(OUTPUT_KEY)
    assert output["intent"] == "intent_3"
    assert set(output) >= {"score", "threshold", "distance", "confidence", "p_distance", "p_confidence",
                           "p_margin", "p_nearest"}
    assert output["confidence"] == pytest.approx(0.45)
    assert output["score"] > output["threshold"] >= paraphrase.get(OUTPUT_KEY)["score"]
    # the parts add up: Fisher's score is minus the sum of the logs of the p-values (rounded to 4 places)
    parts = [paraphrase.get(OUTPUT_KEY)[f"p_{name}"] for name in COMBINED["signals"]]
    assert paraphrase.get(OUTPUT_KEY)["score"] == pytest.approx(-sum(np.log(parts)), rel=1e-2)


def test_both_parts_of_the_combined_score_count(storage: LocalModelStorage) -> None:
    """Far from the intent's examples or unsure classifier: each raises the score; both together hand off."""
    rng = np.random.default_rng(5)
    centres, groups = clusters(rng, 6, 40)
    detector = trained(storage, groups, **COMBINED)
    sure, unsure = {"intent_2": 0.99, "intent_1": 0.01}, {"intent_2": 0.2, "intent_1": 0.19, "intent_0": 0.18}
    typical, far_but_sure = ranked(groups[2][0], sure), ranked(-centres[2], sure)
    near_but_unsure, far_and_unsure = ranked(groups[2][0], unsure), ranked(-centres[2], unsure)
    detector.process([typical, far_but_sure, near_but_unsure, far_and_unsure])
    score = {name: m.get(OUTPUT_KEY)["score"] for name, m in [("typical", typical), ("far", far_but_sure),
                                                              ("unsure", near_but_unsure),
                                                              ("both", far_and_unsure)]}
    assert score["typical"] < min(score["far"], score["unsure"]) <= max(score["far"], score["unsure"]) < score["both"]
    assert typical.get("intent")["name"] == "intent_2"
    assert far_and_unsure.get("intent")["name"] == "nlu_fallback"


def test_the_combined_detector_is_persisted_as_plain_arrays_and_bad_settings_are_refused(
        storage: LocalModelStorage) -> None:
    rng = np.random.default_rng(6)
    _, groups = clusters(rng, 4, 20)
    detector = trained(storage, groups, **COMBINED)
    context = ExecutionContext(GraphSchema({}), "test")
    config = {**OutOfScopeDetector.get_default_config(), **COMBINED}
    loaded = OutOfScopeDetector.load(config, storage, Resource("oos"), context)
    assert loaded.threshold == pytest.approx(detector.threshold)
    a = ranked(groups[1][0], {"intent_1": 0.7, "intent_0": 0.3})
    b = ranked(groups[1][0], {"intent_1": 0.7, "intent_0": 0.3})
    detector.process([a])
    loaded.process([b])
    assert a.get(OUTPUT_KEY) == b.get(OUTPUT_KEY)
    with pytest.raises(ValueError):
        OutOfScopeDetector.create({"signals": ["distance", "loudness"]}, storage, Resource("bad"), context)
    with pytest.raises(ValueError):
        OutOfScopeDetector.create({"signals": ["distance", "confidence"], "combine": "average"}, storage,
                                  Resource("bad"), context)
