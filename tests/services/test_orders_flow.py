"""The tasks of processar-pedidos (committing for real): each order once, XMLs announced."""

from __future__ import annotations

from sqlalchemy import func, select

from app.cache import get_redis
from app.db import session_scope
from app.documents.dispatch import key
from app.orders.service import Attachment, open_order
from flows.orders import _row
from models import Empresa, FiscalDocument, Notification, Upload
from tasks.documents import complete_upload, plan_upload, process_batch
from tasks.orders import pending_orders_task, process_order_task
from tests.support.generator import make_nfe


def test_tasks_process_each_order_once_and_announce_the_xml_upload(clean_db: None) -> None:
    get_redis().delete(key("wake"))
    with session_scope() as s:
        e = Empresa(cnpj="11222333000181", razao_social="Padaria", regime="SIMPLES", uf="SP",
                    ibge_code="3550308")  # fmt: skip
        s.add(e)
        s.flush()
        xml = make_nfe("11222333000181", "11444777000161")
        order = open_order(s, empresa_id=e.id, kind="outros", description="Notas de maio",
                           files=[Attachment("n.xml", "application/xml", xml)],
                           actor="cliente")  # fmt: skip
        oid, e_id = order.id, e.id
    assert pending_orders_task.fn(10) == [oid]
    done = process_order_task.fn(oid)
    assert done["anexos"] == {"xml": 1} and done["upload_id"]
    assert get_redis().lrange(key("wake"), 0, -1) == [str(done["upload_id"]).encode()]
    assert _row(done)["upload_xml"] == done["upload_id"]
    # document intake indexes the XML like any upload (the tasks of processar-upload-xml)
    uid = int(done["upload_id"])
    for batch in plan_upload.fn(uid):
        process_batch.fn(uid, batch)
    assert complete_upload.fn(uid)["status"] == "concluido"
    with session_scope() as s:
        doc = s.scalars(select(FiscalDocument)).one()
        assert doc.empresa_id == e_id
    assert pending_orders_task.fn(10) == []
    assert process_order_task.fn(oid) == {}  # a re-run changes nothing
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Upload)) == 1
        assert s.scalar(select(func.count()).select_from(Notification)) == 0  # no contact, no staff
