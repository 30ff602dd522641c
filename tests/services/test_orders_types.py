"""The order-type catalogue is data: every type the offices need, each one well formed."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from app.orders.types import DEPARTMENTS, order_type, order_types, types_version

NEEDED = {
    "certidao_negativa", "alteracao_contratual", "admissao", "rescisao", "ferias",
    "segunda_via_guia", "parcelamento", "abertura_empresa", "encerramento_empresa",
    "declaracao_ir", "outros",
}  # fmt: skip


def test_catalogue_has_every_needed_type() -> None:
    assert NEEDED <= {t.code for t in order_types()}
    assert types_version()


def test_every_type_is_well_formed() -> None:
    for t in order_types():
        assert t.department in DEPARTMENTS
        assert 1 <= t.sla_business_days <= 90
        assert t.name and all(isinstance(a, str) and a for a in t.required_attachments)


def test_admission_requires_documents_and_contract_change_needs_confirmation() -> None:
    assert order_type("admissao").required_attachments
    assert order_type("admissao").department == "pessoal"
    assert order_type("alteracao_contratual").client_confirmation


def test_unknown_type_is_a_clear_422() -> None:
    with pytest.raises(InvalidInput) as exc:
        order_type("pizza")
    assert exc.value.code == "tipo_de_pedido_desconhecido"
    assert exc.value.http_status == 422
