"""E-mail as a channel: each mail of a conversation, in and out, by its Message-ID (``mail_messages``).

Inbound rows find the conversation a reply belongs to (its References / In-Reply-To) and make a re-delivered
message a no-op (the Message-ID is unique); outbound rows are the outbox: a reply kept until the relay took it,
retried with back-off (``status``, ``tries``, ``next_try_at``, ``last_error``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "mail_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("mail_id", sa.String(998), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name="fk_mail_messages_conversation_id_conversations"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name="fk_mail_messages_message_id_messages"),
        sa.PrimaryKeyConstraint("id", name="pk_mail_messages"),
        sa.UniqueConstraint("mail_id", name="uq_mail_messages_mail_id"),
    )
    op.create_index("ix_mail_messages_conversation_id", "mail_messages", ["conversation_id"])
    op.create_index("ix_mail_messages_address", "mail_messages", ["address"])
    op.create_index("ix_mail_messages_status_next_try_at", "mail_messages", ["status", "next_try_at"])


def downgrade() -> None:
    op.drop_index("ix_mail_messages_status_next_try_at", table_name="mail_messages")
    op.drop_index("ix_mail_messages_address", table_name="mail_messages")
    op.drop_index("ix_mail_messages_conversation_id", table_name="mail_messages")
    op.drop_table("mail_messages")
