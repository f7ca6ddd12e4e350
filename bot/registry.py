"""The model registry: every trained Rasa model kept with its metadata, and which one the servers run.

Standard library only, so that any environment can run it (docs/training.md, "Versions")::

    models/registry/<version>/model.tar.gz     the Rasa model
    models/registry/<version>/metadata.json    version, model_id (Rasa's), data_hash, trained_by, trained_at,
                                               parent (the live version it was trained against), metrics, gate
    models/registry/<version>/report.json|.md  the regression gate's comparison (bot.retrain)
    models/registry/live.json                  the live version and its history (promotions, rollbacks)
    models/registry/trial.json                 the A/B trial running, if any: id, version (the candidate), live
                                               (the live version at its start), share (of new conversations),
                                               started_at, started_by
    models/registry/trials.json                the trials that ended, oldest first: each trial.json's content
                                               with ended_at, ended_by and outcome ("ended",
                                               "promoted", "rolled back")

The data hash is a SHA-256 over the training inputs (config.yml, bot/domain, data/nlu, data/rules: each file's
path and bytes). Promoting a version replaces the model on every Rasa server, one at a time, with Rasa's
``PUT /model`` (the servers keep their tracker and lock stores: a conversation in progress continues), waits
until ``GET /status`` reports the version's model id before the next server, then records the live pointer
and copies the model to models/rasa/assistant.tar.gz, which ``make run`` and ``make balanced`` start with.

The servers: ``RASA_SERVERS`` (comma-separated URLs of each Rasa server, not of a balancer in front of them),
else ``RASA_URL``; the token of their HTTP API: ``RASA_TOKEN``.

An A/B trial serves a share of the new conversations with a candidate version, sticky per conversation: the
handoff service decides each conversation's arm and posts its messages either to Rasa's REST channel (live) or to
``POST /webhooks/candidate/webhook`` (bot/candidate.py), which every Rasa server loads beside the live model while
trial.json names a version. Starting a trial writes trial.json, then waits until every server's
``GET /webhooks/candidate/`` reports the candidate's version and model id (else it removes trial.json again);
ending one moves it to trials.json and waits until the servers report no candidate. Promoting or rolling back
ends a running trial first (outcome "promoted" when the candidate is what gets promoted, "rolled back", else
"ended"): the servers then serve the new live model to everyone.

CLI: ``python -m bot.registry list|show VERSION|register MODEL [--live]|promote VERSION [--force]|rollback``,
``trial start VERSION --share 0.2 [--force]|trial end|trial show`` (``--by NAME``, ``--servers URLS``, ``--json``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "models" / "registry"
SERVED = ROOT / "models" / "rasa" / "assistant.tar.gz"
SOURCES = ("config.yml", "bot/domain", "data/nlu", "data/rules")
MODEL_FILE = "model.tar.gz"
TRIAL_FILE = "trial.json"
TRIALS_FILE = "trials.json"
STATUS_TIMEOUT = 300.0  # seconds a server may take to load a model
CANDIDATE_ROUTE = "/webhooks/candidate/"  # bot/candidate.py's status route on every Rasa server
CHECK_INTERVAL = 1.0  # seconds between the candidate channel's looks at trial.json (bot/candidate.py)


class RegistryError(Exception):
    """A registry operation that cannot be done, with a sentence for the person who asked."""


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def data_hash(root: Path = ROOT, sources: Sequence[str] = SOURCES) -> str:
    """SHA-256 over the training inputs' paths and bytes (YAML files, sorted by path)."""
    digest = hashlib.sha256()
    for source in sources:
        path = root / source
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml")) \
            if path.is_dir() else [path] if path.exists() else []
        for file in files:
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


def model_id(model: Path) -> str:
    """Rasa's id of a trained model (its metadata.json), what ``GET /status`` reports as ``model_id``."""
    with tarfile.open(model, "r:gz") as archive:
        for member in archive.getmembers():
            if member.name.lstrip("/") == "metadata.json":
                handle = archive.extractfile(member)
                if handle is not None:
                    return str(json.load(handle)["model_id"])
    raise RegistryError(f"{model} is no Rasa model (no metadata.json)")


class Registry:
    """The versions in ``root`` (models/registry)."""

    def __init__(self, root: Path = REGISTRY, served: Optional[Path] = SERVED) -> None:
        self.root = root
        self.served = served

    # ---- reading -----------------------------------------------------------------------------------------

    def versions(self) -> List[Dict[str, Any]]:
        """Every version's metadata, newest first."""
        if not self.root.is_dir():
            return []
        found = [json.loads(p.read_text()) for p in self.root.glob("*/metadata.json")]
        return sorted(found, key=lambda m: (m["trained_at"], m["version"]), reverse=True)

    def metadata(self, version: str) -> Dict[str, Any]:
        path = self._folder(version) / "metadata.json"
        if not path.exists():
            raise RegistryError(f"There is no model version {version!r}.")
        result: Dict[str, Any] = json.loads(path.read_text())
        return result

    def model(self, version: str) -> Path:
        return self._folder(version) / MODEL_FILE

    def pointer(self) -> Dict[str, Any]:
        path = self.root / "live.json"
        return json.loads(path.read_text()) if path.exists() else {"version": None, "history": []}

    def live(self) -> Optional[str]:
        version: Optional[str] = self.pointer().get("version")
        return version

    def trial(self) -> Optional[Dict[str, Any]]:
        """The A/B trial running (trial.json), or None."""
        path = self.root / TRIAL_FILE
        if not path.exists():
            return None
        result: Dict[str, Any] = json.loads(path.read_text())
        return result

    def trials(self) -> List[Dict[str, Any]]:
        """The trials that ended, oldest first."""
        path = self.root / TRIALS_FILE
        ended: List[Dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
        return ended

    def _folder(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise RegistryError(f"There is no model version {version!r}.")
        return self.root / version

    # ---- writing -----------------------------------------------------------------------------------------

    def register(self, model: Path, trained_by: str, *, data: Optional[str] = None,
                 metrics: Optional[Dict[str, Any]] = None, gate: Optional[Dict[str, Any]] = None,
                 parent: Optional[str] = None, extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Keep ``model`` as a new version (or return the version that has this very model already)."""
        identity = model_id(model)
        for known in self.versions():
            if known.get("model_id") == identity:
                return known
        hashed = data or data_hash()
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        version = f"{stamp}-{hashed[:8]}"
        number = 1
        while (self.root / version).exists():
            number += 1
            version = f"{stamp}-{hashed[:8]}-{number}"
        folder = self.root / version
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self._ensure_root()))
        shutil.copyfile(model, staging / MODEL_FILE)
        meta = {"version": version, "model_id": identity, "data_hash": hashed, "trained_by": trained_by,
                "trained_at": now(), "parent": parent, "metrics": metrics, "gate": gate,
                "size_bytes": model.stat().st_size, **(extra or {})}
        _write_json(staging / "metadata.json", meta)
        staging.chmod(0o755)
        staging.rename(folder)
        return meta

    def update(self, version: str, **fields: Any) -> Dict[str, Any]:
        meta = {**self.metadata(version), **fields}
        _write_json(self._folder(version) / "metadata.json", meta)
        return meta

    def set_live(self, version: str, by: str, action: str) -> Dict[str, Any]:
        """Record ``version`` as the live one and copy its model to where ``make run`` starts it."""
        self.metadata(version)
        pointer = self.pointer()
        history = list(pointer.get("history", []))
        history.append({"version": version, "at": now(), "by": by, "action": action})
        pointer = {"version": version, "since": history[-1]["at"], "by": by, "history": history[-200:]}
        _write_json(self._ensure_root() / "live.json", pointer)
        if self.served is not None:
            self.served.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.served.with_name(f".{self.served.name}.{os.getpid()}")
            shutil.copyfile(self.model(version), temporary)
            os.replace(temporary, self.served)
        return pointer

    def start_trial(self, version: str, share: float, by: str, force: bool = False) -> Dict[str, Any]:
        """Record an A/B trial of ``version`` on ``share`` of the new conversations (0 < share < 1). Only a version
        that is not live and passed the gate (unless ``force``), and only one trial at a time."""
        meta = self.metadata(version)
        if isinstance(share, bool) or not isinstance(share, (int, float)) or math.isnan(share) \
                or not 0 < share < 1:
            raise RegistryError(f"The share of conversations must be between 0 and 1 (exclusive), not {share!r}.")
        running = self.trial()
        if running is not None:
            raise RegistryError(f"Trial {running['id']} of version {running['version']} is running; end it first "
                                "(python -m bot.registry trial end).")
        live = self.live()
        if version == live:
            raise RegistryError(f"Version {version} is the live version; a trial needs another one.")
        gate = meta.get("gate")
        if not force and not (gate and gate.get("passed")):
            raise RegistryError(f"Version {version} did not pass the regression gate; only an admin may force it.")
        started = datetime.now(timezone.utc)
        trial_id = "trial-" + started.strftime("%Y%m%d-%H%M%S")
        taken = {ended["id"] for ended in self.trials()}
        number = 1
        while trial_id in taken:  # two trials in one second: the Rasa servers tell trials apart by their ids
            number += 1
            trial_id = f"trial-{started.strftime('%Y%m%d-%H%M%S')}-{number}"
        record = {"id": trial_id, "version": version, "live": live,
                  "share": float(share), "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"), "started_by": by}
        _write_json(self._ensure_root() / TRIAL_FILE, record)
        return record

    def end_trial(self, by: str, outcome: str = "ended") -> Dict[str, Any]:
        """Move the running trial to trials.json with who ended it, when, and how."""
        running = self.trial()
        if running is None:
            raise RegistryError("No trial is running.")
        ended = {**running, "ended_at": now(), "ended_by": by, "outcome": outcome}
        _write_json(self.root / TRIALS_FILE, [*self.trials(), ended])
        (self.root / TRIAL_FILE).unlink()
        return ended

    def _discard_trial(self) -> None:
        """Remove trial.json of a trial that did not start (a server did not load its candidate)."""
        (self.root / TRIAL_FILE).unlink(missing_ok=True)

    def previous(self) -> Optional[str]:
        """The version live before the current one (what a rollback returns to)."""
        pointer = self.pointer()
        current = pointer.get("version")
        for entry in reversed(pointer.get("history", [])):
            if entry["version"] != current:
                return str(entry["version"])
        return None

    def _ensure_root(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root


def _write_json(path: Path, value: Any) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(temporary, path)


# ---- the servers ---------------------------------------------------------------------------------------------

def servers_from_env(env: Optional[Dict[str, str]] = None) -> List[str]:
    env = dict(os.environ if env is None else env)
    listed = env.get("RASA_SERVERS") or env.get("RASA_URL") or ""
    return [url.strip().rstrip("/") for url in listed.split(",") if url.strip()]


def _call(method: str, url: str, token: str, body: Optional[Dict[str, Any]] = None,
          timeout: float = STATUS_TIMEOUT) -> Any:
    query = "?" + urllib.parse.urlencode({"token": token}) if token else ""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + query, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (our own servers' URLs)
        text = response.read().decode() or "null"
    return json.loads(text)


def serve(server: str, model: Path, identity: str, token: str, timeout: float = STATUS_TIMEOUT,
          call: Callable[..., Any] = _call) -> None:
    """Replace the model of one Rasa server and wait until it reports ``identity``."""
    try:
        call("PUT", f"{server}/model", token, {"model_file": str(model.resolve())}, timeout)
    except (urllib.error.URLError, OSError) as exc:
        raise RegistryError(f"The Rasa server {server} did not take the model: {exc}") from exc
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = call("GET", f"{server}/status", token, None, 10.0)
            if status and status.get("model_id") == identity:
                return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RegistryError(f"The Rasa server {server} did not report model {identity} in {timeout:.0f} s.")
        time.sleep(0.5)


def promote(registry: Registry, version: str, servers: Sequence[str], token: str, by: str, *,
            force: bool = False, action: str = "promote", log: Callable[[str], None] = print,
            call: Callable[..., Any] = _call, timeout: float = STATUS_TIMEOUT) -> Dict[str, Any]:
    """Make ``version`` live on every server, one at a time; on a failure, the servers already changed get the
    previous live model back and the pointer stays. Only a version whose gate passed, or one that was live
    before (a rollback), unless ``force``."""
    meta = registry.metadata(version)
    pointer = registry.pointer()
    was_live = any(entry["version"] == version for entry in pointer.get("history", []))
    gate = meta.get("gate")
    if not force and not was_live and not (gate and gate.get("passed")):
        raise RegistryError(f"Version {version} did not pass the regression gate; only an admin may force it.")
    running = registry.trial()
    if running is not None:
        outcome = "rolled back" if action == "rollback" else "promoted" if running["version"] == version \
            else "ended"
        log(f"ending trial {running['id']} of {running['version']} ({outcome})")
        end_trial(registry, servers, by, outcome, log=log, call=call, timeout=timeout)
    previous = pointer.get("version")
    done: List[str] = []
    for server in servers:
        log(f"{server}: loading {version}")
        try:
            serve(server, registry.model(version), meta["model_id"], token, timeout, call)
        except RegistryError:
            if previous and previous != version:
                back = registry.metadata(previous)
                for changed in done:
                    log(f"{changed}: back to {previous}")
                    serve(changed, registry.model(previous), back["model_id"], token, timeout, call)
            raise
        done.append(server)
        log(f"{server}: now serves {version} (model {meta['model_id']})")
    return registry.set_live(version, by, action)


def candidate_status(server: str, timeout: float = 10.0, call: Callable[..., Any] = _call) -> Dict[str, Any]:
    """What one Rasa server's candidate channel reports: version, model_id, error (no token needed)."""
    status = call("GET", f"{server}{CANDIDATE_ROUTE}", "", None, timeout)
    if not isinstance(status, dict):
        raise RegistryError(f"The Rasa server {server} answered {status!r} on {CANDIDATE_ROUTE}.")
    return status


def await_candidate(server: str, version: Optional[str], identity: Optional[str], timeout: float = STATUS_TIMEOUT,
                    call: Callable[..., Any] = _call) -> None:
    """Wait until ``server`` reports candidate ``version`` with model ``identity`` (None, None: no candidate). An
    error the channel reports fails at once, once it has looked at trial.json since the call began."""
    started = time.monotonic()
    deadline = started + timeout
    last: Any = "no answer"
    while True:
        try:
            status = candidate_status(server, 10.0, call)
            last = status
            if status.get("version") == version and status.get("model_id") == identity:
                return
            if version is not None and status.get("error") and time.monotonic() - started > 2 * CHECK_INTERVAL:
                raise RegistryError(f"The Rasa server {server} could not load the candidate {version}: "
                                    f"{status['error']}")
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        if time.monotonic() > deadline:
            wanted = f"candidate {version} (model {identity})" if version else "no candidate"
            raise RegistryError(f"The Rasa server {server} did not report {wanted} in {timeout:.0f} s "
                                f"(last: {last}). Is bot.candidate.CandidateInput in its credentials.yml?")
        time.sleep(0.5)


def start_trial(registry: Registry, version: str, share: float, servers: Sequence[str], by: str, *,
                force: bool = False, log: Callable[[str], None] = print, call: Callable[..., Any] = _call,
                timeout: float = STATUS_TIMEOUT) -> Dict[str, Any]:
    """Start an A/B trial: trial.json, then every server loads the candidate beside the live model. If one does
    not report it, trial.json goes again (the others drop the candidate) and the trial did not start."""
    record = registry.start_trial(version, share, by, force)
    identity = registry.metadata(version)["model_id"]
    ready: List[str] = []
    try:
        for server in servers:
            log(f"{server}: loading candidate {version}")
            await_candidate(server, version, identity, timeout, call)
            log(f"{server}: candidate {version} ready (model {identity})")
            ready.append(server)
    except RegistryError:
        registry._discard_trial()
        for server in ready:  # a look at the status route makes a server drop the candidate now
            try:
                await_candidate(server, None, None, 10.0, call)
            except RegistryError as exc:
                log(f"{server}: {exc}")
        raise
    return record


def end_trial(registry: Registry, servers: Sequence[str], by: str, outcome: str = "ended", *,
              log: Callable[[str], None] = print, call: Callable[..., Any] = _call,
              timeout: float = STATUS_TIMEOUT) -> Dict[str, Any]:
    """End the running trial and wait until every server has dropped the candidate."""
    ended = registry.end_trial(by, outcome)
    for server in servers:
        await_candidate(server, None, None, timeout, call)
        log(f"{server}: candidate {ended['version']} dropped")
    return ended


def rollback(registry: Registry, servers: Sequence[str], token: str, by: str, **kwargs: Any) -> Dict[str, Any]:
    target = registry.previous()
    if target is None:
        raise RegistryError("There is no earlier live version to roll back to.")
    return promote(registry, target, servers, token, by, action="rollback", **kwargs)


# ---- CLI -----------------------------------------------------------------------------------------------------

def run_trial_command(registry: Registry, args: argparse.Namespace) -> Any:
    """``trial start|end|show``: what to print as JSON, or None when it printed its text already."""
    if args.trial_command == "show":
        shown = {"trial": registry.trial(), "ended": registry.trials()}
        if args.json:
            return shown
        running = shown["trial"]
        print(f"running: {running['id']}  {running['version']} on {running['share']:.0%} of new conversations "
              f"(live {running['live']}), since {running['started_at']} by {running['started_by']}"
              if running else "running: none")
        for ended in shown["ended"]:
            print(f"  {ended['id']}  {ended['version']}  {ended['share']:.0%}  {ended['started_at']} .. "
                  f"{ended['ended_at']}  {ended['outcome']} by {ended['ended_by']}")
        return None
    servers = [s.strip() for s in args.servers.split(",")] if args.servers else servers_from_env()
    log = (lambda line: print(line, file=sys.stderr)) if args.json else print
    if args.trial_command == "start":
        out = start_trial(registry, args.version, args.share, servers, args.by, force=args.force, log=log)
    else:
        out = end_trial(registry, servers, args.by, log=log)
    if not servers:
        log("no Rasa server given (RASA_SERVERS, RASA_URL): only the trial files changed")
    if args.json:
        return out
    if args.trial_command == "start":
        print(f"trial {out['id']}: {out['version']} on {out['share']:.0%} of new conversations")
    else:
        print(f"trial {out['id']} ended")
    return None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.registry", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=REGISTRY, help="the registry folder")
    parser.add_argument("--json", action="store_true", help="answer in JSON")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every version, newest first, and which is live")
    show = commands.add_parser("show", help="one version's metadata")
    show.add_argument("version")
    register = commands.add_parser("register", help="keep a trained model as a version")
    register.add_argument("model", type=Path)
    register.add_argument("--trained-by", default=os.environ.get("USER", "unknown"))
    register.add_argument("--live", action="store_true",
                          help="record it as live (the model make builds is the one make run starts)")
    for name in ("promote", "rollback"):
        sub = commands.add_parser(name, help=f"{name} on every Rasa server (RASA_SERVERS or RASA_URL)")
        if name == "promote":
            sub.add_argument("version")
        sub.add_argument("--force", action="store_true", help="promote even if the gate failed (admins)")
        sub.add_argument("--by", default=os.environ.get("USER", "unknown"))
        sub.add_argument("--servers", help="comma-separated Rasa server URLs (default: RASA_SERVERS, RASA_URL)")
    trial = commands.add_parser("trial", help="A/B trials of a candidate version (bot/candidate.py)")
    trial_commands = trial.add_subparsers(dest="trial_command", required=True)
    start = trial_commands.add_parser("start", help="serve VERSION to a share of the new conversations")
    start.add_argument("version")
    start.add_argument("--share", type=float, required=True, help="the share of new conversations, 0 < share < 1")
    start.add_argument("--force", action="store_true", help="start even if the gate failed (admins)")
    end = trial_commands.add_parser("end", help="end the running trial: the live model serves everyone")
    for sub in (start, end):
        sub.add_argument("--by", default=os.environ.get("USER", "unknown"))
        sub.add_argument("--servers", help="comma-separated Rasa server URLs (default: RASA_SERVERS, RASA_URL)")
    trial_commands.add_parser("show", help="the running trial and the ended ones")
    args = parser.parse_args(argv)
    registry = Registry(args.root, SERVED if args.root == REGISTRY else None)
    out: Any
    try:
        if args.command == "list":
            out = {"live": registry.live(), "versions": registry.versions()}
            if not args.json:
                for meta in out["versions"]:
                    gate = meta.get("gate") or {}
                    verdict = "-" if not gate else "passed" if gate.get("passed") else "failed"
                    mark = "*" if meta["version"] == out["live"] else " "
                    print(f"{mark} {meta['version']}  {meta['trained_at']}  by {meta['trained_by']:<10} "
                          f"gate {verdict}")
                return 0
        elif args.command == "show":
            out = registry.metadata(args.version)
        elif args.command == "register":
            out = registry.register(args.model, args.trained_by, parent=registry.live())
            if args.live and registry.live() != out["version"]:
                registry.set_live(out["version"], args.trained_by, "build")
            if not args.json:
                print(f"registered {args.model} as {out['version']}{' (live)' if args.live else ''}")
                return 0
        elif args.command == "trial":
            out = run_trial_command(registry, args)
            if out is None:
                return 0
        else:
            servers = [s.strip() for s in args.servers.split(",")] if args.servers else servers_from_env()
            token = os.environ.get("RASA_TOKEN", "")
            log = (lambda line: print(line, file=sys.stderr)) if args.json else print
            if args.command == "promote":
                out = promote(registry, args.version, servers, token, args.by, force=args.force, log=log)
            else:
                out = rollback(registry, servers, token, args.by, force=args.force, log=log)
            if not servers:
                log("no Rasa server given (RASA_SERVERS, RASA_URL): only the live pointer changed")
            if not args.json:
                print(f"live: {out['version']}")
                return 0
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
