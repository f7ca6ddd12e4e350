"""The NLU inbox: the customer messages the bot was unsure about, with the model's top intents and the
trainers' decisions (docs/training.md; ``handoff/adapters/tickets/inbox.py``).

One row per message (``message_id`` unique: the bot's turn, a hand-off, a vote and an agent's category add
their reasons to the same row). Indexed for the workbench's page (``status``, ``created_at``), the grouping
without an encoder (``key``) and a conversation's erasure (``conversation_id``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id"), nullable=True),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id"), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("intents", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("hint", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("message_id", name="uq_inbox_items_message_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_inbox_items_conversation_id", "inbox_items", ["conversation_id"])
    op.create_index("ix_inbox_items_key", "inbox_items", ["key"])
    op.create_index("ix_inbox_items_status_created_at", "inbox_items", ["status", "created_at"])


def downgrade() -> None:
    op.drop_table("inbox_items")
