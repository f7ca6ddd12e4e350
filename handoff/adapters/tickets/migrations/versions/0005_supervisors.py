"""The supervisors' tables: customer feedback and its follow-ups, QA reviews, alerts, automation, analytics,
and the indexes their reports need.

Each part of the supervisors' tools creates its tables in a function of its own below (and declares them in
``models.py`` under the same heading).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

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
    _board_up()


def downgrade() -> None:
    _board_down()
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
    op.create_table(
        "qa_reviews",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("agent_id", sa.String(64), sa.ForeignKey("agents.id"), nullable=True),
        sa.Column("reviewer_id", sa.String(64), sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("scorecard_version", sa.String(64), nullable=False),
        sa.Column("scorecard", sa.JSON(), nullable=False),
        sa.Column("total", sa.Float(), nullable=True),
        sa.Column("critical_failed", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("ticket_id", "reviewer_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_qa_reviews_ticket_id", "qa_reviews", ["ticket_id"])
    op.create_index("ix_qa_reviews_agent_id", "qa_reviews", ["agent_id"])
    op.create_table(
        "qa_scores",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("qa_reviews.id", ondelete="CASCADE"), nullable=False),
        sa.Column("criterion", sa.String(64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.UniqueConstraint("review_id", "criterion"),
    )
    op.create_table(
        "follow_up_notes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("follow_up_id", sa.Integer(), sa.ForeignKey("follow_ups.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author_id", sa.String(64), sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_follow_up_notes_follow_up_id", "follow_up_notes", ["follow_up_id"])


def _qa_down() -> None:
    op.drop_table("follow_up_notes")
    op.drop_table("qa_scores")
    op.drop_table("qa_reviews")


# ---- alerts: their history --------------------------------------------------------------------------------


def _alerts_up() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("comparison", sa.String(8), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("last_value", sa.Float(), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alerts_rule", "alerts", ["rule"])
    op.create_index("ix_alerts_fired_at", "alerts", ["fired_at"])
    op.create_index("ix_alerts_resolved_at", "alerts", ["resolved_at"])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alert_events_alert_id", "alert_events", ["alert_id"])
    op.create_index("ix_alert_events_created_at", "alert_events", ["created_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("alert_events.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_alert_deliveries_event_id", "alert_deliveries", ["event_id"])


def _alerts_down() -> None:
    op.drop_table("alert_deliveries")
    op.drop_table("alert_events")
    op.drop_table("alerts")


# ---- automation: what the rules did -----------------------------------------------------------------------


def _automation_up() -> None:
    op.create_table(
        "automation_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("ticket_id", "rule", name="uq_automation_events_ticket_id_rule"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_automation_events_rule_created_at", "automation_events", ["rule", "created_at"])
    op.create_index("ix_automation_events_created_at", "automation_events", ["created_at"])


def _automation_down() -> None:
    op.drop_table("automation_events")


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
    # The period's conversations, for the containment and hand-off rates (tickets, feedback and assignments are
    # indexed by created_at / kind + created_at / ticket_id already).
    op.create_index("ix_conversations_created_at", "conversations", ["created_at"])


def _reports_down() -> None:
    op.drop_index("ix_conversations_created_at", table_name="conversations")


# ---- board: a supervisor's whisper is an internal note flagged as one -------------------------------------


def _board_up() -> None:
    with op.batch_alter_table("notes") as batch:
        batch.add_column(sa.Column("whisper", sa.Boolean(), nullable=False, server_default=sa.false()))


def _board_down() -> None:
    with op.batch_alter_table("notes") as batch:
        batch.drop_column("whisper")
