"""The supervisors' tables: customer feedback and its follow-ups, QA reviews, alerts, automation, analytics,
and the indexes their reports need.

Each part of the supervisors' tools creates its tables in a function of its own below (and declares them in
``models.py`` under the same heading).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401  (used by the parts below)
from alembic import op  # noqa: F401

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    _feedback_up()
    _qa_up()
    _alerts_up()
    _automation_up()
    _analytics_up()
    _reports_up()


def downgrade() -> None:
    _reports_down()
    _analytics_down()
    _automation_down()
    _alerts_down()
    _qa_down()
    _feedback_down()


# ---- feedback: ratings, helpfulness votes, follow-up items ------------------------------------------------


def _feedback_up() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=True),
        sa.Column("agent_id", sa.String(64), sa.ForeignKey("agents.id"), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("path", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("intents", sa.JSON(), nullable=False),
        sa.Column("article_id", sa.String(128), nullable=True),
        sa.Column("article_version", sa.String(64), nullable=True),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    for column in ("conversation_id", "ticket_id", "agent_id", "article_id"):
        op.create_index(f"ix_feedback_{column}", "feedback", [column])
    op.create_index("ix_feedback_kind_created_at", "feedback", ["kind", "created_at"])
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("feedback_id", sa.Integer(), sa.ForeignKey("feedback.id"), nullable=False, unique=True),
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee_id", sa.String(64), sa.ForeignKey("agents.id"), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_follow_ups_conversation_id", "follow_ups", ["conversation_id"])
    op.create_index("ix_follow_ups_status", "follow_ups", ["status"])


def _feedback_down() -> None:
    op.drop_table("follow_ups")
    op.drop_table("feedback")


# ---- QA review: scorecards' reviews -----------------------------------------------------------------------


def _qa_up() -> None:
    pass


def _qa_down() -> None:
    pass


# ---- alerts: their history --------------------------------------------------------------------------------


def _alerts_up() -> None:
    pass


def _alerts_down() -> None:
    pass


# ---- automation: what the rules did -----------------------------------------------------------------------


def _automation_up() -> None:
    pass


def _automation_down() -> None:
    pass


# ---- analytics: sentiment, topics -------------------------------------------------------------------------


def _analytics_up() -> None:
    op.create_table(
        "topic_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("texts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_topic_runs_period_start", "topic_runs", ["period_start"])
    op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("topic_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("handed_off", sa.Integer(), nullable=False),
        sa.Column("low_rated", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("category_share", sa.Float(), nullable=False),
        sa.Column("category_tickets", sa.Integer(), nullable=False),
        sa.Column("centroid", sa.JSON(), nullable=False),
        sa.Column("examples", sa.JSON(), nullable=False),
    )
    op.create_index("ix_topics_run_id", "topics", ["run_id"])


def _analytics_down() -> None:
    op.drop_table("topics")
    op.drop_table("topic_runs")


# ---- reports: the indexes the QA metrics need at scale ----------------------------------------------------


def _reports_up() -> None:
    pass


def _reports_down() -> None:
    pass
