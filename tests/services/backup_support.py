"""Shared pieces of the backup tests: the S3 backup target and three empresas' worth of data."""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from app.backup.target import BackupTarget
from app.db import get_engine, session_scope
from app.storage.local import LocalStorage
from app.storage.s3 import S3Storage
from models import (
    DeliveryAttempt,
    DocumentRequest,
    Empresa,
    FiscalDocument,
    FiscalEvent,
    Guide,
    GuideEvent,
    Notification,
    Obligation,
    Order,
    OrderAttachment,
    RequestItem,
    StoredFile,
    Tarefa,
    Upload,
    UploadFile,
)
from tests.support.s3server import S3Server, start_s3

CNPJS = ("11222333000181", "22333444000190", "33444555000106")


@pytest.fixture(scope="module", name="s3")
def s3_fixture() -> Iterator[S3Server]:
    """A SeaweedFS S3 server for this module (the backup target)."""
    server = start_s3(Path(tempfile.mkdtemp(prefix="contab-bkp-s3-")) / "s3")
    try:
        yield server
    finally:
        server.stop()


def s3_target(server: S3Server, *, encryption_key: str = "") -> BackupTarget:
    """A fresh bucket on the S3 server as the backup target."""
    storage = S3Storage(
        bucket="bkp-" + secrets.token_hex(6),
        access_key=server.access_key,
        secret_key=server.secret_key,
        region=server.region,
        endpoint=server.endpoint,
    )
    storage.ensure_bucket()
    return BackupTarget(storage, encryption_key=encryption_key)


def data_storage(tmp: Path) -> LocalStorage:
    """The data's storage (local disk, separate from the target)."""
    return LocalStorage(tmp / "dados", secret="k", base_url="http://x")


def _file(s, storage: LocalStorage, e: Empresa, name: str, body: bytes, purpose: str) -> StoredFile:  # type: ignore[no-untyped-def]
    sha = hashlib.sha256(body).hexdigest()
    key = f"{purpose}/{e.cnpj}/{sha}"
    storage.put(key, body)
    row = StoredFile(
        empresa_id=e.id, sha256=sha, size=len(body), content_type="application/xml",
        original_name=name, storage_key=key, purpose=purpose,
    )  # fmt: skip
    s.add(row)
    s.flush()
    return row


def seed(storage: LocalStorage) -> dict[str, int]:
    """Three empresas, each with documents, a guide (PDF), a tarefa, a request, notifications
    and an order; returns {cnpj: empresa id}."""
    out: dict[str, int] = {}
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    with session_scope() as s:
        ob = Obligation(code="DAS-BKP", name="DAS", department="fiscal", generates_guide=True)
        s.add(ob)
        s.flush()
        for n, cnpj in enumerate(CNPJS):
            e = Empresa(
                cnpj=cnpj,
                razao_social=f"Empresa {n}",
                regime="SIMPLES",
                uf="SP",
                ibge_code="3550308",
            )
            s.add(e)
            s.flush()
            out[cnpj] = e.id
            up = Upload(empresa_id=e.id, uploaded_by="cliente", status="concluido", file_count=2)
            s.add(up)
            s.flush()
            for i in range(2):
                chave = f"{35 + n:02d}{i:042d}"
                f = _file(
                    s, storage, e, f"nf{i}.xml", f"<nfe n='{n}' i='{i}'/>".encode() * 20, "upload"
                )
                doc = FiscalDocument(
                    empresa_id=e.id, stored_file_id=f.id, chave=chave, kind="nfe", direction="saida",
                    status="autorizada", total=Decimal("100.50") + i, competencia="2026-10", issued_at=now,
                )  # fmt: skip
                s.add(doc)
                s.flush()
                s.add(UploadFile(upload_id=up.id, position=i, original_name=f"nf{i}.xml",
                                 stored_file_id=f.id, status="processado", document_id=doc.id))  # fmt: skip
            ev = _file(s, storage, e, "canc.xml", f"<evento n='{n}'/>".encode(), "upload")
            s.add(FiscalEvent(empresa_id=e.id, chave=f"{35 + n:02d}{0:042d}", tp_evento="110111",
                              stored_file_id=ev.id, event_at=now))  # fmt: skip
            t = Tarefa(empresa_id=e.id, obligation_id=ob.id, competencia="2026-10", due_date=date(2026, 11, 20),
                       target_date=date(2026, 11, 18), department="fiscal")  # fmt: skip
            s.add(t)
            s.flush()
            pdf = _file(s, storage, e, "das.pdf", b"%PDF-1.4 guia " + cnpj.encode() * 50, "guide")
            g = Guide(empresa_id=e.id, obligation_id=ob.id, tarefa_id=t.id, competencia="2026-10", kind="DAS",
                      amount=Decimal("1234.56"), due_date=date(2026, 11, 20), status="enviada", pdf_file_id=pdf.id)  # fmt: skip
            s.add(g)
            s.flush()
            note = Notification(idempotency_key=f"guia:{g.id}", empresa_id=e.id, channel="email",
                                recipient=f"c{n}@exemplo.com.br", template="guia_disponivel", status="enviada")  # fmt: skip
            s.add(note)
            s.flush()
            s.add(DeliveryAttempt(notification_id=note.id, channel="email", outcome="enviada"))
            s.add(
                GuideEvent(
                    guide_id=g.id, kind="enviada", at=now, channel="email", notification_id=note.id
                )
            )
            req = DocumentRequest(empresa_id=e.id, competencia="2026-10")
            s.add(req)
            s.flush()
            s.add(RequestItem(request_id=req.id, code="extrato", description="Extrato bancário"))
            o = Order(empresa_id=e.id, kind="certidao", description="CND", created_by="cliente")
            s.add(o)
            s.flush()
            att = _file(s, storage, e, "pedido.pdf", f"pedido {n}".encode(), "pedido")
            s.add(OrderAttachment(order_id=o.id, stored_file_id=att.id))
    return out


def table_rows(table: str, where: str = "TRUE") -> list[tuple[object, ...]]:
    """Every row of a table (ordered by id) as tuples: "rows equal to before"."""
    with get_engine().connect() as conn:
        return [
            tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} WHERE {where} ORDER BY id"))
        ]  # noqa: S608
