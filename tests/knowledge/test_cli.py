"""The knowledge CLI as a trainer uses it: real processes, a real index on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, TIMEOUT


def cli(*args: str, index: Path, sources: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KB_INDEX_DIR": str(index), "PYTHONPATH": str(ROOT)}
    if sources:
        env["KB_SOURCES"] = str(sources)
    return subprocess.run([sys.executable, "-m", "knowledge", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)


def test_build_search_add_remove_duplicates_and_stats(corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    built = cli("build", index=index, sources=corpus)
    assert built.returncode == 0, built.stderr
    assert "4 added, 0 changed, 0 retired, 0 unchanged" in built.stdout
    assert "answerability: too few articles to calibrate; answering by KB_MIN_SCORE 0.55" in built.stdout
    assert not (index / "answerability.json").exists()

    again = cli("build", index=index, sources=corpus)
    assert "0 added, 0 changed, 0 retired, 4 unchanged" in again.stdout

    found = cli("search", "is delivery free", "--json", index=index)
    hits = json.loads(found.stdout)
    assert hits[0]["article_id"] == "shipping-costs" and hits[0]["version"]

    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"id": "gift-cards", "question": "Do gift cards expire?",
                                 "answer": "Brightwood gift cards never expire.", "category": "products"}) + "\n")
    assert "1 added" in cli("add", str(extra), index=index).stdout
    table = cli("search", "gift card expiry", index=index).stdout
    assert table.splitlines()[0].startswith("1. ") and "gift-cards" in table.splitlines()[0]

    assert "retired gift-cards" in cli("remove", "gift-cards", index=index).stdout
    stats = json.loads(cli("stats", index=index).stdout)
    assert stats["articles"] == 4 and stats["index_kind"] == "flat"
    assert stats["categories"] == {"accounts": 1, "privacy": 1, "returns": 1, "shipping": 1}
    assert "near-duplicate pair(s)" in cli("duplicates", index=index).stdout


def test_errors_are_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    missing = cli("search", "anything", index=tmp_path / "nowhere")
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: No knowledge index in {tmp_path / 'nowhere'}: run `python -m knowledge build` first."
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.jsonl").write_text("{oops\n")
    broken = cli("build", index=tmp_path / "i", sources=tmp_path / "bad")
    assert broken.returncode == 2 and "a.jsonl:1: not valid JSON" in broken.stderr
    unknown = cli("remove", "nope", index=tmp_path / "i")
    assert unknown.returncode == 2
