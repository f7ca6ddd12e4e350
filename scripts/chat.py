"""Talk to the running assistant from a terminal: ``make chat``.

Each line you type goes to Rasa's REST channel; replies are printed, with the
citation of knowledge answers and the reasons of a hand-off.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
import uuid


def send(url: str, sender: str, text: str) -> list[dict[str, object]]:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        replies: list[dict[str, object]] = json.load(response)
        return replies


def show(reply: dict[str, object]) -> None:
    if "text" in reply:
        print(f"bot> {reply['text']}")
    custom = reply.get("custom")
    if isinstance(custom, dict) and "handoff" in custom:
        request = custom["handoff"]
        reasons = ", ".join(f"{r['code']} {r['figures']}" for r in request["reasons"])
        print(f"     [hand-off requested, priority {request['priority']}: {reasons}]")
        print(f"     [summary: {request['summary']}]")
    elif isinstance(custom, dict) and "citation" in custom:
        c = custom["citation"]
        print(f"     [article {c['article_id']} v{c['version']}, score {c['score']}]")


def main() -> int:
    url = f"http://localhost:{os.environ.get('RASA_PORT', '5005')}/webhooks/rest/webhook"
    sender = f"terminal-{uuid.uuid4().hex[:8]}"
    print("Type a message (Ctrl-D to quit).")
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            for reply in send(url, sender, line.strip()):
                show(reply)
        except urllib.error.URLError as exc:
            print(f"error: the assistant is not reachable at {url} ({exc.reason}); is `make run` running?")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
