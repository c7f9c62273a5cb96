"""commendations.person_name: the name on a decided commendation of an individual, kept there
(and only there) when the person has their data erased, since a decision is an official record

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("commendations") as batch:
        batch.add_column(sa.Column("person_name", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("commendations") as batch:
        batch.drop_column("person_name")
