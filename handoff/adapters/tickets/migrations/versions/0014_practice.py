"""Team training: practice scenarios made of resolved conversations (masked), agents' practice sessions and their
replies with scores and reviews (docs/training.md, "Team training"; ``handoff/adapters/tickets/practice.py``).

Indexed for an agent's progress (``agent_id``, ``started_at``), the sessions to review (``status``), the
scenarios of a category and a conversation's erasure (``conversation_id``, unique: one scenario each).

Revision ID: 0014_practice
Revises: 0013_channel_identities
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014_practice"
down_revision: str | None = "0013_channel_identities"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "practice_scenarios",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("source_agent_id", sa.String(64), sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("turns", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("conversation_id", name="uq_practice_scenarios_conversation_id"),
    )
    op.create_index("ix_practice_scenarios_category", "practice_scenarios", ["category"])
    op.create_table(
        "practice_sessions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(64), sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("scenario_id", sa.Integer(), sa.ForeignKey("practice_scenarios.id"), nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Float(), nullable=True),
        sa.Column("review_score", sa.Float(), nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.Column("reviewer_id", sa.String(64), sa.ForeignKey("agents.id"), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_practice_sessions_agent_id_started_at", "practice_sessions", ["agent_id", "started_at"])
    op.create_index("ix_practice_sessions_scenario_id", "practice_sessions", ["scenario_id"])
    op.create_index("ix_practice_sessions_status", "practice_sessions", ["status"])
    op.create_table(
        "practice_replies",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("practice_sessions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("session_id", "turn", name="uq_practice_replies_session_id_turn"),
    )


def downgrade() -> None:
    op.drop_table("practice_replies")
    op.drop_table("practice_sessions")
    op.drop_table("practice_scenarios")
