"""The six alerts: promtool checks and unit-tests them (each fires and resolves); a real
Prometheus scrapes the served API, has every metric family with its labels, evaluates the rules,
and `contab watch` exits non-zero once one of them fires."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.monitoring.prom import MONITORING, Prometheus, ServedApi, require


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require("promtool"), *args], cwd=MONITORING, capture_output=True, text=True, timeout=120
    )


def test_rules_are_valid_and_each_alert_fires_and_resolves() -> None:
    checked = _promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout
    tested = _promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # every alert is exercised by the unit tests
    from app.monitoring.alerts import ALERTS

    cases = (MONITORING / "alerts_test.yml").read_text()
    for name in ALERTS:
        assert f"alertname: {name}" in cases, name


def test_committed_rules_are_the_rendering_of_the_defaults(tmp_path: Path) -> None:
    from app.monitoring.alerts import ALERTS_FILE, render_rules
    from app.settings import Settings

    out = render_rules(Settings(_env_file=None), tmp_path / "alerts.yml")  # type: ignore[call-arg]
    assert out.read_text() == ALERTS_FILE.read_text(), "rode `contab monitoring render`"
    custom = Settings(_env_file=None, ALERT_QUEUE_LAG_SECONDS=120, ALERT_API_P95_SECONDS=0.75)  # type: ignore[call-arg]
    text = render_rules(custom, tmp_path / "custom.yml").read_text()
    assert "contab_pool_queue_lag_seconds) > 120" in text and "> 0.75" in text
    checked = subprocess.run(
        [require("promtool"), "check", "rules", str(tmp_path / "custom.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_db: None) -> Iterator[Prometheus]:
    from app.health import reset_health_cache
    from app.localservices import free_port
    from app.monitoring.exporter import sources
    from app.settings import get_settings

    monkeypatch.setenv("METRICS_ALLOW_NETWORKS", "127.0.0.1/32")
    monkeypatch.setenv("METRICS_CACHE_SECONDS", "0.5")
    get_settings.cache_clear()
    reset_health_cache()
    for src in sources().values():
        src.reset()
    api = ServedApi(free_port())
    prom = Prometheus(tmp_path, free_port(), f"127.0.0.1:{api.port}", [MONITORING / "alerts.yml"])
    try:
        yield prom
    finally:
        prom.stop()
        api.stop()
        monkeypatch.undo()
        get_settings.cache_clear()
        for src in sources().values():
            src.reset()


def _fail_a_guide() -> None:
    from app.db import session_scope
    from models import Empresa, Guide, Obligation

    with session_scope() as s:
        emp = Empresa(
            cnpj="11222333000181",
            razao_social="Empresa Alerta",
            regime="SIMPLES",
            uf="SP",
            ibge_code="3550308",
        )
        ob = Obligation(code="DAS-ALR", name="DAS", department="fiscal", generates_guide=True)
        s.add_all([emp, ob])
        s.flush()
        s.add(
            Guide(
                empresa_id=emp.id,
                obligation_id=ob.id,
                competencia="2020-01",
                kind="DAS",
                due_date=date(2020, 2, 20),
                status="aguardando_documento",
                calculation={"erro": {"code": "receita_ausente"}},
            )
        )


def test_prometheus_scrapes_the_api_and_watch_sees_an_alert(stack: Prometheus) -> None:
    from app.monitoring.cli import watch
    from app.monitoring.exporter import FAMILIES

    assert stack.wait_series('up{job="contab-api"} == 1', timeout=60), "Prometheus não raspou"
    for name, labels in FAMILIES.items():
        metric = name + ("_count" if name.endswith("duration_seconds") else "")
        series = stack.wait_series(metric, timeout=30)
        if name == "contab_flow_runs_recent":
            continue  # no Prefect server in this test: no deployment to label (e2e covers it)
        assert series, f"{name} ausente no Prometheus"
        for s in series:
            assert set(labels) <= set(s["metric"]), (name, s["metric"])
    # every Prometheus panel of the Grafana dashboard gets series back
    dashboard = json.loads((MONITORING / "grafana" / "contab.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            if target["datasource"]["type"] != "prometheus":
                continue
            if "contab_flow_runs_recent" in target["expr"]:
                continue  # needs a Prefect server with deployments (e2e)
            assert stack.wait_series(target["expr"], timeout=30), (panel["title"], target["expr"])
    assert watch(stack.url, minutes=0.02, interval=1) == 0  # nothing fires
    _fail_a_guide()
    assert stack.wait_series('ALERTS{alertname="ContabFalhaNaGeracaoDeGuias",alertstate="firing"}')
    assert watch(stack.url, minutes=0.5, interval=1) == 1


def test_dashboard_has_a_panel_per_alert_and_the_stack_configs_are_valid(tmp_path: Path) -> None:
    from app.monitoring.alerts import ALERTS

    dashboard = json.loads((MONITORING / "grafana" / "contab.json").read_text())
    described = " ".join(p.get("description", "") for p in dashboard["panels"])
    for name in ALERTS:
        assert name in described, f"nenhum painel para {name}"
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    provisioned = (MONITORING / "grafana/provisioning/datasources/datasources.yaml").read_text()
    for uid in uids:
        assert f"uid: {uid}" in provisioned
    # the compose Prometheus config, with the rule file where this checkout has it
    config = (MONITORING / "prometheus.yml").read_text()
    local = tmp_path / "prometheus.yml"
    local.write_text(config.replace("/etc/prometheus/alerts.yml", str(MONITORING / "alerts.yml")))
    checked = subprocess.run(
        [require("promtool"), "check", "config", str(local)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
