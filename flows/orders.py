"""``processar-pedidos`` (guide §6.1 "Processar pedidos com anexos"), documentos pool.

Drains the orders with work left (new ones, or ones that got new attachments): each order in its
own task and transaction (:func:`app.orders.processing.process_order`), so one bad order does not
hold the others back and a retry redoes only what is left. Re-running finds nothing to do.
Started by the upload dispatcher when an order is opened or gets attachments
(:func:`app.documents.dispatch.announce_orders`), with a 15-minute safety schedule (an idle run
ends after one query); ``pedido_id`` processes one order.
The XML attachments become an upload that ``processar-upload-xml`` indexes (announced to the
upload dispatcher); each order gets its tarefa (department, SLA due date) once. The per-run
summary is a table artifact (``pedidos-processados``).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from tasks.defaults import flow_defaults
from tasks.orders import pending_orders_task, process_order_task


def _row(done: dict[str, Any]) -> dict[str, Any]:
    return {
        "pedido": done["pedido"],
        "prazo": done.get("prazo", ""),
        "tarefa": done.get("tarefa_id", ""),
        "anexos": ", ".join(f"{k}: {v}" for k, v in sorted(done["anexos"].items())),
        "upload_xml": done.get("upload_id", ""),
        "situacao": done.get("situacao", ""),
        "notificacoes": done.get("notificacoes", 0),
    }


@flow(name="processar-pedidos", log_prints=False, **flow_defaults(900))
def process_orders_flow(pedido_id: int | None = None, limite: int = 500) -> dict[str, Any]:
    """Process the orders with work left (or only ``pedido_id``)."""
    ids = [pedido_id] if pedido_id is not None else pending_orders_task(limite)
    done = [d for d in (process_order_task(i) for i in ids) if d]
    quarantined = sum(d["anexos"].get(k, 0) for d in done for k in d["anexos"] if k not in
                      {"pdf", "imagem", "xml", "zip", "office"})  # fmt: skip
    summary = {"pedidos": len(done), "anexos_em_quarentena": quarantined,
               "uploads_xml": [d["upload_id"] for d in done if d.get("upload_id")]}  # fmt: skip
    if done:
        create_table_artifact(
            key="pedidos-processados",
            table=[_row(d) for d in done],
            description=f"Pedidos processados: {len(done)}, anexos em quarentena: {quarantined}",
        )
    get_run_logger().info("processar-pedidos: %s", summary)
    return summary
