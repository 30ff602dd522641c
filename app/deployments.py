"""Names of the Prefect deployments the API and the CLI trigger — the one place they live.

A test checks every name here against ``prefect.yaml`` (and that each entrypoint loads).
Full names are ``<flow name>/<deployment name>``, as ``run_deployment`` expects.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = [
    "BACKUP_DIARIO",
    "ENVIAR_ALERTAS",
    "ENVIAR_GUIAS",
    "ENVIAR_NOTIFICACOES",
    "GERAR_GUIAS",
    "GERAR_SOLICITACOES_MENSAIS",
    "LIMPEZA_DE_LOGS",
    "POOLS",
    "PROCESSAR_PEDIDOS",
    "PROCESSAR_TAREFAS_AUTOMATICAS",
    "PROCESSAR_UPLOAD_XML",
    "RESTAURAR_BACKUP",
    "TRIGGERED_BY_API",
    "VALIDAR_DOCUMENTOS",
    "VALIDAR_TAREFAS_A_VENCER",
    "VERIFICAR_BACKUP",
    "VERIFICAR_DOCUMENTOS_PENDENTES",
    "flow_name_of_entrypoint",
    "smoke_deployment",
]

# Work pools named after the guide's criticality queues (§6.2); definitions in
# deployments/pools.yaml.
POOLS = ("default", "notificacoes", "guias", "documentos")

# default pool
LIMPEZA_DE_LOGS = "limpeza-de-logs/limpeza-de-logs"
BACKUP_DIARIO = "backup-diario/backup-diario"
VERIFICAR_BACKUP = "verificar-backup/verificar-backup"
RESTAURAR_BACKUP = "restaurar-backup/restaurar-backup"
PROCESSAR_TAREFAS_AUTOMATICAS = "processar-tarefas-automaticas/processar-tarefas-automaticas"
VALIDAR_TAREFAS_A_VENCER = "validar-tarefas-a-vencer/validar-tarefas-a-vencer"
GERAR_SOLICITACOES_MENSAIS = "gerar-solicitacoes-mensais/gerar-solicitacoes-mensais"
VERIFICAR_DOCUMENTOS_PENDENTES = "verificar-documentos-pendentes/verificar-documentos-pendentes"
# documentos pool
PROCESSAR_UPLOAD_XML = "processar-upload-xml/processar-upload-xml"
VALIDAR_DOCUMENTOS = "validar-documentos/validar-documentos"
PROCESSAR_PEDIDOS = "processar-pedidos/processar-pedidos"
# notificacoes pool
ENVIAR_NOTIFICACOES = "enviar-notificacoes/enviar-notificacoes"
ENVIAR_ALERTAS = "enviar-alertas/enviar-alertas"
# guias pool
GERAR_GUIAS = "gerar-guias/gerar-guias"
ENVIAR_GUIAS = "enviar-guias/enviar-guias"

# Deployments the API triggers on demand.
TRIGGERED_BY_API = (PROCESSAR_UPLOAD_XML,)


def flow_name_of_entrypoint(root: Path, entrypoint: str) -> str:
    """The ``name=`` of the @flow decorating ``file.py:function`` (read with ast, no import)."""
    rel, func = entrypoint.split(":")
    tree = ast.parse((root / rel).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == func:
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == "flow":
                    for kw in deco.keywords:
                        if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                            return str(kw.value.value)
            raise ValueError(f"{entrypoint}: @flow sem name= explícito")
    raise ValueError(f"{entrypoint}: função não encontrada")


def smoke_deployment(pool: str) -> str:
    """The smoke-test deployment of a pool."""
    return f"teste-de-fumaca/teste-de-fumaca-{pool}"
