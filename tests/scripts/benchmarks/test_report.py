"""scripts/benchmarks/report.py: a section of the document replaced, or added before the commands."""

from __future__ import annotations

from pathlib import Path

from scripts.benchmarks.report import COMMANDS, write_section

DOC = """# Benchmarks

## Replies

old replies

## Knowledge search

old knowledge

## Commands

old commands
"""


def test_write_section_replaces_only_its_section(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC)
    write_section(doc, "## Replies", ["## Replies", "", "new replies"])
    text = doc.read_text()
    assert "new replies" in text and "old replies" not in text
    assert "## Knowledge search\n\nold knowledge\n" in text
    assert text.index("## Replies") < text.index("## Knowledge search") < text.index("## Commands")
    assert text.endswith("\n".join(COMMANDS).rstrip() + "\n")


def test_write_section_adds_a_new_section_before_the_commands(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC)
    write_section(doc, "## Handoff service", ["## Handoff service", "", "figures"])
    text = doc.read_text()
    assert text.index("old knowledge") < text.index("## Handoff service") < text.index("## Commands")


def test_write_section_starts_a_missing_document(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    write_section(doc, "## Replies", ["## Replies", "", "figures"])
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n") and text.index("## Replies") < text.index("## Commands")
