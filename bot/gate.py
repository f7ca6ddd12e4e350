"""The regression gate of a retrained model (docs/training.md, "Retraining"): pure, standard library only.

A *scorecard* is what :mod:`bot.retrain` measures of one model on the regression set::

    {"intents": {"order_status": {"f1": 0.91, "support": 4}, ...},      # per gold intent, on tests/regression
     "handoff": {"recall": 1.0, "in_scope_rate": 0.02, "wrong": [...]},  # out_of_scope handed off; in-scope too
     "confusions": {"order_status -> delivery_tracking": 1, ...},       # gold -> predicted, where they differ
     "stories": {"order status form ...": true, ...},                   # Rasa test stories passed
     "inbox": {"total": 3, "understood": 3, "missed": [...]}}           # trainer-confirmed examples

:func:`compare` puts the candidate's beside the live model's and says whether the candidate may be promoted:
nothing regresses beyond ``tolerance`` (an absolute drop of an intent's F1, of the out-of-scope hand-off recall,
or a rise of the in-scope hand-off rate), no test story fails that passed with the live model (or at all, when
there is none), and every trainer-confirmed example is understood. :func:`markdown` renders the comparison.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

DEFAULT_TOLERANCE = 0.02

Scorecard = Dict[str, Any]


def compare(candidate: Scorecard, live: Optional[Scorecard], tolerance: float = DEFAULT_TOLERANCE) -> Dict[str, Any]:
    """The comparison of ``candidate`` with ``live`` (None: no live model yet) and the gate's verdict."""
    failures: List[str] = []
    intents = []
    before_intents = (live or {}).get("intents", {})
    for name in sorted(set(candidate.get("intents", {})) | set(before_intents)):
        after = candidate.get("intents", {}).get(name)
        before = before_intents.get(name)
        f1_after = after["f1"] if after else None
        f1_before = before["f1"] if before else None
        delta = None if f1_after is None or f1_before is None else round(f1_after - f1_before, 4)
        regressed = delta is not None and delta < -tolerance
        if regressed:
            failures.append(f"intent {name}: F1 {f1_before:.3f} -> {f1_after:.3f} (drop {-delta:.3f} > "
                            f"{tolerance:.3f})")
        intents.append({"intent": name, "live": f1_before, "candidate": f1_after, "delta": delta,
                        "support": (after or before or {}).get("support", 0), "regressed": regressed})
    handoff_after = candidate.get("handoff", {})
    handoff_before = (live or {}).get("handoff", {})
    handoff = {"live": handoff_before or None, "candidate": handoff_after}
    if live is not None:
        recall_after, recall_before = handoff_after.get("recall"), handoff_before.get("recall")
        if recall_after is not None and recall_before is not None and recall_after < recall_before - tolerance:
            failures.append(f"out-of-scope hand-off recall {recall_before:.3f} -> {recall_after:.3f}")
        rate_after, rate_before = handoff_after.get("in_scope_rate"), handoff_before.get("in_scope_rate")
        if rate_after is not None and rate_before is not None and rate_after > rate_before + tolerance:
            failures.append(f"in-scope messages handed off {rate_before:.3f} -> {rate_after:.3f}")
    confusions = _changed(candidate.get("confusions", {}), (live or {}).get("confusions", {}))
    stories = []
    before_stories = (live or {}).get("stories", {})
    for name, passed in sorted(candidate.get("stories", {}).items()):
        was = before_stories.get(name)
        if not passed and (live is None or was is not False):
            failures.append(f"test story fails: {name}" + (" (passed with the live model)" if was else ""))
        stories.append({"story": name, "live": was, "candidate": passed})
    inbox = candidate.get("inbox", {"total": 0, "understood": 0, "missed": []})
    for missed in inbox.get("missed", []):
        failures.append(f"inbox example not understood: {missed['text']!r} is {missed['intent']}, "
                        f"the candidate says {missed['predicted']}")
    return {"passed": not failures, "tolerance": tolerance, "failures": failures, "intents": intents,
            "handoff": handoff, "confusions": confusions, "stories": stories, "inbox": inbox,
            "live_compared": live is not None}


def _changed(after: Dict[str, int], before: Dict[str, int]) -> List[Dict[str, Any]]:
    """The confusion pairs whose counts differ, largest change first."""
    rows = [{"pair": pair, "live": before.get(pair, 0), "candidate": after.get(pair, 0)}
            for pair in set(after) | set(before) if after.get(pair, 0) != before.get(pair, 0)]
    return sorted(rows, key=lambda r: (-abs(r["candidate"] - r["live"]), r["pair"]))


def summary(card: Scorecard) -> Dict[str, Any]:
    """A model's metrics in a few figures (for its metadata)."""
    intents = card.get("intents", {})
    f1s = [v["f1"] for v in intents.values()]
    stories = card.get("stories", {})
    return {"macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else None,
            "handoff_recall": card.get("handoff", {}).get("recall"),
            "handoff_in_scope_rate": card.get("handoff", {}).get("in_scope_rate"),
            "stories_passed": sum(1 for v in stories.values() if v), "stories": len(stories),
            "inbox_understood": card.get("inbox", {}).get("understood", 0),
            "inbox_total": card.get("inbox", {}).get("total", 0)}


def _f(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.3f}"


def markdown(result: Dict[str, Any], version: str = "", live: str = "") -> str:
    """The comparison as a Markdown report."""
    lines = [f"# Regression gate: {version or 'candidate'} against {live or 'no live model'}", "",
             f"**{'PASSED' if result['passed'] else 'FAILED'}** (tolerance {result['tolerance']:.3f})", ""]
    lines += [f"- {failure}" for failure in result["failures"]] or ["Nothing regressed."]
    lines += ["", "## Intents (F1 on the regression set)", "", "| intent | support | live | candidate | change |",
              "|---|---:|---:|---:|---:|"]
    for row in result["intents"]:
        mark = " **regressed**" if row["regressed"] else ""
        delta = "-" if row["delta"] is None else f"{row['delta']:+.3f}"
        lines.append(f"| {row['intent']} | {row['support']} | {_f(row['live'])} | {_f(row['candidate'])} | "
                     f"{delta}{mark} |")
    handoff = result["handoff"]
    lines += ["", "## Hand-off decisions", "", "| | live | candidate |", "|---|---:|---:|"]
    for key, label in (("recall", "out-of-scope handed off"), ("in_scope_rate", "in-scope handed off")):
        lines.append(f"| {label} | {_f((handoff['live'] or {}).get(key))} | {_f(handoff['candidate'].get(key))} |")
    lines += ["", "## Confusions that changed", ""]
    lines += [f"- {row['pair']}: {row['live']} -> {row['candidate']}" for row in result["confusions"]] or ["None."]
    lines += ["", "## Test stories", ""]
    lines += [f"- {'pass' if row['candidate'] else 'FAIL'} {row['story']}" for row in result["stories"]] or ["None."]
    inbox = result["inbox"]
    lines += ["", f"## Trainer-confirmed examples: {inbox.get('understood', 0)} of {inbox.get('total', 0)} "
                  "understood", ""]
    lines += [f"- {m['text']!r}: {m['intent']}, predicted {m['predicted']}" for m in inbox.get("missed", [])]
    return "\n".join(lines).rstrip() + "\n"
