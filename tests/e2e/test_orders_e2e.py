"""A client order through the real API and a real documentos worker: `processar-pedidos`
checks the attachments by content (an executable named .pdf is quarantined), hands the NF-e
XML to intake (indexed by `processar-upload-xml`), sets the SLA due date on the office's
business days, creates the order's tarefa with that due date and queues one e-mail each to the
client and the responsible; a re-run changes nothing."""

from __future__ import annotations

import time
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.db import session_scope
from app.deployments import ENVIAR_NOTIFICACOES, PROCESSAR_PEDIDOS
from app.fiscal.calendar import BusinessCalendar
from app.fiscal.nfe import parse_bytes
from app.notify.email import IDEMPOTENCY_HEADER
from app.orders.tarefa import order_tarefa
from app.platform.office_settings import office_today
from app.platform.tokens import create_token
from models import AuditLog, Contact, Empresa, FiscalDocument, Notification, Staff, Tarefa, Upload
from models.orders import Order, OrderAttachment
from tests.e2e.conftest import run_and_wait
from tests.e2e.test_upload_e2e import wait_uploads_done
from tests.support.generator import make_nfe

# the session's platform took ~10 min to start on the loaded 2-core machine inside this test
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]
CNPJ = "11222333000181"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


def _state() -> dict[str, Any]:
    with session_scope() as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m))
            for m in (Order, OrderAttachment, Notification, Upload, FiscalDocument, Tarefa)
        } | {"audit": s.scalar(select(func.count()).select_from(AuditLog))}


def _mails(platform: Any, prefix: str) -> list[Any]:
    out = []
    for p in sorted((platform.var_dir / "mail").glob("*.eml")):
        msg = message_from_bytes(p.read_bytes())
        if (msg[IDEMPOTENCY_HEADER] or "").startswith(prefix):
            out.append(msg)
    return out


def test_order_with_pdf_xml_and_disguised_executable(platform, clean_db) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        emp = Empresa(cnpj=CNPJ, razao_social="Padaria Pão Bom", regime="SIMPLES", uf="SP",
                      ibge_code="3550308")  # fmt: skip
        s.add(emp)
        s.flush()
        s.add(Contact(empresa_id=emp.id, name="Maria", email="maria@padaria.example.com.br"))
        s.add(Staff(name="Ana", email="ana@escritorio.example.com.br", department="fiscal"))
        _, token = create_token(s, name="cliente", scope="empresa", empresa_id=emp.id)
        emp_id = emp.id
    nfe = make_nfe(CNPJ, "99888777000136", "2026-05", numero=91)
    base = f"http://127.0.0.1:{platform.api_port}"
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.post(
        f"{base}/api/empresas/{emp_id}/pedidos",
        data={"tipo": "certidao_negativa", "descricao": "CND para licitação"},
        files=[
            ("anexos", ("cnd.pdf", PDF, "application/pdf")),
            ("anexos", ("nota.xml", nfe, "application/xml")),
            ("anexos", ("boleto.pdf", EXE, "application/pdf")),
        ],  # fmt: skip
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    pedido_id = r.json()["id"]

    fr = run_and_wait(PROCESSAR_PEDIDOS, timeout=300)
    assert fr.state.name == "Completed", fr.state
    assert fr.work_pool_name == "documentos"

    got = httpx.get(f"{base}/api/pedidos/{pedido_id}", headers=headers, timeout=30).json()
    anexos = {a["nome"]: a for a in got["anexos"]}
    assert (anexos["cnd.pdf"]["situacao"], anexos["cnd.pdf"]["tipo"]) == ("aceito", "pdf")
    assert anexos["boleto.pdf"]["situacao"] == "quarentena"
    assert anexos["boleto.pdf"]["erro_codigo"] == "executavel_disfarcado"
    upload_id = anexos["nota.xml"]["upload_id"]
    assert upload_id and anexos["nota.xml"]["situacao"] == "aceito"
    # the XML went through document intake (the API's upload dispatcher started the drain run)
    assert wait_uploads_done([upload_id])[upload_id].status == "concluido"
    with session_scope() as s:
        chave = str(parse_bytes(nfe)[1].chave)
        doc = s.scalar(select(FiscalDocument).where(FiscalDocument.chave == chave))
        assert doc is not None and doc.empresa_id == emp_id
        order = s.get(Order, pedido_id)
        assert order is not None
        opened = office_today(order.created_at)
        staff_id = s.scalar(select(Staff.id))
    # the work item: department, SLA due date on business days, responsible — and its tarefa
    due = BusinessCalendar().add_business_days(opened, 3)
    assert got["departamento"] == "fiscal" and got["responsavel_id"] == staff_id
    assert got["vencimento"] == due.isoformat()
    with session_scope() as s:
        tarefa = order_tarefa(s, order_id=pedido_id)
        assert tarefa is not None and tarefa.empresa_id == emp_id
        assert (tarefa.due_date, tarefa.department, tarefa.status) == (due, "fiscal", "aberta")
        assert tarefa.responsible_staff_id == staff_id

    fr = run_and_wait(ENVIAR_NOTIFICACOES, {"batch_size": 100})
    assert fr.state.name == "Completed", fr.state
    deadline, mails = time.monotonic() + 15, []
    while time.monotonic() < deadline and len(mails) < 2:
        mails = _mails(platform, f"pedido:{pedido_id}:")
        time.sleep(0.3)
    assert sorted(m["To"] for m in mails) == [
        "ana@escritorio.example.com.br",
        "maria@padaria.example.com.br",
    ]

    before = _state()
    fr = run_and_wait(PROCESSAR_PEDIDOS, timeout=300)
    assert fr.state.name == "Completed", fr.state
    assert _state() == before  # a re-run changes nothing
