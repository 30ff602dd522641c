"""Orders against the real database and storage: open, process (idempotent), work, close."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, InvalidInput, NotFound
from app.fiscal.calendar import BusinessCalendar
from app.notify.render import render
from app.orders.office import OrderFilter, assign_order, change_status, orders_page
from app.orders.processing import pending_orders, process_order
from app.orders.service import (
    MAX_ATTACHMENTS,
    Attachment,
    add_attachments,
    add_message,
    cancel_order,
    open_order,
    order_detail,
)
from app.storage import get_storage
from models import AuditLog, Contact, Empresa, Notification, Staff, Upload, UploadFile
from tests.support.generator import make_nfe

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64
CAL = BusinessCalendar()
# Opened on Friday 2026-06-05 (office time): 3 business days later is Wednesday 2026-06-10.
OPENED = datetime(2026, 6, 5, 15, 0, tzinfo=UTC)


@pytest.fixture
def emp(db):  # type: ignore[no-untyped-def]
    e = Empresa(cnpj="11222333000181", razao_social="Padaria Pão Quente", regime="SIMPLES",
                uf="SP", ibge_code="3550308")  # fmt: skip
    other = Empresa(cnpj="12ABC34501DE35", razao_social="Oficina", regime="MEI", uf="SP",
                    ibge_code="3550308")  # fmt: skip
    db.add_all([e, other])
    db.flush()
    db.add(Contact(empresa_id=e.id, name="Maria", email="maria@padaria.exemplo"))
    fiscal = Staff(name="Ana Fiscal", email="ana@escritorio.exemplo", department="fiscal")
    pessoal = Staff(name="Rui Pessoal", email="rui@escritorio.exemplo", department="pessoal")
    admin = Staff(name="Chefe", email="chefe@escritorio.exemplo", department="contabil",
                  is_admin=True)  # fmt: skip
    db.add_all([fiscal, pessoal, admin])
    db.flush()
    return {"id": e.id, "other": other.id, "fiscal": fiscal.id, "pessoal": pessoal.id}


def _open(db, emp, kind="certidao_negativa", files=()):  # type: ignore[no-untyped-def]
    order = open_order(db, empresa_id=emp["id"], kind=kind, description="Preciso da CND",
                       files=list(files), actor="token:1:cliente")  # fmt: skip
    order.created_at = OPENED
    db.flush()
    return order


def _process(db, order_id):  # type: ignore[no-untyped-def]
    return process_order(db, order_id=order_id, storage=get_storage(), calendar=CAL,
                         max_bytes=1024 * 1024)  # fmt: skip


def test_open_process_quarantine_intake_sla_notify_idempotent(db, emp) -> None:  # type: ignore[no-untyped-def]
    xml = make_nfe("11222333000181", "11444777000161")
    files = [Attachment("cnd.pdf", "application/pdf", PDF),
             Attachment("nota.xml", "application/xml", xml),
             Attachment("foto.pdf", "application/pdf", EXE)]  # fmt: skip
    order = _open(db, emp, files=files)
    assert order.status == "recebido" and order.id in pending_orders(db)
    done = _process(db, order.id)
    assert done["prazo"] == "2026-06-10"
    detail = order_detail(db, order_id=order.id)
    by_name = {a.original_name: a for a in detail.attachments}
    assert (by_name["cnd.pdf"].status, by_name["cnd.pdf"].kind) == ("aceito", "pdf")
    assert by_name["foto.pdf"].status == "quarentena"
    assert by_name["foto.pdf"].error_code == "executavel_disfarcado"
    xml_att = by_name["nota.xml"]
    assert xml_att.kind == "xml" and xml_att.upload_id is not None
    uf = db.scalar(select(UploadFile).where(UploadFile.upload_id == xml_att.upload_id))
    assert uf.stored_file_id == xml_att.stored_file_id and uf.status == "pendente"
    assert detail.order.department == "fiscal" and detail.order.due_date == date(2026, 6, 10)
    assert detail.order.assigned_staff_id == emp["fiscal"]
    sent = sorted(db.execute(select(Notification.recipient, Notification.template)).tuples())
    assert sent == [("ana@escritorio.exemplo", "pedido_novo"),
                    ("maria@padaria.exemplo", "pedido_recebido")]  # fmt: skip
    for n in db.scalars(select(Notification)):  # pt-BR templates render with what is queued
        out = render(n.template, n.context)
        assert f"nº {order.id}" in out.subject and "10/06/2026" in out.text
    # a re-run changes nothing
    assert _process(db, order.id) == {}
    assert order.id not in pending_orders(db)
    assert db.scalar(select(func.count()).select_from(Notification)) == 2
    assert db.scalar(select(func.count()).select_from(Upload)) == 1
    actions = set(db.scalars(select(AuditLog.action).where(AuditLog.entity == "pedido")))
    assert {"pedido_aberto", "pedido_processado"} <= actions


def test_required_attachments_missing_waits_for_client(db, emp) -> None:  # type: ignore[no-untyped-def]
    order = _open(db, emp, kind="admissao")
    _process(db, order.id)
    assert order.status == "aguardando_cliente" and order.department == "pessoal"
    assert order.assigned_staff_id == emp["pessoal"]
    templates = set(db.scalars(select(Notification.template)))
    assert {"pedido_situacao", "pedido_recebido", "pedido_novo"} <= templates
    add_attachments(db, order_id=order.id, actor="cliente",
                    files=[Attachment("rg.pdf", "application/pdf", PDF)])  # fmt: skip
    assert order.id in pending_orders(db)
    _process(db, order.id)
    assert [a.status for a in order_detail(db, order_id=order.id).attachments] == ["aceito"]


def test_status_workflow_reply_results_and_client_notice(db, emp) -> None:  # type: ignore[no-untyped-def]
    order = _open(db, emp)
    _process(db, order.id)
    assign_order(db, order_id=order.id, staff_id=emp["pessoal"], actor="token:2:escritorio")
    change_status(db, order_id=order.id, status="em_andamento", actor="escritorio", reply=None,
                  results=())  # fmt: skip
    with pytest.raises(Conflict) as exc:
        change_status(db, order_id=order.id, status="recebido", actor="escritorio", reply=None,
                      results=())  # fmt: skip
    assert exc.value.code == "transicao_invalida"
    with pytest.raises(InvalidInput):
        change_status(db, order_id=order.id, status="pronto", actor="x", reply=None, results=())
    change_status(db, order_id=order.id, status="concluido", actor="escritorio",
                  reply="Segue a certidão.",
                  results=[Attachment("certidao.pdf", "application/pdf", PDF + b"cnd")])  # fmt: skip
    assert order.status == "concluido" and order.closed_at is not None
    result = [a for a in order_detail(db, order_id=order.id).attachments if a.role == "resultado"]
    assert len(result) == 1
    notice = db.scalar(
        select(Notification).where(
            Notification.idempotency_key.like(f"pedido:{order.id}:situacao:2:%")
        )
    )
    assert notice is not None and notice.attachments == [result[0].stored_file_id]
    assert notice.context["resposta"] == "Segue a certidão."
    for call in (
        lambda: add_message(db, order_id=order.id, text="oi", actor="c", from_office=False),
        lambda: cancel_order(db, order_id=order.id, actor="c", reason=None),
    ):
        with pytest.raises(Conflict):
            call()


def test_filters_messages_cancel_and_bad_input(db, emp) -> None:  # type: ignore[no-untyped-def]
    a = _open(db, emp)
    b = _open(db, emp, kind="ferias")
    for o in (a, b):
        _process(db, o.id)
    add_message(db, order_id=a.id, text="Para licitação", actor="cliente", from_office=False)
    assert [m.text for m in order_detail(db, order_id=a.id).messages] == ["Para licitação"]
    page = lambda **kw: orders_page(db, filters=OrderFilter(**kw), limit=50, offset=0)  # noqa: E731
    assert page(department="pessoal")[0] == 1
    assert page(kind="certidao_negativa")[1][0].id == a.id
    assert page(responsible_id=emp["fiscal"])[0] == 1
    assert page(due_until=date(2026, 6, 10))[0] == 1  # férias: 5 business days → 06-12
    assert page(empresa_id=emp["other"])[0] == 0
    cancel_order(db, order_id=b.id, actor="cliente", reason="Desisti")
    assert page(status="cancelado")[0] == 1
    with pytest.raises(InvalidInput) as exc:
        open_order(db, empresa_id=emp["id"], kind="pizza", description="x", files=[], actor="c")
    assert exc.value.code == "tipo_de_pedido_desconhecido"
    with pytest.raises(NotFound):
        open_order(db, empresa_id=987654321, kind="outros", description="x", files=[], actor="c")
    many = [
        Attachment(f"{i}.pdf", "application/pdf", PDF + bytes([i]))
        for i in range(MAX_ATTACHMENTS + 1)
    ]
    with pytest.raises(InvalidInput) as exc:
        open_order(db, empresa_id=emp["id"], kind="outros", description="x", files=many, actor="c")
    assert exc.value.code == "arquivos_demais"
    with pytest.raises(InvalidInput):
        add_message(db, order_id=a.id, text="   ", actor="c", from_office=False)


def test_order_cancelled_before_processing_is_only_checked(db, emp) -> None:  # type: ignore[no-untyped-def]
    order = _open(db, emp, files=[Attachment("x.pdf", "application/pdf", EXE)])
    cancel_order(db, order_id=order.id, actor="cliente", reason="Engano")
    done = _process(db, order.id)
    assert done["anexos"] == {"executavel_disfarcado": 1} and order.due_date is None
    assert order.id not in pending_orders(db)
    templates = set(db.scalars(select(Notification.template)))
    assert templates == {"pedido_situacao"}  # the cancellation only, no acknowledgement
