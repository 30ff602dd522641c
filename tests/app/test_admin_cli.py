"""`contab holidays|obligations|tokens`: the registers reachable from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import main
from app.db import session_scope
from app.obligations.catalogue import sync_catalogue
from app.platform.tokens import create_token
from models import AuditLog, Empresa
from tests.services.test_registers import custom_rule

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, object, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def audit_actions() -> list[tuple[str, str]]:
    with session_scope() as s:
        return [(a, actor) for a, actor in s.execute(select(AuditLog.action, AuditLog.actor))]


@pytest.mark.usefixtures("clean_db")
def test_holidays_add_list_remove(capsys: pytest.CaptureFixture[str]) -> None:
    code, added, _ = run(
        capsys, "holidays", "add", "--day", "2026-08-14", "--name", "Padroeira",
        "--ibge", "3509502", "--actor", "ana",
    )  # fmt: skip
    assert code == 0 and added["ibge"] == "3509502" and added["dia"] == "2026-08-14"
    code, listed, _ = run(capsys, "holidays", "list", "--year", "2026")
    assert [h["id"] for h in listed] == [added["id"]]
    code, _, err = run(
        capsys, "holidays", "add", "--day", "2026-08-14", "--name", "X", "--uf", "RJ",
        "--ibge", "3509502",
    )  # fmt: skip
    assert code == 1 and "erro [uf_invalida]" in err
    code, removed, _ = run(capsys, "holidays", "remove", str(added["id"]), "--reason", "revogado")
    assert code == 0 and removed["nome"] == "Padroeira"
    assert run(capsys, "holidays", "list")[1] == []
    assert audit_actions() == [
        ("feriado.cadastrado", "ana"),
        ("feriado.removido", audit_actions()[1][1]),
    ]
    assert audit_actions()[1][1].startswith("cli:")


@pytest.mark.usefixtures("clean_db")
def test_obligations_custom_and_per_empresa(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with session_scope() as s:
        sync_catalogue(s)
        s.add(Empresa(cnpj="11222333000181", razao_social="Padaria", regime="SIMPLES", uf="SP",
                      ibge_code="3550308"))  # fmt: skip
    rule = tmp_path / "tfe.json"
    rule.write_text(json.dumps(custom_rule()), "utf-8")
    code, created, _ = run(capsys, "obligations", "create", "--file", str(rule))
    assert code == 0 and created["id"] > 0
    code, listed, _ = run(capsys, "obligations", "list", "--custom")
    assert [(o["codigo"], o["ativa"]) for o in listed] == [("TFE-CAMPINAS", True)]
    code, off, _ = run(capsys, "obligations", "disable", "TFE-CAMPINAS", "--reason", "fim")
    assert code == 0 and off["ativa"] is False
    code, _, err = run(capsys, "obligations", "disable", "DAS")
    assert code == 1 and "obrigacao_do_catalogo" in err
    code, adjusted, _ = run(
        capsys, "obligations", "set", "--cnpj", "11.222.333/0001-81", "--code", "DAS",
        "--overrides", '{"alert_business_days": [3, 0]}',
    )  # fmt: skip
    assert code == 0 and adjusted["sobrescritas"] == {"alert_business_days": [3, 0]}
    code, shown, _ = run(capsys, "obligations", "show", "--cnpj", "11222333000181")
    assert [(o["codigo"], o["sobrescritas"]) for o in shown] == [
        ("DAS", {"alert_business_days": [3, 0]})
    ]
    code, _, err = run(capsys, "obligations", "set", "--cnpj", "99999999000191", "--code", "DAS")
    assert code == 1 and "empresa_nao_encontrada" in err
    actions = [a for a, _ in audit_actions()]
    assert {
        "obrigacao.personalizada_criada",
        "obrigacao.personalizada_desativada",
        "empresa.obrigacao_ajustada",
    } <= set(actions)


@pytest.mark.usefixtures("clean_db")
def test_tokens_list_and_revoke(capsys: pytest.CaptureFixture[str]) -> None:
    with session_scope() as s:
        row, plaintext = create_token(s, name="integração", scope="office")
        token_id = row.id
    code, listed, _ = run(capsys, "tokens", "list")
    assert [(t["id"], t["prefixo"]) for t in listed] == [(token_id, plaintext[:12])]
    assert plaintext not in json.dumps(listed) and "token_hash" not in listed[0]
    code, revoked, _ = run(capsys, "tokens", "revoke", str(token_id), "--reason", "vazou")
    assert code == 0 and revoked == {"id": token_id, "revogado": True}
    assert run(capsys, "tokens", "list")[1] == []
    code, _, err = run(capsys, "tokens", "revoke", "999999", "--reason", "x")
    assert code == 1 and "token_nao_encontrado" in err
    # The installed entry point runs the same command in its own process.
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "tokens", "list", "--all"],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [t["revogado_em"] is not None for t in json.loads(proc.stdout)] == [True]
