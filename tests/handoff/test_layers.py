"""The handoff service's layers, enforced: each folder imports only the layers beneath it.

::

    cli/ ──────────────┐  (composition: may use everything)
    web/ ──▶ service/ ─┼─▶ core/          pure: the vocabulary, the state machine, routing
                │      │
                └─ ports.py, wiring.py ──▶ adapters/ ──▶ core/

The web layer talks to the service's facade only (of the service it sees the facade, who is calling, the port
types and the wiring); the service's parts meet the adapters only through
``service/ports.py`` (the port types) and ``service/wiring.py`` (the one place they are built); adapters
never call back into the service or the web layer. Fails naming the file, the line and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "handoff"
MEETS_ADAPTERS = {"handoff/service/ports.py", "handoff/service/wiring.py"}
WEB_SEES_OF_SERVICE = {"handoff.service", "handoff.service.auth", "handoff.service.ports", "handoff.service.wiring"}


def layer(path: Path) -> str:
    """``core``, ``service``, ``web``, ``adapters``, ``cli``, or the module's name for top-level ones."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def forbidden(path: Path, module: str) -> bool:
    """Whether the module at ``path`` may not import ``module`` (a module of ``handoff``)."""
    if module.startswith("relative import"):
        return True  # absolute imports only: a crossing must be visible
    source, target = layer(path), module.split(".")[1] if "." in module else ""
    where = str(path.relative_to(ROOT))
    if source == "core":
        return target != "core"
    if source == "adapters":
        return target in ("service", "web", "cli")
    if source == "service":
        return target in ("web", "cli") or (target == "adapters" and where not in MEETS_ADAPTERS)
    if source == "web":  # the facade, who is calling, the port types; and the vocabulary
        return target in ("adapters", "cli") or (target == "service" and module not in WEB_SEES_OF_SERVICE)
    if source in ("settings", "drain"):
        return target not in ("core",)
    return False


def handoff_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("handoff.")]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append((node.lineno, f"relative import {'.' * node.level}{node.module or ''}"))
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "handoff":
                found += [(node.lineno, f"handoff.{alias.name}") for alias in node.names]
            elif node.module.startswith("handoff."):
                found.append((node.lineno, node.module))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_layers_import_only_beneath_them(path: Path) -> None:
    violations = [f"{path.relative_to(ROOT)}:{line} imports {module}"
                  for line, module in handoff_imports(path) if forbidden(path, module)]
    assert not violations, "imports across layers:\n" + "\n".join(violations)


def test_layers_the_rule_catches_a_crossing() -> None:
    assert forbidden(PACKAGE / "web" / "gateway.py", "handoff.adapters.store")
    assert forbidden(PACKAGE / "service" / "desk.py", "handoff.adapters.tickets")
    assert not forbidden(PACKAGE / "service" / "ports.py", "handoff.adapters.tickets")
    assert forbidden(PACKAGE / "core" / "queue.py", "handoff.service.board")
    assert forbidden(PACKAGE / "adapters" / "rasa.py", "handoff.service.ports")
    assert forbidden(PACKAGE / "web" / "api_agents.py", "handoff.service.desk")
    assert not forbidden(PACKAGE / "web" / "deps.py", "handoff.service.auth")


def test_layers_top_level_holds_only_the_entry_point_settings_and_drain() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "drain.py", "settings.py"]
