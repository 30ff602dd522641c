"""One language for the API's JSON: every field and query parameter name is pt-BR.

Reads the OpenAPI document (every request and response model, every parameter) and refuses a
name made of English words; the few names kept on purpose are listed with why. Stored JSON the
API returns as it is gets its English keys renamed on the way out (``app.api.schemas.pt_keys``).
"""

from __future__ import annotations

from typing import Any

from app.api.main import create_app
from app.api.schemas import pt_keys

# Words that make a name English (a pt-BR name never has one of them as a part).
ENGLISH = frozenset(
    "address amount at attachment attachments by calculation code content count created date "
    "detail details due emitter error errors failure file files flow issued items key kind "
    "message name original provider reason received run sent size storage summary type "
    "updated warning warnings".split()
)
# Kept on purpose: the guide's own contract or a term with no pt-BR spelling in use.
KEPT = {
    "user_agent": "the HTTP header's name (User-Agent), like ip and url",
}


def _names(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            out.update(props)
        for value in node.values():
            _names(value, out)
    elif isinstance(node, list):
        for value in node:
            _names(value, out)


def test_every_json_field_and_query_parameter_is_pt_br() -> None:
    spec = create_app().openapi()
    names: set[str] = set()
    _names(spec.get("components", {}).get("schemas", {}), names)
    for path in spec["paths"].values():
        for op in path.values():
            names.update(p["name"] for p in op.get("parameters", ()) if p["in"] == "query")
    assert {"codigo", "mensagem", "detalhes", "erro", "execucao_id", "itens"} <= names
    english = sorted(n for n in names - set(KEPT) if ENGLISH & set(n.lower().split("_")))
    assert not english, f"English JSON field or parameter names: {english}"


def test_stored_json_is_renamed_at_any_depth() -> None:
    stored = {
        "erro": {"code": "receita_ausente", "message": "Sem receita.", "details": {"x": 1}},
        "zips": [{"nome": "a.zip", "stored_file_id": 7}],
        "provider_id": "wamid.1",
        "linhas": [{"anexo": "I"}],
    }
    assert pt_keys(stored) == {
        "erro": {"codigo": "receita_ausente", "mensagem": "Sem receita.", "detalhes": {"x": 1}},
        "zips": [{"nome": "a.zip", "arquivo_id": 7}],
        "id_no_provedor": "wamid.1",
        "linhas": [{"anexo": "I"}],
    }
