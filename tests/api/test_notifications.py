"""Notification routes: office-only listing, audited re-queue, the signed WhatsApp webhook."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.settings import get_settings
from models import AuditLog, DeliveryAttempt, Guide, GuideEvent, Notification, Obligation
from tests.api.conftest import auth
from tests.support.api import error_code
from tests.support.whatsapp_fake import status, status_webhook

SECRET = "segredo-do-app-meta"


@pytest.fixture
def whatsapp_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WHATSAPP_APP_SECRET", SECRET)
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "verifica-123")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def add(empresa_id: int, key: str, **fields) -> int:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        n = Notification(
            idempotency_key=key, empresa_id=empresa_id, channel="whatsapp",
            recipient="5511987654321", template="guia_disponivel", **fields,
        )  # fmt: skip
        s.add(n)
        s.flush()
        return n.id


def test_office_lists_by_status_and_empresa_client_is_refused(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    add(seeded["a"], "a1", status="falhou", last_error_code="destinatario_invalido")
    add(seeded["a"], "a2", status="enviada")
    add(seeded["b"], "b1", status="falhou")
    h = auth(seeded["office"])
    r = api_client.get("/api/notificacoes", params={"status": "falhou"}, headers=h)
    assert r.status_code == 200 and r.json()["total"] == 2
    r = api_client.get(
        "/api/notificacoes", params={"status": "falhou", "empresa_id": seeded["a"]}, headers=h
    )
    [item] = r.json()["itens"]
    assert (item["chave_idempotencia"], item["ultimo_erro_codigo"]) == (
        "a1",
        "destinatario_invalido",
    )
    r = api_client.get("/api/notificacoes", headers=auth(seeded["client"]))
    assert r.status_code == 403 and error_code(r) == "somente_escritorio"


def test_requeue_a_failed_one_is_audited(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    failed = add(seeded["a"], "a1", status="falhou", attempts=3)
    sent = add(seeded["a"], "a2", status="enviada")
    h = auth(seeded["office"])
    r = api_client.post(
        f"/api/notificacoes/{failed}/reenfileirar", json={"motivo": "número corrigido"}, headers=h
    )
    assert r.status_code == 200 and (r.json()["status"], r.json()["tentativas"]) == ("pendente", 0)
    r = api_client.post(f"/api/notificacoes/{sent}/reenfileirar", headers=h)
    assert r.status_code == 409 and error_code(r) == "notificacao_nao_reenfileiravel"
    with session_scope() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "notificacao.reenfileirada"))
        assert [(a.entity_id, a.reason) for a in audit] == [(str(failed), "número corrigido")]


def test_webhook_handshake(api_client, whatsapp_env) -> None:  # type: ignore[no-untyped-def]
    params = {"hub.mode": "subscribe", "hub.verify_token": "verifica-123", "hub.challenge": "42"}
    r = api_client.get("/api/whatsapp/webhook", params=params)
    assert r.status_code == 200 and r.text == "42"
    r = api_client.get("/api/whatsapp/webhook", params={**params, "hub.verify_token": "x"})
    assert r.status_code == 403 and error_code(r) == "verificacao_recusada"


def test_bad_signature_is_401_and_records_nothing(api_client, seeded, whatsapp_env) -> None:  # type: ignore[no-untyped-def]
    nid = add(seeded["a"], "k", status="enviada", provider_id="wamid.A")
    r = _post(api_client, [status("wamid.A", "read", "5511987654321")], "sha256=" + "0" * 64)
    assert r.status_code == 401 and error_code(r) == "assinatura_invalida"
    with session_scope() as s:
        assert s.get(Notification, nid).status == "enviada"  # type: ignore[union-attr]


def _post(api_client, statuses, signature=None):  # type: ignore[no-untyped-def]
    """POST a ``statuses`` webhook shaped and signed as Meta sends it."""
    raw, headers = status_webhook(SECRET, statuses, signature=signature)
    return api_client.post("/api/whatsapp/webhook", content=raw, headers=headers)


def test_statuses_are_recorded_in_order_with_the_guide_protocol(
    api_client, seeded, whatsapp_env
) -> None:  # type: ignore[no-untyped-def]
    nid = add(seeded["a"], "guia:1:whatsapp:5511987654321", status="enviada", provider_id="wamid.G")
    with session_scope() as s:
        ob = Obligation(code="DAS", name="DAS", department="fiscal", generates_guide=True)
        s.add(ob)
        s.flush()
        g = Guide(
            empresa_id=seeded["a"], obligation_id=ob.id, competencia="2026-05", kind="DAS",
            due_date=date(2026, 6, 22), status="enviada",
        )  # fmt: skip
        s.add(g)
        s.flush()
        s.add(GuideEvent(guide_id=g.id, kind="enviada", at=g.created_at, notification_id=nid))
        guide_id = g.id
    t = 1_780_000_000
    r = _post(
        api_client,
        [status("wamid.G", "read", "5511987654321", timestamp=t + 20),
         status("wamid.G", "delivered", "5511987654321", timestamp=t + 10)],
    )  # fmt: skip
    assert r.status_code == 200 and r.json() == {"recebidos": 2, "registrados": 2}
    # Meta re-delivers: the same statuses are recorded once.
    _post(api_client, [status("wamid.G", "delivered", "5511987654321", timestamp=t + 10)])
    with session_scope() as s:
        n = s.get(Notification, nid)
        assert n is not None and n.status == "lida"  # a late "delivered" never moves it back
        outcomes = sorted(s.scalars(select(DeliveryAttempt.outcome)))
        assert outcomes == ["status_entregue", "status_lida"]
        kinds = sorted(s.scalars(select(GuideEvent.kind).where(GuideEvent.guide_id == guide_id)))
        assert kinds == ["enviada", "visualizada"]


def test_webhook_reconciles_a_row_left_sending_by_its_idempotency_key(
    api_client, seeded, whatsapp_env
) -> None:  # type: ignore[no-untyped-def]
    key = "alerta:tarefa:9:2:whatsapp:5511987654321"
    nid = add(seeded["a"], key, status="enviando")
    r = _post(api_client, [status("wamid.X", "sent", "5511987654321", callback_data=key)])
    assert r.json()["registrados"] == 1
    with session_scope() as s:
        n = s.get(Notification, nid)
        assert n is not None and (n.status, n.provider_id) == ("enviada", "wamid.X")
