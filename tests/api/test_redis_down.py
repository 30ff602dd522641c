"""Redis stopped: requests that only use it for best-effort work (the upload wake-up, the token's
last-use bookkeeping) are still answered, and nothing accepted is lost.

The request path uses the quick client (``app.cache.get_quick_redis``: one try, short timeouts),
so a dead Redis is skipped instead of retried for seconds; the upload waits for the
dispatcher's database poll instead of the wake-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import select

from app.db import session_scope
from models import Upload, UploadFile
from tests.api.conftest import auth
from tests.support.generator import make_nfe

CNPJ_A = "11222333000181"  # empresa "a" of the seeded fixture


def _reset() -> None:
    from app.cache import reset_redis
    from app.settings import get_settings

    get_settings.cache_clear()
    reset_redis()


@pytest.fixture
def redis_stopped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A private Redis the app uses, then stopped (its port stays closed)."""
    from app.localservices import ensure_redis, free_port

    port = free_port()
    info = ensure_redis("127.0.0.1", port, tmp_path / "redis")
    monkeypatch.setenv("REDIS_PORT", str(port))
    _reset()
    assert info.proc is not None
    info.proc.terminate()
    info.proc.wait(5)
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        yield
    monkeypatch.undo()
    _reset()


def test_uploads_and_reads_are_answered_and_recorded_with_redis_stopped(
    api_client: Any, seeded: dict[str, Any], redis_stopped: None
) -> None:
    xml = make_nfe(CNPJ_A, "99888777000136", serie=7, numero=1)
    files = [("arquivos", ("nota.xml", xml, "application/xml"))]
    for token in (seeded["client"], seeded["office"]):
        r = api_client.post(
            f"/api/empresas/{seeded['a']}/uploads", files=files, headers=auth(token)
        )
        assert r.status_code == 202, r.text
        listing = api_client.get("/api/uploads", headers=auth(token))
        assert listing.status_code == 200, listing.text
    with session_scope() as s:
        uploads = s.scalars(select(Upload).where(Upload.empresa_id == seeded["a"])).all()
        assert len(uploads) == 2 and {u.status for u in uploads} == {"recebido"}
        files_rows = s.scalars(select(UploadFile)).all()
        assert len(files_rows) == 2 and {f.status for f in files_rows} == {"pendente"}
