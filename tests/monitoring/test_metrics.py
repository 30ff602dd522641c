"""GET /metrics: refused without the token, every family exposed with its labels."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-" + "x" * 24


def _reset() -> None:
    from app.health import reset_health_cache
    from app.monitoring.exporter import sources
    from app.settings import get_settings

    get_settings.cache_clear()
    reset_health_cache()
    for src in sources().values():
        src.reset()


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, clean_db: None) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from app.api.main import create_app

    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    monkeypatch.setenv("METRICS_CACHE_SECONDS", "0")
    monkeypatch.setenv("HEALTH_CACHE_SECONDS", "0")
    _reset()
    with TestClient(create_app()) as c:
        yield c
    monkeypatch.undo()
    _reset()


def _scrape(client: object) -> dict[str, object]:
    resp = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})  # type: ignore[attr-defined]
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(resp.text)}


def test_refuses_without_the_token(client: object) -> None:
    for headers in ({}, {"Authorization": "Bearer errado"}, {"Authorization": TOKEN}):
        resp = client.get("/metrics", headers=headers)  # type: ignore[attr-defined]
        assert resp.status_code == 401
        assert resp.json()["erro"]["codigo"] == "token_invalido"
        assert "contab_" not in resp.text
    # an API token is not a metrics token, and the API token router does not guard /metrics
    assert client.post("/metrics").status_code == 405  # type: ignore[attr-defined]


def test_allowed_network_needs_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.monitoring.exporter import allowed

    monkeypatch.setenv("METRICS_ALLOW_NETWORKS", "10.0.0.0/8, 127.0.0.1")
    _reset()
    try:
        assert allowed({}, "10.1.2.3")
        assert allowed({}, "127.0.0.1")
        assert not allowed({}, "192.168.0.1")
        assert not allowed({}, "testclient")
    finally:
        monkeypatch.undo()
        _reset()


def _seed() -> None:
    """One of each thing a metric counts: a failed guide, a late request with a missing item,
    a pending and a failed message, a good backup."""
    from datetime import date

    from app.db import session_scope
    from models import (
        BackupRun,
        DeliveryAttempt,
        DocumentRequest,
        Empresa,
        Guide,
        Notification,
        Obligation,
        RequestItem,
    )

    now = datetime.now(UTC)
    with session_scope() as s:
        emp = Empresa(
            cnpj="11222333000181",
            razao_social="Empresa Métrica",
            regime="SIMPLES",
            uf="SP",
            ibge_code="3550308",
        )
        ob = Obligation(code="DAS-MET", name="DAS", department="fiscal", generates_guide=True)
        s.add_all([emp, ob])
        s.flush()
        req = DocumentRequest(empresa_id=emp.id, competencia="2020-01", status="aberta")
        s.add(req)
        s.flush()
        s.add(RequestItem(request_id=req.id, code="extrato", description="Extrato bancário"))
        s.add(
            Guide(
                empresa_id=emp.id,
                obligation_id=ob.id,
                competencia="2020-01",
                kind="DAS",
                due_date=date(2020, 2, 20),
                status="aguardando_documento",
                calculation={"erro": {"code": "receita_ausente"}},
                failure_reason="falhou",
            )
        )
        pending = Notification(
            idempotency_key="m:1", channel="email", recipient="a@example.com", template="t"
        )
        failed = Notification(
            idempotency_key="m:2",
            channel="whatsapp",
            recipient="5511999999999",
            template="t",
            status="falhou",
            attempts=3,
        )
        s.add_all([pending, failed])
        s.flush()
        s.add(
            DeliveryAttempt(
                notification_id=failed.id, channel="whatsapp", outcome="falha_permanente"
            )
        )
        s.add(
            BackupRun(
                started_at=now - timedelta(hours=2),
                finished_at=now - timedelta(hours=2),
                status="concluido",
            )
        )


def test_every_family_with_its_labels(client: object) -> None:
    from app.monitoring.exporter import FAMILIES

    _seed()
    client.get("/api/live")  # type: ignore[attr-defined]
    client.get("/api/empresas/123")  # type: ignore[attr-defined]  # 401, templated route
    families = _scrape(client)
    for name, labels in FAMILIES.items():
        fam = families.get(name)
        assert fam is not None, f"família {name} ausente"
        for sample in fam.samples:
            extra = {"le"} if sample.name.endswith("_bucket") else set()
            assert set(sample.labels) == {*labels, *extra}, sample

    def value(name: str, **labels: str) -> float:
        for s in families[name].samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        raise AssertionError(f"{name} {labels} ausente")

    routes = {s.labels["route"] for s in families["contab_http_request_duration_seconds"].samples}
    assert "/api/live" in routes and "/api/empresas/{empresa_id}" in routes
    assert not any("123" in r for r in routes)  # templates, never raw paths
    assert value("contab_guide_generation_failures", kind="DAS") == 1
    assert value("contab_document_requests_late") == 1
    assert value("contab_document_request_items_missing") == 1
    assert value("contab_outbox_backlog", channel="email") == 1
    assert (
        value(
            "contab_outbox_delivery_failures_recent", channel="whatsapp", outcome="falha_permanente"
        )
        == 1
    )
    assert 7000 < value("contab_backup_last_success_age_seconds") < 7400
    assert value("contab_component_up", component="database") == 1
    assert value("contab_component_up", component="storage") == 1
    assert value("contab_metrics_source_up", source="database") == 1
    for pool in ("default", "notificacoes", "guias", "documentos"):
        value("contab_pool_workers_alive", pool=pool)
        value("contab_pool_queue_lag_seconds", pool=pool)
        value("contab_pool_late_runs", pool=pool)
    # no empresa id or CNPJ in any label
    for fam in families.values():
        for s in fam.samples:
            assert not any("11222333000181" in v for v in s.labels.values())


def test_sources_are_shared_between_scrapes(
    client: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst of scrapes reads Prefect and the database once per cache period."""
    from app.monitoring.exporter import sources

    monkeypatch.setenv("METRICS_CACHE_SECONDS", "300")
    _reset()
    for _ in range(5):
        _scrape(client)
    assert {name: src.runs for name, src in sources().items()} == {
        "prefect": 1,
        "database": 1,
        "storage": 1,
    }
