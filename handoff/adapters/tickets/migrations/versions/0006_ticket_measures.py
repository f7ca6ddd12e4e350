"""Each ticket keeps its handle time, transfers and whether it was reopened; conversations are indexed by state and
last change.

A year's report tallied these per ticket from the assignments and a self-join of the tickets at every read (on
PostgreSQL at 100,000 tickets, most of a second). The ticket log now writes them as they happen
(``handoff/adapters/tickets/ticketing.py``): ``handle_seconds`` (the ended assignments' time, summed; NULL before
any ended), ``transfers`` (assignments ended ``transferred``) and ``reopened`` (a later ticket of the same
conversation opened within a week of this one's resolution); and ``reason``, the first reason's code, which the
reports group and count tickets by (reading it from the ``reasons`` JSON parsed every ticket's JSON). This
revision adds the columns and fills them for the tickets already written, by the same definitions.

The index on ``conversations(state, updated_at)`` serves the feedback sweep's scan for bot conversations gone
quiet.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

REOPEN_WINDOW = 7 * 86400.0  # seconds: handoff.core.metrics.REOPEN_WINDOW when this revision was written


def _seconds(dialect: str, later: str, earlier: str) -> str:
    """SQL for ``later - earlier`` in seconds (float) on either database."""
    if dialect == "postgresql":
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


def upgrade() -> None:
    # Plain ALTER TABLE on both databases: SQLite (3.35 and newer drops columns too) would otherwise copy the
    # table, which the other tables' foreign keys to it forbid.
    op.add_column("tickets", sa.Column("handle_seconds", sa.Float(), nullable=True))
    op.add_column("tickets", sa.Column("transfers", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("tickets", sa.Column("reopened", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("tickets", sa.Column("reason", sa.String(64), nullable=True))
    dialect = op.get_bind().dialect.name
    first_code = "reasons #>> '{0,code}'" if dialect == "postgresql" else "json_extract(reasons, '$[0].code')"
    op.execute(
        "UPDATE tickets SET "
        f"handle_seconds = (SELECT sum({_seconds(dialect, 'a.ended_at', 'a.assigned_at')}) "
        "FROM ticket_assignments AS a WHERE a.ticket_id = tickets.id), "
        "transfers = (SELECT count(*) FROM ticket_assignments AS a "
        "WHERE a.ticket_id = tickets.id AND a.end_cause = 'transferred'), "
        "reopened = EXISTS (SELECT 1 FROM tickets AS later WHERE later.conversation_id = tickets.conversation_id "
        f"AND later.id > tickets.id AND {_seconds(dialect, 'later.created_at', 'tickets.resolved_at')} "
        f"<= {REOPEN_WINDOW}), "
        f"reason = substr({first_code}, 1, 64)")
    op.create_index("ix_conversations_state_updated_at", "conversations", ["state", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_conversations_state_updated_at", table_name="conversations")
    for column in ("reason", "reopened", "transfers", "handle_seconds"):
        op.drop_column("tickets", column)
