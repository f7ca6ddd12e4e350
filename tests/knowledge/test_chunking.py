from __future__ import annotations

from knowledge.chunking import chunk_article
from knowledge.documents import Article, ArticleId


def test_chunks_are_title_questions_then_passages_with_their_heading() -> None:
    article = Article(ArticleId("a"), "Express delivery", "Arrives in 1-2 days.\n\n## Cost\nIt costs $14.95.",
                      questions=("How fast is express?",))
    chunks = chunk_article(article)
    assert [c.kind for c in chunks] == ["title", "question", "passage", "passage"]
    assert chunks[2].text == "Express delivery. Arrives in 1-2 days."
    assert chunks[3].text == "Express delivery. Cost. It costs $14.95."
    assert chunks[3].heading == "Cost"


def test_long_sections_are_split_at_paragraphs() -> None:
    body = "\n\n".join(f"Paragraph {i} " + "word " * 40 for i in range(6))
    passages = [c for c in chunk_article(Article(ArticleId("b"), "T", body), max_chars=500) if c.kind == "passage"]
    assert len(passages) > 1
    assert all(len(p.text) <= 500 + len("T. ") + 250 for p in passages)
    assert "Paragraph 0" in passages[0].text and "Paragraph 5" in passages[-1].text
