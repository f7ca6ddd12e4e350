"""``make chaos``, short: the production profile on real servers (a private Redis and PostgreSQL, the real
bot, two handoff instances), 10 conversations in flight while a handoff instance is killed -9 and Redis is
restarted without persistence. Nothing a client was told is stored may be lost, duplicated or left
undelivered, every fault is recovered from, and every conversation's live record agrees with the ticket log.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from scripts.chaos import FAULTS, main, passed, table
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_chaos_short_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    done = subprocess.run([str(ROOT / ".venv/app/bin/python"), "scripts/chaos.py", "--short", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.exists(), done.stdout[-4000:] + done.stderr[-4000:]
    result = json.loads(out.read_text())
    assert [o["fault"] for o in result["outcomes"]][1:3] == ["kill -9 a handoff instance",
                                                            "restart Redis (no persistence)"]
    assert sum(o["acknowledged"] for o in result["outcomes"]) > 0, done.stdout[-4000:]
    assert passed(result), f"{table(result)}\n{done.stdout[-6000:]}"
    assert done.returncode == 0


def test_chaos_refuses_unknown_faults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--faults", "handoff,meteor"])
    assert "meteor" in capsys.readouterr().err and set(FAULTS) == {"handoff", "rasa", "actions", "redis",
                                                                   "postgres"}
