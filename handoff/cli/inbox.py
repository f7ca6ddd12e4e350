"""``python -m handoff inbox export``: write the NLU inbox's confirmed examples to the training data file now
(docs/training.md), from the ticket log: where you train (a checkout of the project), after an erasure, or in
production where the instance that handled a decision wrote its own copy.

    python -m handoff inbox export                         # HANDOFF_INBOX_FILE (data/nlu/inbox.yml)
    python -m handoff inbox export --out ../train/data/nlu/inbox.yml

Prints what was written (JSON): the path, whether the file changed, the examples, and the conflicts left out.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from handoff.settings import HandoffSettings


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser("inbox", help="the NLU inbox's training data (docs/training.md)")
    actions = parser.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="write the confirmed examples to the training data file now")
    export.add_argument("--out", type=Path, help="the file to write (default: HANDOFF_INBOX_FILE)")


async def run(settings: HandoffSettings, args: argparse.Namespace) -> None:
    from handoff.service.wiring import open_service

    if args.out is not None:
        settings = replace(settings, inbox_file=args.out.resolve())
    service = await open_service(settings, serving=False)
    try:
        print(json.dumps(await service.inbox.write(), indent=2, ensure_ascii=False))
    finally:
        await service.close()
