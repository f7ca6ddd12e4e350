"""Knowledge search at growing sizes up to 100,000 articles: HNSW against exact (flat) search on the same
vectors, one query at a time on one thread (as the action server asks); recall@10 of HNSW against exact."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from scripts.benchmarks.base import ROOT, Benchmark, Flags, Json
from scripts.benchmarks.report import line_chart, say, table
from scripts.benchmarks.stats import percentile

SENTENCES = ROOT / "build" / "bench" / "sentences.npy"  # the real sentences' embeddings, computed once
DATASETS = ROOT.parent / "shared" / "datasets"
SOURCES = ("hwu64/train/seq.in", "banking77_oos/train/seq.in", "banking77_oos/id-oos/train/seq.in",
           "hwu64/test/seq.in")
QUERIES = 1000  # held-out real sentences
SIZES = (2_000, 5_000, 10_000, 20_000, 50_000)
K = 10
CHART = "bench_knowledge_search.png"


def add_arguments(flags: Flags) -> None:
    flags.add_argument("--articles", type=int, default=100_000, help="knowledge base size")


def real_vectors() -> np.ndarray:
    """The embeddings (all-MiniLM-L6-v2) of the shared data sets' distinct sentences."""
    if SENTENCES.exists():
        cached: np.ndarray = np.load(SENTENCES)
        return cached
    from knowledge.embed import SentenceTransformerEmbedder

    sentences: list[str] = []
    for source in SOURCES:
        sentences += (DATASETS / source).read_text().splitlines()
    sentences = list(dict.fromkeys(s for s in sentences if s.strip()))
    say(f"embedding {len(sentences)} real sentences for the knowledge benchmark")
    real = np.asarray(SentenceTransformerEmbedder("all-MiniLM-L6-v2").encode(sentences, progress=True))
    SENTENCES.parent.mkdir(parents=True, exist_ok=True)
    np.save(SENTENCES, real)
    return real


def knowledge_vectors(count: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """``count`` unit article vectors and the held-out query vectors: real sentence embeddings, topped up to
    ``count`` with random convex mixtures of two of them plus a little noise."""
    real = real_vectors()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(real))
    queries, base = real[order[:QUERIES]], real[order[QUERIES:]]
    extra = max(0, count - len(base))
    a, b = rng.integers(0, len(base), extra), rng.integers(0, len(base), extra)
    w = rng.uniform(0.2, 0.8, (extra, 1)).astype(np.float32)
    mixed = w * base[a] + (1 - w) * base[b] + rng.normal(0, 0.02, (extra, base.shape[1])).astype(np.float32)
    vectors = np.vstack([base[:count], mixed]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, queries


def time_queries(index: Any, queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    """Each query's search time (ms) and the ids found."""
    times, found = [], []
    for q in queries:
        started = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), K)
        times.append(1000 * (time.perf_counter() - started))
        found.append(ids[0])
    return times, np.array(found)


def measure_size(vectors: np.ndarray, queries: np.ndarray, size: int) -> Json:
    from knowledge.index import VectorIndex

    ids = np.arange(size, dtype=np.int64)
    flat = VectorIndex(vectors.shape[1], "flat")
    flat.add(ids, vectors[:size])
    flat_times, exact = time_queries(flat, queries)
    hnsw = VectorIndex(vectors.shape[1], "hnsw")
    started = time.perf_counter()
    hnsw.add(ids, vectors[:size])
    build = time.perf_counter() - started
    hnsw_times, approx = time_queries(hnsw, queries)
    recall = float(np.mean([len(set(a) & set(e)) / K for a, e in zip(approx, exact, strict=True)]))
    return {"vectors": size, "flat_p50_ms": round(percentile(flat_times, 50), 3),
            "flat_p95_ms": round(percentile(flat_times, 95), 3), "hnsw_p50_ms": round(percentile(hnsw_times, 50), 3),
            "hnsw_p95_ms": round(percentile(hnsw_times, 95), 3), "hnsw_recall_at_10": round(recall, 4),
            "hnsw_build_s": round(build, 1)}


def run(args: argparse.Namespace) -> Json:
    import faiss

    faiss.omp_set_num_threads(1)  # one query at a time, as the action server asks
    count = args.articles
    vectors, queries = knowledge_vectors(count)
    by_size = []
    for size in [s for s in SIZES if s < count] + [count]:
        by_size.append(measure_size(vectors, queries, size))
        say(f"knowledge {by_size[-1]}")
    full = by_size[-1]
    return {"articles": count, "queries": len(queries), "by_size": by_size, "full": full,
            "speedup_p95": round(full["flat_p95_ms"] / full["hnsw_p95_ms"], 1)}


def lines(result: Json) -> list[str]:
    kb, full = result, result["full"]
    return [f"{kb['articles']:,} articles, one vector each: real all-MiniLM-L6-v2 embeddings of the shared data "
            "sets' sentences, topped up with random mixtures of two of them; "
            f"{kb['queries']:,} held-out real sentences as queries; one query at a time on one thread. "
            f"Recall@{K} is against exact search on the same vectors.", "",
            *table(["articles", "exact p50 (ms)", "exact p95 (ms)", "HNSW p50 (ms)", "HNSW p95 (ms)",
                    f"HNSW recall@{K}", "HNSW build (s)"],
                   [[f"{r['vectors']:,}", r["flat_p50_ms"], r["flat_p95_ms"], r["hnsw_p50_ms"], r["hnsw_p95_ms"],
                     r["hnsw_recall_at_10"], r["hnsw_build_s"]] for r in kb["by_size"]]), "",
            f"At {kb['articles']:,} articles HNSW answers p95 in {full['hnsw_p95_ms']} ms with recall@{K} "
            f"{full['hnsw_recall_at_10']}, {kb['speedup_p95']}x faster than exact search at p95.", "",
            f"![knowledge search latency](img/{CHART})", ""]


def chart(result: Json, img: Path) -> None:
    rows = result["by_size"]
    sizes = [float(r["vectors"]) for r in rows]
    line_chart(img / CHART, [(sizes, [r["flat_p95_ms"] for r in rows], "flat (exact) p95"),
                             (sizes, [r["hnsw_p95_ms"] for r in rows], "HNSW p95")],
               "articles (vectors)", "search latency p95, ms", "Knowledge search: exact vs HNSW", log_x=True)


BENCHMARK = Benchmark("knowledge", run, lines, add_arguments=add_arguments, chart=chart)
