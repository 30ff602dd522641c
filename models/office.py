"""Office-level configuration an operator changes at run time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class OfficeSetting(Base):
    """Office-level configuration an operator changes at run time (generation days …)."""

    __tablename__ = "office_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
