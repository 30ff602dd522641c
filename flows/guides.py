"""`gerar-guias` and `enviar-guias` (guide §7 "Gerar guias (dia configurado)", §6.1 "Enviar
guias"; pool ``guias``).

``gerar-guias`` runs daily at 06:00 (America/Sao_Paulo) but generates only on the office's day
(``office_settings.dia_geracao_guias``, default 5) unless ``force``; the competência is the month
before. It marks overdue guides every day. Catch-up: the day is taken from the run's *scheduled*
time, so a run that was late (worker down at 06:00 and picked up later) still acts as of its
day; a run never created (scheduler down all day) is not backfilled — trigger it with
``force=true`` (re-running is harmless: generation is idempotent and sends nothing).
Bulk path: one grouped ledger query per batch of 2,000 empresas, DAS computed in Python
(``app.fiscal.das``), one ``INSERT … ON CONFLICT`` per 1,000 guides. PDFs are not rendered
here: ``enviar-guias`` renders them lazily per send batch (so 10,000 guides generate in seconds,
and a PDF always shows the amount actually sent).

``enviar-guias`` (weekdays, hourly 08–18) queues, through the outbox, the first delivery of every
``pronta`` guide (batches of 200); the messages leave with ``enviar-notificacoes``.
"""

from __future__ import annotations

from collections import Counter

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from tasks.defaults import flow_defaults, run_day
from tasks.guides import (
    generate_batch,
    generation_plan,
    list_ready_guides,
    mark_overdue,
    refresh_ledger,
    send_batch,
)

GENERATION_BATCH = 2000
SEND_BATCH = 200


def _today() -> str:
    return run_day().isoformat()  # the run's scheduled day at the office


@flow(name="gerar-guias", log_prints=False, **flow_defaults(900))
def generate_guides_flow(
    competencia: str | None = None, force: bool = False, hoje: str | None = None
) -> dict[str, object]:
    """Create/update every guide of the competência on the configured day (idempotent)."""
    log = get_run_logger()
    today = hoje or _today()
    vencidas = mark_overdue(today)
    plan = generation_plan(today, competencia, force)
    if not plan["executar"]:
        log.info("Hoje (%s) não é o dia de gerar guias (dia %s).", today, plan["dia"])
        return {"executado": False, "vencidas": vencidas}
    comp = str(plan["competencia"])
    refreshed = refresh_ledger(comp)
    empresas = list(plan["empresas"])  # type: ignore[call-overload]
    futures = [
        generate_batch.submit(comp, empresas[i : i + GENERATION_BATCH])
        for i in range(0, len(empresas), GENERATION_BATCH)
    ]
    totals: Counter[str] = Counter()
    failures: list[dict[str, object]] = []
    for fut in futures:
        res = fut.result()
        failures.extend(res.pop("falhas_detalhe"))  # type: ignore[arg-type]
        totals.update({k: int(v) for k, v in res.items()})  # type: ignore[call-overload]
    log.info("Guias de %s: %s; livro: %s", comp, dict(totals), refreshed)
    if failures:
        log.warning("Falha de geração de guia: %s guia(s); equipe avisada.", len(failures))
        create_table_artifact(
            key="falhas-geracao-guias",
            table=failures,
            description=f"Falhas de geração de guia, competência {comp}",
        )
    return {"executado": True, "competencia": comp, "vencidas": vencidas, **dict(totals)}


@flow(name="enviar-guias", log_prints=False, **flow_defaults(900))
def send_guides_flow(competencia: str | None = None, limit: int = 20000) -> dict[str, int]:
    """Queue the first delivery (e-mail + WhatsApp) of every guide ready and not yet sent."""
    ids = list_ready_guides(competencia, limit)
    totals: Counter[str] = Counter()
    for i in range(0, len(ids), SEND_BATCH):
        totals.update(send_batch(ids[i : i + SEND_BATCH]))
    get_run_logger().info("Envio de guias: %s", dict(totals))
    return {"prontas": len(ids), **dict(totals)}
