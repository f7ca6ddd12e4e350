"""Customer identity across channels: channel identities linked to a customer (``channel_identities``).

A row says that ``(channel, address)`` (an e-mail address, an IM account) is the customer's, how that was proved
(``verified_by``: ``shop_signed``, ``email_verified``, ``im_linked``) and when. Unverified identities have no row
(they stay their own pseudo-customer). docs/channels.md, "Who a customer is".

Revision ID: 0013_channel_identities
Revises: 0010_knowledge_workbench
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013_channel_identities"
down_revision: str | None = "0010_knowledge_workbench"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "channel_identities",
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("verified_by", sa.String(16), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_channel_identities_customer_id_customers"),
        sa.PrimaryKeyConstraint("channel", "address", name="pk_channel_identities"),
    )
    op.create_index("ix_channel_identities_customer_id", "channel_identities", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_channel_identities_customer_id", table_name="channel_identities")
    op.drop_table("channel_identities")
