"""`contab monitoring render` and `contab watch` (the post-deploy watch).

contab monitoring render [--out FILE]   write the alert rules with the ALERT_* thresholds
contab watch --minutes 30               poll Prometheus' alerts for that long; non-zero as soon
                                        as one of ours (team=operacoes) fires
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = ["add_monitoring_commands", "firing_alerts", "watch"]


def cmd_render(args: argparse.Namespace) -> int:
    """Render deployments/monitoring/alerts.yml from the settings."""
    from app.monitoring.alerts import ALERTS_FILE, render_rules
    from app.settings import get_settings

    path = render_rules(get_settings(), Path(args.out) if args.out else ALERTS_FILE)
    print(f"Regras de alerta gravadas em {path}")
    return 0


def firing_alerts(prometheus_url: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Our alerts (label team=operacoes) that Prometheus reports as firing right now."""
    resp = httpx.get(prometheus_url.rstrip("/") + "/api/v1/alerts", timeout=timeout)
    resp.raise_for_status()
    alerts = resp.json()["data"]["alerts"]
    return [
        a
        for a in alerts
        if a.get("state") == "firing" and a.get("labels", {}).get("team") == "operacoes"
    ]


def watch(prometheus_url: str, minutes: float, interval: float = 15.0) -> int:
    """Poll for ``minutes``; 1 at the first firing alert (printed), 2 when Prometheus cannot be
    read, 0 when the window passed quietly."""
    deadline = time.monotonic() + minutes * 60
    checks = 0
    while True:
        try:
            firing = firing_alerts(prometheus_url)
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            print(f"Prometheus ilegível em {prometheus_url}: {exc}", file=sys.stderr)
            return 2
        checks += 1
        if firing:
            print(f"{len(firing)} alerta(s) disparado(s):")
            for a in firing:
                labels = {k: v for k, v in a["labels"].items() if k not in ("team",)}
                summary = a.get("annotations", {}).get("summary", "")
                print(f"  - {json.dumps(labels, ensure_ascii=False)} {summary}")
            return 1
        left = deadline - time.monotonic()
        if left <= 0:
            print(f"Nenhum alerta em {minutes:g} min ({checks} verificações).")
            return 0
        print(
            f"ok: nenhum alerta ({checks} verificação(ões), {left / 60:.1f} min restantes)",
            flush=True,
        )
        time.sleep(min(interval, left))


def cmd_watch(args: argparse.Namespace) -> int:
    """The post-deploy watch."""
    return watch(args.prometheus, args.minutes, args.interval)


def add_monitoring_commands(sub: Any) -> None:
    """Register `monitoring render` and `watch` on the `contab` parser."""
    m = sub.add_parser("monitoring", help="monitoramento: regras de alerta")
    msub = m.add_subparsers(dest="monitoring_command", required=True)
    r = msub.add_parser("render", help="grava alerts.yml com os limites ALERT_* da configuração")
    r.add_argument("--out", help="arquivo de saída (padrão: deployments/monitoring/alerts.yml)")
    r.set_defaults(func=cmd_render)
    w = sub.add_parser("watch", help="vigia os alertas do Prometheus após um deploy")
    w.add_argument("--minutes", type=float, default=30)
    w.add_argument("--interval", type=float, default=15, help="segundos entre verificações")
    w.add_argument(
        "--prometheus",
        default=os.environ.get("PROMETHEUS_URL", "http://127.0.0.1:9090"),
        help="URL do Prometheus (padrão: $PROMETHEUS_URL ou http://127.0.0.1:9090)",
    )
    w.set_defaults(func=cmd_watch)
