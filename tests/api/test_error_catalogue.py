"""One code per error condition, kept in one catalogue (``app.errors.CATALOGUE``).

Every code raised anywhere in ``app/`` is in the catalogue; the README's "Error codes" table and
the OpenAPI error responses list them; and a file above the size limit answers the same code on
every path that takes a file.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.errors import CATALOGUE, FILE_TOO_LARGE
from app.settings import get_settings
from tests.api.conftest import auth
from tests.api.test_scope_matrix import build_world
from tests.support.api import error_code, error_details

ROOT = Path(__file__).resolve().parents[2]
ERRORS = {
    "AppError", "DomainError", "InvalidInput", "InvalidDocument", "NotFound", "Conflict",
    "PermissionDenied", "Unauthenticated", "IntegrationError", "StorageError", "ChannelError",
    "UpstreamError", "ConfigError",
}  # fmt: skip


def _raised_codes() -> dict[str, set[str]]:
    """code → files, for every literal code given to the exception tree or a Missing kind."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "app").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            codes: list[Any] = []
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
                if name in ERRORS:
                    codes += [k.value for k in node.keywords if k.arg == "code"]
                if name == "Missing" and len(node.args) == 2:
                    codes.append(node.args[1])
            elif isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and b.id in ERRORS for b in node.bases
            ):
                codes += [
                    a.value
                    for a in node.body
                    if isinstance(a, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "code" for t in a.targets)
                ]
            for c in codes:
                if isinstance(c, ast.Constant) and isinstance(c.value, str):
                    found.setdefault(c.value, set()).add(str(path.relative_to(ROOT)))
    main = (ROOT / "app/api/main.py").read_text(encoding="utf-8")
    literal = r'(?:\bcode\s*=|"codigo":|code, message =)\s*"([a-z_]+)"'
    for code in re.findall(literal, main) + re.findall(r'\(\s*"([a-z_]+)",\s*"[A-Z]', main):
        found.setdefault(code, set()).add("app/api/main.py")
    found.setdefault(FILE_TOO_LARGE, set()).add("app/errors.py")
    return found


def test_every_code_raised_is_in_the_catalogue() -> None:
    found = _raised_codes()
    assert len(found) > 60  # the scan really finds the codes
    missing = {c: sorted(f) for c, f in found.items() if c not in CATALOGUE}
    assert not missing, f"add these codes to app.errors.CATALOGUE: {missing}"
    assert "arquivo_grande_demais" not in found  # the old second name of arquivo_muito_grande


def test_catalogue_codes_are_snake_case_and_conditions_distinct() -> None:
    for code, (status, meaning) in CATALOGUE.items():
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", code), code
        assert 400 <= status < 600 and meaning.endswith("."), code
    meanings = [m for _, m in CATALOGUE.values()]
    assert len(meanings) == len(set(meanings)), "two codes name the same condition"


def test_readme_lists_every_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Error codes", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    listed = set(re.findall(r"`([a-z_]+)`", table))
    assert set(CATALOGUE) <= listed, f"README lacks {sorted(set(CATALOGUE) - listed)}"
    assert listed <= set(CATALOGUE), f"README lists unknown codes {sorted(listed - set(CATALOGUE))}"


def test_openapi_error_responses_list_the_codes(api_client: Any) -> None:
    spec = api_client.get("/api/openapi.json").json()
    responses = spec["paths"]["/api/guias"]["get"]["responses"]
    for code, (status, _) in CATALOGUE.items():
        assert f"`{code}`" in responses[str(status)]["description"], (code, status)


# ------------------------------------------------------------------------------ oversize

LIMIT = 4096


@pytest.fixture
def small_files(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A per-file limit of 4 KiB."""
    monkeypatch.setenv("UPLOAD_MAX_FILE_BYTES", str(LIMIT))
    get_settings.cache_clear()
    yield LIMIT
    get_settings.cache_clear()


def test_a_file_above_the_limit_is_arquivo_muito_grande_everywhere(
    api_client: Any, seeded: dict[str, Any], small_files: int
) -> None:
    world = build_world(seeded)["a"]
    office = auth(seeded["office"])
    big_pdf = b"%PDF-1.4 " + b"x" * (small_files + 1)
    big_xml = b"<nfeProc>" + b"x" * (small_files + 1) + b"</nfeProc>"
    # an upload of fiscal XMLs keeps the file, quarantined with the code
    r = api_client.post(
        f"/api/empresas/{world['empresa']}/uploads",
        files=[("arquivos", ("grande.xml", big_xml, "application/xml"))],
        headers=office,
    )
    assert r.status_code == 202, r.text
    status = api_client.get(f"/api/uploads/{r.json()['upload_id']}", headers=office).json()
    assert [f["erro_codigo"] for f in status["resultados"]] == [FILE_TOO_LARGE]
    # every route taking a file answers 422 with the same code
    calls = [
        (f"/api/tarefas/{world['tarefa']}/concluir", {}, "protocolo"),
        (f"/api/guias/{world['guia']}/documento", {"valor": "10,00"}, "arquivo"),
        (f"/api/guias/{world['guia']}/pagamento", {}, "comprovante"),
        (f"/api/solicitacoes/{world['solicitacao']}/itens/{world['item']}/arquivos", {},
         "arquivos"),
    ]  # fmt: skip
    for path, data, field in calls:
        r = api_client.post(
            path, data=data, files=[(field, ("grande.pdf", big_pdf, "application/pdf"))],
            headers=office,
        )  # fmt: skip
        assert r.status_code == 422, (path, r.text)
        assert error_code(r) == FILE_TOO_LARGE, (path, r.text)
        assert error_details(r) == {"limite": small_files}
