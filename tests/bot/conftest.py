"""Fixtures of the Rasa-side tests (run in the Python 3.10 environment)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENCODER = ROOT / "models" / "encoder"
SPACY = ROOT / "models" / "spacy" / "en_brightwood"

NLU = """version: "3.1"
nlu:
- intent: order_status
  examples: |
    - where is my order
    - has my order 12345 shipped
    - what's the status of order 55512
    - when does my package arrive
    - track order 778812
    - my order hasn't come yet
    - is order 4409812 on its way
    - status of my purchase please
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
    - hey
    - hiya
    - good evening
    - hello there, anyone around
    - hi!
- intent: request_human
  examples: |
    - let me talk to a person
    - I want a human agent
    - can I speak to someone real
    - connect me to customer service
    - agent please
    - I need a representative
    - put me through to a human
    - real person please
- intent: out_of_scope
  examples: |
    - what's the weather tomorrow
    - tell me a joke
    - who won the football match
    - how do I bake bread
    - what is the capital of France
    - write me a poem
    - recommend a good movie
    - help me with my maths homework
"""


@pytest.fixture(scope="session", autouse=True)
def built_artifacts() -> None:
    missing = [str(p) for p in (ENCODER / "model.onnx", SPACY / "meta.json") if not p.exists()]
    if missing:
        pytest.fail(f"missing build artifacts {missing}: run `make models` (make test does) first")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def nlu_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nlu") / "nlu.yml"
    path.write_text(NLU)
    return path
