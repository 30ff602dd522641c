"""Monthly document requests against the real database: the whole cycle, reminders once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.document_requests.service import (
    answer_nothing_to_send,
    attach_file,
    generate_requests,
    get_request,
    refresh_requests,
    report_missing,
    seed_templates,
    send_reminders,
)
from app.errors import Conflict, InvalidInput, NotFound
from app.fiscal.calendar import BusinessCalendar
from app.fiscal.competencia import Competencia
from app.storage import get_storage
from models import (
    AuditLog,
    Contact,
    DocumentRequest,
    Empresa,
    FiscalDocument,
    Notification,
    OfficeSetting,
    RequestItem,
    StoredFile,
)

MAY = Competencia(2026, 5)
# Monday 01/06/2026 at 09:00 in São Paulo; business days counted on the SP city calendar.
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SP = BusinessCalendar(ibge="3550308")


def _at_business_day(n: int) -> datetime:
    day = SP.add_business_days(T0.date(), n)
    return datetime.combine(day, T0.timetz())


@pytest.fixture
def emp(db):  # type: ignore[no-untyped-def]
    seed_templates(db)
    e = Empresa(cnpj="11222333000181", razao_social="Padaria", regime="SIMPLES", uf="SP",
                ibge_code="3550308", has_employees=True)  # fmt: skip
    mei = Empresa(cnpj="12ABC34501DE35", razao_social="MEI", regime="MEI", uf="SP",
                  ibge_code="3550308")  # fmt: skip
    db.add_all([e, mei])
    db.flush()
    db.add(Contact(empresa_id=e.id, name="Maria", email="maria@padaria.exemplo"))
    db.flush()
    return {"id": e.id, "mei": mei.id}


def _doc(db, empresa_id: int, direction: str, comp: str, n: int, **kw) -> None:  # type: ignore[no-untyped-def]
    db.add(FiscalDocument(empresa_id=empresa_id, chave=f"{n:044d}", kind="nfe", direction=direction,
                          competencia=comp, status="autorizada", **kw))  # fmt: skip
    db.flush()


def _keys(db) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(db.scalars(select(Notification.idempotency_key)))


def _items(db, request_id: int) -> dict[str, str]:  # type: ignore[no-untyped-def]
    _, items = get_request(db, request_id=request_id)
    return {i.code: i.status for i in items}


def test_templates_seed_once(db) -> None:  # type: ignore[no-untyped-def]
    first = seed_templates(db)
    assert first > 0 and seed_templates(db) == 0


def test_full_cycle_create_partial_remind_complete(db, emp) -> None:  # type: ignore[no-untyped-def]
    out = generate_requests(db, empresa_ids=[emp["id"], emp["mei"]], competencia=MAY, now=T0)
    assert out["criadas"] == 2
    again = generate_requests(db, empresa_ids=[emp["id"], emp["mei"]], competencia=MAY, now=T0)
    assert again == {"criadas": 0, "itens": 0, "notificacoes": 0}
    assert db.scalar(select(func.count()).select_from(DocumentRequest)) == 2
    req = db.scalar(select(DocumentRequest).where(DocumentRequest.empresa_id == emp["id"]))
    assert _items(db, req.id) == {
        "EXTRATOS_BANCARIOS": "pendente", "NOTAS_COMPRA": "pendente",
        "NOTAS_VENDA": "pendente", "ALTERACOES_FOLHA": "pendente",
    }  # fmt: skip
    mei_req = db.scalar(select(DocumentRequest).where(DocumentRequest.empresa_id == emp["mei"]))
    assert set(_items(db, mei_req.id)) == {"EXTRATOS_BANCARIOS", "RECEITAS_MEI"}
    assert f"solicitacao:{req.id}:criada:email:maria@padaria.exemplo" in _keys(db)

    # A purchase invoice of May arrives; a sale of April and a purchase of another empresa don't count.
    _doc(db, emp["id"], "entrada", "2026-05", 1)
    _doc(db, emp["id"], "saida", "2026-04", 2)
    _doc(db, emp["mei"], "saida", "2026-05", 3)
    assert refresh_requests(db, now=T0)["itens_recebidos"] == 1
    db.refresh(req)
    assert req.status == "parcial" and _items(db, req.id)["NOTAS_COMPRA"] == "recebido"

    # Reminders every 3 business days (default), counted on the município's calendar.
    assert send_reminders(db, now=_at_business_day(2)) == 0
    assert send_reminders(db, now=_at_business_day(3)) == 2  # both requests are open
    assert send_reminders(db, now=_at_business_day(3)) == 0  # same day again: nothing
    assert send_reminders(db, now=_at_business_day(5)) == 0
    assert send_reminders(db, now=_at_business_day(6)) == 2
    reminders = [k for k in _keys(db) if k.startswith(f"solicitacao:{req.id}:lembrete")]
    assert reminders == [
        f"solicitacao:{req.id}:lembrete:1:email:maria@padaria.exemplo",
        f"solicitacao:{req.id}:lembrete:2:email:maria@padaria.exemplo",
    ]
    ctx = db.scalar(
        select(Notification.context).where(Notification.idempotency_key == reminders[1])
    )
    assert (
        "Notas fiscais de compra recebidas (XML das NF-e de entrada)" not in ctx["itens_faltantes"]
    )
    assert len(ctx["itens_faltantes"]) == 3

    # The client attaches the rest; the request closes and reminders stop.
    for code in ("EXTRATOS_BANCARIOS", "ALTERACOES_FOLHA"):
        attach_file(db, request_id=req.id, item_code=code, data=f"pdf {code}".encode(),
                    filename=f"{code}.pdf", content_type="application/pdf", actor="cliente")  # fmt: skip
    db.refresh(req)
    assert req.status == "parcial"
    _doc(db, emp["id"], "saida", "2026-05", 4)
    refresh_requests(db, now=_at_business_day(7))
    db.refresh(req)
    assert req.status == "concluida" and req.closed_at is not None
    before = len(_keys(db))
    assert send_reminders(db, now=_at_business_day(9)) == 1  # only the MEI's request is open
    assert len(_keys(db)) == before + 0  # the MEI has no contact: counted, nothing to queue


def test_nothing_to_send_closes_and_missing_documents_reopens(db, emp) -> None:  # type: ignore[no-untyped-def]
    generate_requests(db, empresa_ids=[emp["id"]], competencia=MAY, now=T0)
    req = db.scalar(select(DocumentRequest))
    answer_nothing_to_send(db, request_id=req.id, actor="cliente", note="Sem movimento")
    assert req.status == "nada_a_enviar" and req.closed_at is not None
    with pytest.raises(Conflict):
        answer_nothing_to_send(db, request_id=req.id, actor="cliente")
    assert send_reminders(db, now=_at_business_day(10)) == 0

    _doc(db, emp["id"], "entrada", "2026-05", 1, created_at=T0)  # before the reopening
    reopen_at = _at_business_day(10)
    with pytest.raises(InvalidInput):
        report_missing(db, request_id=req.id, actor="ana", item_codes=["XYZ"])
    report_missing(db, request_id=req.id, actor="ana", note="Faltam as notas de compra",
                   item_codes=["NOTAS_COMPRA"], now=reopen_at)  # fmt: skip
    assert req.status == "aberta" and req.closed_at is None
    refresh_requests(db, now=reopen_at)
    assert _items(db, req.id)["NOTAS_COMPRA"] == "pendente"  # the old document does not count
    _doc(db, emp["id"], "entrada", "2026-05", 2, created_at=reopen_at + timedelta(hours=1))
    refresh_requests(db, now=reopen_at + timedelta(hours=2))
    assert _items(db, req.id)["NOTAS_COMPRA"] == "recebido"
    db.refresh(req)
    assert req.status == "parcial"
    # the reminder cycle restarts from the reopening
    assert send_reminders(db, now=_at_business_day(12)) == 0
    assert send_reminders(db, now=_at_business_day(13)) == 1
    actions = set(db.scalars(select(AuditLog.action)))
    assert {"solicitacao.nada_a_enviar", "solicitacao.faltam_documentos"} <= actions


def test_reminder_cycle_is_configurable_and_capped(db, emp) -> None:  # type: ignore[no-untyped-def]
    db.add(OfficeSetting(key="lembretes_solicitacoes", value={"a_cada_dias_uteis": 1, "maximo": 2}))
    generate_requests(db, empresa_ids=[emp["id"]], competencia=MAY, now=T0)
    sent = [send_reminders(db, now=_at_business_day(n)) for n in range(1, 6)]
    assert sent == [1, 1, 0, 0, 0]
    req = db.scalar(select(DocumentRequest))
    assert req.reminders_sent == 2


def test_attachments_are_stored_once_per_content(db, emp) -> None:  # type: ignore[no-untyped-def]
    generate_requests(db, empresa_ids=[emp["id"]], competencia=MAY, now=T0)
    req = db.scalar(select(DocumentRequest))
    a = attach_file(db, request_id=req.id, item_code="EXTRATOS_BANCARIOS", data=b"%PDF-1 extrato",
                    filename="extrato.pdf", content_type="application/pdf", actor="cliente")  # fmt: skip
    b = attach_file(db, request_id=req.id, item_code="ALTERACOES_FOLHA", data=b"%PDF-1 extrato",
                    filename="copia.pdf", content_type="application/pdf", actor="cliente")  # fmt: skip
    assert a.file_id == b.file_id
    assert db.scalar(select(func.count()).select_from(StoredFile)) == 1
    stored = db.get(StoredFile, a.file_id)
    assert get_storage().get(stored.storage_key) == b"%PDF-1 extrato"
    with pytest.raises(NotFound):
        attach_file(db, request_id=req.id, item_code="NOPE", data=b"x", filename="x",
                    content_type="text/plain", actor="c")  # fmt: skip
    with pytest.raises(InvalidInput):
        attach_file(db, request_id=req.id, item_code="NOTAS_COMPRA", data=b"", filename="x",
                    content_type="text/plain", actor="c")  # fmt: skip
    assert (
        db.scalar(
            select(func.count()).select_from(RequestItem).where(RequestItem.status == "recebido")
        )
        == 2
    )
