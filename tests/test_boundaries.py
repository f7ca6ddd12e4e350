"""The direction of calls, enforced: handoff -> Rasa -> actions -> knowledge, never backwards.

Walks every module of our packages and fails naming the file and the import
that crosses a boundary (as Rasa's tests guard ``rasa.shared``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

OURS = {"bot", "actions", "handoff", "knowledge"}
FORBIDDEN = {
    "knowledge": OURS - {"knowledge"} | {"rasa", "rasa_sdk"},
    "actions": {"handoff", "bot", "rasa"},
    "bot": {"actions", "handoff", "knowledge", "rasa_sdk"},
    "handoff": {"rasa", "rasa_sdk", "bot", "actions"},
}


def imported_roots(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_in_the_direction_of_calls(package: str) -> None:
    violations = [f"{path.relative_to(ROOT)}:{line} imports {root}"
                  for path in sorted((ROOT / package).rglob("*.py"))
                  for line, root in imported_roots(path) if root in FORBIDDEN[package]]
    assert not violations, "forbidden imports:\n" + "\n".join(violations)


def test_actions_package_init_stays_empty() -> None:
    assert (ROOT / "actions" / "__init__.py").read_text().strip() == ""
