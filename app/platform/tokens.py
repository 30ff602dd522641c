"""API tokens: created once (plaintext shown once), stored as SHA-256, scoped."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import or_, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.cache import get_quick_redis
from app.db import get_side_engine
from app.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from app.platform import audit
from app.sqlcompat import is_mysql
from models import ApiToken, Empresa

__all__ = [
    "Principal",
    "authenticate",
    "client_actors",
    "create_token",
    "dev_office_token",
    "revoke_token",
    "hash_token",
]

TOKEN_PREFIX = "ctb_"
log = logging.getLogger(__name__)


_LOCK_TIMEOUT = "SET LOCAL lock_timeout = '200ms'"
# MySQL's lock wait is per session and in whole seconds (the side pool's connections only run
# probes and bookkeeping, so keeping it set there is fine).
_LOCK_TIMEOUT_MY = "SET SESSION innodb_lock_wait_timeout = 1"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: the whole office, or one empresa."""

    token_id: int
    name: str
    scope: str  # office|empresa
    empresa_id: int | None

    @property
    def actor(self) -> str:
        """Name recorded in audit rows."""
        return f"token:{self.token_id}:{self.name}"

    @property
    def is_office(self) -> bool:
        """True for office-wide tokens (staff)."""
        return self.scope == "office"

    def check_empresa(self, empresa_id: int) -> None:
        """Raise PermissionDenied unless this caller may act for empresa_id."""
        if not self.is_office and self.empresa_id != empresa_id:
            raise PermissionDenied(
                "Este token não tem acesso a esta empresa.", code="empresa_fora_do_escopo"
            )


def hash_token(plaintext: str) -> str:
    """SHA-256 hex of a token (tokens are 256-bit random, so no salt/KDF is needed)."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_token(
    session: Session,
    *,
    name: str,
    scope: str,
    empresa_id: int | None = None,
    ttl_days: int | None = None,
    actor: str = "cli",
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the plaintext (shown once, never stored)."""
    if scope not in {"office", "empresa"}:
        raise InvalidInput("Escopo deve ser 'office' ou 'empresa'.", code="escopo_invalido")
    if scope == "empresa":
        if empresa_id is None or session.get(Empresa, empresa_id) is None:
            raise NotFound("Empresa não encontrada para o token.", code="empresa_nao_encontrada")
    else:
        empresa_id = None
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=ttl_days) if ttl_days else None
    row = ApiToken(
        name=name,
        token_hash=hash_token(plaintext),
        prefix=plaintext[:12],
        scope=scope,
        empresa_id=empresa_id,
        expires_at=expires,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="token.criado",
        entity="api_token",
        entity_id=row.id,
        empresa_id=empresa_id,
        details={"name": name, "scope": scope},
    )
    return row, plaintext


# How stale ``last_used_at`` may get before a request refreshes it. Writing it on every request
# made one integration token's concurrent requests queue on its single row (a hot row).
LAST_USED_RESOLUTION = timedelta(seconds=60)


def authenticate(session: Session, plaintext: str | None) -> Principal:
    """Principal of a valid bearer token; Unauthenticated otherwise.

    A read only: the request's transaction never writes the token's row. ``last_used_at`` is
    refreshed at most once a minute per token, by :func:`_record_use` in its own short
    transaction."""
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 200:
        raise Unauthenticated("Token ausente ou inválido.", code="token_invalido")
    row = session.execute(
        select(
            ApiToken.id,
            ApiToken.name,
            ApiToken.scope,
            ApiToken.empresa_id,
            ApiToken.revoked_at,
            ApiToken.expires_at,
            ApiToken.last_used_at,
        ).where(ApiToken.token_hash == hash_token(plaintext))
    ).first()
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("Token ausente ou inválido.", code="token_invalido")
    if row.expires_at is not None and row.expires_at < now:
        raise Unauthenticated("Token expirado.", code="token_expirado")
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        _record_use(row.id, now)
    return Principal(token_id=row.id, name=row.name, scope=row.scope, empresa_id=row.empresa_id)


def _record_use(token_id: int, now: datetime) -> None:
    """Refresh ``last_used_at`` once per resolution window, never blocking a request.

    A Redis ``SET NX`` picks one request per window (others skip; without Redis every stale
    request tries); the winner updates in its own transaction, on the side pool (never the one the
    request holds a connection of), with a short lock timeout and a
    condition that makes a concurrent second writer a no-op. Losing this write is harmless (it is
    bookkeeping), so any failure is logged and swallowed."""
    window = int(LAST_USED_RESOLUTION.total_seconds())
    try:
        if not get_quick_redis().set(f"contab:token-uso:{token_id}", b"1", nx=True, ex=window):
            return
    except RedisError:
        pass
    try:
        with get_side_engine().begin() as conn:
            conn.execute(text(_LOCK_TIMEOUT_MY if is_mysql(conn) else _LOCK_TIMEOUT))
            conn.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == token_id,
                    or_(
                        ApiToken.last_used_at.is_(None),
                        ApiToken.last_used_at < now - LAST_USED_RESOLUTION,
                    ),
                )
                .values(last_used_at=now)
            )
    except SQLAlchemyError as exc:
        log.warning("last_used_at do token %s não atualizado: %s", token_id, type(exc).__name__)


def dev_office_token(session: Session, *, stored: str | None) -> str:
    """A working office token for a developer's `make dev`: ``stored`` while it is still valid
    (kept across restarts), else a new one named ``dev``. Never used outside DEV."""
    if stored:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(stored)))
        if row is not None and row.revoked_at is None and row.scope == "office":
            return stored
    _, plaintext = create_token(session, name="dev", scope="office", actor="make dev")
    return plaintext


def revoke_token(session: Session, *, token_id: int, actor: str, reason: str) -> None:
    """Revoke a token (audited; revoking twice changes nothing)."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("Token não encontrado.", code="token_nao_encontrado")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        audit.record(
            session,
            actor=actor,
            action="token.revogado",
            entity="api_token",
            entity_id=token_id,
            reason=reason,
        )


@dataclass(frozen=True, slots=True)
class TokenView:
    """A token as operators list it: never its hash, only the prefix shown at creation."""

    id: int
    name: str
    prefix: str
    scope: str
    empresa_id: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def list_tokens(
    session: Session, *, include_revoked: bool = False, empresa_id: int | None = None
) -> list[TokenView]:
    """Tokens by id (revoked ones only with ``include_revoked``), optionally of one empresa."""
    q = select(ApiToken).order_by(ApiToken.id)
    if not include_revoked:
        q = q.where(ApiToken.revoked_at.is_(None))
    if empresa_id is not None:
        q = q.where(ApiToken.empresa_id == empresa_id)
    return [
        TokenView(
            t.id,
            t.name,
            t.prefix,
            t.scope,
            t.empresa_id,
            t.created_at,
            t.expires_at,
            t.revoked_at,
            t.last_used_at,
        )
        for t in session.scalars(q)
    ]


def require_office(principal: Principal) -> None:
    """Raise unless the caller is office staff."""
    if not principal.is_office:
        raise PermissionDenied("Operação restrita ao escritório.", code="somente_escritorio")


def client_actors(session: Session, actors: Iterable[str]) -> set[str]:
    """The actors (``token:{id}:{name}``, as :attr:`Principal.actor` records them) that are
    client (empresa-scoped) tokens; office tokens and any other actor are left out."""
    by_id: dict[int, list[str]] = {}
    for actor in set(actors):
        kind, _, rest = actor.partition(":")
        token_id = rest.partition(":")[0]
        if kind == "token" and token_id.isdigit():
            by_id.setdefault(int(token_id), []).append(actor)
    if not by_id:
        return set()
    clients = session.scalars(
        select(ApiToken.id).where(ApiToken.id.in_(list(by_id)), ApiToken.scope == "empresa")
    )
    return {actor for token_id in clients for actor in by_id[token_id]}
