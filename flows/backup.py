"""`backup-diario` (guide §11): database, stored objects and logs to the backup target; then
the retention policy. Default pool; once per day (a re-run the same day does nothing)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from tasks.backup import backup_task, prune_task, restore_task, verify_task
from tasks.defaults import flow_defaults


@flow(name="backup-diario", **flow_defaults(7500))
def backup_flow(force: bool = False) -> dict[str, object]:
    """One backup per day (force=True backs up again), then prune what the policy lets go."""
    result = backup_task(force)
    get_run_logger().info("Backup: %s", result)
    pruned = prune_task()
    get_run_logger().info("Retenção: %s", pruned)
    return {**result, "retencao": {"removidos": pruned["removidos"]}}


@flow(name="restaurar-backup", retries=0, timeout_seconds=7300)
def restore_flow(
    data: str | None = None,
    empresa: str | None = None,
    modulo: str | None = None,
    simulacao: bool = True,
    sobrescrever: bool = False,
    banco: str | None = None,
) -> dict[str, object]:
    """Restore a backup (docs/backup.md). Without empresa/modulo: the whole database of `data`
    into a new database (`banco`); with them, those rows and files into the live system.
    `simulacao=True` (the default) only lists what would change. Never retried by itself."""
    from prefect.runtime import flow_run

    actor = f"prefect:restaurar-backup:{flow_run.get_id() or '-'}"
    result = restore_task(data, empresa, modulo, simulacao, sobrescrever, banco, actor)
    get_run_logger().info("Restauração: %s", result)
    bad = result["arquivos"]["corrompidos"]
    if bad:
        raise RuntimeError(f"Objetos do backup corrompidos (não restaurados): {bad}")
    return result


# A failed drill is a finding, not a transient error: reported once, never retried.
@flow(name="verificar-backup", retries=0, timeout_seconds=7500)
def verify_flow(amostra: int = 50) -> dict[str, object]:
    """Weekly restore drill of the latest backup: row counts vs catalogue, objects re-hashed;
    the result is a table artifact; a failure alerts the office and fails the run."""
    from prefect.artifacts import create_table_artifact

    result = verify_task(amostra)
    tables = result.get("tabelas") or {}
    rows = [
        {"tabela": name, "catalogo": c["catalogo"], "restaurado": c["restaurado"]}
        for name, c in tables.items()
    ]
    rows += [{"tabela": "PROBLEMA", "catalogo": p, "restaurado": ""} for p in result["problemas"]]
    create_table_artifact(
        key="verificacao-backup",
        table=rows,
        description=f"Backup de {result['dia']}: {'ok' if result['ok'] else 'FALHOU'}",
    )
    if not result["ok"]:
        raise RuntimeError(
            f"Backup {result['dia']} não passou na verificação: {result['problemas']}"
        )
    return result
