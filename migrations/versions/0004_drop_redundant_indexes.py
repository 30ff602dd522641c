"""drop indexes that a unique index with the same leading column already covers

``ix_stored_files_empresa_id`` (covered by ``uq_stored_files_empresa_id_sha256``) and
``ix_upload_files_upload_id`` (covered by ``uq_upload_files_upload_id_position``): each cost a
write per uploaded file for no query.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 04:05:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_stored_files_empresa_id"), table_name="stored_files")
    op.drop_index(op.f("ix_upload_files_upload_id"), table_name="upload_files")


def downgrade() -> None:
    op.create_index(op.f("ix_upload_files_upload_id"), "upload_files", ["upload_id"], unique=False)
    op.create_index(
        op.f("ix_stored_files_empresa_id"), "stored_files", ["empresa_id"], unique=False
    )
