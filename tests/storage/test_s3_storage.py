"""S3 backend against a real S3 server (SeaweedFS): round trip, SSE, signatures, expiry."""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid
import zipfile
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from app.errors import StorageError
from app.files.reader import ContentReader, ContentRef, close_local, read_local
from app.storage.s3 import S3Storage
from tests.support.s3server import S3Server


def _storage(server: S3Server, *, secret: str | None = None, sse: str = "AES256") -> S3Storage:
    return S3Storage(
        bucket="contab-test",
        access_key=server.access_key,
        secret_key=secret or server.secret_key,
        region=server.region,
        endpoint=server.endpoint,
        sse=sse,
    )


@pytest.fixture
def s3(s3_server: S3Server) -> Iterator[S3Storage]:
    storage = _storage(s3_server)
    deadline = time.monotonic() + 30
    while True:  # the filer may still be electing its master right after start
        try:
            storage.ensure_bucket()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    yield storage


def test_put_get_exists_delete_with_server_side_encryption(s3: S3Storage) -> None:
    key = f"uploads/1/ab/{uuid.uuid4().hex}"
    assert not s3.exists(key)
    s3.put(key, b"<nfeProc/>", content_type="application/xml")  # SSE AES256 header sent
    assert s3.exists(key) and s3.get(key) == b"<nfeProc/>"
    s3.delete(key)
    assert not s3.exists(key)
    with pytest.raises(StorageError) as err:
        s3.get(key)
    assert err.value.code == "arquivo_nao_encontrado"
    s3.delete(key)  # idempotent


def test_wrong_secret_is_refused(s3: S3Storage, s3_server: S3Server) -> None:
    s3.put("probe.xml", b"<a/>")
    with pytest.raises(StorageError):
        _storage(s3_server, secret="x" * 40).get("probe.xml")


def test_presigned_url_works_until_it_expires(s3: S3Storage) -> None:
    s3.put("guia.pdf", b"%PDF-1.4 guia")
    # SigV4 stamps X-Amz-Date to the whole second, so a link of N seconds may live only N - 1:
    # 1 s (as before) sometimes expired before the first GET on a busy machine
    url = s3.signed_url("guia.pdf", expires_in=4, filename="guia.pdf")
    got = httpx.get(url, timeout=5)
    assert got.status_code == 200 and got.content == b"%PDF-1.4 guia"
    assert "attachment" in got.headers.get("content-disposition", "")
    time.sleep(5.2)  # let the 4 s link expire (not a timing assertion)
    assert httpx.get(url, timeout=5).status_code == 403


def test_tampered_presigned_url_is_refused(s3: S3Storage) -> None:
    s3.put("a.xml", b"<a/>")
    s3.put("b.xml", b"<b/>")
    url = s3.signed_url("a.xml", expires_in=60)
    parts = urlsplit(url)
    other_key = urlunsplit(parts._replace(path=parts.path.replace("a.xml", "b.xml")))
    assert httpx.get(other_key, timeout=5).status_code == 403
    query = dict(parse_qsl(parts.query))
    query["X-Amz-Expires"] = "604800"
    longer = urlunsplit(parts._replace(query=urlencode(query)))
    assert httpx.get(longer, timeout=5).status_code == 403
    assert httpx.get(url, timeout=5).status_code == 200


def _put_zip(s3: S3Storage, name: str, member: bytes) -> tuple[str, bytes]:
    """Store a one-member zip; (key, the zip's bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, member)
    key = f"uploads/1/zz/{uuid.uuid4().hex}"
    s3.put(key, buf.getvalue(), content_type="application/zip")
    return key, buf.getvalue()


def test_open_reads_an_object_and_a_zip_member_from_it(s3: S3Storage) -> None:
    member = b"<nfeProc>" + b"x" * 50_000 + b"</nfeProc>"
    key, raw = _put_zip(s3, "a/nota.xml", member)
    with s3.open(key) as fh:
        assert fh.read() == raw
    reader = ContentReader(s3)
    ref = ContentRef("unused", hashlib.sha256(member).hexdigest(), len(member), key, "a/nota.xml")
    try:
        assert reader.read(ref) == member
    finally:
        reader.close()
    with pytest.raises(StorageError) as err:
        s3.open(f"{key}-missing")
    assert err.value.code == "arquivo_nao_encontrado"


def test_local_copy_downloads_a_zip_once_for_the_workers_and_close_removes_it(
    s3: S3Storage,
) -> None:
    member = b"<nfeProc>" + b"y" * 20_000 + b"</nfeProc>"
    key, _ = _put_zip(s3, "nota.xml", member)
    reader = ContentReader(s3)
    ref = ContentRef("unused", hashlib.sha256(member).hexdigest(), len(member), key, "nota.xml")
    try:
        local = reader.local_ref(ref)
        assert local.container and os.stat(local.container).st_mode & 0o077 == 0  # private
        assert read_local(local) == member  # what a pool worker does with the reference
        s3.delete(key)
        assert reader.local_copy(key) == local.container  # resolved once: no second download
        forged = ContentRef("unused", "0" * 64, len(member), local.container, "nota.xml")
        with pytest.raises(StorageError) as err:
            read_local(forged)
        assert err.value.code == "conteudo_corrompido"
        for _ in range(2):  # a lost zip fails once per zip, then from memory
            with pytest.raises(StorageError) as err:
                reader.local_copy(f"{key}-perdido")
            assert err.value.code == "arquivo_nao_encontrado"
    finally:
        reader.close()
        close_local()
    assert not os.path.exists(local.container)


def test_put_file_streams_a_large_object_multipart_with_encryption(s3: S3Storage) -> None:
    data = os.urandom(9 * 1024 * 1024)  # above boto3's 8 MiB multipart threshold
    key = f"uploads/1/zz/{uuid.uuid4().hex}"
    s3.put_file(key, io.BytesIO(data), content_type="application/zip")
    assert s3.get(key) == data
    head = s3.client.head_object(Bucket=s3.bucket, Key=key)
    assert head.get("ServerSideEncryption") == "AES256"
