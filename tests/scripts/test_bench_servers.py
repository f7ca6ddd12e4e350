"""The arithmetic of ``make bench-servers``: units of work per core-second over the idle baseline, the sizing
table drawn from them, and the doc part it rewrites (the measurement itself is ``make bench``'s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scripts.bench_servers import BEGIN, END, TIERS, costs, section, sizing, write_doc


def phase(wall: float, **cpu: float) -> dict[str, Any]:
    return {"wall_s": wall, "cpu_s": {tier: cpu.get(tier, 0.0) for tier in TIERS}}


def result() -> dict[str, Any]:
    idle = phase(10, handoff=0.2, rasa=0.1) | {"memory_mb": {t: 100.0 for t in TIERS} | {"rasa": 1200.0}}
    before = {t: 100.0 for t in TIERS}
    return {
        "date": "2026-12-05", "machine": "x86_64, 2 cores", "load_before": 1.0, "load_after": 1.1,
        "args": {"customers": 8, "rate": 200.0},
        "idle": idle,
        # 1,000 replies in 20 s: Rasa used 10.2 core-seconds, 0.2 of them its idle share
        "bot": phase(20, handoff=5.4, rasa=10.2, actions=1.0, haproxy=0.05) | {"replies": 1000},
        # 4,000 relayed in 20 s; Rasa stayed at its idle rate (it takes no part)
        "relay": phase(20, handoff=8.4, rasa=0.2, redis=0.4, postgres=2.0, haproxy=0.2) | {
            "received": 4000, "sent": 4000, "lost": 0, "p50_ms": 3.0, "p99_ms": 9.0},
        "sockets": {"sockets": 2000, "failed": 0, "memory_before_mb": before,
                    "memory_after_mb": before | {"handoff": 164.0, "rasa": 90.0}},
    }


def test_each_unit_costs_what_it_added_to_the_idle_baseline() -> None:
    unit = costs(result())
    assert unit["bot_replies_per_core_s"]["rasa"] == pytest.approx(100.0)  # 1000 / (10.2 - 0.01 * 20)
    assert unit["bot_replies_per_core_s"]["handoff"] == pytest.approx(200.0)  # 1000 / (5.4 - 0.02 * 20)
    assert unit["relayed_per_core_s"]["handoff"] == pytest.approx(500.0)
    assert unit["relayed_per_core_s"]["rasa"] is None  # no CPU above its idle rate: not a cost of relaying
    assert unit["bot_replies_per_core_s"]["redis"] is None
    assert unit["mb_per_thousand_sockets"]["handoff"] == pytest.approx(32.0)
    assert unit["mb_per_thousand_sockets"]["rasa"] == pytest.approx(-5.0)  # shrank: counted as none below


def test_sizing_grows_with_the_load_and_keeps_pairs() -> None:
    rows = sizing(costs(result()))
    small, large = rows[0]["tiers"], rows[-1]["tiers"]
    assert small["handoff"]["processes"] == small["rasa"]["processes"] == 2  # one of a pair can be lost
    assert large["rasa"]["cores"] > small["rasa"]["cores"] * 10
    # 5,000 conversations: 116.7 bot replies/s at 100 per core-second, run at 60%, plus the idle share
    assert large["rasa"]["cores"] == pytest.approx((5000 * 0.7 / 30 / 100 + 0.01) / 0.6, rel=0.01)
    assert large["rasa"]["processes"] == 2 and large["rasa"]["memory_mb"] == 1200  # two workers of 600 MB
    assert small["handoff"]["memory_mb"] < large["handoff"]["memory_mb"]  # the sockets
    assert large["redis"]["cores"] > 0 and small["actions"]["memory_mb"] == 100


def test_the_doc_part_between_the_markers_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    doc = tmp_path / "deployment.md"
    doc.write_text(f"# Deployment\n\nbefore\n\n{BEGIN}\nold figures\n{END}\n\nafter\n")
    write_doc(doc, section(result()))
    text = doc.read_text()
    assert text.startswith("# Deployment\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert "old figures" not in text and text.count(BEGIN) == text.count(END) == 1
    assert "| Rasa servers | 100 | too little to measure | none |" in text
    assert "5,000 conversations (116.7 bot replies/s, 100.0 relayed/s)" in text


def test_a_doc_without_markers_is_refused(tmp_path: Path) -> None:
    doc = tmp_path / "deployment.md"
    doc.write_text("# Deployment\n")
    with pytest.raises(SystemExit, match="no sizing markers"):
        write_doc(doc, section(result()))
