"""``python -m handoff agent add|list``: agents' accounts, from the command line."""

from __future__ import annotations

import argparse
import getpass
import sys

from handoff.adapters.tickets import TicketLog
from handoff.service.auth import hash_password
from handoff.settings import HandoffSettings


async def add_agent(settings: HandoffSettings, args: argparse.Namespace) -> None:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    log = await TicketLog.open(settings.database_url)
    try:
        account = await log.people.create_agent(
            username=args.username, name=args.name or args.username, password_hash=hash_password(password),
            role=args.role, capacity=args.capacity, tiers=[int(t) for t in args.tiers.split(",")],
            languages=args.languages.split(","), skills=[s for s in args.skills.split(",") if s])
        print(f"agent {account.username} ({account.role}) created with id {account.agent_id}")
    finally:
        await log.close()


async def list_agents(settings: HandoffSettings) -> None:
    log = await TicketLog.open(settings.database_url)
    try:
        for a in await log.people.list_agents():
            print(f"{a.username:<16} {a.name:<20} {a.role:<10} tiers {','.join(map(str, sorted(a.tiers)))}"
                  f"  capacity {a.capacity}  {'active' if a.active else 'inactive'}")
    finally:
        await log.close()
