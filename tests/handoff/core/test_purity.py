"""The core and routing stay Sans-I/O: no event loop, network, database or web framework imports."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_boundaries import imported_roots

IO_MODULES = {"asyncio", "redis", "sqlalchemy", "websockets", "fastapi", "starlette", "httpx", "aiosqlite",
              "asyncpg", "socket", "requests", "urllib"}
PURE = sorted((ROOT / "handoff" / "core").rglob("*.py"))


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_purity_core_and_routing_import_no_io(path: Path) -> None:
    violations = [f"{path.relative_to(ROOT)}:{line} imports {root}"
                  for line, root in imported_roots(path) if root in IO_MODULES]
    assert not violations, "\n".join(violations)
