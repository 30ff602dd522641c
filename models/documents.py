"""Stored files, uploads, fiscal documents and their events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TimestampMixin


class StoredFile(TimestampMixin, Base):
    """A file kept in storage exactly as received; deduplicated per empresa by sha256."""

    __tablename__ = "stored_files"
    __table_args__ = (UniqueConstraint("empresa_id", "sha256"),)

    id: Mapped[BigId]
    empresa_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="RESTRICT")
    )
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    original_name: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(400), unique=True)
    purpose: Mapped[str] = mapped_column(String(20), default="upload")  # upload|guide|receipt|…
    uploaded_by: Mapped[str | None] = mapped_column(String(200))
    retention_until: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    # A member of an uploaded .zip is not written as an object of its own at reception: its
    # bytes are read from the stored zip (``container_id``) under ``member_name`` until someone
    # needs the object itself (a download URL), which then writes it under ``storage_key`` and
    # clears ``container_id`` (app/files/content.py).
    container_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("stored_files.id", ondelete="RESTRICT")
    )
    member_name: Mapped[str | None] = mapped_column(Text)
    # Where the member's bytes are in the zip, from its central directory at reception: readers
    # go straight there (NULL for rows of earlier uploads: found by name instead).
    member_offset: Mapped[int | None] = mapped_column(BigInteger)  # local header offset
    member_csize: Mapped[int | None] = mapped_column(BigInteger)  # compressed size
    member_method: Mapped[int | None] = mapped_column(SmallInteger)  # 0 stored, 8 deflated


class Upload(TimestampMixin, Base):
    """One API upload call (one or many files, or a zip)."""

    __tablename__ = "uploads"
    # the dispatcher's and drainer's "anything waiting?" probe reads only unfinished uploads
    __table_args__ = (
        Index(
            "ix_uploads_unfinished",
            "empresa_id",
            postgresql_where=text("status IN ('recebido', 'processando')"),
        ),
    )

    id: Mapped[BigId]
    empresa_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="RESTRICT"), index=True
    )
    uploaded_by: Mapped[str] = mapped_column(String(200))
    # recebido|processando|concluido|concluido_com_erros|falhou
    status: Mapped[str] = mapped_column(String(25), default="recebido")
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    finished_at: Mapped[datetime | None]


class UploadFile(TimestampMixin, Base):
    """One file of an upload, with its per-file outcome (quarantine code and reason)."""

    __tablename__ = "upload_files"
    __table_args__ = (
        UniqueConstraint("upload_id", "position"),
        # the drainer's fair batch claim walks only pending files, in upload order
        Index(
            "ix_upload_files_pending",
            "upload_id",
            "position",
            postgresql_where=text("status = 'pendente'"),
        ),
    )

    id: Mapped[BigId]
    upload_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("uploads.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str] = mapped_column(String(255))
    stored_file_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("stored_files.id", ondelete="RESTRICT")
    )
    # pendente|indexado|duplicado|evento_aplicado|evento_pendente|quarentena
    status: Mapped[str] = mapped_column(String(20), default="pendente")
    document_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("fiscal_documents.id", ondelete="SET NULL")
    )
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_message: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[list[Any]] = mapped_column(default=list)


class FiscalDocument(TimestampMixin, Base):
    """An indexed NF-e / NFC-e / CT-e / NFS-e; unique per (empresa, chave)."""

    __tablename__ = "fiscal_documents"
    __table_args__ = (
        UniqueConstraint("empresa_id", "chave"),
        Index("ix_fiscal_documents_empresa_competencia", "empresa_id", "competencia"),
    )

    id: Mapped[BigId]
    empresa_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="RESTRICT")
    )
    stored_file_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("stored_files.id", ondelete="RESTRICT")
    )
    chave: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))  # nfe|nfce|cte|nfse
    layout_version: Mapped[str | None] = mapped_column(String(10))
    modelo: Mapped[str | None] = mapped_column(String(2))
    serie: Mapped[str | None] = mapped_column(String(3))
    numero: Mapped[str | None] = mapped_column(String(15))
    issued_at: Mapped[datetime | None]
    competencia: Mapped[str | None] = mapped_column(String(7))
    direction: Mapped[str] = mapped_column(String(10))  # saida|entrada
    tp_amb: Mapped[str | None] = mapped_column(String(1))
    emitter_doc: Mapped[str | None] = mapped_column(String(14), index=True)
    emitter_name: Mapped[str | None] = mapped_column(String(200))
    emitter_uf: Mapped[str | None] = mapped_column(String(2))
    recipient_doc: Mapped[str | None] = mapped_column(String(14))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    total: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    totals: Mapped[dict[str, Any]] = mapped_column(default=dict)  # vProd, vICMS, vST, …
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    cfops: Mapped[list[Any]] = mapped_column(default=list)
    protocol: Mapped[str | None] = mapped_column(String(20))
    cstat: Mapped[str | None] = mapped_column(String(4))
    authorised_at: Mapped[datetime | None]
    # autorizada|denegada|cancelada|sem_protocolo
    status: Mapped[str] = mapped_column(String(20))
    # valido|aviso|pendente
    validation_status: Mapped[str] = mapped_column(String(10), default="valido")
    validation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    cancelled_at: Mapped[datetime | None]


class FiscalEvent(TimestampMixin, Base):
    """An event (cancellation, CC-e) kept whether its document arrived before or after it."""

    __tablename__ = "fiscal_events"
    __table_args__ = (UniqueConstraint("empresa_id", "chave", "tp_evento", "n_seq"),)

    id: Mapped[BigId]
    empresa_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="RESTRICT")
    )
    chave: Mapped[str] = mapped_column(String(44), index=True)
    tp_evento: Mapped[str] = mapped_column(String(6))
    n_seq: Mapped[int] = mapped_column(Integer, default=1)
    cstat: Mapped[str | None] = mapped_column(String(4))
    event_at: Mapped[datetime | None]
    protocol: Mapped[str | None] = mapped_column(String(20))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stored_file_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("stored_files.id", ondelete="RESTRICT")
    )
    applied_at: Mapped[datetime | None]
