"""Local-disk backend and its HMAC-signed links served by the API (``GET /api/files/{token}``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from app.errors import StorageError
from app.storage.local import LocalStorage
from app.storage.signing import sign


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    from app.settings import get_settings

    key = get_settings().APP_KEY.get_secret_value()  # the API verifies with the same key
    return LocalStorage(tmp_path / "root", secret=key, base_url="http://testserver")


def test_put_get_delete_and_keys_never_escape_the_root(local: LocalStorage) -> None:
    local.put("uploads/1/ab/abc", b"<x/>")
    assert local.exists("uploads/1/ab/abc") and local.get("uploads/1/ab/abc") == b"<x/>"
    local.delete("uploads/1/ab/abc")
    assert not local.exists("uploads/1/ab/abc")
    with pytest.raises(StorageError) as err:
        local.get("uploads/1/ab/abc")
    assert err.value.code == "arquivo_nao_encontrado"
    with pytest.raises(StorageError) as err:
        local.put("../fora.xml", b"x")
    assert err.value.code == "chave_invalida"


def test_signed_link_valid_tampered_and_expired(
    api_client, monkeypatch, local: LocalStorage
) -> None:  # type: ignore[no-untyped-def]
    from app.storage import get_storage

    # The API route reads through get_storage(): write the file where it will look.
    storage = get_storage()
    storage.put("docs/nota.xml", b"<nfeProc/>")
    url = storage.signed_url("docs/nota.xml", expires_in=60, filename="nota.xml")
    path = urlparse(url).path
    ok = api_client.get(path)
    assert ok.status_code == 200 and ok.content == b"<nfeProc/>"
    assert ok.headers["cache-control"] == "private, no-store"
    token = path.rsplit("/", 1)[1]
    payload, mac = token.split(".")
    tampered = api_client.get(
        f"/api/files/{payload}.{mac[:-2]}{'A' if mac[-2] != 'A' else 'B'}{mac[-1]}"
    )
    assert tampered.status_code == 403 and tampered.json()["error"]["code"] == "link_invalido"
    key = local.secret
    expired = sign(key, "docs/nota.xml", expires_in=-5)
    r = api_client.get(f"/api/files/{expired}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "link_expirado"
    forged = sign("outra-chave-" + "x" * 32, "docs/nota.xml", expires_in=60)
    assert api_client.get(f"/api/files/{forged}").json()["error"]["code"] == "link_invalido"
