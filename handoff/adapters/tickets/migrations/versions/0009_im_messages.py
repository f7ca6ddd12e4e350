"""Instant messaging as a channel: each message of an IM conversation, in and out, on every IM channel
(``im_messages``; XMPP first).

Inbound rows make a re-delivered provider event a no-op (``(channel, event_id)`` is unique) and name the
conversation an address writes in (its latest inbound row); outbound rows are the outbox: a message kept until
the provider took it, retried with back-off (``status``, ``tries``, ``next_try_at``, ``last_error``), with the
text and buttons as the channel rendered them and the provider's id of what it sent.

Revision ID: 0009_im_messages
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009_im_messages"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "im_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("buttons", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_id", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name="fk_im_messages_conversation_id_conversations"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name="fk_im_messages_message_id_messages"),
        sa.PrimaryKeyConstraint("id", name="pk_im_messages"),
        sa.UniqueConstraint("channel", "event_id", name="uq_im_messages_channel_event_id"),
    )
    op.create_index("ix_im_messages_conversation_id", "im_messages", ["conversation_id"])
    op.create_index("ix_im_messages_channel_address", "im_messages", ["channel", "address"])
    op.create_index("ix_im_messages_status_next_try_at", "im_messages", ["status", "next_try_at"])


def downgrade() -> None:
    op.drop_index("ix_im_messages_status_next_try_at", table_name="im_messages")
    op.drop_index("ix_im_messages_channel_address", table_name="im_messages")
    op.drop_index("ix_im_messages_conversation_id", table_name="im_messages")
    op.drop_table("im_messages")
