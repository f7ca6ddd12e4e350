"""Command line for the knowledge base: ``python -m knowledge COMMAND``.

Commands: build, add, remove, search, duplicates, stats, export-encoder, evaluate.
Run ``python -m knowledge COMMAND --help`` for each one's options.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from knowledge.embed import SentenceTransformerEmbedder, make_embedder
from knowledge.encoder import UseEmbedder, write_use_export
from knowledge.errors import KnowledgeError
from knowledge.ingest import load_sources
from knowledge.live import locked, publish
from knowledge.search import KnowledgeBase, open_for_queries, open_or_create, require_index
from knowledge.settings import KnowledgeSettings

logger = logging.getLogger("knowledge")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = KnowledgeSettings.from_env()
        result: int = args.run(args, settings)
        return result
    except KnowledgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m knowledge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--index-dir", type=Path, help="index folder (default: KB_INDEX_DIR or models/knowledge)")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="index every source; only new or changed articles are embedded")
    build.add_argument("--sources", type=Path, help="source folder or file (default: KB_SOURCES or data/knowledge)")
    build.add_argument("--full", action="store_true", help="rebuild from scratch instead of incrementally")
    build.set_defaults(run=_build)

    add = commands.add_parser("add", help="add or update the articles of one file")
    add.add_argument("file", type=Path)
    add.set_defaults(run=_add)

    remove = commands.add_parser("remove", help="retire one article by id")
    remove.add_argument("article_id")
    remove.set_defaults(run=_remove)

    search = commands.add_parser("search", help="search the knowledge base")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5)
    search.add_argument("--category")
    search.add_argument("--tag", action="append", default=[], help="required tag (repeatable)")
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")
    search.set_defaults(run=_search)

    dup = commands.add_parser("duplicates", help="list near-duplicate article pairs")
    dup.add_argument("--threshold", type=float, default=0.92)
    dup.set_defaults(run=_duplicates)

    stats = commands.add_parser("stats", help="articles, vectors and categories in the index")
    stats.set_defaults(run=_stats)

    export = commands.add_parser("export-encoder", help="export the embedding model as ONNX for the Rasa pipeline")
    export.add_argument("--out", type=Path, default=Path("models/encoder"))
    export.set_defaults(run=_export)

    evaluate = commands.add_parser("evaluate", help="retrieval evaluation (see knowledge.evaluate)")
    evaluate.add_argument("--articles", type=Path, required=True)
    evaluate.add_argument("--queries", type=Path, required=True)
    evaluate.add_argument("--out", type=Path, required=True)
    evaluate.add_argument("--threshold", type=float,
                          help="answer by this cosine threshold instead of the calibrated rule "
                               "(knowledge.answerability), as before it existed")
    evaluate.set_defaults(run=_evaluate)
    return parser


def _index_dir(args: argparse.Namespace, settings: KnowledgeSettings) -> Path:
    return Path(args.index_dir or settings.index_dir)


def _embedder(settings: KnowledgeSettings) -> SentenceTransformerEmbedder | UseEmbedder:
    return make_embedder(settings.model, settings.batch_size, settings.device)


def _open_for_indexing(args: argparse.Namespace, settings: KnowledgeSettings) -> KnowledgeBase:
    """The index with the model that built it (PyTorch), to embed new articles."""
    directory = _index_dir(args, settings)
    require_index(directory)  # before loading the model: fail fast
    return KnowledgeBase.load(directory, _embedder(settings), settings.index_kind, settings.hnsw_threshold)


def _open(args: argparse.Namespace, settings: KnowledgeSettings) -> KnowledgeBase:
    """The index with the query embedder (the ONNX export if there is one): nothing is embedded but queries."""
    return open_for_queries(dataclasses.replace(settings, index_dir=_index_dir(args, settings)))


def _build(args: argparse.Namespace, settings: KnowledgeSettings) -> int:
    articles = load_sources(args.sources or settings.sources)
    directory = _index_dir(args, settings)
    with locked(directory):  # a running server swaps to the published generation (knowledge.live)
        if args.full:
            kb = KnowledgeBase(_embedder(settings), settings.index_kind, settings.hnsw_threshold)
        else:
            kb = open_or_create(directory, lambda: _embedder(settings), settings.index_kind,
                                settings.hnsw_threshold)
        report = kb.sync(articles, progress=True)
        _calibrate(kb, settings)
        generation = publish(kb, directory)
    print(f"{report}; {len(kb.store)} articles, {len(kb.index)} vectors ({kb.index.kind}) in {directory}, "
          f"generation {generation}")
    return 0


def _calibrate(kb: KnowledgeBase, settings: KnowledgeSettings) -> None:
    """Refit the answer-or-abstain rule after a change of articles (knowledge.answerability)."""
    calibrated = kb.calibrate(settings.abstain_target)
    if calibrated is None:
        print(f"answerability: too few articles to calibrate; answering by KB_MIN_SCORE {settings.min_score}")
    else:
        print(f"answerability: calibrated on {calibrated.training['sources']} titles and questions, "
              f"threshold {calibrated.threshold:.3f} (abstains on {settings.abstain_target:.0%} of "
              "questions no article answers, by leaving each article out)")


def _add(args: argparse.Namespace, settings: KnowledgeSettings) -> int:
    with locked(_index_dir(args, settings)):
        kb = _open_for_indexing(args, settings)
        report = kb.sync(load_sources(args.file), retire_missing=False, progress=True)
        _calibrate(kb, settings)
        generation = publish(kb, _index_dir(args, settings))
    print(f"{report}; generation {generation}")
    return 0


def _remove(args: argparse.Namespace, settings: KnowledgeSettings) -> int:
    with locked(_index_dir(args, settings)):
        kb = _open(args, settings)
        stored = kb.retire(args.article_id)
        _calibrate(kb, settings)
        publish(kb, _index_dir(args, settings))
    print(f"retired {stored.article.id} (version {stored.version}); {len(kb.store)} articles left")
    return 0


def _search(args: argparse.Namespace, settings: KnowledgeSettings) -> int:
    kb = _open(args, settings)
    hits = kb.search(args.query, k=args.k, category=args.category, tags=args.tag)
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], indent=2, ensure_ascii=False))
        return 0
    if not hits:
        print("no matching article")
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}. {hit.score:.3f}  {hit.article_id} v{hit.version} [{hit.category}]  {hit.title}")
    return 0


def _duplicates(args: argparse.Namespace, settings: KnowledgeSettings) -> int:
    pairs = _open(args, settings).duplicates(args.threshold)
    for pair in pairs:
        print(f"{pair.similarity:.3f}  {pair.first}  ~  {pair.second}")
    print(f"{len(pairs)} near-duplicate pair(s) at similarity >= {args.threshold}")
    return 0


def _stats(args: argparse.Namespace, settings: KnowledgeSettings) -> int:
    print(json.dumps(_open(args, settings).stats(), indent=2))
    return 0


def _export(args: argparse.Namespace, settings: KnowledgeSettings) -> int:
    embedder = _embedder(settings)
    target = (write_use_export(args.out) if isinstance(embedder, UseEmbedder)
              else embedder.export_onnx(args.out))
    print(f"encoder written to {target}")
    return 0


def _evaluate(args: argparse.Namespace, settings: KnowledgeSettings) -> int:
    from knowledge.evaluate import evaluate_files

    report = evaluate_files(args.articles, args.queries, args.out, _embedder(settings), settings, args.threshold)
    print(report.table())
    print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
