"""Orders at scale: N orders × 3 attachments (PDF, NF-e XML, disguised executable) opened and
processed as ``processar-pedidos`` does (one transaction per order), without the orchestrator.

    .venv/bin/python bench/orders.py                 # 1,000 orders
    .venv/bin/python bench/orders.py --orders 200

Prints orders/s of opening (storage + rows) and of processing (content check, XML to intake,
SLA, responsible, tarefa, notifications), what processing produced (tarefas, quarantined
files, XML uploads) and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchenv import setup  # noqa: E402

DB = "contab_bench_orders"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup(DB, Path(tmp), REDIS_DB="9")
        from sqlalchemy import func, select

        from app.db import session_scope
        from app.obligations.calendar import office_calendar
        from app.orders.processing import pending_orders, process_order
        from app.orders.service import Attachment, open_order
        from app.storage import get_storage
        from models import Contact, Empresa, Staff, Tarefa, Upload
        from models.orders import OrderAttachment
        from tests.support.generator import make_nfe

        with session_scope() as s:
            emp = Empresa(cnpj="11222333000181", razao_social="Padaria", regime="SIMPLES",
                          uf="SP", ibge_code="3550308")  # fmt: skip
            s.add(emp)
            s.flush()
            s.add(Contact(empresa_id=emp.id, name="Maria", email="maria@padaria.exemplo"))
            s.add(Staff(name="Ana", email="ana@escritorio.exemplo", department="fiscal"))
            emp_id = emp.id
        t0 = time.perf_counter()
        for i in range(args.orders):
            files = [
                Attachment("cnd.pdf", "application/pdf", b"%%PDF-1.4 pedido %d\n%%%%EOF" % i),
                Attachment("nota.xml", "application/xml",
                           make_nfe("11222333000181", "11444777000161", numero=i + 1, items=2)),
                Attachment("foto.pdf", "application/pdf", b"MZ\x90\x00" + i.to_bytes(4, "big")),
            ]  # fmt: skip
            with session_scope() as s:
                open_order(s, empresa_id=emp_id, kind="certidao_negativa",
                           description=f"Pedido {i}", files=files, actor="bench")  # fmt: skip
        opened = time.perf_counter() - t0
        t1 = time.perf_counter()
        storage = get_storage()
        with session_scope() as s:
            ids = pending_orders(s, limit=args.orders)
            cal = office_calendar(s)
        for oid in ids:
            with session_scope() as s:
                process_order(s, order_id=oid, storage=storage, calendar=cal,
                              max_bytes=5 * 1024 * 1024)  # fmt: skip
        processed = time.perf_counter() - t1
        with session_scope() as s:
            made = {
                "tarefas": s.scalar(select(func.count()).select_from(Tarefa)),
                "quarentena": s.scalar(
                    select(func.count())
                    .select_from(OrderAttachment)
                    .where(OrderAttachment.status == "quarentena")
                ),
                "uploads_xml": s.scalar(select(func.count()).select_from(Upload)),
            }
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"orders: {args.orders} × 3 attachments")
        print(f"open:    {opened:.1f} s  ({args.orders / opened:.0f} orders/s)")
        print(f"process: {processed:.1f} s  ({len(ids) / processed:.0f} orders/s)")
        print("produced: " + ", ".join(f"{k} {v}" for k, v in made.items()))
        print(f"peak RSS: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
