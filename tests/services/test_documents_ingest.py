"""Ingest path (services layer, real PostgreSQL + local storage): index, dedupe, quarantine."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.documents.ingest import ingest_batch, pending_file_ids
from app.documents.lifecycle import finish_upload
from app.documents.reception import IncomingFile, UploadLimits, receive_upload
from app.storage import get_storage
from models import Empresa, FiscalDocument, FiscalEvent, OperationalLog, UploadFile
from tests.support.generator import embed_cancellation, make_cancel_event, make_cce_event, make_nfe

CNPJ = "11222333000181"
OTHER = "99888777000136"
LIMITS = UploadLimits(max_file_bytes=5 * 1024 * 1024, max_total_bytes=50 * 1024 * 1024)


def make_empresa(session: Session, cnpj: str = CNPJ) -> int:
    """An empresa with the given CNPJ."""
    emp = Empresa(cnpj=cnpj, razao_social=f"Empresa {cnpj}", regime="SIMPLES", uf="SP",
                  ibge_code="3550308")  # fmt: skip
    session.add(emp)
    session.flush()
    return emp.id


def upload(
    session: Session, empresa_id: int, files: list[tuple[str, bytes]], limits: UploadLimits = LIMITS
) -> int:
    """Receive files as the API does; return the upload id."""
    up = receive_upload(
        session,
        storage=get_storage(),
        empresa_id=empresa_id,
        uploaded_by="teste",
        files=[IncomingFile(n, "application/xml", io.BytesIO(d)) for n, d in files],
        limits=limits,
    )
    return up.id


def process(session: Session, upload_id: int) -> dict[str, Any]:
    """Run the flow's steps in-process (same services the tasks call)."""
    ids = pending_file_ids(session, upload_id=upload_id)
    for i in range(0, len(ids), 3):  # tiny batches: exercise the cross-batch paths
        ingest_batch(session, storage=get_storage(), upload_id=upload_id, file_ids=ids[i : i + 3])
    return finish_upload(session, upload_id=upload_id)


def files_of(session: Session, upload_id: int) -> list[UploadFile]:
    """The upload's files in order."""
    q = select(UploadFile).where(UploadFile.upload_id == upload_id).order_by(UploadFile.position)
    return list(session.scalars(q))


def doc_by_chave(session: Session, empresa_id: int, chave: str) -> FiscalDocument:
    """The indexed document of a chave."""
    q = select(FiscalDocument).where(
        FiscalDocument.empresa_id == empresa_id, FiscalDocument.chave == chave
    )
    return session.scalars(q).one()


def chave_of(xml: bytes) -> str:
    """The chave of a generated nfeProc."""
    from app.fiscal.nfe import parse_bytes

    return str(parse_bytes(xml)[1].chave)


def test_outgoing_and_incoming_documents_are_indexed_with_their_fields(db: Session) -> None:
    emp = make_empresa(db)
    sale = make_nfe(CNPJ, OTHER, "2026-05", numero=10, items=3, value=Decimal("300.00"))
    purchase = make_nfe(OTHER, CNPJ, "2026-04", numero=7, value=Decimal("99.90"))
    up = upload(db, emp, [("venda.xml", sale), ("compra.XML", purchase)])
    result = process(db, up)
    assert result["status"] == "concluido"
    assert [f.status for f in files_of(db, up)] == ["indexado", "indexado"]
    d = doc_by_chave(db, emp, chave_of(sale))
    assert (d.kind, d.direction, d.status, d.competencia) == (
        "nfe",
        "saida",
        "autorizada",
        "2026-05",
    )
    assert (d.emitter_doc, d.recipient_doc, d.numero, d.serie, d.modelo) == (
        CNPJ,
        OTHER,
        "10",
        "1",
        "55",
    )
    assert d.total == Decimal("300.00") and d.item_count == 3 and d.cfops == ["5102"]
    assert Decimal(d.totals["v_prod"]) == Decimal("300.00") and d.protocol and d.cstat == "100"
    assert d.issued_at is not None and d.issued_at.tzinfo is not None
    p = doc_by_chave(db, emp, chave_of(purchase))
    assert (p.direction, p.competencia, p.total) == ("entrada", "2026-04", Decimal("99.90"))


def test_reprocessing_and_reuploading_change_nothing(db: Session) -> None:
    emp = make_empresa(db)
    xml = make_nfe(CNPJ, OTHER, numero=1)
    up = upload(db, emp, [("a.xml", xml)])
    process(db, up)
    before = doc_by_chave(db, emp, chave_of(xml))
    snapshot = (before.id, before.status, before.updated_at)
    assert process(db, up)["por_status"] == {"indexado": 1}  # re-run: nothing pending
    again = upload(db, emp, [("a-copia.xml", xml)])
    assert process(db, again)["por_status"] == {"duplicado": 1}
    after = doc_by_chave(db, emp, chave_of(xml))
    assert (after.id, after.status, after.updated_at) == snapshot
    (f,) = files_of(db, again)
    assert f.document_id == before.id
    n_docs = db.scalars(select(FiscalDocument).where(FiscalDocument.empresa_id == emp)).all()
    assert len(n_docs) == 1


def test_protocolled_copy_replaces_unprotocolled_one(db: Session) -> None:
    emp = make_empresa(db)
    bare = make_nfe(CNPJ, OTHER, numero=5, with_protocol=False)
    proc = make_nfe(CNPJ, OTHER, numero=5)
    process(db, upload(db, emp, [("bare.xml", bare)]))
    assert doc_by_chave(db, emp, chave_of(proc)).status == "sem_protocolo"
    process(db, upload(db, emp, [("proc.xml", proc)]))
    assert doc_by_chave(db, emp, chave_of(proc)).status == "autorizada"


def _assert_cancelled(db: Session, emp: int, chave: str) -> None:
    d = doc_by_chave(db, emp, chave)
    assert d.status == "cancelada" and d.cancelled_at is not None
    ev = db.scalars(select(FiscalEvent).where(FiscalEvent.chave == chave)).one()
    assert ev.tp_evento == "110111" and ev.applied_at is not None


def test_cancellation_after_its_nfe_in_the_same_upload(db: Session) -> None:
    emp = make_empresa(db)
    nfe = make_nfe(CNPJ, OTHER, numero=20)
    up = upload(db, emp, [("nfe.xml", nfe), ("canc.xml", make_cancel_event(chave_of(nfe)))])
    process(db, up)
    _assert_cancelled(db, emp, chave_of(nfe))
    assert [f.status for f in files_of(db, up)] == ["indexado", "evento_aplicado"]


def test_cancellation_before_its_nfe_in_the_same_upload(db: Session) -> None:
    emp = make_empresa(db)
    nfe = make_nfe(CNPJ, OTHER, numero=21)
    files = [("canc.xml", make_cancel_event(chave_of(nfe)))]
    files += [(f"x{i}.xml", make_nfe(CNPJ, OTHER, numero=100 + i)) for i in range(4)]
    files += [("nfe.xml", nfe)]  # lands in a later batch than the cancellation
    up = upload(db, emp, files)
    process(db, up)
    _assert_cancelled(db, emp, chave_of(nfe))
    assert files_of(db, up)[0].status == "evento_aplicado"


def test_cancellation_before_and_after_across_uploads(db: Session) -> None:
    emp = make_empresa(db)
    first = make_nfe(CNPJ, OTHER, numero=30)
    second = make_nfe(OTHER, CNPJ, numero=31)
    # order 1: NF-e, then its cancellation in another upload
    process(db, upload(db, emp, [("n.xml", first)]))
    process(db, upload(db, emp, [("c.xml", make_cancel_event(chave_of(first)))]))
    _assert_cancelled(db, emp, chave_of(first))
    # order 2: the cancellation arrives first (kept pending), then the NF-e
    early = upload(db, emp, [("c2.xml", make_cancel_event(chave_of(second)))])
    process(db, early)
    assert files_of(db, early)[0].status == "evento_pendente"
    process(db, upload(db, emp, [("n2.xml", second)]))
    _assert_cancelled(db, emp, chave_of(second))
    assert files_of(db, early)[0].status == "evento_aplicado"


def test_embedded_cancellation_and_cce_are_recorded(db: Session) -> None:
    emp = make_empresa(db)
    nfe = make_nfe(CNPJ, OTHER, numero=40)
    chave = chave_of(nfe)
    sped = embed_cancellation(nfe, make_cancel_event(chave))
    other = make_nfe(CNPJ, OTHER, numero=41)
    up = upload(db, emp, [("sped.xml", sped), ("nfe.xml", other),
                          ("cce.xml", make_cce_event(chave_of(other)))])  # fmt: skip
    process(db, up)
    _assert_cancelled(db, emp, chave)
    assert any(w["code"] == "cancelamento_embutido" for w in doc_by_chave(db, emp, chave).warnings)
    cce = db.scalars(select(FiscalEvent).where(FiscalEvent.tp_evento == "110110")).one()
    assert cce.applied_at is not None and "x_correcao" in cce.details
    assert doc_by_chave(db, emp, chave_of(other)).status == "autorizada"


def test_nfce_and_quirks_are_indexed_with_warnings(db: Session) -> None:
    emp = make_empresa(db)
    nfce = make_nfe(CNPJ, None, modelo=65, numero=50)
    no_ns = make_nfe(CNPJ, OTHER, numero=51, namespace=False)
    bom = b"\xef\xbb\xbf" + make_nfe(CNPJ, OTHER, numero=52)
    up = upload(db, emp, [("nfce.xml", nfce), ("semns.xml", no_ns), ("bom.xml", bom)])
    process(db, up)
    statuses = [f.status for f in files_of(db, up)]
    assert statuses == ["indexado"] * 3, [(f.error_code, f.error_message) for f in files_of(db, up)]
    assert doc_by_chave(db, emp, chave_of(nfce)).kind == "nfce"
    semns = doc_by_chave(db, emp, chave_of(no_ns))
    assert semns.validation_status == "aviso"
    assert "sem_namespace" in {w["code"] for w in semns.warnings}


def test_quarantine_is_logged_operationally(db: Session) -> None:
    emp = make_empresa(db)
    up = upload(db, emp, [("lixo.xml", b"<a><b></a>")])
    process(db, up)
    (f,) = files_of(db, up)
    assert (f.status, f.error_code) == ("quarentena", "xml_malformado")
    line = db.scalars(
        select(OperationalLog).where(OperationalLog.source == "processar-upload-xml")
    ).one()
    assert line.details["upload_file_id"] == f.id and "xml_malformado" in line.message
