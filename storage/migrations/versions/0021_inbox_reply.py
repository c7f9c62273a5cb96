"""inbox.reply: an update's answer, kept from its unit of work until it was sent, so that a
process killed in between has it sent by the next worker (status "replying")

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("reply", sa.JSON(), nullable=True))


def downgrade() -> None:
    # A row still "replying" loses its answer: it is settled as handled.
    op.execute("UPDATE inbox SET status = 'handled' WHERE status = 'replying'")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("reply")
