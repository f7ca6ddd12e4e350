"""How well can answerable questions be told from unanswerable ones with the embeddings this product has?

An upper bound, not a setting: ``python scripts/kb_ceiling.py`` fits a logistic
regression over similarity features **on the test queries' own labels**
(5-fold cross-validated, so each query is scored by a model that did not see
it) and reports the best abstain recall any threshold of it reaches while
keeping answered correct at 70% or more (issue 14's corner). The product never
sees test labels (knowledge/answerability.py calibrates on the articles alone),
so its rule can at best come near this figure; when the bound itself is short of
the target, no calibration of these features will reach it.

Features, for the articles ranked by the product's encoder (all-MiniLM-L6-v2):
the best score, the margin to the runner-up and the gap to the next four, each
on the article's question, on question plus answer, and on the better of the
two; whether the two views agree on the best article; and the same from a
second, independent encoder (universal-sentence-encoder-multilingual, shipped
in a package): its score of the chosen article, its gap, its agreement.

``--fine-tune N`` also runs N epochs of contrastive fine-tuning of MiniLM on the
articles alone (each question, and copies with 30% of the words dropped, paired
with its answer; in-batch negatives), then measures again: what an encoder
adapted to the knowledge base would add.

Input: the formats of ``make eval-kb`` (articles ``{id, question, answer}``,
queries ``{query, id}`` with ``id`` null when no article answers).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from knowledge.embed import make_embedder, resolve_model  # noqa: E402
from knowledge.evaluate import load_queries  # noqa: E402

Matrix = npt.NDArray[np.float64]
CORRECT_FLOOR = 0.70  # answered correct to keep
SEED = 0


def view_features(scores: Matrix, chosen: npt.NDArray[np.int64]) -> list[npt.NDArray[np.float64]]:
    """Best score, margin, gap to the next four, and the score and gap of the ``chosen`` article, per query."""
    ranked = -np.sort(-scores, axis=1)
    rows = np.arange(len(scores))
    at_chosen = scores[rows, chosen]
    return [ranked[:, 0], ranked[:, 0] - ranked[:, 1], ranked[:, 0] - ranked[:, 1:5].mean(axis=1),
            at_chosen, at_chosen - ranked[:, 1:5].mean(axis=1)]


def features(encode: Any, second: Any, articles: list[dict[str, str]], queries: list[str]) -> tuple[Matrix, Any]:
    """The feature matrix and the article each query would be answered with (the best of either MiniLM view)."""
    title = encode([a["question"] for a in articles])
    body = encode([f"{a['question']} {a['answer']}" for a in articles])
    asked = encode(queries)
    by_title, by_body = asked @ title.T, asked @ body.T
    best = np.maximum(by_title, by_body)
    chosen = best.argmax(axis=1)
    columns = [*view_features(by_title, chosen), *view_features(by_body, chosen), *view_features(best, chosen),
               (by_title.argmax(axis=1) == by_body.argmax(axis=1)).astype(float)]
    asked_again = second(queries)
    other = np.maximum(asked_again @ second([a["question"] for a in articles]).T,
                       asked_again @ second([f"{a['question']} {a['answer']}" for a in articles]).T)
    columns += [*view_features(other, chosen), (other.argmax(axis=1) == chosen).astype(float)]
    return np.column_stack(columns), chosen


def ceiling(x: Matrix, answerable: npt.NDArray[np.bool_], correct: npt.NDArray[np.bool_]) -> dict[str, float]:
    """Cross-validated AUROC and the best abstain recall at answered correct >= :data:`CORRECT_FLOOR`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    folds = StratifiedKFold(5, shuffle=True, random_state=SEED)
    score = cross_val_predict(model, x, answerable, cv=folds, method="predict_proba")[:, 1]
    best = {"abstain_recall": 0.0, "answered_correct": 0.0}
    for threshold in np.unique(score):
        answered = score >= threshold
        answered_correct = float((answered & correct)[answerable].mean())
        abstain = float((~answered)[~answerable].mean())
        if answered_correct >= CORRECT_FLOOR and abstain > best["abstain_recall"]:
            best = {"abstain_recall": abstain, "answered_correct": answered_correct}
    return {"auroc": float(roc_auc_score(answerable, score)), "recall_at_1": float(correct[answerable].mean()),
            **best}


def fine_tune(model: Any, articles: list[dict[str, str]], epochs: int) -> None:
    """Contrastive fine-tuning on the articles alone: a question (or a copy missing words) against its answer."""
    import torch

    rng = random.Random(SEED)
    torch.manual_seed(SEED)

    def drop(text: str) -> str:
        words = text.split()
        return " ".join(w for w in words if rng.random() > 0.3) or text

    pairs = [(a["question"], a["answer"][:500]) for a in articles]
    pairs += [(drop(a["question"]), f"{a['question']} {a['answer'][:300]}") for a in articles for _ in range(3)]
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-5)

    prepare = getattr(model, "preprocess", model.tokenize)  # the newer name of the same step

    def embed(texts: list[str]) -> Any:
        return torch.nn.functional.normalize(model(prepare(texts))["sentence_embedding"], dim=-1)

    model.train()
    for epoch in range(epochs):
        rng.shuffle(pairs)
        for start in range(0, len(pairs), 16):
            batch = pairs[start:start + 16]
            logits = embed([q for q, _ in batch]) @ embed([a for _, a in batch]).T * 20.0
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
        print(f"fine-tuning: epoch {epoch + 1}/{epochs} done", flush=True)
    model.eval()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=Path, default=ROOT / "build/datasets/covid_faq/articles.jsonl")
    parser.add_argument("--queries", type=Path, default=ROOT / "build/datasets/covid_faq/queries.jsonl")
    parser.add_argument("--fine-tune", type=int, default=3, metavar="EPOCHS",
                        help="epochs of fine-tuning MiniLM on the articles, then measure again (0: skip)")
    parser.add_argument("--out", type=Path, default=ROOT / "build/eval/kb_ceiling.json")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    articles = [json.loads(line) for line in args.articles.read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = load_queries(args.queries)
    ids = [str(a["id"]) for a in articles]
    answerable = np.array([target is not None for _, target in queries])
    model = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    use = make_embedder("use-multilingual")

    def encode(texts: list[str]) -> Matrix:
        return np.asarray(model.encode(texts, normalize_embeddings=True, batch_size=64))

    def second(texts: list[str]) -> Matrix:
        return np.asarray(use.encode(texts))

    results = {}
    for label in ("frozen", "fine-tuned on the articles"):
        if label != "frozen":
            if not args.fine_tune:
                break
            fine_tune(model, articles, args.fine_tune)
        x, chosen = features(encode, second, articles, [q for q, _ in queries])
        correct = np.array([target is not None and ids[c] == target for (_, target), c in zip(queries, chosen,
                                                                                              strict=True)])
        results[label] = ceiling(x, answerable, correct)
        r = results[label]
        print(f"{label}: recall@1 {r['recall_at_1']:.3f}, AUROC {r['auroc']:.3f}, best abstain recall "
              f"{r['abstain_recall']:.3f} at answered correct {r['answered_correct']:.3f}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"articles": str(args.articles), "queries": str(args.queries),
                                    "fine_tune_epochs": args.fine_tune, "results": results}, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
