"""The command line's tests: each on its own copy of the seeded ticket database, named by ``DATABASE_URL``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def database(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A copy of the session's seeded SQLite database, in the environment as the command reads it (no knowledge
    suggestions; the NLU inbox's training data file under ``tmp_path``, never the repository's)."""
    path = tmp_path / "handoff.sqlite3"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HANDOFF_SUGGESTIONS", "false")
    monkeypatch.setenv("HANDOFF_INBOX_FILE", str(tmp_path / "never.yml"))
    return url
