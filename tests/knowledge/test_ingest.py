from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.errors import SourceError
from knowledge.ingest import load_sources


def test_load_sources_reads_markdown_front_matter(corpus: Path) -> None:
    articles = {a.id: a for a in load_sources(corpus)}
    assert set(articles) == {"shipping-costs", "returns-window", "password-reset", "delete-account"}
    shipping = articles["shipping-costs"]
    assert shipping.category == "shipping"
    assert shipping.tags == ("shipping", "costs")
    assert shipping.questions == ("How much is delivery?", "Is shipping free?")
    assert shipping.answer.startswith("Standard shipping costs $4.95")
    assert len(shipping.version) == 12


def test_load_sources_reads_csv_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "faq.csv").write_text('id,question,answer,tags\nq1,"Do you ship abroad?",Yes to 32 countries.,shipping;abroad\n')
    (tmp_path / "faq.jsonl").write_text(json.dumps({"id": 7, "question": "Gift cards?", "answer": "They never expire."}) + "\n")
    articles = {a.id: a for a in load_sources(tmp_path)}
    assert articles["q1"].title == "Do you ship abroad?"
    assert articles["q1"].tags == ("shipping", "abroad")
    assert articles["7"].body == "They never expire."
    assert articles["7"].questions == ("Gift cards?",)


def test_version_changes_when_the_answer_changes(corpus: Path) -> None:
    before = {a.id: a.version for a in load_sources(corpus)}
    path = corpus / "returns/returns-window.md"
    path.write_text(path.read_text().replace("30 days", "45 days"))
    after = {a.id: a.version for a in load_sources(corpus)}
    assert before["returns-window"] != after["returns-window"]
    assert before["shipping-costs"] == after["shipping-costs"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"id": 1, "question": "x", "answer": "y"}\nnot json\n', "bad.jsonl:2: not valid JSON"),
        ("empty.jsonl", '{"id": 1, "question": "x", "answer": ""}\n', "empty body"),
        ("noid.csv", "question,answer\nx,y\n", "has no id"),
        ("bad.md", "---\nid: [unclosed\n---\nbody\n", "front matter is not valid YAML"),
    ],
)
def test_malformed_sources_name_the_file_and_problem(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(SourceError, match=message.replace("(", r"\(")):
        load_sources(tmp_path)


def test_duplicate_ids_are_rejected(corpus: Path) -> None:
    (corpus / "copy.md").write_text((corpus / "returns/returns-window.md").read_text())
    with pytest.raises(SourceError, match="used twice"):
        load_sources(corpus)
