"""Map a parsed fiscal document to the values of ``fiscal_documents`` / ``fiscal_events`` rows.

Pure functions (no I/O): the ingest path builds every row here and writes them in bulk. Rows
are JSON-ready — dates/times as ISO 8601 text with offset, money as decimal text — because they
leave a worker process by pickle (strings pickle ~20x faster than Decimal/datetime) and reach
PostgreSQL as JSON (``app.documents.bulk``), which casts them exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from app.fiscal.nfe import DocumentKind, DocumentStatus, ParsedDocument

__all__ = [
    "DOCUMENT_KINDS",
    "DOC_COLUMNS",
    "DOC_UPDATABLE",
    "FILE_COLUMNS",
    "STATUS_RANK",
    "document_values",
    "event_values",
    "embedded_cancel_values",
    "to_datetime",
    "validation_status",
]

OFFICE_TZ = ZoneInfo("America/Sao_Paulo")
# fiscal_documents columns the bulk upsert writes (document_values builds them).
DOC_COLUMNS = (
    "empresa_id", "stored_file_id", "chave", "kind", "layout_version", "modelo", "serie",
    "numero", "issued_at", "competencia", "direction", "tp_amb", "emitter_doc", "emitter_name",
    "emitter_uf", "recipient_doc", "recipient_name", "total", "totals", "item_count", "cfops",
    "protocol", "cstat", "authorised_at", "status", "validation_status", "validation",
    "warnings", "cancelled_at",
)  # fmt: skip
# Columns a protocolled copy rewrites on an unprotocolled document (empresa_id/chave are the key).
DOC_UPDATABLE = tuple(c for c in DOC_COLUMNS if c not in ("empresa_id", "chave"))
# upload_files columns an ingest batch writes (the file's outcome).
FILE_COLUMNS = ("id", "status", "error_code", "error_message", "warnings", "document_id")
# Kinds indexed as documents (events go to fiscal_events).
DOCUMENT_KINDS: frozenset[DocumentKind] = frozenset(
    {DocumentKind.NFE, DocumentKind.NFCE, DocumentKind.CTE, DocumentKind.NFSE}
)
# Parsed status → stored status. A protocol with a rejection cStat never authorised the document
# (MOC 7.0: only 100/150 authorise), so it is stored as "sem_protocolo" with a warning.
STORED_STATUS: Mapping[DocumentStatus, str] = {
    DocumentStatus.AUTHORISED: "autorizada",
    DocumentStatus.DENIED: "denegada",
    DocumentStatus.CANCELLED: "cancelada",
    DocumentStatus.UNPROTOCOLLED: "sem_protocolo",
    DocumentStatus.REJECTED: "sem_protocolo",
}
# A protocolled copy of a document replaces an unprotocolled one, never the reverse.
STATUS_RANK: Mapping[str, int] = {
    "sem_protocolo": 0,
    "autorizada": 1,
    "denegada": 1,
    "cancelada": 1,
}
# Warnings that leave a document "pendente" (to re-validate later, e.g. when a schema ships);
# any other warning is "aviso"; none is "valido".
PENDING_WARNINGS = frozenset({"xsd_indisponivel"})
TOTAL_FIELDS: Mapping[str, str] = {
    "v_prod": "vProd",
    "v_icms": "vICMS",
    "v_st": "vST",
    "v_ipi": "vIPI",
    "v_pis": "vPIS",
    "v_cofins": "vCOFINS",
    "v_desc": "vDesc",
    "v_frete": "vFrete",
    "v_tprest": "vTPrest",
    "v_rec": "vRec",
    "v_liq": "vLiq",
    "v_iss": "vISSQN",
    "v_serv": "vServ",
}
# The document's grand total per kind: NF-e/NFC-e vNF, CT-e vTPrest, NFS-e vLiq (else vServ).
TOTAL_OF: Mapping[DocumentKind, tuple[str, ...]] = {
    DocumentKind.NFE: ("v_nf",),
    DocumentKind.NFCE: ("v_nf",),
    DocumentKind.CTE: ("v_tprest",),
    DocumentKind.NFSE: ("v_liq", "v_serv"),
}


def to_datetime(value: str | None) -> datetime | None:
    """Tz-aware datetime of a layout date/time; naive or date-only values are São Paulo time."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            dt = datetime.combine(date.fromisoformat(value.strip()[:10]), time())
        except ValueError:
            return None
    return dt if dt.tzinfo else dt.replace(tzinfo=OFFICE_TZ)


def competencia_of(issued_at: datetime | None) -> str | None:
    """Competência of a document: its issue year-month in the office's timezone."""
    if not issued_at:
        return None
    local = issued_at.astimezone(OFFICE_TZ)
    if local.year < 1000:  # strftime's %Y padding of such years depends on the platform
        return local.strftime("%Y-%m")
    return f"{local.year}-{local.month:02d}"  # = strftime("%Y-%m"), which imports time per call


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def _cut(value: Any, size: int) -> str | None:
    return str(value)[:size] if value not in (None, "") else None


def validation_status(doc: ParsedDocument) -> str:
    """valido / aviso / pendente from the document's warnings (see PENDING_WARNINGS)."""
    codes = {w.code for w in doc.warnings}
    if codes & PENDING_WARNINGS:
        return "pendente"
    return "aviso" if codes else "valido"


@lru_cache(maxsize=4)
def _iso_now(now: datetime) -> str:  # one ``now`` per batch: formatted once, not per document
    return now.isoformat()


def validation_record(doc: ParsedDocument, now: datetime) -> dict[str, Any]:
    """What validation found, as stored in ``fiscal_documents.validation``."""
    return {
        "validado_em": _iso_now(now),
        "erros": [e.to_dict() for e in doc.errors],
        "avisos": [w.to_dict() for w in doc.warnings],
    }


def document_values(
    doc: ParsedDocument,
    *,
    empresa_id: int,
    direction: str,
    stored_file_id: int | None,
    now: datetime,
) -> dict[str, Any]:
    """Column values of a fiscal_documents row for an indexed document (JSON-ready)."""
    f = doc.fields
    issued = to_datetime(f.get("dh_emi"))
    status = STORED_STATUS.get(doc.status, "sem_protocolo")
    total: Decimal | None = next((f[k] for k in TOTAL_OF.get(doc.kind, ()) if f.get(k)), None)
    totals = {k: str(v) for k in TOTAL_FIELDS if isinstance(v := f.get(k), Decimal)}
    authorised = doc.status in (DocumentStatus.AUTHORISED, DocumentStatus.CANCELLED)
    return {
        "empresa_id": empresa_id,
        "stored_file_id": stored_file_id,
        "chave": str(doc.chave)[:50],
        "kind": doc.kind.value,
        "layout_version": _cut(doc.version, 10),
        "modelo": _cut(f.get("modelo"), 2),
        "serie": _cut(f.get("serie"), 3),
        "numero": _cut(f.get("numero"), 15),
        "issued_at": _iso(issued),
        "competencia": competencia_of(issued),
        "direction": direction,
        "tp_amb": _cut(f.get("tp_amb"), 1),
        "emitter_doc": _cut(doc.emit_doc, 14),
        "emitter_name": _cut(f.get("emit_nome"), 200),
        "emitter_uf": _cut(f.get("emit_uf"), 2),
        "recipient_doc": _cut(doc.dest_doc, 14),
        "recipient_name": _cut(f.get("dest_nome"), 200),
        "total": _money(total),
        "totals": totals,
        "item_count": int(f.get("n_itens") or 0),
        "cfops": sorted(f.get("cfops") or ()),
        "protocol": _cut(f.get("n_prot"), 20),
        "cstat": _cut(f.get("c_stat"), 4),
        "authorised_at": _iso(to_datetime(f.get("dh_recbto"))) if authorised else None,
        "status": status,
        "validation_status": validation_status(doc),
        "validation": validation_record(doc, now),
        "warnings": [w.to_dict() for w in doc.warnings],
        "cancelled_at": _iso(to_datetime(f.get("cancel_dh"))) if status == "cancelada" else None,
    }


def event_values(
    doc: ParsedDocument, *, empresa_id: int, stored_file_id: int | None
) -> dict[str, Any]:
    """Column values of a fiscal_events row for a registered event (procEventoNFe)."""
    f = doc.fields
    details = {
        k: str(f[k])
        for k in ("desc_evento", "x_correcao", "n_prot_ref", "chave_substituta", "dh_recbto")
        if f.get(k)
    }
    return {
        "empresa_id": empresa_id,
        "chave": str(doc.chave)[:44],
        "tp_evento": str(f.get("tp_evento", ""))[:6],
        "n_seq": int(f.get("n_seq_evento") or 1),
        "cstat": _cut(f.get("c_stat"), 4),
        "event_at": _iso(to_datetime(f.get("dh_evento"))),
        "protocol": _cut(f.get("n_prot"), 20),
        "details": details,
        "stored_file_id": stored_file_id,
    }


def embedded_cancel_values(
    doc: ParsedDocument, *, empresa_id: int, stored_file_id: int | None
) -> dict[str, Any] | None:
    """The cancellation a sped-nfe nfeProc carries inside it, as a fiscal_events row."""
    f = doc.fields
    if not f.get("cancel_tp_evento") or not doc.chave:
        return None
    return {
        "empresa_id": empresa_id,
        "chave": str(doc.chave)[:44],
        "tp_evento": str(f["cancel_tp_evento"])[:6],
        "n_seq": 1,
        "cstat": None,  # the parser checked it was registered (135/136/155)
        "event_at": _iso(to_datetime(f.get("cancel_dh"))),
        "protocol": _cut(f.get("cancel_n_prot"), 20),
        "details": {"origem": "embutido_no_nfeProc"},
        "stored_file_id": stored_file_id,
    }
