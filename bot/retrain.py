"""Retrain behind a regression gate: ``make retrain`` (``python -m bot.retrain``), and the workbench's button.

Stages, each printed with the share done (``[ 40%] ...``; with ``--progress-json``, also one JSON line
``{"progress": {"stage", "percent", "detail"}}`` for the workbench):

1. hash the training data (config.yml, bot/domain, data/nlu, data/rules: :func:`bot.registry.data_hash`);
2. train a candidate model from it (the percentage estimates the time from the last training's duration);
3. score the candidate and then the live model on the regression set: the fixed phrasings of
   ``tests/regression/nlu.yml`` (none of them in the training data), the trainer-confirmed examples of
   ``data/nlu/inbox.yml``, and the conversation tests of ``tests/stories/`` (Rasa's test-story format, every
   form and hand-off rule) run with Rasa's own story test (``rasa.core.test``);
4. compare them (:func:`bot.gate.compare`): per-intent F1, hand-off decisions, confusions that changed, stories,
   inbox examples; nothing may regress beyond ``--tolerance`` (``RETRAIN_TOLERANCE``, 0.02);
5. keep the candidate in the registry (models/registry/<version>/ with metadata.json, report.json, report.md)
   and, with ``--promote`` and a passing gate, promote it on the Rasa servers (:func:`bot.registry.promote`).

The exit code is the gate's: 0 passed, 1 failed (the version is kept, not promoted), 2 could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from bot import gate
from bot.registry import REGISTRY, ROOT, SERVED, Registry, RegistryError, data_hash, promote, servers_from_env

REGRESSION_NLU = ROOT / "tests" / "regression" / "nlu.yml"
STORIES = ROOT / "tests" / "stories"
INBOX = ROOT / "data" / "nlu" / "inbox.yml"
OUT_OF_SCOPE, FALLBACK = "out_of_scope", "nlu_fallback"
DEFAULT_TRAIN_SECONDS = 120.0


class Progress:
    """Prints each stage with its share done; with ``json_lines``, a JSON line too."""

    def __init__(self, json_lines: bool = False, out: Callable[[str], None] = print) -> None:
        self.json_lines = json_lines
        self.out = out
        self.lock = threading.Lock()

    def __call__(self, stage: str, percent: float, detail: str = "") -> None:
        with self.lock:
            self.out(f"[{percent:3.0f}%] {stage}{': ' + detail if detail else ''}")
            if self.json_lines:
                self.out(json.dumps({"progress": {"stage": stage, "percent": round(percent, 1), "detail": detail}}))
            sys.stdout.flush()


def load_examples(paths: List[Path]) -> List[Tuple[str, str]]:
    """(text, intent) of Rasa NLU files (missing files are skipped)."""
    from rasa.shared.nlu.training_data.loading import load_data

    examples: List[Tuple[str, str]] = []
    for path in paths:
        if path.exists():
            data = load_data(str(path))
            examples += [(m.get("text"), m.get("intent")) for m in data.intent_examples]
    return examples


def handed_off(parse: Dict[str, Any]) -> bool:
    """The message would be handed to a person (bot/evaluate.py's rule)."""
    name = (parse.get("intent") or {}).get("name") or FALLBACK
    return name in (OUT_OF_SCOPE, FALLBACK) or bool((parse.get("sentiment") or {}).get("escalate"))


def nlu_scorecard(parses: List[Dict[str, Any]], examples: List[Tuple[str, str]]) -> Dict[str, Any]:
    """Per-intent F1 (hand-offs count as ``out_of_scope``), hand-off decisions and confusions."""
    from sklearn.metrics import precision_recall_fscore_support

    gold = [intent for _, intent in examples]
    final = [OUT_OF_SCOPE if handed_off(p) else (p.get("intent") or {}).get("name") for p in parses]
    labels = sorted(set(gold))
    _, _, f1, support = precision_recall_fscore_support(gold, final, labels=labels, zero_division=0)
    intents = {label: {"f1": round(float(f), 4), "support": int(s)} for label, f, s in zip(labels, f1, support)}
    in_scope = [i for i, g in enumerate(gold) if g != OUT_OF_SCOPE]
    oos = [i for i, g in enumerate(gold) if g == OUT_OF_SCOPE]
    handed = [f == OUT_OF_SCOPE for f in final]
    wrong = [{"text": examples[i][0], "intent": gold[i], "handed_off": handed[i]}
             for i in range(len(gold)) if handed[i] != (gold[i] == OUT_OF_SCOPE)]
    confusions = Counter(f"{g} -> {f}" for g, f in zip(gold, final) if g != f)
    return {"intents": intents,
            "handoff": {"recall": round(sum(handed[i] for i in oos) / len(oos), 4) if oos else None,
                        "in_scope_rate": round(sum(handed[i] for i in in_scope) / len(in_scope), 4)
                        if in_scope else None, "wrong": wrong},
            "confusions": dict(confusions)}


def inbox_scorecard(parses: List[Dict[str, Any]], examples: List[Tuple[str, str]]) -> Dict[str, Any]:
    missed = []
    for (text, intent), parse in zip(examples, parses):
        predicted = OUT_OF_SCOPE if handed_off(parse) else (parse.get("intent") or {}).get("name")
        if predicted != intent:
            missed.append({"text": text, "intent": intent, "predicted": predicted})
    return {"total": len(examples), "understood": len(examples) - len(missed), "missed": missed}


async def story_results(agent: Any, stories: Path) -> Dict[str, bool]:
    """Each conversation test's name and whether the model predicts every action of it (Rasa's story test)."""
    from rasa.core.test import _create_data_generator, _predict_tracker_actions

    if not stories.exists() or not any(stories.glob("*.yml")):
        return {}
    generator = _create_data_generator(str(stories), agent, use_conversation_test_files=True)
    results: Dict[str, bool] = {}
    for tracker in generator.generate_story_trackers():
        evaluation, _, _, _ = await _predict_tracker_actions(tracker, agent, False, False)
        results[tracker.sender_id] = not evaluation.check_prediction_target_mismatch()
    return results


async def scorecard(model: Path, regression: List[Tuple[str, str]], inbox: List[Tuple[str, str]],
                    stories: Path, report: Callable[[int, int], None]) -> Dict[str, Any]:
    """Everything the gate compares, of one model."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    parses = []
    texts = [t for t, _ in regression + inbox]
    for number, text in enumerate(texts, 1):
        parses.append(await agent.parse_message(text))
        if number % 20 == 0 or number == len(texts):
            report(number, len(texts))
    card = nlu_scorecard(parses[:len(regression)], regression)
    card["inbox"] = inbox_scorecard(parses[len(regression):], inbox)
    card["stories"] = await story_results(agent, stories)
    return card


def training_files(inbox: Path) -> List[str]:
    """data/nlu and data/rules, and the inbox's file when it is elsewhere (HANDOFF_INBOX_FILE)."""
    files = [ROOT / "data" / "nlu", ROOT / "data" / "rules"]
    inside = inbox.resolve().is_relative_to((ROOT / "data" / "nlu").resolve())
    return [str(f) for f in files] + ([str(inbox)] if inbox.exists() and not inside else [])


def train(out: Path, progress: Progress, estimate: float, inbox: Path) -> Path:
    """Train a candidate from the project's data into ``out``, reporting an estimated share done."""
    from rasa.model_training import train as rasa_train

    started = time.monotonic()
    finished = threading.Event()

    def tick() -> None:
        while not finished.wait(5.0):
            elapsed = time.monotonic() - started
            progress("training the candidate", 5 + min(0.95, elapsed / estimate) * 55,
                     f"{elapsed:.0f} s of about {estimate:.0f} s")

    threading.Thread(target=tick, daemon=True).start()
    try:
        result = rasa_train(domain=str(ROOT / "bot" / "domain"), config=str(ROOT / "config.yml"),
                            training_files=training_files(inbox),
                            output=str(out), fixed_model_name="candidate", force_training=True)
    finally:
        finished.set()
    if result.code != 0 or not result.model:
        raise RuntimeError("training failed (see the log above)")
    return Path(result.model)


def run(args: argparse.Namespace) -> int:
    progress = Progress(args.progress_json)
    # a registry elsewhere than models/registry (tests) leaves the model make run starts alone
    registry = Registry(args.registry, SERVED if args.registry in (None, REGISTRY) else None) \
        if args.registry else Registry()
    live = registry.live()
    live_meta = registry.metadata(live) if live else None
    progress("hashing the training data", 1)
    hashed = data_hash()
    if len(training_files(args.inbox)) > 2:  # the inbox's file from elsewhere is training data too
        hashed = hashlib.sha256((hashed + args.inbox.read_text(encoding="utf-8")).encode()).hexdigest()
    estimate = float((live_meta or {}).get("train_seconds") or DEFAULT_TRAIN_SECONDS)
    with tempfile.TemporaryDirectory() as scratch:
        if args.model:
            candidate_model = args.model
            train_seconds = None
        else:
            progress("training the candidate", 5, f"about {estimate:.0f} s")
            started = time.monotonic()
            candidate_model = train(Path(scratch), progress, estimate, args.inbox)
            train_seconds = round(time.monotonic() - started, 1)
        progress("training the candidate", 60, "done" + (f" in {train_seconds} s" if train_seconds else ""))
        regression = load_examples([args.regression])
        inbox = load_examples([args.inbox])
        progress("scoring the candidate", 62, f"{len(regression)} regression phrasings, {len(inbox)} inbox examples")
        candidate = asyncio.run(scorecard(candidate_model, regression, inbox, args.stories,
                                          lambda n, t: progress("scoring the candidate", 62 + 15 * n / t,
                                                                f"{n}/{t} messages")))
        live_card = None
        if live:
            progress("scoring the live model", 78, live)
            live_card = asyncio.run(scorecard(registry.model(live), regression, inbox, args.stories,
                                              lambda n, t: progress("scoring the live model", 78 + 15 * n / t,
                                                                    f"{n}/{t} messages")))
        progress("comparing", 95)
        result = gate.compare(candidate, live_card, args.tolerance)
        meta = registry.register(candidate_model, args.trained_by, data=hashed, parent=live,
                                 metrics=gate.summary(candidate),
                                 gate={"passed": result["passed"], "tolerance": args.tolerance,
                                       "failures": result["failures"], "against": live},
                                 extra={"train_seconds": train_seconds})
    version = meta["version"]
    folder = registry.root / version
    (folder / "report.json").write_text(json.dumps({"version": version, "live": live, **result,
                                                    "candidate_card": candidate, "live_card": live_card},
                                                   indent=2) + "\n")
    (folder / "report.md").write_text(gate.markdown(result, version, live or ""))
    progress("kept as version", 97, version)
    print(gate.markdown(result, version, live or ""))
    print(f"report: {folder / 'report.md'}")
    if not result["passed"]:
        print(f"gate FAILED: {version} is kept but not promoted", flush=True)
        progress("done", 100, f"{version}: gate failed")
        return 1
    if args.promote:
        servers = servers_from_env()
        progress("promoting", 98, f"{version} on {len(servers)} Rasa server(s)")
        if not servers:
            copied = ", copied to models/rasa/assistant.tar.gz, which Rasa starts with next time" \
                if registry.served else ""
            print(f"no Rasa server given (RASA_SERVERS or RASA_URL, with RASA_TOKEN): the version is recorded as live"
                  f"{copied}; the running servers keep theirs (promote from the workbench, or again with RASA_URL "
                  "and RASA_TOKEN set)")
        try:
            promote(registry, version, servers, os.environ.get("RASA_TOKEN", ""), args.trained_by)
        except RegistryError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    progress("done", 100, f"{version}: gate passed" + (", promoted" if args.promote else ""))
    print(f"gate passed: {version}" + (" is live" if args.promote else
                                       f" (promote it: python -m bot.registry promote {version})"), flush=True)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.retrain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tolerance", type=float, default=float(os.environ.get("RETRAIN_TOLERANCE",
                                                                                gate.DEFAULT_TOLERANCE)),
                        help="largest allowed drop of an intent's F1 (absolute; RETRAIN_TOLERANCE, 0.02)")
    parser.add_argument("--promote", action="store_true",
                        help="promote a passing candidate on the Rasa servers (RASA_SERVERS or RASA_URL, RASA_TOKEN)")
    parser.add_argument("--trained-by", default=os.environ.get("RETRAIN_BY") or os.environ.get("USER") or "unknown")
    parser.add_argument("--regression", type=Path, default=REGRESSION_NLU, help="the fixed regression NLU file")
    parser.add_argument("--inbox", type=Path, default=INBOX,
                        help="the trainer-confirmed examples (trained on too when outside data/nlu)")
    parser.add_argument("--stories", type=Path, default=STORIES, help="the conversation tests (folder)")
    parser.add_argument("--registry", type=Path, help="the registry folder (default models/registry)")
    parser.add_argument("--model", type=Path, help="gate this trained model instead of training one")
    parser.add_argument("--progress-json", action="store_true", help="also print progress as JSON lines")
    args = parser.parse_args(argv)
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    try:
        return run(args)
    except (RuntimeError, RegistryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
