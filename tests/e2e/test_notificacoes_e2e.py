"""`enviar-notificacoes` through a real worker on the notificacoes pool, to the SMTP sink."""

from __future__ import annotations

import time
from email import message_from_bytes

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.deployments import ENVIAR_ALERTAS, ENVIAR_NOTIFICACOES
from app.notifications.outbox import Recipient, enqueue
from app.notify.email import IDEMPOTENCY_HEADER
from models import Notification
from tests.e2e.conftest import run_and_wait

pytestmark = pytest.mark.e2e


def test_enviar_notificacoes_delivers_to_the_sink_through_the_worker(platform, clean_db) -> None:  # type: ignore[no-untyped-def]
    key = f"e2e:{time.time_ns()}"
    with session_scope() as s:
        enqueue(
            s,
            key=key,
            recipients=[Recipient("email", "cliente@padaria.example.com.br", "Maria")],
            template="lembrete_solicitacao",
            context={
                "empresa": "Padaria Pão Bom",
                "competencia": "2026-05",
                "itens_faltantes": ["NF-e"],
            },
        )

    fr = run_and_wait(ENVIAR_NOTIFICACOES, {"batch_size": 100})
    assert fr.state.name == "Completed", fr.state
    assert fr.work_pool_name == "notificacoes"

    with session_scope() as s:
        n = s.scalars(select(Notification)).one()
        assert n.status == "enviada" and n.provider_id
    mail_dir = platform.var_dir / "mail"
    deadline = time.monotonic() + 10
    found: list[bytes] = []
    while time.monotonic() < deadline and not found:
        found = [
            raw
            for raw in (p.read_bytes() for p in sorted(mail_dir.glob("*.eml")))
            if key in (message_from_bytes(raw)[IDEMPOTENCY_HEADER] or "")
        ]
        time.sleep(0.2)
    assert len(found) == 1  # arrived, once
    assert message_from_bytes(found[0])["To"] == "cliente@padaria.example.com.br"


def test_enviar_alertas_skips_a_holiday(platform) -> None:  # type: ignore[no-untyped-def]
    fr = run_and_wait(ENVIAR_ALERTAS, {"hoje": "2026-04-21"})  # Tiradentes
    assert fr.state.name == "Completed", fr.state
    assert fr.work_pool_name == "notificacoes"
