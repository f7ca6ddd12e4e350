"""Load demo agents, customers and canned responses from YAML files (``python -m handoff seed``).

Only what is missing is created, so running it on every start is harmless. Agent passwords never come from
the files: the caller passes one (from ``HANDOFF_DEMO_PASSWORD``, or a random one it prints).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from handoff.adapters.tickets import TicketLog
from handoff.core.errors import BadRequest
from handoff.core.model import CustomerId
from handoff.service.auth import hash_password


def read(path: Path, key: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text()) or {}
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise BadRequest(f"{path}: '{key}' must be a list of mappings.")
    return items


async def seed_demo(database_url: str, folder: Path, password: str) -> tuple[list[str], str]:
    """Create what is missing; return the usernames created and the password they got."""
    log = await TicketLog.open(database_url)
    created: list[str] = []
    now = datetime.now(UTC)
    try:
        for agent in read(folder / "agents.yml", "agents"):
            if await log.people.agent_by_username(agent["username"]) is None:
                await log.people.create_agent(username=agent["username"], name=agent.get("name", agent["username"]),
                                       password_hash=hash_password(password), role=agent.get("role", "agent"),
                                       capacity=int(agent.get("capacity", 3)), tiers=agent.get("tiers", [1]),
                                       languages=agent.get("languages", ["en"]), skills=agent.get("skills", []),
                                       shift=agent.get("shift", []), timezone=agent.get("timezone", "UTC"))
                created.append(agent["username"])
        for customer in read(folder / "customers.yml", "customers"):
            if await log.people.customer_by_external_id(customer["external_id"]) is None:
                await log.people.upsert_customer(CustomerId("cu_" + secrets.token_urlsafe(9)),
                                          external_id=customer["external_id"], name=customer.get("name"),
                                          email=customer.get("email"), language=customer.get("language", "en"),
                                          value_tier=customer.get("value_tier", "standard"),
                                          lifetime_value=float(customer.get("lifetime_value", 0.0)), now=now)
        for canned in read(folder / "canned.yml", "canned"):
            await log.people.upsert_canned(canned["shortcut"], canned["title"], canned["text"])
    finally:
        await log.close()
    return created, password
