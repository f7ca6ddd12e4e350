"""Convert the shared evaluation data sets into the formats the eval commands read.

``make eval`` runs this first. Outputs, under ``build/datasets/`` by default:

- ``banking77/{train,test}.yml``, ``hwu64/{train,test}.yml``: Rasa NLU YAML.
- ``banking77_oos/{train,valid,test}.yml``: the 50 supported intents plus the in-domain
  out-of-scope questions as intent ``out_of_scope`` (to be handed to a person).
- ``hwu64_heldout/{train,test}.yml``, ``banking77_heldout/{train,test}.yml``: a held-out-intent
  test. Every fourth intent (in sorted order) is left out of training and its test
  messages become ``out_of_scope``: the assistant has never seen them and should hand them off.
- ``xsid_zh/{train,test}.yml``, ``xsid_en/{train,test}.yml``: xSID 0.7's Chinese queries and
  their parallel English (CC BY-SA 4.0, so they stay in ``build/``, never in ``data/``). xSID has
  no training split for these languages: its ``valid`` split is the training data and ``test``
  the test data. Intent names lose their ``/`` (``weather/find`` -> ``weather_find``), which Rasa
  reads as a retrieval intent.
- ``covid_faq/{articles,queries}.jsonl``: FAQ entries ``{id, question, answer}``
  and queries ``{query, id}``. A fixed fifth of the entries is held out of the
  articles and their queries get ``"id": null``: nothing in the knowledge base
  answers them, so the right behaviour is to abstain.

Usage: ``python scripts/convert_datasets.py [--datasets ../shared/datasets] [--out build/datasets]``
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

HOLD_OUT_EVERY = 5  # every fifth FAQ entry is left out of the covid knowledge base
HOLD_OUT_INTENT_EVERY = 4  # every fourth intent is left out of the held-out-intent tests


def hold_out_intents(train: list[tuple[str, str]], test: list[tuple[str, str]],
                     every: int = HOLD_OUT_INTENT_EVERY) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Training data without every ``every``-th intent (sorted); their test messages relabelled ``out_of_scope``."""
    intents = sorted({intent for _, intent in train})
    held = {intent for i, intent in enumerate(intents) if i % every == every - 1}
    return ([(t, i) for t, i in train if i not in held],
            [(t, "out_of_scope" if i in held else i) for t, i in test])


def write_nlu(path: Path, examples: list[tuple[str, str]]) -> None:
    """Write ``(text, intent)`` pairs as Rasa NLU YAML, intents in first-seen order."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in examples:
        clean = " ".join(text.split())
        if clean:
            by_intent[intent].append(clean)
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in by_intent.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {t}" for t in dict.fromkeys(texts)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_csv(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def read_seq(folder: Path, oos_intent: str | None = None) -> list[tuple[str, str]]:
    texts = (folder / "seq.in").read_text(encoding="utf-8").splitlines()
    labels = (folder / "label").read_text(encoding="utf-8").splitlines()
    if len(texts) != len(labels):
        raise SystemExit(f"{folder}: seq.in and label have different lengths")
    return [(t, oos_intent or label) for t, label in zip(texts, labels, strict=True)]


def read_conll(path: Path) -> list[tuple[str, str]]:
    """``(text, intent)`` of each sentence of an xSID ``.conll`` file (its ``# text`` and ``# intent`` lines)."""
    examples = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(" = ")
            if sep and key in ("# text", "# intent"):
                fields.setdefault(key, value.strip())
        if fields.get("# text") and fields.get("# intent"):
            examples.append((fields["# text"], fields["# intent"].replace("/", "_")))
    return examples


def convert_xsid(folder: Path, out: Path) -> None:
    """xSID's Chinese and parallel English sets: ``valid`` is the training data, ``test`` the test data."""
    for language in ("zh", "en"):
        write_nlu(out / f"xsid_{language}/train.yml", read_conll(folder / f"{language}.valid.conll"))
        write_nlu(out / f"xsid_{language}/test.yml", read_conll(folder / f"{language}.test.conll"))


def convert(datasets: Path, out: Path) -> None:
    b77 = datasets / "banking77"
    write_nlu(out / "banking77/train.yml", read_csv(b77 / "train.csv"))
    write_nlu(out / "banking77/test.yml", read_csv(b77 / "test.csv"))
    hwu = datasets / "hwu64"
    write_nlu(out / "hwu64/train.yml", read_seq(hwu / "train"))
    write_nlu(out / "hwu64/test.yml", read_seq(hwu / "test"))
    for name, train, test in (("hwu64", read_seq(hwu / "train"), read_seq(hwu / "test")),
                              ("banking77", read_csv(b77 / "train.csv"), read_csv(b77 / "test.csv"))):
        kept_train, relabelled_test = hold_out_intents(train, test)
        write_nlu(out / f"{name}_heldout/train.yml", kept_train)
        write_nlu(out / f"{name}_heldout/test.yml", relabelled_test)
    oos = datasets / "banking77_oos"
    write_nlu(out / "banking77_oos/train.yml",
              read_seq(oos / "train") + read_seq(oos / "id-oos/train", "out_of_scope"))
    write_nlu(out / "banking77_oos/valid.yml",
              read_seq(oos / "valid") + read_seq(oos / "id-oos/valid", "out_of_scope"))
    write_nlu(out / "banking77_oos/test.yml",
              read_seq(oos / "test") + read_seq(oos / "id-oos/test", "out_of_scope"))
    convert_xsid(datasets / "xsid_zh", out)
    covid = datasets / "covid_faq"
    faqs = [json.loads(line) for line in (covid / "faq_cdc_only.jsonl").read_text().splitlines() if line.strip()]
    kept = {str(f["faq_id"]) for i, f in enumerate(faqs) if i % HOLD_OUT_EVERY != HOLD_OUT_EVERY - 1}
    target = out / "covid_faq"
    target.mkdir(parents=True, exist_ok=True)
    with (target / "articles.jsonl").open("w", encoding="utf-8") as handle:
        for faq in faqs:
            if str(faq["faq_id"]) in kept:
                row = {"id": str(faq["faq_id"]), "question": faq["question"], "answer": faq["answer"]}
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (target / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for line in (covid / "queries_cdc_only.jsonl").read_text().splitlines():
            if line.strip():
                query = json.loads(line)
                faq_id = str(query["faq_id"])
                handle.write(json.dumps({"query": query["query"], "id": faq_id if faq_id in kept else None}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--out", type=Path, default=Path("build/datasets"))
    args = parser.parse_args()
    convert(args.datasets, args.out)
    print(f"data sets converted into {args.out}")


if __name__ == "__main__":
    main()
