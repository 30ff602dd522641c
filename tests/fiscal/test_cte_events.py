"""CT-e events (procEventoCTe) are read like NF-e events, and a cancelled cteProc is cancelled.

Source: MOC CT-e 4.00, "Leiaute de eventos do CT-e" (procEventoCTe = eventoCTe + retEventoCTe;
Id "ID" + tpEvento + chave + nSeqEvento with 3 digits; 110111 cancelamento, 110110 carta de
correção, 610110 prestação do serviço em desacordo; retEventoCTe cStat 135/136 registered).
"""

from __future__ import annotations

import pytest

from app.fiscal.nfe import DocumentKind, DocumentStatus, parse_bytes, validate
from tests.support.cte_generator import embed_cte_event, make_cte, make_cte_event

EMIT, REM, DEST = "11222333000181", "22333444000181", "33444555000181"


def _read(data: bytes):  # type: ignore[no-untyped-def]
    tree, doc = parse_bytes(data)
    return validate(doc, tree)


CTE = make_cte(EMIT, REM, DEST, numero=7)
CHAVE = str(_read(CTE).chave)


@pytest.mark.parametrize("tp", ["110111", "110110", "610110"])
def test_proc_evento_cte_is_a_registered_event(tp: str) -> None:
    doc = _read(make_cte_event(CHAVE, tp, seq=2 if tp == "110110" else 1))
    assert doc.kind is DocumentKind.EVENTO_CTE, doc.errors
    assert doc.errors == () and doc.status is DocumentStatus.EVENT_REGISTERED
    assert doc.chave == CHAVE and doc.fields["tp_evento"] == tp
    assert doc.fields["modelo"] == "57"


def test_unregistered_cte_event_is_not_registered() -> None:
    doc = _read(make_cte_event(CHAVE, cstat=573))
    assert doc.kind is DocumentKind.EVENTO_CTE and doc.status is not DocumentStatus.EVENT_REGISTERED


def test_cte_event_with_a_wrong_id_is_inconsistent() -> None:
    data = make_cte_event(CHAVE).replace(f"{CHAVE}001".encode(), f"{CHAVE}002".encode(), 1)
    assert "chave_inconsistente" in {e.code for e in _read(data).errors}


@pytest.mark.parametrize("whole", [False, True])
def test_cte_proc_with_an_appended_cancellation_is_cancelled(whole: bool) -> None:
    doc = _read(embed_cte_event(CTE, make_cte_event(CHAVE), whole=whole))
    assert doc.kind is DocumentKind.CTE and doc.errors == ()
    assert doc.status is DocumentStatus.CANCELLED
    assert "cancelamento_embutido" in {w.code for w in doc.warnings}


def test_cte_proc_with_an_appended_cce_stays_authorised() -> None:
    doc = _read(embed_cte_event(CTE, make_cte_event(CHAVE, "110110")))
    assert doc.status is DocumentStatus.AUTHORISED and doc.errors == ()
