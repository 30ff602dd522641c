"""Local-disk backend and its HMAC-signed links served by the API (``GET /api/files/{token}``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from app.errors import StorageError
from app.storage.local import LocalStorage
from app.storage.signing import sign
from tests.support.api import error_code


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
    assert err.value.code == "chave_de_armazenamento_invalida"


class _FailsMidway(io.RawIOBase):
    """A source that yields some bytes, then fails like a dropped client connection."""

    def __init__(self, exc: BaseException) -> None:
        self.exc, self.sent = exc, False

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self.sent:
            raise self.exc
        self.sent = True
        buf[:4] = b"<x/>"
        return 4


@pytest.mark.parametrize("exc", [OSError(5, "Input/output error"), KeyboardInterrupt()])
def test_failed_put_file_leaves_no_temp_file_and_no_object(
    local: LocalStorage, exc: BaseException
) -> None:
    local.put("uploads/1/keep.xml", b"<ok/>")  # the folder exists and holds other files
    expected = StorageError if isinstance(exc, OSError) else type(exc)
    with pytest.raises(expected):
        local.put_file("uploads/1/novo.xml", _FailsMidway(exc))  # type: ignore[arg-type]
    folder = local.local_path("uploads/1")
    assert sorted(p.name for p in folder.iterdir()) == ["keep.xml"]
    assert not local.exists("uploads/1/novo.xml")


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
    assert tampered.status_code == 403 and error_code(tampered) == "link_invalido"
    key = local.secret
    expired = sign(key, "docs/nota.xml", expires_in=-5)
    r = api_client.get(f"/api/files/{expired}")
    assert r.status_code == 403 and error_code(r) == "link_expirado"
    forged = sign("outra-chave-" + "x" * 32, "docs/nota.xml", expires_in=60)
    assert error_code(api_client.get(f"/api/files/{forged}")) == "link_invalido"
