"""Document flows on the `documentos` pool (guide §6.1 "Processar upload de XML", "Validar
documentos").

- ``processar-upload-xml`` (triggered by the API per upload): batches of ~500 files per task,
  one transaction each, sequential — idempotent, so a flow retry or a re-run changes nothing.
  The CPU-bound parse + XSD validation of each batch runs on a process pool opened once per
  flow run (``workers``, default ``INGEST_WORKERS`` or the number of CPUs).
- ``validar-documentos`` (daily 02:30, and on demand): first processes stranded uploads — those
  recorded while the Prefect API was unreachable (status ``recebido`` with no flow run for 5+
  minutes) and those whose run died or ended with files still pending (no progress for 15+
  minutes and the run final, unknown, or Running past its timeout) — then re-validates
  documents in ``aviso``/``pendente`` and applies pending events. Each recovered upload runs as
  its own subflow: one that fails again does not hold back the others; the run then ends Failed
  (after the revalidation), so Prefect retries it — the retry takes back the uploads it had
  claimed — and operators see it. Catch-up: a missed
  daily run is not replayed; the next run covers everything still pending (the work is a query,
  not a time window).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from app.documents.classify import classify_pool
from app.files.content import close_shared
from tasks.defaults import flow_defaults
from tasks.documents import (
    claim_interrupted_uploads,
    claim_untriggered_uploads,
    complete_upload,
    plan_upload,
    process_batch,
    revalidate_documents,
)

# Below this many files an upload is classified in the flow's own process.
POOL_MIN_FILES = 1500


@flow(name="processar-upload-xml", log_prints=False, **flow_defaults(3600))
def process_upload_flow(upload_id: int, workers: int | None = None) -> dict[str, Any]:
    """Parse, validate and index every pending file of one upload, in batches."""
    logger = get_run_logger()
    batches = plan_upload(upload_id)
    if workers is None and sum(len(b) for b in batches) < POOL_MIN_FILES:
        # the pool costs ~0.5 s to start (fork server + workers) and saves ~0.4 ms a file on
        # 2 cores: worth it from about 1,200 files
        workers = 1
    try:
        with classify_pool(workers):
            for k, ids in enumerate(batches):
                process_batch(upload_id, ids, batches[k + 1] if k + 1 < len(batches) else None)
    finally:
        close_shared()  # the upload's zip, kept open across its batches
    result = complete_upload(upload_id)
    logger.info("Upload %s: %s lote(s), %s", upload_id, len(batches), result["por_status"])
    create_table_artifact(
        key=f"upload-{upload_id}",
        table=[{"situacao": k, "arquivos": v} for k, v in sorted(result["por_status"].items())]
        + [{"situacao": f"quarentena: {k}", "arquivos": v} for k, v in result["erros"].items()],
        description=f"Resultado do upload {upload_id}",
    )
    return {"upload_id": upload_id, "lotes": len(batches), **result}


@flow(name="validar-documentos", log_prints=False, **flow_defaults(3600))
def validate_documents_flow(
    batch_size: int = 200, recover_after_minutes: int = 5, interrupted_after_minutes: int = 15
) -> dict[str, Any]:
    """Recover stranded uploads, then re-validate documents in aviso/pendente."""
    logger = get_run_logger()
    marker = str(flow_run.id or "validar-documentos")
    untriggered = claim_untriggered_uploads(marker, recover_after_minutes)
    interrupted = claim_interrupted_uploads(marker, interrupted_after_minutes)
    recovered = sorted(set(untriggered) | set(interrupted))
    failed: list[int] = []
    for upload_id in recovered:  # one upload that fails again never holds back the others
        state = process_upload_flow(upload_id, return_state=True)
        if not state.is_completed():
            failed.append(upload_id)
            logger.warning("Upload %s não concluído na recuperação: %s", upload_id, state.name)
    after = 0
    counts: dict[str, int] = {}
    while True:
        out = revalidate_documents(after, batch_size)
        for k, n in out["counts"].items():
            counts[k] = counts.get(k, 0) + n
        if out["last_id"] is None:
            break
        after = out["last_id"]
    logger.info("Uploads recuperados: %s; revalidação: %s", recovered, counts)
    if failed:  # after the revalidation: the run fails, so it is retried and seen in the UI
        raise RuntimeError(f"Uploads não concluídos na recuperação: {failed}")
    return {"uploads_recuperados": recovered, "revalidacao": counts}
