"""The knowledge workbench: trainers' decisions on knowledge gaps (docs/training.md, "Knowledge";
``handoff/adapters/tickets/knowledge.py``).

One row per customer message a trainer dismissed as a gap or answered with a published article; the gaps
themselves are read from the ticket log.

Revision ID: 0010_knowledge_workbench
Revises: 0009_im_messages
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010_knowledge_workbench"
down_revision: str | None = "0009_im_messages"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "knowledge_gaps",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("article_id", sa.String(128), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("message_id", name="uq_knowledge_gaps_message_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_knowledge_gaps_conversation_id", "knowledge_gaps", ["conversation_id"])


def downgrade() -> None:
    op.drop_table("knowledge_gaps")
