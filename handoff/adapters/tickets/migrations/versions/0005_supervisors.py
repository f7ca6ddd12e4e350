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
    pass


def _feedback_down() -> None:
    pass


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
    pass


def _analytics_down() -> None:
    pass


# ---- reports: the indexes the QA metrics need at scale ----------------------------------------------------


def _reports_up() -> None:
    pass


def _reports_down() -> None:
    pass
