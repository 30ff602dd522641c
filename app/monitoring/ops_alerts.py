"""Operational alerts to the office's operations contacts, through the notification outbox.

Prefect automations (deployments/automations.yaml) start the ``alertas-operacionais`` flow on a
Failed or Crashed run, a run late beyond the limit, or a pool left without a live worker; the
flow describes the event and calls :func:`enqueue_ops_alert`. The outbox key is the event's own
identity (the run and its final state, the pool and the event id), so an automation that fires
twice, or a flow retried, never queues a second message. Recipients: ``OPS_ALERT_EMAILS``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.notifications.outbox import Recipient, enqueue
from app.settings import get_settings

__all__ = ["KINDS", "enqueue_ops_alert", "ops_recipients"]

TEMPLATE = "alerta_operacional"
# kind → (title, what to do); the title is completed with the subject (run, pool)
KINDS: dict[str, tuple[str, str]] = {
    "falha": (
        "Execução terminou com falha",
        "veja o log da execução no Prefect; corrija a causa e reexecute (os fluxos são "
        "idempotentes). Uma execução Crashed é retomada automaticamente até 3 vezes.",
    ),
    "atraso": (
        "Execução atrasada",
        "confira se o pool tem workers vivos (contab late-runs, /api/health) e se não está "
        "pausado (contab workers resume).",
    ),
    "pool-sem-worker": (
        "Pool sem worker ativo",
        "reinicie os workers do pool (docker compose / Kubernetes) e confira /api/health.",
    ),
}


def ops_recipients() -> list[Recipient]:
    """The operations contacts (OPS_ALERT_EMAILS, comma separated)."""
    raw = get_settings().OPS_ALERT_EMAILS
    return [Recipient("email", e.strip(), "Operações") for e in raw.split(",") if e.strip()]


def enqueue_ops_alert(
    session: Session, *, kind: str, key: str, subject: str, details: dict[str, Any]
) -> int:
    """Queue the alert once per ``key`` (per recipient); returns how many rows were inserted."""
    if kind not in KINDS:
        raise ValueError(f"tipo de alerta operacional desconhecido: {kind}")
    title, action = KINDS[kind]
    return enqueue(
        session,
        key=f"ops:{kind}:{key}",
        recipients=ops_recipients(),
        template=TEMPLATE,
        context={
            "nome": "Operações",
            "titulo": f"{title}: {subject}",
            "acao": action,
            "detalhes": details,
        },
    )
