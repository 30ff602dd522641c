"""stored files: members of an uploaded zip are read from the zip until materialized

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 02:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("stored_files", sa.Column("container_id", sa.BigInteger(), nullable=True))
    op.add_column("stored_files", sa.Column("member_name", sa.Text(), nullable=True))
    op.create_foreign_key(
        op.f("fk_stored_files_container_id_stored_files"),
        "stored_files",
        "stored_files",
        ["container_id"],
        ["id"],
        ondelete="RESTRICT",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_stored_files_container_id_stored_files"), "stored_files", type_="foreignkey"
    )
    op.drop_column("stored_files", "member_name")
    op.drop_column("stored_files", "container_id")
