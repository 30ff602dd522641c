"""The office token `make dev` prints: valid, reused across restarts, replaced once revoked."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.platform.tokens import authenticate, dev_office_token, revoke_token


def test_dev_token_is_an_office_token_reused_until_revoked(db: Session) -> None:
    first = dev_office_token(db, stored=None)
    principal = authenticate(db, first)
    assert principal.is_office and principal.name == "dev"
    assert dev_office_token(db, stored=first) == first  # the next `make dev` prints the same one
    revoke_token(db, token_id=principal.token_id, actor="teste", reason="vazou")
    second = dev_office_token(db, stored=first)
    assert second != first and authenticate(db, second).is_office
    assert dev_office_token(db, stored="ctb_lixo") not in {first, second}
