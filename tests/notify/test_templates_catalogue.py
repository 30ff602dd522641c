"""Every template the services queue exists and renders with the context they queue it with."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.notify.render import render

ROOT = Path(__file__).resolve().parents[2]
CONTEXTS = {
    "solicitacao_mensal": {
        "nome": "Ana",
        "empresa": "Padaria",
        "competencia": "05/2026",
        "itens": ["Extratos"],
    },
    "lembrete_solicitacao": {
        "nome": "Ana",
        "empresa": "Padaria",
        "competencia": "05/2026",
        "itens_faltantes": ["Extratos"],
    },
    "tarefa_a_vencer": {
        "nome": "Ana",
        "obrigacao_nome": "DAS",
        "empresa": "Padaria",
        "competencia": "05/2026",
        "vencimento": "2026-06-22",
    },
    "tarefa_vencida": {
        "nome": "Ana",
        "obrigacao_nome": "DAS",
        "empresa": "Padaria",
        "competencia": "2026-05",
        "vencimento": "2026-06-22",
    },
}


def queued_templates() -> set[str]:
    names: set[str] = set()
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "flows").glob("*.py")]:
        text = path.read_text()
        names |= set(re.findall(r'template="([a-z_]+)"', text))
        names |= (
            {f"tarefa_{s}" for s in ("a_vencer", "vencida")}
            if 'template=f"tarefa_{status}"' in text
            else set()
        )
    return names


def test_every_queued_template_exists() -> None:
    have = {p.name.split(".")[0] for p in (ROOT / "app" / "notify" / "templates").glob("*.j2")}
    queued = queued_templates()
    # the scan must find what the domains queue (it once looked in a folder that had moved)
    assert {"solicitacao_mensal", "tarefa_a_vencer", "pedido_recebido"} <= queued
    assert queued - have == set()


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_templates_render_in_portuguese(name: str) -> None:
    out = render(name, CONTEXTS[name])
    assert "Padaria" in out.subject and "05/2026" in out.text and "Padaria" in out.html
    assert "Ana" in out.text
