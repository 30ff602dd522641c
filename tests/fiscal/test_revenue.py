"""Gross revenue rules: which documents count (CFOP, status, returns), their Anexo and amount."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.fiscal.revenue import (
    ANEXO_BY_ACTIVITY,
    RETURN_CFOPS,
    SALES_CFOP_SUFFIXES,
    RevenueDocument,
    anexo_for,
    classify_document,
    document_revenue,
    revenue_by_anexo,
)

OWN = "11222333000181"
OTHER = "99888777000161"


@pytest.mark.parametrize(
    ("kind", "status", "direction", "cfops", "emitter", "verdict"),
    [
        ("nfe", "autorizada", "saida", ["5102"], OWN, ("comercio", 1)),
        ("nfe", "autorizada", "saida", ["6101"], OWN, ("industria", 1)),
        ("nfe", "autorizada", "saida", ["7101"], OWN, ("industria", 1)),  # export
        ("nfe", "autorizada", "saida", ["5405"], OWN, ("comercio", 1)),  # ST substituído
        ("nfe", "autorizada", "saida", ["5933"], OWN, ("servico", 1)),
        ("nfe", "autorizada", "saida", ["5949", "5102"], OWN, ("comercio", 1)),  # any sales CFOP
        ("nfse", "autorizada", "saida", [], OWN, ("servico", 1)),
        ("nfe", "cancelada", "saida", ["5102"], OWN, None),
        ("nfe", "denegada", "saida", ["5102"], OWN, None),
        ("nfe", "autorizada", "saida", ["5949"], OWN, None),  # remessa: not a sale
        ("nfe", "autorizada", "saida", ["1102"], OWN, None),  # entry CFOP on an outgoing note
        ("nfe", "autorizada", "entrada", ["5102"], OTHER, None),  # a purchase
        ("nfe", "autorizada", "entrada", ["1202"], OWN, ("comercio", -1)),  # our return note
        ("nfe", "autorizada", "entrada", ["2201"], OWN, ("industria", -1)),
        ("nfe", "autorizada", "entrada", ["1202"], OTHER, None),  # the customer's note
        ("nfe", "autorizada", "entrada", [5102], OTHER, None),  # CFOPs stored as numbers
        ("nfe", "autorizada", "saida", [5102], OWN, ("comercio", 1)),
    ],
)
def test_classify_document(
    kind: str,
    status: str,
    direction: str,
    cfops: list[object],
    emitter: str,
    verdict: tuple[str, int] | None,
) -> None:
    got = classify_document(
        kind=kind,
        status=status,
        direction=direction,
        cfops=cfops,
        emitter_doc=emitter,
        empresa_cnpj=OWN,
    )
    assert got == verdict


@pytest.mark.parametrize(
    ("activity", "anexos", "expected"),
    [
        ("comercio", ["I"], "I"),
        ("industria", ["I", "II"], "II"),
        ("servico", ["I", "v"], "V"),  # the empresa's own service Anexo
        ("servico", ["IV"], "IV"),
        ("servico", ["I"], "I"),  # no service Anexo declared: the empresa's first
        ("comercio", [], "I"),  # nothing declared: the activity's own
        ("servico", [], "III"),
    ],
)
def test_anexo_for(activity: str, anexos: list[str], expected: str) -> None:
    assert anexo_for(activity, anexos) == expected


def test_tables_are_consistent() -> None:
    activities = set(ANEXO_BY_ACTIVITY)
    assert set(SALES_CFOP_SUFFIXES.values()) <= activities
    assert set(RETURN_CFOPS.values()) <= activities
    assert all(len(s) == 3 for s in SALES_CFOP_SUFFIXES)
    assert all(c[:1] in "123" and len(c) == 4 for c in RETURN_CFOPS)  # entry CFOPs


@pytest.mark.parametrize(
    ("total", "totals", "expected"),
    [
        (D("220.00"), {"vST": "20.00"}, D("200.00")),
        (D("220.00"), {"vST": "20.00", "vIPI": "10.00"}, D("190.00")),
        ("100.10", {"vST": "", "vIPI": None}, D("100.10")),
        (None, {}, D("0.00")),
        (D("50.00"), {"vIPI": 2.5}, D("47.50")),  # JSON numbers
    ],
)
def test_document_revenue_excludes_st_and_ipi(total: object, totals: dict, expected: D) -> None:
    assert document_revenue(total, totals) == expected


amount = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False, allow_infinity=False)
document = st.builds(
    RevenueDocument,
    kind=st.sampled_from(["nfe", "nfce", "nfse"]),
    status=st.sampled_from(["autorizada", "autorizada", "cancelada", "denegada"]),
    direction=st.sampled_from(["saida", "entrada"]),
    cfops=st.lists(
        st.sampled_from(["5102", "6101", "5933", "5949", "1202", "2201", "1102"]), max_size=2
    ),
    emitter_doc=st.sampled_from([OWN, OTHER]),
    total=amount,
    totals=st.fixed_dictionaries({}, optional={"vST": amount.map(lambda v: v / 10)}),
)


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(document, max_size=12),
    anexos=st.sampled_from([["I"], ["I", "II"], ["III"], ["V", "I"]]),
    data=st.data(),
)
def test_month_revenue_adds_up_document_by_document(
    docs: list[RevenueDocument], anexos: list[str], data: st.DataObject
) -> None:
    sums = revenue_by_anexo(docs, empresa_cnpj=OWN, empresa_anexos=anexos)
    # Additive: the month is the sum of each document on its own.
    expected: dict[str, D] = {}
    for doc in docs:
        for anexo, value in revenue_by_anexo(
            [doc], empresa_cnpj=OWN, empresa_anexos=anexos
        ).items():
            expected[anexo] = expected.get(anexo, D("0.00")) + value
    assert sums == expected
    assert set(sums) <= set(anexos) | {"I", "II", "III"}
    # Order does not matter, and cancelled or denied documents never do.
    shuffled = data.draw(st.permutations(docs))
    assert revenue_by_anexo(shuffled, empresa_cnpj=OWN, empresa_anexos=anexos) == sums
    live = [d for d in docs if d.status == "autorizada"]
    assert revenue_by_anexo(live, empresa_cnpj=OWN, empresa_anexos=anexos) == sums
