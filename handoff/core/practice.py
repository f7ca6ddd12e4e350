"""Team training (docs/training.md, "Team training"): weak spots, masked practice scenarios, reply scores. Pure.

- Weak spots (:func:`weak_spots`): per agent and category, the agent's figures against the *rest of the team's*
  in that category (the agent left out, so one agent never dilutes the baseline they are compared with). A
  figure is a weak spot when both sides have enough conversations to say anything (:data:`MIN_CONVERSATIONS`)
  and the agent is worse by a clear margin: a low-rating share :data:`LOW_SHARE_MARGIN` higher, a mean handle
  time :data:`HANDLE_RATIO` times longer, a transfer share :data:`TRANSFER_MARGIN` higher, a scorecard
  criterion's mean mark :data:`QA_MARGIN` points lower. Small samples flag nothing: a flag is an invitation to
  practise, and a wrong one costs an agent's trust.
- Masking (:func:`mask`): a customer's details replaced by a bracketed kind before a conversation becomes a
  scenario: their profile's values (name and its parts, e-mail, the shop's id), then any e-mail address, street
  address, UK postcode, phone number and order number. The order-number and e-mail rules are the bot's
  (``bot/entity_patterns.jsonl``, ``actions/order_access.py``), which this package may not import.
- Turns (:func:`turns_of`): a resolved conversation as the customer's turns, each with the reply the agent who
  resolved it gave.
- Scores (:func:`score_reply`): a practice reply against the real reply and the matching article, explained.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# ---- weak spots ---------------------------------------------------------------------------------------------

MIN_CONVERSATIONS = 5
"""Conversations the agent, and the rest of the team, must have handled in a category before it is compared."""
MIN_RATINGS = 3
"""Ratings each side needs before their low-rating shares are compared."""
LOW_SHARE_MARGIN = 0.15
HANDLE_RATIO = 1.25
TRANSFER_MARGIN = 0.10
MIN_MARKS = 2
"""Reviewed marks of a criterion each side needs before they are compared."""
QA_MARGIN = 15.0
LOW_RATING = 2  # a rating (1-5) at or below this is low, as QA's sample counts it
NO_CATEGORY = "uncategorised"


@dataclass(frozen=True)
class Spell:
    """One agent's time on one ticket that ended in the period: how long, and whether they transferred it."""

    agent_id: str
    category: str | None
    seconds: float
    transferred: bool


@dataclass(frozen=True)
class Rating:
    agent_id: str
    category: str | None
    score: int


@dataclass(frozen=True)
class Mark:
    """A scorecard criterion's mark of a review, as a percentage of its scale."""

    agent_id: str
    category: str | None
    criterion: str
    mark: float


@dataclass
class _Tally:
    conversations: int = 0
    seconds: float = 0.0
    transfers: int = 0
    ratings: int = 0
    low: int = 0

    def minus(self, other: _Tally) -> _Tally:
        return _Tally(self.conversations - other.conversations, self.seconds - other.seconds,
                      self.transfers - other.transfers, self.ratings - other.ratings, self.low - other.low)

    def figures(self) -> dict[str, Any]:
        def share(part: float, whole: float) -> float | None:
            return round(part / whole, 4) if whole else None

        return {"conversations": self.conversations, "ratings": self.ratings,
                "low_rating_share": share(self.low, self.ratings),
                "handle_seconds": share(self.seconds, self.conversations),
                "transfer_share": share(self.transfers, self.conversations)}


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _flags(mine: _Tally, rest: _Tally, my_marks: Mapping[str, list[float]],
           rest_marks: Mapping[str, list[float]]) -> list[dict[str, Any]]:
    """The weak spots of one agent in one category (see the module for the rule)."""
    if mine.conversations < MIN_CONVERSATIONS or rest.conversations < MIN_CONVERSATIONS:
        return []
    a, b, flags = mine.figures(), rest.figures(), []
    if (mine.ratings >= MIN_RATINGS and rest.ratings >= MIN_RATINGS
            and a["low_rating_share"] - b["low_rating_share"] >= LOW_SHARE_MARGIN):
        flags.append({"kind": "low_ratings", "agent": a["low_rating_share"], "team": b["low_rating_share"],
                      "why": f"{a['low_rating_share']:.0%} of ratings low against the team's "
                             f"{b['low_rating_share']:.0%}"})
    if b["handle_seconds"] and a["handle_seconds"] >= HANDLE_RATIO * b["handle_seconds"]:
        flags.append({"kind": "handle_time", "agent": a["handle_seconds"], "team": b["handle_seconds"],
                      "why": f"{a['handle_seconds'] / 60:.1f} min per conversation against the team's "
                             f"{b['handle_seconds'] / 60:.1f}"})
    if a["transfer_share"] - b["transfer_share"] >= TRANSFER_MARGIN:
        flags.append({"kind": "transfers", "agent": a["transfer_share"], "team": b["transfer_share"],
                      "why": f"{a['transfer_share']:.0%} transferred out against the team's "
                             f"{b['transfer_share']:.0%}"})
    for criterion in sorted(my_marks):
        own, others = my_marks[criterion], rest_marks.get(criterion, [])
        if len(own) >= MIN_MARKS and len(others) >= MIN_MARKS:
            mine_mean, rest_mean = sum(own) / len(own), sum(others) / len(others)
            if rest_mean - mine_mean >= QA_MARGIN:
                flags.append({"kind": "qa", "criterion": criterion, "agent": round(mine_mean, 2),
                              "team": round(rest_mean, 2),
                              "why": f"QA {criterion} {mine_mean:.0f}% against the team's {rest_mean:.0f}%"})
    return flags


def weak_spots(spells: Iterable[Spell], ratings: Iterable[Rating], marks: Iterable[Mark]) -> list[dict[str, Any]]:
    """Per agent and category: the agent's figures, the rest of the team's, each QA criterion's mean mark on
    both sides, and the weak spots (``flags``); agents then categories in name order."""
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    team: dict[str, _Tally] = defaultdict(_Tally)
    for spell in spells:
        key = spell.category or NO_CATEGORY
        for tally in (tallies[(spell.agent_id, key)], team[key]):
            tally.conversations += 1
            tally.seconds += spell.seconds
            tally.transfers += spell.transferred
    for rating in ratings:
        key = rating.category or NO_CATEGORY
        for tally in (tallies[(rating.agent_id, key)], team[key]):
            tally.ratings += 1
            tally.low += rating.score <= LOW_RATING
    agent_marks: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    team_marks: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for mark in marks:
        key = mark.category or NO_CATEGORY
        tallies.setdefault((mark.agent_id, key), _Tally())  # a reviewed agent has a row even without spells
        agent_marks[(mark.agent_id, key)][mark.criterion].append(mark.mark)
        team_marks[key][mark.criterion].append(mark.mark)
    rows = []
    for (agent_id, category), mine in sorted(tallies.items()):
        rest = team[category].minus(mine)
        own_marks = agent_marks.get((agent_id, category), {})
        rest_marks = {criterion: _without(values, own_marks.get(criterion, []))
                      for criterion, values in team_marks.get(category, {}).items()}
        rows.append({"agent_id": agent_id, "category": category, "agent": mine.figures(), "team": rest.figures(),
                     "qa": {criterion: {"agent": _mean(own_marks.get(criterion, [])), "team": _mean(values)}
                            for criterion, values in sorted(rest_marks.items())},
                     "flags": _flags(mine, rest, own_marks, rest_marks)})
    return rows


def _without(values: Sequence[float], taken: Sequence[float]) -> list[float]:
    """``values`` less one occurrence of each of ``taken`` (the agent's own marks out of the team's)."""
    left = Counter(taken)
    kept = []
    for value in values:
        if left[value]:
            left[value] -= 1
        else:
            kept.append(value)
    return kept


def rule() -> dict[str, Any]:
    """The weak-spot rule's figures, for the page to state."""
    return {"min_conversations": MIN_CONVERSATIONS, "min_ratings": MIN_RATINGS, "low_share_margin": LOW_SHARE_MARGIN,
            "handle_ratio": HANDLE_RATIO, "transfer_margin": TRANSFER_MARGIN, "min_marks": MIN_MARKS,
            "qa_margin": QA_MARGIN}


# ---- masking ------------------------------------------------------------------------------------------------

EMAIL = re.compile(r"[^\s@<>(),;:]+@[^\s@<>(),;:]+\.[A-Za-z]{2,}")
ADDRESS = re.compile(r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|"
                     r"Drive|Dr|Way|Close|Court|Ct|Place|Pl|Boulevard|Blvd|Terrace|Crescent|Gardens|Square|Hill|"
                     r"Row|Mews|Parade|Walk)\b\.?")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
PHONE = re.compile(r"(?<![\w#])\+?\(?\d[\d\s().-]{6,}\d(?!\w)")
ORDER = re.compile(r"(?<![\w#])#?\d{5,8}(?!\d)")
MASKS = (("email", EMAIL), ("address", ADDRESS), ("postcode", POSTCODE))


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group())
    return "[phone]" if 9 <= digits <= 15 else match.group()


def mask(text: str, profile: Iterable[str | None] = ()) -> str:
    """``text`` with the customer's details replaced by ``[name]``, ``[email]``, ``[address]``, ``[postcode]``,
    ``[phone]``, ``[order]`` (see the module). ``profile``: the customer's own values (name, e-mail, the shop's
    id); a name's parts of two letters or more are masked on their own too ("Jo" of "Jo Tester")."""
    values: set[str] = set()
    for value in profile:
        if value and value.strip():
            values.add(value.strip())
            if "@" not in value:
                values.update(part for part in re.split(r"[\s,]+", value) if len(part) >= 2)
    for value in sorted(values, key=len, reverse=True):  # the full name before its parts
        kind = "[email]" if "@" in value else "[name]"
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", kind, text, flags=re.IGNORECASE)
    for kind, pattern in MASKS:
        text = pattern.sub(f"[{kind}]", text)
    text = PHONE.sub(_phone, text)
    return ORDER.sub("[order]", text)


# ---- turns --------------------------------------------------------------------------------------------------


def turns_of(messages: Sequence[tuple[str, str | None, str]], agent_id: str) -> list[tuple[str, str]]:
    """``(customer's words, the agent's reply)`` for each time the customer spoke and ``agent_id`` answered,
    from a conversation's ``(sender, agent_id, text)`` in order. The customer's words are what they wrote since
    the last reply of anybody (the bot's included: the agent answers what came after it); consecutive replies
    of the agent are one; what the customer said that the agent never answered is left out."""
    turns: list[tuple[str, str]] = []
    said: list[str] = []
    reply: list[str] = []
    for sender, author, text in messages:
        if sender == "customer":
            if reply and said:
                turns.append((" ".join(said), " ".join(reply)))
                said, reply = [], []
            elif reply:
                reply = []
            said.append(text.strip())
        elif sender == "agent" and author == agent_id and said:
            reply.append(text.strip())
        elif sender in ("bot", "agent") and not reply:
            said = []  # the bot (or a colleague) answered that: the agent's turn starts after it
    if reply and said:
        turns.append((" ".join(said), " ".join(reply)))
    return [(customer, answer) for customer, answer in turns if customer and answer]


# ---- scores -------------------------------------------------------------------------------------------------

FLOOR, CEILING = 0.3, 0.8
"""A cosine at or below FLOOR counts 0, at or above CEILING 100 % (all-MiniLM-L6-v2: unrelated sentences are
under 0.3, paraphrases above 0.7)."""
WEIGHTS = {"reply": 0.5, "article": 0.2, "terms": 0.3}
MAX_TERMS = 6
_WORD = re.compile(r"\[[a-z ]+\]|[a-z0-9]+(?:['’][a-z]+)?")
_STOPWORDS = (
    "about above after again also because been before being below between both could does doing down during each "
    "from further have having here hers herself himself into itself just more most myself once only other ought "
    "ours ourselves over same shall should some such than that their theirs them themselves then there these they "
    "this those through under until very were what when where which while whom will with within would your yours "
    "yourself yourselves sorry thanks thank please hello dear kind regards really today could happy help glad "
    "know sure great")
STOPWORDS = frozenset(_STOPWORDS.split())


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """Lower-case words and numbers of ``text`` (a masked ``[kind]`` is one word)."""
    return _WORD.findall(text.lower())


def key_terms(reply: str, article: str = "") -> list[str]:
    """The facts a reply should carry: the real reply's numbers, then its content words the article shares (the
    policy's words), then its other content words, longest first; at most :data:`MAX_TERMS`."""
    in_article = {_stem(w) for w in words(article)}
    found: dict[str, int] = {}
    for word in words(reply):
        if word.startswith("["):
            continue
        if word.isdigit():
            found.setdefault(word, 0)
        elif len(word) >= 4 and word not in STOPWORDS:
            found.setdefault(_stem(word), 1 if _stem(word) in in_article else 2)
    ranked = sorted(found, key=lambda term: (found[term], -len(term)))
    return ranked[:MAX_TERMS]


def word_similarity(a: str, b: str) -> float:
    """Cosine of two texts' word counts (the measure when the sentence encoder is missing)."""
    x, y = Counter(_stem(w) for w in words(a)), Counter(_stem(w) for w in words(b))
    dot = sum(x[w] * y[w] for w in x)
    norm = math.sqrt(sum(v * v for v in x.values())) * math.sqrt(sum(v * v for v in y.values()))
    return dot / norm if norm else 0.0


def _level(cosine: float) -> float:
    return min(1.0, max(0.0, (cosine - FLOOR) / (CEILING - FLOOR)))


def score_reply(text: str, terms: Sequence[str], to_reply: float, to_article: float | None) -> dict[str, Any]:
    """A practice reply's score (0-100) and why: the weighted mean of its closeness to the real reply
    (``to_reply``, a cosine), to the article (``to_article``; None: no article) and its coverage of ``terms``
    (none: left out); a part left out leaves the denominator too, as an N/A criterion does on the scorecard."""
    mine = {_stem(w) for w in words(text)}
    matched = [term for term in terms if term in mine]
    parts = {"reply": _level(to_reply)}
    if to_article is not None:
        parts["article"] = _level(to_article)
    if terms:
        parts["terms"] = len(matched) / len(terms)
    weight = sum(WEIGHTS[name] for name in parts)
    score = round(100 * sum(WEIGHTS[name] * value for name, value in parts.items()) / weight, 1)
    why = [f"Meaning close to the reply that resolved it: cosine {to_reply:.2f}, {parts['reply']:.0%} "
           f"(weight {WEIGHTS['reply']:.0%})."]
    if to_article is not None:
        why.append(f"Close to the knowledge article: cosine {to_article:.2f}, {parts['article']:.0%} "
                   f"(weight {WEIGHTS['article']:.0%}).")
    if terms:
        missed = [term for term in terms if term not in matched]
        why.append(f"Key terms: {len(matched)} of {len(terms)} (weight {WEIGHTS['terms']:.0%})"
                   + (f"; missing: {', '.join(missed)}." if missed else "."))
    return {"score": score, "to_reply": round(to_reply, 3),
            "to_article": None if to_article is None else round(to_article, 3),
            "terms": list(terms), "matched": matched, "parts": {k: round(v, 3) for k, v in parts.items()},
            "why": why}
