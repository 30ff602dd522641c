"""CT-e events applied before or after their CT-e, as NF-e events are (MOC CT-e 4.00 eventos).

A cancellation (110111) makes the CT-e ``cancelada`` whatever the arrival order; a CC-e
(110110) or a desacordo (610110) is recorded and linked; a cteProc carrying an appended
cancellation retEventoCTe is indexed cancelled.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import FiscalEvent
from tests.services.test_documents_ingest import (
    chave_of,
    doc_by_chave,
    files_of,
    make_empresa,
    process,
    upload,
)
from tests.support.cte_generator import embed_cte_event, make_cte, make_cte_event

TRANSP, REM, DEST = "11222333000181", "22333444000181", "33444555000181"


def _event(db: Session, chave: str, tp: str) -> FiscalEvent:
    q = select(FiscalEvent).where(FiscalEvent.chave == chave, FiscalEvent.tp_evento == tp)
    return db.scalars(q).one()


def test_cte_cancellation_and_cce_after_their_cte(db: Session) -> None:
    emp = make_empresa(db, TRANSP)
    cte = make_cte(TRANSP, REM, DEST, numero=1)
    chave = chave_of(cte)
    process(db, upload(db, emp, [("cte.xml", cte)]))
    up = upload(
        db,
        emp,
        [("cce.xml", make_cte_event(chave, "110110")), ("canc.xml", make_cte_event(chave))],
    )
    process(db, up)
    assert [f.status for f in files_of(db, up)] == ["evento_aplicado", "evento_aplicado"]
    doc = doc_by_chave(db, emp, chave)
    assert doc.status == "cancelada" and doc.cancelled_at is not None
    assert _event(db, chave, "110110").applied_at is not None


def test_cte_cancellation_and_cce_before_their_cte(db: Session) -> None:
    emp = make_empresa(db, REM)  # the empresa is the sender (tomador) of the transport
    cte = make_cte(TRANSP, REM, DEST, numero=2)
    chave = chave_of(cte)
    early = upload(
        db,
        emp,
        [("cce.xml", make_cte_event(chave, "110110")), ("canc.xml", make_cte_event(chave))],
    )
    process(db, early)
    assert [f.status for f in files_of(db, early)] == ["evento_pendente", "evento_pendente"]
    process(db, upload(db, emp, [("cte.xml", cte)]))
    doc = doc_by_chave(db, emp, chave)
    assert doc.status == "cancelada" and doc.direction == "entrada"
    assert [f.status for f in files_of(db, early)] == ["evento_aplicado", "evento_aplicado"]


def test_cte_proc_with_appended_cancellation_ends_cancelled(db: Session) -> None:
    emp = make_empresa(db, TRANSP)
    cte = make_cte(TRANSP, REM, DEST, numero=3)
    chave = chave_of(cte)
    process(db, upload(db, emp, [("cte.xml", embed_cte_event(cte, make_cte_event(chave)))]))
    doc = doc_by_chave(db, emp, chave)
    assert doc.status == "cancelada"
    assert any(w["code"] == "cancelamento_embutido" for w in doc.warnings)
    assert _event(db, chave, "110111").applied_at is not None
