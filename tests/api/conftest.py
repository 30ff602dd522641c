"""API fixtures: real tokens and empresas in the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def seeded(clean_db: None) -> Iterator[dict[str, object]]:
    """Two empresas, an office token and a client token for the first empresa."""
    from app.db import session_scope
    from app.platform.tokens import create_token
    from models import Empresa

    with session_scope() as s:
        a = Empresa(
            cnpj="11222333000181",
            razao_social="Padaria Pão Bom Ltda",
            regime="SIMPLES",
            uf="SP",
            ibge_code="3550308",
        )
        b = Empresa(
            cnpj="12ABC34501DE35",
            razao_social="Oficina Roda Viva ME",
            regime="MEI",
            uf="MG",
            ibge_code="3106200",
        )
        s.add_all([a, b])
        s.flush()
        _, office = create_token(s, name="equipe", scope="office")
        _, client = create_token(s, name="cliente-a", scope="empresa", empresa_id=a.id)
        ids = (a.id, b.id)
    yield {"a": ids[0], "b": ids[1], "office": office, "client": client}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
