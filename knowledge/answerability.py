"""Answer or abstain: is the best article for a question likely to be the right one?

One cosine threshold says little: a question the knowledge base has no article
for often scores as high against a neighbouring article as an answerable one
scores against its own. What separates them better is the shape of the
candidate list: an answerable question stands out from the runner-up; an
unanswerable one matches several neighbours about equally. :class:`Answerability`
scores the top candidates' similarities with a logistic regression (its
weights held non-negative: no feature may count against answering) over
:data:`FEATURES` and answers when the score clears a threshold.

Both are calibrated on the knowledge base itself, never on test questions
(:func:`calibrate`): each article's title and questions, with a share of their
words dropped (a crude paraphrase), are searched

- against the knowledge base without the source text's own chunk: the article
  still answers through its other chunks, so the right answer is to answer it
  (labelled 1 if it comes first, else 0);
- against the knowledge base without the article at all (leave-article-out):
  nothing answers it, so the right answer is to abstain (labelled 0).

The regression learns how the features weigh; the threshold is the
``abstain_target`` quantile of the leave-article-out questions' scores: at the
default 0.5 the bot answers only when a question looks more answerable than
half of the questions this knowledge base demonstrably cannot answer. That
meaning carries to any knowledge base; a cosine value does not.

The leave-article-out questions are all near some other article, so they teach
nothing about a question off the knowledge base's map, which can still stand
far ahead of a weak runner-up. A floor guards that: the best article must also
score at least what all but :data:`FLOOR_QUANTILE` of the knowledge base's own
paraphrased questions reached when they found their article.

Lexical overlap is left out on purpose: the calibration questions share their
words with their article by construction, so their overlap says nothing about
a customer's paraphrase (with it, the COVID FAQ evaluation abstained on 96% of
the unanswerable questions but answered only 10% of the others right).

Pure computation (numpy, and SciPy to fit); persistence is a JSON file
beside the index (:data:`FILE`).
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.encoder import Vectors
from knowledge.language import CHINESE_STOP, join_units, units

logger = logging.getLogger(__name__)

FILE = "answerability.json"
FORMAT_VERSION = 1
FEATURES = ("top_score", "margin", "gap_to_rest")
CANDIDATES = 5  # articles the features look at
DEFAULT_ABSTAIN_TARGET = 0.5
VARIANTS = 2  # paraphrases per title or question
DROP_RATE = 0.3  # share of content words a paraphrase drops
MAX_SOURCES = 3000  # calibration texts at most (a sample of a large knowledge base)
MIN_ARTICLES = 8  # leaving one of fewer out says little about the others
MIN_EXAMPLES = 10  # of each class, to fit at all
FLOOR_QUANTILE = 0.05
SEED = 0
_STOP_WORDS = ("a an the is are was were be been being do does did of to in on for with at by from as and or not no "
               "can could should would will shall may might must i me my we our you your it its this that these "
               "those what which who whom whose when where why how there here if than then so such about into over "
               "under after before any some all each other more most much many very just also get got have has had")
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class Verdict:
    """Whether to answer with the best article, and the figures behind it.

    Attributes:
        answer: show the best article.
        rule: ``calibrated`` (:class:`Answerability`) or ``threshold`` (the
            cosine ``KB_MIN_SCORE``, when the index has no calibration).
        score: the best article's cosine similarity (``None``: no article).
        answerability: the calibrated score, ``None`` under the threshold rule.
        threshold: what ``answerability`` (or, under the threshold rule, ``score``) had to reach.
        floor: what ``score`` had to reach as well under the calibrated rule.
    """

    answer: bool
    rule: str
    score: float | None
    answerability: float | None
    threshold: float
    floor: float | None = None


def features(scores: Sequence[float]) -> list[float]:
    """The :data:`FEATURES` of the best articles' scores (best first, one score per article)."""
    top = [float(s) for s in scores[:CANDIDATES]]
    if not top:
        return [0.0, 0.0, 0.0]
    second = top[1] if len(top) > 1 else 0.0
    rest = sum(top[1:]) / (len(top) - 1) if len(top) > 1 else 0.0
    return [top[0], top[0] - second, top[0] - rest]


@dataclass(frozen=True)
class Answerability:
    """A fitted logistic regression over :data:`FEATURES` and its answer threshold.

    Attributes:
        mean, scale: standardisation of each feature.
        coef, intercept: the regression on the standardised features.
        threshold: the score from which the best article is shown.
        floor: the cosine similarity the best article must reach as well.
        abstain_target: the share of leave-article-out questions ``threshold`` abstains on.
        training: counts and figures of the calibration (for people, not used to decide).
    """

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    floor: float = 0.0
    abstain_target: float = DEFAULT_ABSTAIN_TARGET
    training: dict[str, float | int] = field(default_factory=dict)

    def score(self, scores: Sequence[float]) -> float:
        """How likely the best of these articles (their scores, best first) is the right answer, 0-1."""
        return self.of_features(features(scores))

    def of_features(self, row: Sequence[float]) -> float:
        """The score of one row of :data:`FEATURES`."""
        z = self.intercept + sum(c * (x - m) / s for c, x, m, s in
                                 zip(self.coef, row, self.mean, self.scale, strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def verdict(self, scores: Sequence[float]) -> Verdict:
        """Answer or abstain for a question whose best articles scored ``scores`` (best first)."""
        if not scores:
            return Verdict(False, "calibrated", None, None, round(self.threshold, 4), round(self.floor, 4))
        value = self.score(scores)
        return Verdict(value >= self.threshold and scores[0] >= self.floor, "calibrated", round(float(scores[0]), 4),
                       round(value, 4), round(self.threshold, 4), round(self.floor, 4))

    def save(self, path: Path) -> None:
        data = {"format": FORMAT_VERSION, "features": list(FEATURES), **asdict(self)}
        path.write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Answerability | None:
        """The calibration in ``path``; ``None`` if there is none or it is of another format."""
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT_VERSION or tuple(data.get("features", ())) != FEATURES:
            logger.warning("%s is of another format or feature set: ignored", path)
            return None
        return cls(tuple(data["mean"]), tuple(data["scale"]), tuple(data["coef"]), float(data["intercept"]),
                   float(data["threshold"]), float(data["floor"]), float(data["abstain_target"]),
                   dict(data.get("training", {})))


def threshold_verdict(scores: Sequence[float], min_score: float) -> Verdict:
    """The rule without calibration: answer when the best article scores at least ``min_score``."""
    top = round(float(scores[0]), 4) if scores else None
    return Verdict(top is not None and top >= min_score, "threshold", top, None, min_score)


@dataclass(frozen=True)
class CalibrationSource:
    """One text a trainer wrote for an article (its title or one of its questions), and that text's chunk id."""

    article: str
    text: str
    chunk_id: int


def calibrate(sources: Sequence[CalibrationSource], chunk_ids: npt.NDArray[np.int64], chunk_articles: Sequence[str],
              chunk_vectors: Vectors, encode: Callable[[list[str]], Vectors],
              abstain_target: float = DEFAULT_ABSTAIN_TARGET) -> Answerability | None:
    """Fit :class:`Answerability` on paraphrases of ``sources`` searched against the chunks.

    Args:
        sources: titles and questions of the articles, with their own chunk's id.
        chunk_ids, chunk_articles, chunk_vectors: every chunk of the knowledge base (id, article, vector).
        encode: the knowledge base's embedder.
        abstain_target: share of the leave-article-out questions to abstain on.

    Returns:
        ``None`` when the knowledge base is too small to calibrate (fewer than
        :data:`MIN_ARTICLES` articles, or too few examples of either outcome).
    """
    articles = np.asarray(chunk_articles)
    if len(set(chunk_articles)) < MIN_ARTICLES or not sources:
        logger.info("answerability not calibrated: %d articles are too few", len(set(chunk_articles)))
        return None
    rng = random.Random(SEED)
    picked = list(sources) if len(sources) <= MAX_SOURCES else rng.sample(list(sources), MAX_SOURCES)
    queries = [(source, text) for source in picked for text in paraphrases(source.text, rng)]
    vectors = encode([text for _, text in queries])
    rows: list[list[float]] = []
    labels: list[int] = []
    negative = []
    for (source, _), vector in zip(queries, vectors, strict=True):
        scores = chunk_vectors @ vector
        ranked = _rank(scores, articles, chunk_ids != source.chunk_id)
        rows.append(features([s for _, s in ranked]))
        labels.append(int(bool(ranked) and ranked[0][0] == source.article))
        negative.append(False)
        ranked = _rank(scores, articles, articles != source.article)
        rows.append(features([s for _, s in ranked]))
        labels.append(0)
        negative.append(True)
    y = np.asarray(labels)
    if min(int(y.sum()), int(len(y) - y.sum())) < MIN_EXAMPLES:
        logger.info("answerability not calibrated: %d answerable and %d unanswerable examples are too few",
                    int(y.sum()), int(len(y) - y.sum()))
        return None
    return _fit(np.asarray(rows), y, np.asarray(negative), abstain_target, len(picked))


def _fit(x: npt.NDArray[np.float64], y: npt.NDArray[np.int64], negative: npt.NDArray[np.bool_],
         abstain_target: float, n_sources: int) -> Answerability:
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    coef, intercept = _monotone_logistic((x - mean) / scale, y)
    fitted = Answerability(tuple(mean.tolist()), tuple(scale.tolist()), tuple(coef.tolist()), intercept, threshold=0.0)
    scores = np.asarray([fitted.of_features(row.tolist()) for row in x])
    threshold = float(np.quantile(scores[negative], abstain_target))
    answerable = ~negative & (y == 1)
    floor = float(np.quantile(x[answerable, 0], FLOOR_QUANTILE))
    answered = (scores >= threshold) & (x[:, 0] >= floor)
    training = {"sources": n_sources, "answerable": int(answerable.sum()),
                "unanswerable": int((y == 0).sum()),
                "answered_correct": round(float(answered[answerable].sum() / max(int((~negative).sum()), 1)), 4),
                "abstain_recall": round(float(1 - answered[negative].mean()), 4)}
    result = Answerability(fitted.mean, fitted.scale, fitted.coef, fitted.intercept, threshold, floor,
                           abstain_target, training)
    logger.info("answerability calibrated on %d texts: threshold %.3f, floor %.3f (%s)", n_sources, threshold, floor,
                training)
    return result


def _monotone_logistic(x: npt.NDArray[np.float64], y: npt.NDArray[np.int64],
                       l2: float = 1.0) -> tuple[npt.NDArray[np.float64], float]:
    """An L2-regularised logistic regression whose weights are all at least 0.

    Every feature is one whose growth should never make an answer less likely
    (a better best match, a wider lead over the others); left free, a small
    knowledge base's few examples can give one a negative weight by chance.
    """
    from scipy.optimize import minimize

    def loss(params: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        w, b = params[:-1], params[-1]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * w @ w)
        grad = np.append(x.T @ (p - y) + l2 * w, np.sum(p - y))
        return value, grad

    start = np.zeros(x.shape[1] + 1)
    bounds = [(0.0, None)] * x.shape[1] + [(None, None)]
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return np.asarray(result.x[:-1]), float(result.x[-1])


def _rank(scores: npt.NDArray[np.float32], articles: npt.NDArray[Any],
          keep: npt.NDArray[np.bool_]) -> list[tuple[str, float]]:
    """The best :data:`CANDIDATES` articles among the kept chunks, each scored by its best chunk."""
    best: dict[str, float] = {}
    for index in np.argsort(-scores):
        if not keep[index]:
            continue
        article = str(articles[index])
        if article not in best:
            best[article] = float(scores[index])
            if len(best) == CANDIDATES:
                break
    return list(best.items())


def paraphrases(text: str, rng: random.Random) -> list[str]:
    """:data:`VARIANTS` copies of ``text`` each missing a share of its content words (the text itself if short).

    Words are :func:`knowledge.language.units`: in Chinese, where no space separates words, each character.
    """
    words = units(text)
    content = [i for i, w in enumerate(words)
               if (key := re.sub(r"\W", "", w.lower())) not in _STOP and key not in CHINESE_STOP]
    if len(content) < 2:
        return [text]
    out = []
    for _ in range(VARIANTS):
        dropped = {i for i in content if rng.random() < DROP_RATE} or {rng.choice(content)}
        if len(dropped) == len(content):
            dropped.discard(rng.choice(sorted(dropped)))
        out.append(join_units([w for i, w in enumerate(words) if i not in dropped]))
    return out
