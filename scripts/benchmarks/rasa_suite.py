"""The assistant's benchmarks (``scripts/bench.py``): a section of docs/benchmarks.md each."""

from __future__ import annotations

from scripts.benchmarks import knowledge_search, replies
from scripts.benchmarks.base import Section, Suite

DESCRIPTION = """\
Speed benchmarks of the assistant, the product beside a baseline in the same run:

replies    the product's Rasa and action servers (embedded and production profiles) and the stock
           `rasa init` assistant, loaded in turn round after round: replies/s with 8 concurrent
           conversations and the servers' CPU per reply, latency with 20, and one 300-turn conversation;
knowledge  search at growing sizes up to 100,000 articles, HNSW against exact search on the same vectors.

Writes build/bench/rasa.json, charts in docs/img/ and the "Replies" and "Knowledge search" sections of
docs/benchmarks.md (or all of it under --out DIR); --only keeps the other section as it was."""

SUITE = Suite("rasa", "scripts/bench.py", DESCRIPTION,
              (Section("Replies", (replies.BENCHMARK,)), Section("Knowledge search", (knowledge_search.BENCHMARK,))))
