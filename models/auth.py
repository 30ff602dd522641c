"""API tokens: stored hashed, scoped to the whole office or to one empresa."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TimestampMixin


class ApiToken(TimestampMixin, Base):
    """A bearer token; only its SHA-256 is stored. scope 'office' or 'empresa'."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(
            "(scope = 'office' AND empresa_id IS NULL) OR "
            "(scope = 'empresa' AND empresa_id IS NOT NULL)",
            name="scope_matches_empresa",
        ),
    )

    id: Mapped[BigId]
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    scope: Mapped[str] = mapped_column(String(10))
    empresa_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("staff.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
