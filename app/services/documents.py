"""Ingest uploaded files into fiscal documents and events, in batches (issue 3, items 3–4).

One call of :func:`ingest_batch` handles hundreds of files in the caller's transaction: one read
per file from storage, one hardened parse + validation per document (``app.fiscal.nfe``), then
bulk statements (documents upserted by (empresa, chave), events inserted idempotently, upload
files updated by primary key). Only ``pendente`` files are touched, so re-running an upload
changes nothing. Per-file outcome (``upload_files.status``):

- ``indexado`` — a new document, or a protocolled copy replacing an unprotocolled one;
- ``duplicado`` — the document (same empresa + chave) or event was already there;
- ``evento_aplicado`` / ``evento_pendente`` — an event whose document is / is not indexed yet
  (an event that does not name the empresa is kept with a warning: it can only ever apply to
  the empresa's own document with that chave);
- ``quarentena`` — rejected, with ``error_code`` and ``error_message``; the stored file is kept
  and an operational log line repeats the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.errors import AppError, InvalidDocument, StorageError
from app.fiscal.nfe import DocumentKind, DocumentStatus, match_company, parse_bytes, validate
from app.services.documents_events import apply_pending_events, record_events
from app.services.documents_rows import (
    DOCUMENT_KINDS,
    STATUS_RANK,
    document_values,
    embedded_cancel_values,
    event_values,
)
from app.storage.base import Storage
from models import Empresa, FiscalDocument, OperationalLog, StoredFile, Upload, UploadFile

__all__ = ["ingest_batch", "pending_file_ids", "QUARANTINE_MESSAGES"]

log = logging.getLogger("contab.documents")
LOG_SOURCE = "processar-upload-xml"
# Codes decided here (the parser's own codes come with their messages).
QUARANTINE_MESSAGES: dict[str, str] = {
    "documento_de_outra_empresa": "O documento não tem esta empresa como emitente nem como "
    "destinatária.",
    "evento_nao_registrado": "Evento sem registro na SEFAZ (retEvento com cStat 135/136/155).",
    "evento_nao_suportado": "Tipo de evento não suportado.",
    "arquivo_nao_encontrado": "Arquivo não encontrado no armazenamento.",
    "sem_conteudo": "Conteúdo não armazenado (ver motivo na recepção).",
}
EVENT_UNLINKED = {
    "code": "evento_sem_vinculo_confirmado",
    "message": "Evento não cita esta empresa; será aplicado só se a NF-e dela chegar.",
}
_UPDATABLE = (
    "stored_file_id", "layout_version", "modelo", "serie", "numero", "issued_at", "competencia",
    "tp_amb", "emitter_doc", "emitter_name", "emitter_uf", "recipient_doc", "recipient_name",
    "total", "totals", "item_count", "cfops", "protocol", "cstat", "authorised_at", "status",
    "validation_status", "validation", "warnings", "cancelled_at", "direction", "kind",
)  # fmt: skip


_UF = cast(Table, UploadFile.__table__)
_UPDATE_FILE = (
    update(_UF)
    .where(_UF.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        error_code=bindparam("b_code"),
        error_message=bindparam("b_message"),
        warnings=bindparam("b_warnings", type_=_UF.c.warnings.type),
        document_id=bindparam("b_document"),
        updated_at=func.now(),
    )
)


@dataclass(slots=True)
class _Outcome:
    id: int
    status: str = "quarentena"
    error_code: str | None = None
    error_message: str | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)
    document_id: int | None = None
    chave: str | None = None
    event: tuple[str, str, int] | None = None


def pending_file_ids(session: Session, *, upload_id: int) -> list[int]:
    """Ids of the upload's files still to process, in upload order."""
    q = (
        select(UploadFile.id)
        .where(UploadFile.upload_id == upload_id, UploadFile.status == "pendente")
        .order_by(UploadFile.position)
    )
    return list(session.scalars(q))


def _quarantine(out: _Outcome, code: str, message: str | None = None) -> None:
    out.status, out.error_code = "quarentena", code
    out.error_message = message or QUARANTINE_MESSAGES.get(code, code)


class _Batch:
    """Classifies the files of one batch, then writes everything in bulk."""

    def __init__(self, session: Session, upload: Upload, cnpj: str) -> None:
        self.session, self.upload, self.cnpj = session, upload, cnpj
        self.now = datetime.now(UTC)
        self.docs: dict[str, tuple[dict[str, Any], list[_Outcome]]] = {}
        self.events: list[tuple[dict[str, Any], _Outcome | None]] = []

    def classify(self, out: _Outcome, data: bytes, stored_file_id: int | None) -> None:
        try:
            tree, doc = parse_bytes(data)
        except InvalidDocument as exc:
            _quarantine(out, exc.code, exc.message)
            return
        doc = validate(doc, tree)
        out.warnings = [w.to_dict() for w in doc.warnings]
        out.chave = doc.chave
        if doc.errors:
            first = doc.errors[0]
            detail = f" {first.detail}" if first.detail else ""
            _quarantine(out, first.code, first.message + detail)
            return
        direction = match_company(doc, self.cnpj)
        if doc.kind is DocumentKind.EVENTO_NFE:
            self._event(out, doc, direction, stored_file_id)
        elif doc.kind in DOCUMENT_KINDS:
            if direction is None:
                _quarantine(out, "documento_de_outra_empresa")
                return
            emp = self.upload.empresa_id
            values = document_values(
                doc, empresa_id=emp, direction=direction, stored_file_id=stored_file_id,
                now=self.now,
            )  # fmt: skip
            self._add_doc(values, out)
            if ev := embedded_cancel_values(doc, empresa_id=emp, stored_file_id=stored_file_id):
                self.events.append((ev, None))
        else:
            _quarantine(out, "documento_nao_fiscal", "XML não é um documento fiscal reconhecido.")

    def _event(self, out: _Outcome, doc: Any, direction: str | None, stored_id: int | None) -> None:
        if doc.status is not DocumentStatus.EVENT_REGISTERED:
            _quarantine(out, "evento_nao_registrado")
            return
        values = event_values(doc, empresa_id=self.upload.empresa_id, stored_file_id=stored_id)
        if direction is None and values["chave"][6:20] != self.cnpj:
            # The empresa may be the recipient of an NF-e whose cancellation names no CNPJDest
            # (optional in retEvento): keep it; it can only ever apply to this empresa's own
            # document with that chave, so nothing foreign is ever changed.
            out.warnings.append(EVENT_UNLINKED)
        out.event = (values["chave"], values["tp_evento"], values["n_seq"])
        self.events.append((values, out))

    def _add_doc(self, values: dict[str, Any], out: _Outcome) -> None:
        chave = values["chave"]
        current = self.docs.get(chave)
        if current is None:
            self.docs[chave] = (values, [out])
        elif STATUS_RANK[values["status"]] > STATUS_RANK[current[0]["status"]]:
            self.docs[chave] = (values, [out, *current[1]])
        else:
            current[1].append(out)

    def write_documents(self) -> None:
        if not self.docs:
            return
        # Core table + executemany: SQLAlchemy batches it as INSERT … VALUES (…), (…) with a
        # cached statement (a giant .values([...]) recompiles per call and is ~5x slower).
        table = cast(Table, FiscalDocument.__table__)
        base = insert(table)
        stmt = base.on_conflict_do_update(
            index_elements=["empresa_id", "chave"],
            set_={c: base.excluded[c] for c in _UPDATABLE} | {"updated_at": self.now},
            where=(table.c.status == "sem_protocolo") & (base.excluded.status != "sem_protocolo"),
        ).returning(table.c.chave, table.c.id)
        params = [v for v, _ in self.docs.values()]
        written: dict[str, int] = dict(self.session.execute(stmt, params).tuples().all())
        existing = dict(
            self.session.execute(
                select(FiscalDocument.chave, FiscalDocument.id).where(
                    FiscalDocument.empresa_id == self.upload.empresa_id,
                    FiscalDocument.chave.in_([c for c in self.docs if c not in written]),
                )
            )
            .tuples()
            .all()
        )
        for chave, (_, outs) in self.docs.items():
            doc_id = written.get(chave) or existing.get(chave)
            for i, out in enumerate(outs):
                out.document_id = doc_id
                out.status = "indexado" if i == 0 and chave in written else "duplicado"

    def write_events(self) -> None:
        inserted = record_events(self.session, rows=[v for v, _ in self.events])
        chaves = set(self.docs) | {v["chave"] for v, _ in self.events}
        if chaves:
            apply_pending_events(self.session, empresa_id=self.upload.empresa_id, chaves=chaves)
        event_outs = [o for _, o in self.events if o is not None]
        if not event_outs:
            return
        present = dict(
            self.session.execute(
                select(FiscalDocument.chave, FiscalDocument.id).where(
                    FiscalDocument.empresa_id == self.upload.empresa_id,
                    FiscalDocument.chave.in_({o.chave for o in event_outs}),
                )
            )
            .tuples()
            .all()
        )
        claimed: set[tuple[str, str, int] | None] = set()
        for out in event_outs:
            out.document_id = present.get(out.chave or "")
            if out.event not in inserted or out.event in claimed:
                out.status = "duplicado"
            else:
                out.status = "evento_aplicado" if out.document_id else "evento_pendente"
            claimed.add(out.event)


def _log_quarantine(session: Session, upload: Upload, outcomes: Sequence[_Outcome]) -> None:
    rows = [
        {
            "level": "WARNING",
            "source": LOG_SOURCE,
            "message": f"Arquivo em quarentena ({o.error_code}): {o.error_message}"[:2000],
            "details": {
                "upload_id": upload.id,
                "upload_file_id": o.id,
                "empresa_id": upload.empresa_id,
                "code": o.error_code,
            },
        }
        for o in outcomes
        if o.status == "quarentena"
    ]
    for r in rows:
        log.warning("upload %s: %s", upload.id, r["message"])
    if rows:
        session.execute(insert(OperationalLog).values(rows))


def ingest_batch(
    session: Session, *, storage: Storage, upload_id: int, file_ids: Sequence[int]
) -> dict[str, int]:
    """Process the given pending files of an upload; return counts per resulting status."""
    upload = session.get(Upload, upload_id)
    if upload is None:
        return {}
    cnpj = session.scalar(select(Empresa.cnpj).where(Empresa.id == upload.empresa_id)) or ""
    rows = session.execute(
        select(UploadFile.id, UploadFile.stored_file_id, StoredFile.storage_key)
        .outerjoin(StoredFile, StoredFile.id == UploadFile.stored_file_id)
        .where(
            UploadFile.upload_id == upload_id,
            UploadFile.id.in_(list(file_ids)),
            UploadFile.status == "pendente",
        )
        .order_by(UploadFile.position)
        .with_for_update(of=UploadFile, skip_locked=True)
    ).all()
    batch = _Batch(session, upload, cnpj)
    outcomes: list[_Outcome] = []
    for file_id, stored_id, key in rows:
        out = _Outcome(file_id)
        outcomes.append(out)
        if key is None:
            _quarantine(out, "sem_conteudo")
            continue
        try:
            data = storage.get(key)
        except StorageError as exc:
            if exc.code != "arquivo_nao_encontrado":
                raise  # transient: the task retries the whole batch
            _quarantine(out, exc.code)
            continue
        try:
            batch.classify(out, data, stored_id)
        except AppError as exc:  # any other domain finding on one file: quarantine it
            if exc.retryable:
                raise
            _quarantine(out, exc.code, exc.message)
    batch.write_documents()
    batch.write_events()
    if outcomes:
        session.execute(
            _UPDATE_FILE,
            [
                {
                    "b_id": o.id,
                    "b_status": o.status,
                    "b_code": o.error_code,
                    "b_message": o.error_message,
                    "b_warnings": o.warnings,
                    "b_document": o.document_id,
                }
                for o in outcomes
            ],
        )
    _log_quarantine(session, upload, outcomes)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts
