"""The model registry: every trained Rasa model kept with its metadata, and which one the servers run.

Standard library only, so that any environment can run it (docs/training.md, "Versions")::

    models/registry/<version>/model.tar.gz     the Rasa model
    models/registry/<version>/metadata.json    version, model_id (Rasa's), data_hash, trained_by, trained_at,
                                               parent (the live version it was trained against), metrics, gate
    models/registry/<version>/report.json|.md  the regression gate's comparison (bot.retrain)
    models/registry/live.json                  the live version and its history (promotions, rollbacks)

The data hash is a SHA-256 over the training inputs (config.yml, bot/domain, data/nlu, data/rules: each file's
path and bytes). Promoting a version replaces the model on every Rasa server, one at a time, with Rasa's
``PUT /model`` (the servers keep their tracker and lock stores: a conversation in progress continues), waits
until ``GET /status`` reports the version's model id before the next server, then records the live pointer
and copies the model to models/rasa/assistant.tar.gz, which ``make run`` and ``make balanced`` start with.

The servers: ``RASA_SERVERS`` (comma-separated URLs of each Rasa server, not of a balancer in front of them),
else ``RASA_URL``; the token of their HTTP API: ``RASA_TOKEN``.

CLI: ``python -m bot.registry list|show VERSION|register MODEL [--live]|promote VERSION [--force]|rollback``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
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
STATUS_TIMEOUT = 300.0  # seconds a server may take to load a model


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


def rollback(registry: Registry, servers: Sequence[str], token: str, by: str, **kwargs: Any) -> Dict[str, Any]:
    target = registry.previous()
    if target is None:
        raise RegistryError("There is no earlier live version to roll back to.")
    return promote(registry, target, servers, token, by, action="rollback", **kwargs)


# ---- CLI -----------------------------------------------------------------------------------------------------

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
