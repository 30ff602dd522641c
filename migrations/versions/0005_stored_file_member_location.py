"""stored files: where a zip member's bytes start in its zip (offset, compressed size, method)

Recorded at reception from the zip's central directory, so whoever reads the member later (the
ingest pool's workers) goes straight to its bytes instead of parsing the whole central
directory again (~0.5 KiB of memory per member in every worker, 40 → 65 MiB per worker from
10,000 to 50,000 members). Rows of earlier uploads keep NULL and are read as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 07:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("stored_files", sa.Column("member_offset", sa.BigInteger(), nullable=True))
    op.add_column("stored_files", sa.Column("member_csize", sa.BigInteger(), nullable=True))
    op.add_column("stored_files", sa.Column("member_method", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("stored_files", "member_method")
    op.drop_column("stored_files", "member_csize")
    op.drop_column("stored_files", "member_offset")
