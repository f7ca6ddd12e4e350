"""The console's copy of the queue (handoff/web/static/console-queue.js) in a real headless Chromium.

Frames about one conversation can come from several service instances in any order: the console keeps the
newest by the record's version, and orders the queue by rank as the service does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import ROOT
from tests.handoff.e2e.browser import browsers

MODULE = ROOT / "handoff" / "web" / "static" / "console-queue.js"


def entry(conversation_id: str, rank: float, version: int) -> dict[str, Any]:
    return {"conversation_id": conversation_id, "rank": rank, "version": version, "state": "queued"}


SCRIPT = """async ([source, steps]) => {
  const { QueueModel } = await import('data:text/javascript,' + encodeURIComponent(source));
  const queue = new QueueModel();
  const seen = [];
  for (const [kind, arg, version] of steps) {
    if (kind === 'reset') queue.reset(arg);
    if (kind === 'enter') queue.enter(arg);
    if (kind === 'exit') queue.exit(arg, version);
    seen.push(queue.ordered().map((s) => `${s.position}:${s.conversation_id}`).join(' '));
  }
  return seen;
}"""


async def test_console_queue_keeps_the_newest_and_the_service_order(tmp_path: Path) -> None:
    steps = [
        ["reset", [entry("c2", 20.0, 3), entry("c1", 10.0, 2)], None],  # a snapshot, in any order
        ["enter", entry("c3", 5.0, 2), None],  # an urgent newcomer ranks first
        ["exit", "c1", 4],  # assigned
        ["enter", entry("c1", 10.0, 2), None],  # a late entry from another instance: older, ignored
        ["exit", "c2", 2],  # a stale exit: c2 was re-queued since (version 3)
        ["enter", entry("c1", 10.0, 6), None],  # requeued after a timeout: news
        ["exit", "c9", 1],  # never seen: nothing to do
        ["reset", [entry("c3", 5.0, 1), entry("c4", 50.0, 1)], None],  # older than what we know of c3: ours stays
    ]
    async with browsers(tmp_path) as open_browser:
        actor = await open_browser.open("console")
        seen = await actor.page.evaluate(SCRIPT, [MODULE.read_text(), json.loads(json.dumps(steps))])
        actor.check_clean()
    assert seen == ["1:c1 2:c2", "1:c3 2:c1 3:c2", "1:c3 2:c2", "1:c3 2:c2", "1:c3 2:c2", "1:c3 2:c1 3:c2",
                    "1:c3 2:c1 3:c2", "1:c3 2:c4"]
