"""Build the spaCy pipeline the Rasa assistant uses for its lexical work.

``python -m bot.spacy_pipeline --out models/spacy/en_brightwood`` writes a
blank English pipeline with a lookup lemmatizer (tables from
spacy-lookups-data, copied into the pipeline) and an entity ruler with the
patterns in ``bot/entity_patterns.jsonl``: order numbers, e-mail addresses and
phone numbers. Nothing is downloaded: no pretrained spaCy model is needed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import spacy

PATTERNS = Path(__file__).with_name("entity_patterns.jsonl")


def build(out: Path, patterns: Path = PATTERNS) -> spacy.language.Language:
    """Create the pipeline and write it to ``out``."""
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    ruler = nlp.add_pipe("entity_ruler", config={"validate": True})
    nlp.initialize()
    ruler.add_patterns([json.loads(line) for line in patterns.read_text().splitlines() if line.strip()])
    nlp.meta.update({"name": "brightwood", "version": "1.0.0",
                     "description": "Blank English + lookup lemmas + entity patterns for the Brightwood assistant"})
    out.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out)
    return nlp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("models/spacy/en_brightwood"))
    args = parser.parse_args()
    nlp = build(args.out)
    print(f"spaCy pipeline {nlp.pipe_names} written to {args.out}")


if __name__ == "__main__":
    main()
