"""`enviar-notificacoes` and `enviar-alertas` (guide: jobs "Enviar notificações" and
"Enviar alertas (dias úteis antes)", queue/pool ``notificacoes``).

Schedules and catch-up (prefect.yaml, America/Sao_Paulo): ``enviar-notificacoes`` runs every
minute and drains the outbox in batches of 500 (one task per batch, never per message); runs
missed while the platform was down need no catch-up, the next run sends everything due, and
overlapping runs are safe (rows are claimed with SKIP LOCKED). ``enviar-alertas`` runs at 07:00
on weekdays and skips the days the office does not work (the same calendar, with registered
closures, as every other daily job); a missed day is caught up by the next business day's run
(the threshold rule of ``app.obligations.alerts``), and ``hoje`` allows a backfill.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import date

from prefect import flow, get_run_logger

from tasks.defaults import flow_defaults, run_day
from tasks.notifications import queue_alerts, send_notifications_batch
from tasks.obligations import is_business_day_task

FLOW_BUDGET_SECONDS = 400  # start no new batch after this (the flow timeout is 600 s)


@flow(name="enviar-notificacoes", log_prints=False, **flow_defaults(600))
def send_notifications_flow(
    batch_size: int = 500, max_batches: int = 40, lease_seconds: int = 600
) -> dict[str, int]:
    """Drain the outbox: batch after batch until it is empty (or the budget is spent)."""
    started = time.monotonic()
    totals: Counter[str] = Counter()
    for _ in range(max_batches):
        report = send_notifications_batch(batch_size, lease_seconds)
        totals.update(report)
        if report.get("reivindicadas", 0) < batch_size:
            break
        if time.monotonic() - started > FLOW_BUDGET_SECONDS:
            break
    get_run_logger().info("Notificações: %s", dict(totals))
    return dict(totals)


@flow(name="enviar-alertas", log_prints=False, **flow_defaults(600))
def send_alerts_flow(hoje: date | None = None) -> dict[str, int]:
    """Queue the alerts of the day (business days only; ``hoje`` for tests and backfill)."""
    day = run_day(hoje)
    if not is_business_day_task(day.isoformat()):
        get_run_logger().info("%s não é dia útil: nenhum alerta.", day.isoformat())
        return {"dia_util": 0}
    report = queue_alerts(day.isoformat())
    get_run_logger().info("Alertas de %s: %s", day.isoformat(), report)
    return {"dia_util": 1, **report}
