"""S3-compatible backend (AWS S3 or MinIO/SeaweedFS) over boto3, with server-side encryption."""

from __future__ import annotations

import tempfile
from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.errors import StorageError
from app.storage.base import attachment_name

__all__ = ["S3Storage"]

_SPOOL_BYTES = 8 * 1024 * 1024


class S3Storage:
    """Objects in one private bucket; every call has connect/read timeouts."""

    name = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str,
        endpoint: str | None = None,
        sse: str = "",
        timeout: float = 5.0,
    ) -> None:
        self.bucket = bucket
        self.sse = sse
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint or None,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout * 4,
                retries={"max_attempts": 3, "mode": "standard"},
                signature_version="s3v4",
                s3={"addressing_style": "path"},
            ),
        )

    def _err(self, exc: Exception, what: str) -> StorageError:
        code = "falha_no_armazenamento"
        if isinstance(exc, ClientError):
            status = exc.response.get("Error", {}).get("Code", "")
            if status in {"NoSuchKey", "404", "NotFound"}:
                code = "arquivo_nao_encontrado"
        return StorageError(f"S3: falha ao {what}: {exc}", code=code)

    def _extra(self, content_type: str) -> dict[str, Any]:
        extra: dict[str, Any] = {"ContentType": content_type}
        if self.sse:
            extra["ServerSideEncryption"] = self.sse
        return extra

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        """Upload bytes, encrypted at rest when S3_SSE is set."""
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **self._extra(content_type))
        except (BotoCoreError, ClientError) as exc:
            raise self._err(exc, f"gravar {key}") from exc

    def put_file(
        self, key: str, fh: IO[bytes], *, content_type: str = "application/octet-stream"
    ) -> None:
        """Upload a file streamed (multipart above 8 MiB), encrypted at rest when S3_SSE is set."""
        try:
            self.client.upload_fileobj(fh, self.bucket, key, ExtraArgs=self._extra(content_type))
        except (BotoCoreError, ClientError) as exc:
            raise self._err(exc, f"gravar {key}") from exc

    def get(self, key: str) -> bytes:
        """Download bytes."""
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            return bytes(body.read())
        except (BotoCoreError, ClientError) as exc:
            raise self._err(exc, f"ler {key}") from exc

    def open(self, key: str) -> IO[bytes]:
        """Download to a temporary file (in memory up to 8 MiB, then on disk) and return it."""
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - returned
        try:
            self.client.download_fileobj(self.bucket, key, spool)
        except (BotoCoreError, ClientError) as exc:
            spool.close()
            raise self._err(exc, f"ler {key}") from exc
        spool.seek(0)
        return spool  # type: ignore[return-value]

    def exists(self, key: str) -> bool:
        """True when the object exists."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise self._err(exc, f"consultar {key}") from exc
        except BotoCoreError as exc:
            raise self._err(exc, f"consultar {key}") from exc

    def delete(self, key: str) -> None:
        """Delete the object (idempotent)."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise self._err(exc, f"remover {key}") from exc

    def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """Presigned GET URL that expires."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = (
                f'attachment; filename="{attachment_name(filename)}"'
            )
        try:
            return str(
                self.client.generate_presigned_url(
                    "get_object", Params=params, ExpiresIn=expires_in
                )
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._err(exc, f"assinar {key}") from exc

    def ping(self) -> None:
        """HEAD the bucket."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise self._err(exc, "acessar o bucket") from exc

    def ensure_bucket(self) -> None:
        """Create the bucket when missing (dev/test bootstrap)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)
