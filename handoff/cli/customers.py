"""``python -m handoff customer export|delete`` and ``python -m handoff retention``: customers' data from the
command line, on the service's own adapters (``REDIS_URL``, ``DATABASE_URL``), without serving.

With ``REDIS_URL`` (production) a deletion also reaches the running instances: live records go, tokens are
refused and sockets close. In the embedded profile the running service keeps its live state in its own
process, out of this command's reach: delete through the admin API there (``POST /api/admin/customers/delete``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from handoff.settings import HandoffSettings


def add_parsers(sub: Any) -> None:
    """The ``customer`` and ``retention`` commands."""
    customer = sub.add_parser("customer", help="export or delete a customer's data").add_subparsers(
        dest="action", required=True)
    for action, text in (("export", "print everything kept about the customer as JSON"),
                         ("delete", "delete the customer's data (what stays, anonymous: docs/security.md)")):
        parser = customer.add_parser(action, help=text)
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--conversation-id")
        which.add_argument("--external-id")
        which.add_argument("--email")
    sub.add_parser("retention", help="delete now what is older than HANDOFF_RETENTION_DAYS")


async def run(settings: HandoffSettings, args: argparse.Namespace) -> None:
    from handoff.service.wiring import open_service  # the service's imports only for the commands that need it

    service = await open_service(settings, serving=False)
    try:
        if args.command == "retention":
            result = await service.data.retention()
        else:
            who = {"conversation_id": args.conversation_id, "external_id": args.external_id, "email": args.email}
            result = await (service.data.export(**who) if args.action == "export" else service.data.delete(**who))
        print(json.dumps(result, indent=2, ensure_ascii=False))
    finally:
        await service.close()
