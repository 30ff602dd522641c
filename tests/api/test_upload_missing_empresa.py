"""An office token uploading for an empresa id that does not exist: 404 empresa_nao_encontrada,
told by the database's foreign keys (no query asks first), and nothing recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.db import session_scope
from models import StoredFile, Upload, UploadFile
from tests.api.conftest import auth
from tests.support.api import error_code

XML = ("nota.xml", b"<?xml version='1.0'?><NFe/>", "application/xml")


def _counts() -> tuple[int, int, int]:
    with session_scope() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (Upload, UploadFile, StoredFile)
        )


def test_upload_for_a_missing_empresa_is_404_and_records_nothing(
    api_client: Any, seeded: dict[str, Any]
) -> None:
    office = auth(seeded["office"])
    before = _counts()
    r = api_client.post("/api/empresas/987654/uploads", files=[("arquivos", XML)], headers=office)
    assert r.status_code == 404 and error_code(r) == "empresa_nao_encontrada", r.text
    assert _counts() == before
    # the same file for a real empresa is accepted (its stored file is new there)
    r = api_client.post(f"/api/empresas/{seeded['a']}/uploads", files=[("arquivos", XML)],
                        headers=office)  # fmt: skip
    assert r.status_code == 202, r.text
    # and for a missing empresa again once the file is stored elsewhere: still refused
    r = api_client.post("/api/empresas/987654/uploads", files=[("arquivos", XML)], headers=office)
    assert r.status_code == 404 and error_code(r) == "empresa_nao_encontrada"
