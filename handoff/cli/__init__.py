"""The command line, ``python -m handoff``: run the service, or manage agents, customers and canned responses.

::

    python -m handoff serve                      # the service (HANDOFF_HOST:HANDOFF_PORT)
    python -m handoff migrate                    # bring the ticket database to the latest schema
    python -m handoff agent add USERNAME --name "Ada" --role supervisor --tiers 1,2 --password-stdin
    python -m handoff agent list
    python -m handoff seed data/demo             # load demo agents, customers and canned responses
    python -m handoff demo-history --once        # a month of simulated history, into an empty ticket log
    python -m handoff demo-history --clear       # delete exactly the demo history
    python -m handoff customer export --email jo@example.com   # or --conversation-id, --external-id
    python -m handoff customer delete --external-id 4711
    python -m handoff retention                  # delete what is older than HANDOFF_RETENTION_DAYS now
    python -m handoff report --since 2026-11-01 --until 2026-12-01 --by agent --bucket week   # QA metrics
    python -m handoff topics --week 2026-W49     # what sent customers to a person that week (docs/insights.md)
    python -m handoff capacity forecast --history contacts.csv --days 7 --out forecast.csv   # docs/capacity.md
    python -m handoff inbox export               # the NLU inbox's confirmed examples to HANDOFF_INBOX_FILE

Settings come from the environment (README, "Configuration"); a bad value stops with a sentence naming it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
from pathlib import Path

from handoff.cli import capacity, customers, inbox, reports, topics
from handoff.core.errors import HandoffError
from handoff.core.model import Role
from handoff.settings import HandoffSettings
from handoff.web.server import RedactSecrets


def serve(settings: HandoffSettings) -> None:
    """Serve until SIGTERM or SIGINT; then stop accepting, close every socket with 1012 (service restart: the
    widget and the console reconnect and catch up by message id), let the handlers in flight finish for up to
    :data:`handoff.web.server.SHUTDOWN_GRACE` seconds, and close the service (the message writer commits what
    it was handed)."""
    import uvicorn

    from handoff.adapters.tickets.migrate import migrate
    from handoff.web.app import create_app
    from handoff.web.server import server_config

    asyncio.run(migrate(settings.database_url))
    # Limits, timeouts, graceful shutdown and logs without tokens: handoff/web/server.py.
    uvicorn.Server(server_config(create_app(settings), settings)).run()


async def seed(settings: HandoffSettings, folder: Path, password: str | None) -> None:
    from handoff.cli.seed import seed_demo

    created, password_used = await seed_demo(settings.database_url, folder, password or secrets.token_urlsafe(9))
    if created:
        print(f"demo agents created: {', '.join(created)}; password: "
              f"{'(from HANDOFF_DEMO_PASSWORD)' if password else password_used}")


async def demo_history(settings: HandoffSettings, args: argparse.Namespace) -> None:
    from handoff.cli.demo_month import clear_demo, demo_history

    if args.clear:
        deleted = await clear_demo(settings)
        print("demo history deleted: " + (", ".join(f"{n} {table}" for table, n in deleted.items()) or "none found"))
        return
    outcome = await demo_history(settings, days=args.days, conversations=args.conversations, seed=args.seed,
                                 once=args.once, progress=lambda line: print(line, flush=True))
    if outcome is None:
        print("demo history: the ticket log has conversations already; nothing added")
        return
    print(f"demo history written: {outcome.line()}")


def configure_logging(level: str) -> None:
    """The command line's log lines (also in the demo history's worker processes, which start afresh)."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets())  # no customer token in any log line (handoff/web/server.py)
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handoff", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service")
    sub.add_parser("migrate", help="upgrade the ticket database")
    agent = sub.add_parser("agent", help="manage agents").add_subparsers(dest="action", required=True)
    add = agent.add_parser("add", help="create an agent account")
    add.add_argument("username")
    add.add_argument("--name")
    add.add_argument("--role", choices=[role.value for role in Role], default="agent")
    add.add_argument("--capacity", type=int, default=3)
    add.add_argument("--tiers", default="1")
    add.add_argument("--languages", default="en")
    add.add_argument("--skills", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    agent.add_parser("list", help="list agent accounts")
    seed_parser = sub.add_parser("seed", help="load demo agents, customers and canned responses (once)")
    seed_parser.add_argument("folder", type=Path, nargs="?", default=Path("data/demo"))
    demo = sub.add_parser("demo-history", help="simulate a month of history through the service (docs/demo-history.md)")
    demo.add_argument("--days", type=int, default=30)
    demo.add_argument("--conversations", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=None, help="the same seed plays the same month")
    demo.add_argument("--once", action="store_true", help="only into a ticket log without any conversation")
    demo.add_argument("--clear", action="store_true", help="delete the demo history instead")
    customers.add_parsers(sub)
    reports.add_parsers(sub)
    topics.add_parsers(sub)
    capacity.add_parsers(sub)
    inbox.add_parsers(sub)
    args = parser.parse_args(argv)
    try:
        settings = HandoffSettings.from_env()
        configure_logging(settings.log_level)
        if args.command in (None, "serve"):
            serve(settings)
        elif args.command == "migrate":
            from handoff.adapters.tickets.migrate import migrate

            asyncio.run(migrate(settings.database_url))
        elif args.command == "agent" and args.action == "add":
            from handoff.cli.agents import add_agent

            asyncio.run(add_agent(settings, args))
        elif args.command == "agent":
            from handoff.cli.agents import list_agents

            asyncio.run(list_agents(settings))
        elif args.command in ("customer", "retention"):
            asyncio.run(customers.run(settings, args))
        elif args.command == "demo-history":
            asyncio.run(demo_history(settings, args))
        elif args.command == "report":
            asyncio.run(reports.run(settings, args))
        elif args.command == "topics":
            asyncio.run(topics.run(settings, args))
        elif args.command == "capacity":
            return asyncio.run(capacity.run(settings, args))
        elif args.command == "inbox":
            asyncio.run(inbox.run(settings, args))
        elif args.command == "seed":
            import os

            asyncio.run(seed(settings, args.folder, os.environ.get("HANDOFF_DEMO_PASSWORD")))
    except HandoffError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


