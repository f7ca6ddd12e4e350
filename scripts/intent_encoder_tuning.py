"""What would fine-tuning the sentence encoder on an assistant's own intents buy?

An analysis for issue 14, not a setting: ``python scripts/intent_encoder_tuning.py
--train T --test S`` measures, on any pair of Rasa NLU files, the signals the
out-of-scope detector and the intent classifier get from all-MiniLM-L6-v2 as
shipped (frozen) and after contrastive fine-tuning on the training examples:

- in-scope accuracy of a logistic regression on the embedding alone, and on
  word and character n-grams beside the embedding (an approximation of
  bot.components.intent_classifier.LinearIntentClassifier: TF-IDF without the
  spaCy lemmas, ``C`` 20);
- for the test messages labelled ``out_of_scope`` (the held-out intents of
  ``build/datasets/*_heldout``), the AUROC of the distance to the nearest
  training examples (1 - mean cosine of the 3 nearest, any intent) and of
  1 - the n-gram + embedding classifier's confidence, and the share of them
  handed off when the threshold keeps 95% of the *training* examples in scope
  (each training example scored against the others, by leave-one-out for the
  distance; an approximation of the detector's held-out folds).

Fine-tuning: one pass over the in-scope training examples (``--epochs``), each
paired with another example of its intent, in-batch negatives from other intents
(no two examples of one intent in a batch), AdamW at 3e-5, batch 32. The product
does not do this today: the Rasa environment has no PyTorch (docs/evaluation.md,
"Adapting the sentence space to the intents").
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from knowledge.embed import resolve_model  # noqa: E402
from scripts.cross_validate import read_nlu  # noqa: E402

Matrix = npt.NDArray[np.float64]
OUT_OF_SCOPE = "out_of_scope"
RETENTION = 0.95
K = 3
SEED = 0


def nearest_distance(queries: Matrix, references: Matrix, k: int = K, exclude_self: bool = False) -> Matrix:
    """1 - the mean cosine similarity of each query's ``k`` nearest references (unit vectors).

    ``exclude_self``: ``queries`` are the references themselves, row i skips reference i.
    """
    out = np.empty(len(queries))
    for start in range(0, len(queries), 1024):
        sims = queries[start:start + 1024] @ references.T
        if exclude_self:
            sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -np.inf
        out[start:start + 1024] = 1.0 - np.sort(sims, axis=1)[:, -k:].mean(axis=1)
    return out


def auroc(positive: npt.NDArray[np.bool_], scores: Matrix) -> float:
    """Probability that a positive scores above a negative (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def signals(train: list[tuple[str, str]], test: list[tuple[str, str]], train_vectors: Matrix,
            test_vectors: Matrix) -> dict[str, float]:
    """Accuracy and hand-off figures of one embedding of the training and test messages."""
    import scipy.sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import normalize

    texts = [t for t, _ in train]
    labels = np.array([i for _, i in train])
    gold = np.array([i for _, i in test])
    out_of_scope = gold == OUT_OF_SCOPE
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)

    def sparse(fit: bool, batch: list[str]) -> Any:
        blocks = [v.fit_transform(batch) if fit else v.transform(batch) for v in (words, chars)]
        return normalize(scipy.sparse.hstack(blocks).tocsr())

    both_train = scipy.sparse.hstack([sparse(True, texts), scipy.sparse.csr_matrix(train_vectors)]).tocsr()
    both_test = scipy.sparse.hstack([sparse(False, [t for t, _ in test]),
                                     scipy.sparse.csr_matrix(test_vectors)]).tocsr()
    results: dict[str, float] = {}
    for name, x_train, x_test in (("embedding", train_vectors, test_vectors), ("ngrams_embedding", both_train,
                                                                                both_test)):
        model = LogisticRegression(C=20.0, max_iter=3000).fit(x_train, labels)
        probabilities = model.predict_proba(x_test)
        predicted = model.classes_[probabilities.argmax(axis=1)]
        results[f"accuracy_{name}"] = round(float((predicted == gold)[~out_of_scope].mean()), 4)
        if name == "ngrams_embedding" and out_of_scope.any():
            results["auroc_confidence"] = round(auroc(out_of_scope, 1.0 - probabilities.max(axis=1)), 4)
    if out_of_scope.any():
        in_scope = labels != OUT_OF_SCOPE
        references = train_vectors[in_scope]
        distance = nearest_distance(test_vectors, references)
        threshold = float(np.quantile(nearest_distance(references, references, exclude_self=True), RETENTION))
        results["auroc_distance"] = round(auroc(out_of_scope, distance), 4)
        results["handoff_recall_distance"] = round(float((distance > threshold)[out_of_scope].mean()), 4)
        results["in_scope_handed_off_distance"] = round(float((distance > threshold)[~out_of_scope].mean()), 4)
    return results


def batches(train: list[tuple[str, str]], size: int, rng: random.Random) -> list[list[tuple[str, str, str]]]:
    """(anchor, positive, intent) batches covering every in-scope example once, one example per intent a batch."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in train:
        if intent != OUT_OF_SCOPE:
            by_intent[intent].append(text)
    queues = {intent: rng.sample(texts, len(texts)) for intent, texts in by_intent.items() if len(texts) >= 2}
    out = []
    while len(queues) >= 2:
        # the intents with most examples left first, so that the last batches still mix intents
        chosen = sorted(queues, key=lambda i: (-len(queues[i]), rng.random()))[:size]
        batch = []
        for intent in chosen:
            anchor = queues[intent].pop()
            positive = rng.choice([t for t in by_intent[intent] if t != anchor] or [anchor])
            batch.append((anchor, positive, intent))
            if not queues[intent]:
                del queues[intent]
        out.append(batch)
    return out


def fine_tune(model: Any, train: list[tuple[str, str]], epochs: int, batch_size: int = 32) -> float:
    """Contrastive fine-tuning on the intents (in-batch negatives); returns the seconds it took."""
    import torch

    rng = random.Random(SEED)
    torch.manual_seed(SEED)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-5)
    prepare = getattr(model, "preprocess", model.tokenize)  # the newer name of the same step

    def embed(texts: list[str]) -> Any:
        return torch.nn.functional.normalize(model(prepare(texts))["sentence_embedding"], dim=-1)

    started = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        plan = batches(train, batch_size, rng)
        for step, batch in enumerate(plan, 1):
            logits = embed([a for a, _, _ in batch]) @ embed([p for _, p, _ in batch]).T * 20.0
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            if step % 50 == 0 or step == len(plan):
                print(f"fine-tuning: epoch {epoch + 1}/{epochs}, step {step}/{len(plan)}, loss {loss.item():.3f}, "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
    model.eval()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, required=True, help="Rasa NLU YAML to fine-tune and fit on")
    parser.add_argument("--test", type=Path, required=True, help="Rasa NLU YAML to measure on (out_of_scope: "
                                                                 "must be handed off)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON report")
    args = parser.parse_args(argv)
    from sentence_transformers import SentenceTransformer

    train, test = read_nlu(args.train), read_nlu(args.test)
    model = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")

    def encode() -> tuple[Matrix, Matrix]:
        started = time.perf_counter()
        vectors = [np.asarray(model.encode([t for t, _ in part], normalize_embeddings=True, batch_size=64),
                              dtype=np.float64) for part in (train, test)]
        print(f"encoded {len(train)} + {len(test)} messages in {time.perf_counter() - started:.0f} s", flush=True)
        return vectors[0], vectors[1]

    report: dict[str, Any] = {"train": str(args.train), "test": str(args.test), "epochs": args.epochs,
                              "train_examples": len(train), "test_messages": len(test)}
    report["frozen"] = signals(train, test, *encode())
    print("frozen:", report["frozen"], flush=True)
    report["fine_tune_seconds"] = round(fine_tune(model, train, args.epochs), 1)
    report["fine_tuned"] = signals(train, test, *encode())
    print("fine-tuned:", report["fine_tuned"], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
