"""The team's service-level targets (``handoff/targets.yml``): what the QA report's SLA attainment, the board's
"at risk" and today's KPIs, and the alert rules compare against. Pure: a frozen value read once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from handoff.core.errors import SettingsError


@dataclass(frozen=True)
class Targets:
    """Each target, with its documented default (see ``handoff/targets.yml`` for what each one means)."""

    queue_wait_seconds: float = 120.0
    first_response_seconds: float = 180.0
    resolution_seconds: float = 3600.0
    csat: float = 4.0
    containment_rate: float = 0.6
    handoff_rate: float = 0.4
    sla_attainment: float = 0.9

    @classmethod
    def from_mapping(cls, raw: Any, source: str = "targets") -> Targets:
        """Targets from a parsed YAML mapping; unknown names and non-positive numbers are refused by name."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise SettingsError(f"{source}: expected a mapping of target names to numbers.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise SettingsError(f"{source}: unknown target(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        values: dict[str, float] = {}
        for name, value in raw.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise SettingsError(f"{source}: {name} must be a positive number, not {value!r}.")
            values[name] = float(value)
        for name in ("containment_rate", "handoff_rate", "sla_attainment"):
            if values.get(name, 0.0) > 1:
                raise SettingsError(f"{source}: {name} is a share between 0 and 1, not {values[name]}.")
        if values.get("csat", 1.0) > 5:
            raise SettingsError(f"{source}: csat is an average rating from 1 to 5, not {values['csat']}.")
        return cls(**values)

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def load_targets(path: Path) -> Targets:
    """The targets in the YAML file at ``path``.

    Raises:
        SettingsError: the file is missing, not YAML, or names an unknown or malformed target.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"HANDOFF_TARGETS: cannot read {path} ({exc.strerror}).") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"HANDOFF_TARGETS: {path} is not valid YAML ({exc}).") from None
    return Targets.from_mapping(raw, f"HANDOFF_TARGETS ({path})")
