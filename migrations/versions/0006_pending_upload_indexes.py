"""uploads: partial indexes for the upload dispatcher and drainer

``ix_uploads_unfinished`` (uploads still ``recebido``/``processando``) answers the dispatcher's
"is anything waiting?" probe, run every second or so, without reading finished uploads;
``ix_upload_files_pending`` (pending files in upload order) serves the drainer's fair batch
claim across empresas. Both stay small: rows leave them as soon as they are processed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_uploads_unfinished",
        "uploads",
        ["empresa_id"],
        unique=False,
        postgresql_where=sa.text("status IN ('recebido', 'processando')"),
    )
    op.create_index(
        "ix_upload_files_pending",
        "upload_files",
        ["upload_id", "position"],
        unique=False,
        postgresql_where=sa.text("status = 'pendente'"),
    )


def downgrade() -> None:
    op.drop_index("ix_upload_files_pending", table_name="upload_files")
    op.drop_index("ix_uploads_unfinished", table_name="uploads")
