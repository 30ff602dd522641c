"""Demo data: valid CNPJs of every regime, loaded idempotently."""

from __future__ import annotations

from sqlalchemy import func, select

from app.demo import load_demo_data
from app.fiscal.cnpj import is_valid_cnpj
from models import Contact, Empresa, Tarefa


def test_demo_data_is_valid_and_idempotent(db) -> None:  # type: ignore[no-untyped-def]
    first = load_demo_data(db)
    assert first["empresas"] >= 8 and first["staff"] == 3
    assert load_demo_data(db) == {"staff": 0, "empresas": 0, "contacts": 0}
    empresas = list(db.scalars(select(Empresa)))
    assert all(is_valid_cnpj(e.cnpj) for e in empresas)
    assert {e.regime for e in empresas} == {"MEI", "SIMPLES", "PRESUMIDO", "REAL"}
    assert any(not e.cnpj.isdigit() for e in empresas)  # one alphanumeric CNPJ (IN RFB 2.229/2024)
    assert db.scalar(select(func.count()).select_from(Contact)) == len(empresas)
    # registered through the real path: every empresa has obligations and current tarefas
    assert db.scalar(select(func.count(func.distinct(Tarefa.empresa_id)))) == len(empresas)
