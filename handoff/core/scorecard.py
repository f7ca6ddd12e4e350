"""The QA scorecard (``handoff/scorecard.yml``, ``HANDOFF_SCORECARD``) and the score of one review. Pure: no I/O
but reading the file once at start-up.

A scorecard is a version and a list of criteria. Each criterion has a key, a name, a description, a weight, a
scale (``0-2``, ``1-5``: whole points from the first to the last; ``yes/no``: 1 or 0), whether it may be marked
not applicable (``na``) and whether it is ``critical``.

The total of a review, in percent::

    total = 100 * sum(weight * (score - low) / (high - low)) / sum(weight)

over the criteria scored (not N/A): a criterion marked N/A counts neither way. A critical criterion scored at
the bottom of its scale (0 of ``0-2``, ``no``) fails the whole review: its total is 0, whatever the rest. A
review whose every criterion is N/A has no total (None). Each review keeps the scorecard's version and its
criteria as they were, so it still reads right after the card changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from handoff.core.errors import BadRequest, SettingsError

KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
POINTS = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
YES_NO = "yes/no"
FIELDS = {"key", "name", "description", "weight", "scale", "na", "critical"}
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Criterion:
    """One line of the scorecard. ``low``/``high``: the scale's bottom and top (0 and 1 for ``yes/no``)."""

    key: str
    name: str
    description: str
    weight: float
    scale: str
    low: int
    high: int
    na: bool = False
    critical: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Scorecard:
    version: str
    criteria: tuple[Criterion, ...]

    def criterion(self, key: str) -> Criterion | None:
        return next((c for c in self.criteria if c.key == key), None)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "criteria": [c.to_json() for c in self.criteria]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scorecard:
        """A card as a review kept it (:meth:`to_json`)."""
        return cls(str(data["version"]), tuple(Criterion(**c) for c in data["criteria"]))


@dataclass(frozen=True)
class Score:
    """A reviewer's mark on one criterion: ``score`` None is N/A."""

    criterion: str
    score: int | None
    comment: str = ""


@dataclass(frozen=True)
class Outcome:
    """What a set of scores adds up to: ``total`` in percent (None: all N/A) and the critical criteria failed."""

    total: float | None
    critical_failed: tuple[str, ...]


class _Mapping(dict[str, Any]):
    """A YAML mapping that remembers its line and each key's line (for error messages)."""

    line: int = 0
    lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Mapping:
    mapping = _Mapping({str(key): value for key, value in loader.construct_mapping(node, deep=True).items()})
    mapping.line = node.start_mark.line + 1
    mapping.lines = {str(key.value): key.start_mark.line + 1 for key, _ in node.value}
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _scale(text: Any, where: str) -> tuple[str, int, int]:
    if isinstance(text, str) and text.strip().lower() == YES_NO:
        return YES_NO, 0, 1
    match = POINTS.match(text) if isinstance(text, str) else None
    if match is None or int(match[1]) >= int(match[2]) or int(match[2]) > 100:
        raise SettingsError(f"{where}: scale must be 'yes/no' or a range of whole points such as '0-2' or '1-5' "
                            f"(low below high, at most 100), not {text!r}.")
    return f"{int(match[1])}-{int(match[2])}", int(match[1]), int(match[2])


def _text(raw: _Mapping, name: str, where: str, *, required: bool = True) -> str:
    value = raw.get(name, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()):
        raise SettingsError(f"{where}: {name} must be a non-empty text, not {value!r}.")
    return value.strip()


def _flag(raw: _Mapping, name: str, where: str) -> bool:
    value = raw.get(name, False)
    if not isinstance(value, bool):
        raise SettingsError(f"{where}: {name} must be true or false, not {value!r}.")
    return value


def _criterion(raw: Any, index: int, source: str) -> Criterion:
    if not isinstance(raw, _Mapping):
        raise SettingsError(f"{source}: criteria[{index}] must be a mapping with key, name, weight and scale.")
    line = f"{source}, line {raw.line}, criteria[{index}]"
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise SettingsError(f"{source}, line {raw.lines[unknown[0]]}: unknown field(s) {', '.join(unknown)}; "
                            f"known: {', '.join(sorted(FIELDS))}.")
    key = raw.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        raise SettingsError(f"{line}: key must be lower-case letters, digits and _ (starting with a letter), "
                            f"not {key!r}.")
    where = f"{source}, line {raw.lines.get('weight', raw.line)}, criterion {key}"
    weight = raw.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
        raise SettingsError(f"{where}: weight must be a positive number, not {weight!r}.")
    scale, low, high = _scale(raw.get("scale"), f"{source}, line {raw.lines.get('scale', raw.line)}, "
                                                f"criterion {key}")
    return Criterion(key=key, name=_text(raw, "name", f"{line} ({key})"),
                     description=_text(raw, "description", f"{line} ({key})", required=False),
                     weight=float(weight), scale=scale, low=low, high=high, na=_flag(raw, "na", f"{line} ({key})"),
                     critical=_flag(raw, "critical", f"{line} ({key})"))


def parse_scorecard(text: str, source: str = "scorecard") -> Scorecard:
    """The scorecard in YAML ``text``; ``source`` names the file in errors.

    Raises:
        SettingsError: not YAML, no version, no criteria, a duplicate key, an unknown field or a malformed value
            (the message names the file, the line and the field).
    """
    try:
        raw = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader that keeps line numbers
    except yaml.YAMLError as exc:
        raise SettingsError(f"{source} is not valid YAML ({exc}).") from None
    if not isinstance(raw, _Mapping):
        raise SettingsError(f"{source}: expected a mapping with version and criteria.")
    unknown = sorted(set(raw) - {"version", "criteria"})
    if unknown:
        raise SettingsError(f"{source}, line {raw.lines[unknown[0]]}: unknown field(s) {', '.join(unknown)}; "
                            "known: criteria, version.")
    version = raw.get("version")
    if isinstance(version, bool) or not isinstance(version, str | int | float) or not str(version).strip():
        raise SettingsError(f"{source}: version is required (any text, e.g. a date; change it when the criteria "
                            f"change), not {version!r}.")
    items = raw.get("criteria")
    if not isinstance(items, list) or not items:
        raise SettingsError(f"{source}, line {raw.lines.get('criteria', raw.line)}: criteria must be a non-empty "
                            "list.")
    criteria = tuple(_criterion(item, index, source) for index, item in enumerate(items))
    seen: set[str] = set()
    for criterion in criteria:
        if criterion.key in seen:
            raise SettingsError(f"{source}: criterion key {criterion.key!r} appears twice.")
        seen.add(criterion.key)
    return Scorecard(str(version).strip()[:64], criteria)


def load_scorecard(path: Path) -> Scorecard:
    """The scorecard in the YAML file at ``path`` (:func:`parse_scorecard`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"HANDOFF_SCORECARD: cannot read {path} ({exc.strerror}).") from None
    return parse_scorecard(text, f"HANDOFF_SCORECARD ({path})")


def checked_scores(card: Scorecard, scores: Sequence[Score]) -> tuple[Score, ...]:
    """The scores in the card's order, after checking each criterion is the card's, scored once, within its
    scale (or N/A where the card allows it), and that every criterion is scored.

    Raises:
        BadRequest: naming the criterion and what is wrong.
    """
    given: dict[str, Score] = {}
    for score in scores:
        criterion = card.criterion(score.criterion)
        if criterion is None:
            raise BadRequest(f"The scorecard has no criterion {score.criterion!r}; its criteria: "
                             f"{', '.join(c.key for c in card.criteria)}.")
        if score.criterion in given:
            raise BadRequest(f"The criterion {score.criterion} is scored twice.")
        if score.score is None and not criterion.na:
            raise BadRequest(f"The criterion {criterion.key} cannot be marked not applicable.")
        if score.score is not None and not criterion.low <= score.score <= criterion.high:
            raise BadRequest(f"The criterion {criterion.key} is scored from {criterion.low} to {criterion.high}, "
                             f"not {score.score}.")
        if len(score.comment) > MAX_COMMENT:
            raise BadRequest(f"The comment on {criterion.key} is longer than {MAX_COMMENT} characters.")
        given[score.criterion] = score
    missing = [c.key for c in card.criteria if c.key not in given]
    if missing:
        raise BadRequest(f"Every criterion needs a score (or N/A where allowed); missing: {', '.join(missing)}.")
    return tuple(given[c.key] for c in card.criteria)


def outcome(card: Scorecard, scores: Sequence[Score]) -> Outcome:
    """The total of checked scores (see the module's formula)."""
    by_key = {score.criterion: score.score for score in scores}
    earned = weights = 0.0
    failed = []
    for criterion in card.criteria:
        value = by_key.get(criterion.key)
        if value is None:
            continue
        if criterion.critical and value == criterion.low:
            failed.append(criterion.key)
        earned += criterion.weight * (value - criterion.low) / (criterion.high - criterion.low)
        weights += criterion.weight
    if not weights:
        return Outcome(None, tuple(failed))
    return Outcome(0.0 if failed else round(100 * earned / weights, 2), tuple(failed))
